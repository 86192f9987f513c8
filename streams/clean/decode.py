"""Bytes to text: charset from the HTTP header, a BOM, a ``<meta>`` declaration, then detection.

A declaration is trusted only while the text it yields looks plausible: pages that say
windows-1252 but carry windows-1251 bytes, or say windows-1251 but are UTF-8, are common on the
Cyrillic web. Legacy Cyrillic (windows-1251, koi8-r, koi8-u, cp866, iso-8859-5, mac-cyrillic) is
told apart by letter statistics, which are far more reliable on short pages than a general
detector; charset-normalizer handles everything else. Decoding never raises.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

__all__ = ["Decoded", "decode_html", "normalize_charset"]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,300}?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# The HTML standard tells browsers to look for a declaration in the first 1024 bytes; real pages
# put it later (after long comments or scripts), so look further.
_META_WINDOW = 8192
# Detection reads a prefix: enough text for statistics, bounded time on a 50 MB page.
_DETECT_WINDOW = 65536
_CYRILLIC_CODECS = ("cp1251", "koi8-r", "cp866", "iso8859-5", "mac-cyrillic")
# Bytes that are Ukrainian letters in koi8-u but box-drawing characters in koi8-r.
_KOI8U_ONLY = frozenset(b"\xa4\xa6\xa7\xad\xb4\xb6\xb7\xbd")
# The commonest Russian/Ukrainian letters in lower case; wrong single-byte codecs map Cyrillic
# bytes to upper case, punctuation or the rarest letters instead.
_FREQUENT = frozenset("оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъёіїєґ")
_ASCII = bytes(range(128))
# Only single-byte declarations are second-guessed with Cyrillic statistics; multi-byte CJK
# codecs would look like random Cyrillic when decoded byte by byte.
_SINGLE_BYTE = ("cp12", "iso8859", "koi8", "mac-", "cp866", "latin")
# Browsers and the WHATWG encoding standard treat these labels as the superset codec.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "x-cp1251": "cp1251",
    "win-1251": "cp1251",
    "koi8r": "koi8-r",
    "koi8u": "koi8-u",
    "unicode": "utf-8",
    "utf8": "utf-8",
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded page text. ``source`` says where the charset came from: header, bom, meta,
    detected or fallback; ``lossy`` is true when some bytes could not be decoded."""

    text: str
    charset: str
    source: str
    lossy: bool = False


def normalize_charset(label: str | None) -> str | None:
    """Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return name


def decode_html(data: bytes, *, content_type: str | None = None) -> Decoded:
    """Decode page bytes; never raises, whatever the bytes."""
    if not data:
        return Decoded("", "utf-8", "fallback")
    for bom, name in _BOMS:
        if data.startswith(bom):
            return _decode(data[len(bom) :], name, "bom")
    declared = _declared(data, content_type)
    if declared is not None:
        charset, source = declared
        checked = _check_declared(data, charset)
        if checked is not None:
            return _decode(data, checked, source)
    return _decode(data, *_detect(data))


def _declared(data: bytes, content_type: str | None) -> tuple[str, str] | None:
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        name = normalize_charset(match.group(1)) if match else None
        if name is not None:
            return name, "header"
    meta = _META_CHARSET.search(data[:_META_WINDOW])
    if meta:
        name = normalize_charset(meta.group(1).decode("ascii", "replace"))
        # UTF-16/32 declared inside an ASCII-readable <meta> cannot be true.
        if name is not None and not name.startswith(("utf-16", "utf-32")):
            return name, "meta"
    return None


def _check_declared(data: bytes, charset: str) -> str | None:
    """The declared charset, a better one when it is plainly wrong, or None to detect afresh."""
    sample = data[:_DETECT_WINDOW]
    if charset == "utf-8":
        if _valid_utf8(sample):
            return charset
        return None if _error_ratio(sample, "utf-8") > 0.001 else charset
    # Multi-byte UTF-8 sequences almost never arise by chance from a legacy single-byte text.
    if not _is_ascii(sample) and _valid_utf8(sample):
        return "utf-8"
    if _is_ascii(sample) or not charset.startswith(_SINGLE_BYTE):
        return charset
    best, best_score = _best_cyrillic(sample)
    declared_score = _cyrillic_score(_high_bytes(sample).decode(charset, "replace"))
    if best_score > 0.5 and best_score > declared_score + 0.2:
        return best
    return charset


def _detect(data: bytes) -> tuple[str, str]:
    sample = data[:_DETECT_WINDOW]
    if _valid_utf8(sample):
        return "utf-8", "detected"
    best, score = _best_cyrillic(sample)
    if score > 0.5:
        return best, "detected"
    guess = charset_normalizer.from_bytes(sample).best()
    if guess is not None and guess.encoding:
        name = normalize_charset(guess.encoding)
        if name is not None:
            return name, "detected"
    return "utf-8", "fallback"


def _decode(data: bytes, charset: str, source: str) -> Decoded:
    try:
        return Decoded(data.decode(charset), charset, source)
    except (UnicodeDecodeError, LookupError):
        pass
    try:
        text = data.decode(charset, "replace")
    except LookupError:
        charset, text = "utf-8", data.decode("utf-8", "replace")
    return Decoded(text, charset, source, lossy=True)


def _valid_utf8(sample: bytes) -> bool:
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A prefix may cut a multi-byte character in two: only an error near the end is benign.
        return exc.start >= len(sample) - 3 and exc.reason == "unexpected end of data"
    return True


def _is_ascii(sample: bytes) -> bool:
    return sample.isascii()


def _error_ratio(sample: bytes, charset: str) -> float:
    text = sample.decode(charset, "replace")
    return text.count("\ufffd") / max(1, len(text))


def _best_cyrillic(sample: bytes) -> tuple[str, float]:
    high = _high_bytes(sample)
    if len(high) < 16:
        return "cp1251", 0.0
    scored = [(_cyrillic_score(high.decode(c, "replace")), c) for c in _CYRILLIC_CODECS]
    score, best = max(scored)
    if best == "koi8-r" and any(b in _KOI8U_ONLY for b in high):
        best = "koi8-u"
    return best, score


def _high_bytes(sample: bytes) -> bytes:
    # Only non-ASCII bytes tell single-byte codecs apart; a slice bounds the scoring time.
    return sample.translate(None, _ASCII)[:8192]


def _cyrillic_score(text: str) -> float:
    """Share of characters that are frequent lower-case Cyrillic letters (0..1)."""
    letters = [ch for ch in text if ord(ch) >= 0x80]
    if not letters:
        return 0.0
    return sum(ch in _FREQUENT for ch in letters) / len(letters)
