from __future__ import annotations

import codecs

import pytest

from streams.clean.decode import decode_html

RU = "Правительство объявило о новых мерах поддержки экономики и граждан страны"
UK = "Уряд оголосив про нові заходи підтримки економіки, їхні наслідки є значними"


def page(body: str, meta: str = "") -> str:
    return f"<html><head>{meta}<title>t</title></head><body><p>{body}</p></body></html>"


@pytest.mark.parametrize("codec", ["cp1251", "koi8-r", "utf-8"])
def test_undeclared_russian_is_detected(codec: str) -> None:
    decoded = decode_html(page(RU).encode(codec))
    assert RU in decoded.text
    assert decoded.source == "detected"


def test_undeclared_koi8u_keeps_ukrainian_letters() -> None:
    decoded = decode_html(page(UK).encode("koi8-u"))
    assert UK in decoded.text
    assert decoded.charset == "koi8-u"


def test_undeclared_windows1251_ukrainian() -> None:
    decoded = decode_html(page(UK).encode("cp1251"))
    assert UK in decoded.text


def test_header_charset_wins() -> None:
    decoded = decode_html(page(RU).encode("cp1251"), content_type="text/html; charset=windows-1251")
    assert RU in decoded.text
    assert decoded.source == "header"


@pytest.mark.parametrize(
    "meta",
    [
        '<meta charset="koi8-r">',
        '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">',
    ],
)
def test_meta_charset(meta: str) -> None:
    decoded = decode_html(page(RU, meta).encode("koi8-r"))
    assert RU in decoded.text
    assert (decoded.charset, decoded.source) == ("koi8-r", "meta")


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_bom(bom: bytes, codec: str) -> None:
    decoded = decode_html(bom + page(RU).encode(codec))
    assert RU in decoded.text
    assert decoded.source == "bom"


def test_wrong_declared_latin1_on_cyrillic_bytes_is_caught() -> None:
    data = page(RU, '<meta charset="iso-8859-1">').encode("cp1251")
    assert RU in decode_html(data).text


def test_declared_windows1251_but_utf8_is_caught() -> None:
    data = page(RU, '<meta charset="windows-1251">').encode("utf-8")
    assert RU in decode_html(data).text


def test_declared_cp1251_but_koi8r_is_caught() -> None:
    data = page(RU * 3, '<meta charset="windows-1251">').encode("koi8-r")
    assert RU in decode_html(data).text


@pytest.mark.parametrize(
    "data", [b"", b"\x00" * 100, bytes(range(256)) * 40, b"\xff\xfe\xfd" * 1000]
)
def test_garbage_never_raises(data: bytes) -> None:
    decoded = decode_html(data)
    assert isinstance(decoded.text, str)


def test_undecodable_utf8_is_flagged() -> None:
    data = page("ok").encode() + b"\xff\xfe broken \xc3" * 50
    decoded = decode_html(data, content_type="text/html; charset=utf-8")
    assert isinstance(decoded.text, str)
