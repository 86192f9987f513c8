from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selectolax.lexbor import LexborHTMLParser

from streams.clean.dates import date_from_html, date_from_text, date_from_url, reconcile
from streams.clean.language import detect_language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Опубліковано 12 березня 2024, 14:30", datetime(2024, 3, 12, 14, 30, tzinfo=UTC)),
        ("12 марта 2024 г.", datetime(2024, 3, 12, tzinfo=UTC)),
        ("Posted on March 12, 2024", datetime(2024, 3, 12, tzinfo=UTC)),
        ("5 мая 2011", datetime(2011, 5, 5, tzinfo=UTC)),
        ("12.03.2024 10:00", datetime(2024, 3, 12, 10, 0, tzinfo=UTC)),
        ("17:15 08 вер 2025.", datetime(2025, 9, 8, tzinfo=UTC)),
    ],
)
def test_dates_in_text(text: str, expected: datetime) -> None:
    assert date_from_text(text) == expected


def test_no_date() -> None:
    assert date_from_text("nothing here 2024") is None


def test_date_from_url() -> None:
    assert date_from_url("https://x.ua/news/2024/03/12/slug") == datetime(2024, 3, 12, tzinfo=UTC)


def test_metadata_beats_text() -> None:
    html = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
        '"datePublished": "2024-03-12T10:00:00+02:00"}</script></head>'
        "<body><p>1 January 2020</p></body></html>"
    )
    found = date_from_html(LexborHTMLParser(html))
    assert found == datetime(2024, 3, 12, 8, 0, tzinfo=UTC)


def test_reconcile_never_returns_future() -> None:
    now = datetime(2024, 3, 12, 12, 0, tzinfo=UTC)
    future = now + timedelta(days=2)
    assert reconcile(future, None, now) == now
    assert reconcile(future, now - timedelta(hours=1), now) == now - timedelta(hours=1)
    assert reconcile(None, None, now) == now
    assert reconcile(now - timedelta(days=1), None, now) == now - timedelta(days=1)


def test_reconcile_takes_the_feed_time_for_a_bare_page_day() -> None:
    now = datetime(2024, 3, 12, 18, 0, tzinfo=UTC)
    feed = datetime(2024, 3, 12, 9, 30, tzinfo=UTC)
    assert reconcile(datetime(2024, 3, 12, tzinfo=UTC), feed, now) == feed
    # A page date with its own time, or another day, stays the page's.
    own = datetime(2024, 3, 12, 8, 0, tzinfo=UTC)
    assert reconcile(own, feed, now) == own
    assert reconcile(datetime(2024, 3, 11, tzinfo=UTC), feed, now).day == 11
    # The feed's time is still capped by the fetch time.
    late_feed = datetime(2024, 3, 12, 23, 0, tzinfo=UTC)
    assert reconcile(datetime(2024, 3, 12, tzinfo=UTC), late_feed, now) == now


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (
            "Влада РФ відмовилася виконувати вимогу США і НАТО щодо деескалації поблизу кордону",
            "uk",
        ),
        ("Власти РФ отказались выполнять требование США и НАТО о деэскалации у границы", "ru"),
        ("The Russian government refused to meet the demand of the United States and NATO", "en"),
        ("Міністр заявив, що переговори тривають", "uk"),
        ("Министр заявил, что переговоры продолжаются", "ru"),
    ],
)
def test_language(text: str, code: str) -> None:
    assert detect_language(text) == code


def test_language_of_too_little_text() -> None:
    assert detect_language("ok") is None
