"""The clean stage's page -> Article function, over plain text and HTML, with learned templates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.clean.boilerplate import MIN_PAGES, TemplateLines
from streams.clean.stage import CleanStage, page_to_article
from streams.identity import article_id
from streams.records import RawPage, SourceRef
from tests.conftest import make_raw

FETCHED = datetime(2025, 9, 8, 18, 0, tzinfo=UTC)
PROMO = "Support independent reporting: become a member today and read without ads."


def raw_page(body: bytes, url: str, content_type: str, source: str = "site") -> RawPage:
    return RawPage(
        article_id=article_id(url), url=url, final_url=url, status=200, fetched_at=FETCHED,
        source_id=source, content_type=content_type, body_b64=RawPage.encode_body(body),
        feed_title="Feed headline",
    )  # fmt: skip


def html_page(i: int) -> bytes:
    paragraphs = [
        f"Council meeting number {i} discussed the budget for the coming year in detail.",
        f"Members argued for {i} hours about the new bridge, the schools and the roads.",
        PROMO,
        f"The vote on item {i} was postponed until the next session of the council.",
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<html><head><title>Meeting {i}</title></head><body><article><h1>Meeting {i}</h1>{body}</article></body></html>".encode()  # noqa: E501


@pytest.mark.data
def test_lenta_sample_as_plain_text_page_is_the_body_alone(shared: Path) -> None:
    body = (shared / "samples/lenta-ua-article.txt").read_bytes()
    article = page_to_article(raw_page(body, "https://lenta.ua/x.html", "text/plain"))
    assert article.text.startswith("Влада РФ відмовилася виконувати вимогу США і НАТО")
    assert article.text.endswith("вимагали відвести свої війська від кордону з Україною.")
    for junk in ("Telegram", "Підпису", "Читайте також", "фото", "Петрук", "Новини", ":15", "2025"):
        assert junk not in article.text
    assert article.language == "uk"
    # The first line is a lead sentence, not a headline: the feed's title is used instead.
    assert article.title == "Feed headline"


def test_short_first_line_of_plain_text_is_the_title() -> None:
    body = b"Short headline\nFirst paragraph of the story, long enough to be text."
    article = page_to_article(raw_page(body, "https://x.test/a", "text/plain"))
    assert article.title == "Short headline"
    assert article.text == "First paragraph of the story, long enough to be text."


def test_source_template_line_is_learned_and_stripped() -> None:
    templates = TemplateLines({})
    texts = []
    for i in range(MIN_PAGES + 2):
        url = f"https://news.test/{i}"
        origin = SourceRef(topic="news.raw", partition=1, offset=i)
        texts.append(page_to_article(raw_page(html_page(i), url, "text/html"), origin, templates))
    assert PROMO in texts[0].text
    assert PROMO not in texts[-1].text
    assert "The vote on item" in texts[-1].text
    assert all(key.startswith("1|site|") for key in templates.counts)


def test_without_templates_nothing_is_learned() -> None:
    page = raw_page(html_page(1), "https://news.test/1", "text/html")
    assert PROMO in page_to_article(page).text


def test_a_page_keyed_otherwise_is_republished_under_its_article_id() -> None:
    page = make_raw(
        "<html><body><article><p>Уряд оголосив нові правила для міст і громад, які набудуть"
        " чинності наступного тижня після публікації.</p></article></body></html>",
        "https://news.example.org/a",
    )
    origin = SourceRef(topic="news.backfill.raw", partition=2, offset=7)
    stage = CleanStage(check_key=True)
    for key in (None, b"\xff\xfe", b"another-id"):
        result = stage(key, page.to_json(), origin)
        assert result.outcome == "rekeyed"
        (emit,) = result.emits
        assert (emit.topic, emit.key, emit.value) == (
            "news.backfill.raw",
            page.article_id.encode(),
            page.to_json(),
        )
    assert stage(page.article_id.encode(), page.to_json(), origin).outcome == "ok"
    assert CleanStage()(None, page.to_json(), origin).outcome == "ok"  # off Kafka: no key


def test_control_characters_are_dropped_and_a_non_web_url_is_bad_url() -> None:
    import pytest

    from streams.errors import ExtractionFailed

    body = (
        "<html><body><article><p>Уряд\x00 оголосив нові правила\x01 для міст і громад, які"
        " набудуть чинності наступного тижня.</p></article></body></html>"
    )
    article = page_to_article(make_raw(body, "https://news.example.org/a"))
    assert "\x00" not in article.text
    assert "\x01" not in article.text
    assert "Уряд оголосив" in article.text
    page = make_raw(body, "https://news.example.org/a").model_copy(
        update={"final_url": "javascript:alert(1)"}
    )
    with pytest.raises(ExtractionFailed) as caught:
        page_to_article(page)
    assert caught.value.reason == "bad_url"
