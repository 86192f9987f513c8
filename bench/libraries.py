"""Our hand-written parsers vs the well-kept libraries, on the same inputs and in the same run.

Usage: .venv/bin/python bench/libraries.py [--only robots|urls|dates|clean|feeds ...] [--repeat N]

Four pairs (decisions and figures in docs/libraries.md):

* robots: ``streams.crawl.robots`` vs protego, on the cases of tests/unit/crawl/test_crawl_robots.py
  plus RFC 9309 examples; speed = parse + 20 queries of a 300-rule file.
* urls: ``streams.identity.canonicalize`` vs ``w3lib.url.canonicalize_url`` and courlan, on the
  table of tests/unit/core/test_identity.py, plus the article URLs of the shared data: does a
  spelling with tracking parameters, upper-case host, default port and fragment map to the
  plain URL's canonical form (stable identity), and how many ids would change by switching.
* dates: ``streams.clean.dates.date_from_html`` (rules only, and with htmldate as its fallback)
  vs htmldate alone, on the test cases and on shared pages with known dates: daniel-ru (the
  collection day in the id; a publication 0-7 days before it is "plausible") and the aeb pages
  whose URL carries the date (the URL is not given to either side).
* feeds: ``streams.crawl.discover.parse_feed`` vs feedparser (feeds) and usp (sitemaps), on the
  documents of tests/unit/crawl/test_crawl_discover.py, the hostile ones included.

Reads ``shared/data`` beside the checkout (or NEWSSTREAM_SHARED_DATA); without it, the data sets
are skipped with a message. Single process: the machine is shared.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import courlan
import feedparser  # type: ignore[import-untyped]
import htmldate
from htmldate.meta import reset_caches
from protego import Protego
from selectolax.lexbor import LexborHTMLParser
from usp.objects.sitemap import IndexXMLSitemap, InvalidSitemap
from usp.tree import sitemap_from_str
from w3lib.url import canonicalize_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.clean.dates import date_from_html
from streams.clean.decode import decode_html
from streams.crawl.discover import DiscoveryError, parse_feed
from streams.crawl.robots import parse_robots
from streams.identity import canonicalize
from tests.unit.core import test_identity
from tests.unit.crawl import test_crawl_discover, test_crawl_robots

logging.disable(logging.CRITICAL)  # htmldate and usp log every page they cannot read


def data_root() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared/data"
    return Path(os.environ.get("NEWSSTREAM_SHARED_DATA", default))


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


def _each(fn: Callable[[str], str], urls: list[str]) -> list[str]:
    return [fn(url) for url in urls]


def row(name: str, *cells: object) -> None:
    print(f"  {name:<34}" + "".join(f"{c!s:>16}" for c in cells))


def params(test: Any) -> list[tuple[Any, ...]]:
    """The parametrize table of a test function: the project's own cases, not a copy."""
    cases = []
    for mark in test.pytestmark:
        single = isinstance(mark.args[0], str) and "," not in mark.args[0]
        cases += [(case,) if single else tuple(case) for case in mark.args[1]]
    return cases


# --- robots.txt ----------------------------------------------------------------------------

RFC_CASES = [  # RFC 9309 2.2.2/2.2.3 and Google's documented examples
    ("User-agent: *\nAllow: /p\nDisallow: /\n", "/page", True),
    ("User-agent: *\nAllow: /folder\nDisallow: /folder\n", "/folder/page", True),
    ("User-agent: *\nAllow: /page\nDisallow: /*.htm\n", "/page.htm", False),
    ("User-agent: *\nAllow: /$\nDisallow: /\n", "/", True),
    ("User-agent: *\nAllow: /$\nDisallow: /\n", "/page.htm", False),
    ("User-agent: *\nDisallow: /fish*.php\n", "/fishheads/catfish.php?parameters", False),
    ("User-agent: *\nDisallow: /fish*.php\n", "/Fish.PHP", True),
    ("User-agent: *\nDisallow: /*.php$\n", "/filename.php?parameters", True),
    ("User-agent: *\nDisallow: /foo/bar/ツ\n", "/foo/bar/%E3%83%84", False),
    ("User-agent: *\nDisallow: /foo/bar/%E3%83%84\n", "/foo/bar/ツ", False),
    ("User-agent: *\nDisallow: /foo/bar/%62%61%7A\n", "/foo/bar/baz", False),
    ("user-agent: a\ndisallow: /c\n\nuser-agent: a\ndisallow: /d\n", "/c", False),
    ("user-agent: a\ndisallow: /c\n\nuser-agent: a\ndisallow: /d\n", "/d", False),
]


def robots_cases() -> list[tuple[str, str, str, bool]]:
    t = test_crawl_robots
    cases = [(t.ROBOTS, "newsstream", p, a) for p, a in params(t.test_specific_group_applies)]
    cases += [
        (t.ROBOTS, "somebot", p, a) for p, a in params(t.test_star_group_applies_to_unknown_agents)
    ]
    tie = "User-agent: *\nDisallow: /page\nAllow: /page\nDisallow: /новини/\n"
    cases += [(tie, "a", "/page", True), (tie, "a", "/новини/1", False)]
    cases += [(tie, "a", "/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%B8/1", False)]
    cases += [("User-agent: *\nDisallow:\n", "a", "/anything", True)]
    return cases + [(text, "a", path, allowed) for text, path, allowed in RFC_CASES]


def ours_allowed(text: str, agent: str, path: str) -> bool:
    return parse_robots(text, agent).allowed(path)


def protego_allowed(text: str, agent: str, path: str) -> bool:
    return bool(Protego.parse(text).can_fetch("https://example.com" + path, agent))


def bench_robots(repeat: int) -> None:
    cases = robots_cases()
    t = test_crawl_robots
    extras = {  # crawl-delay and sitemaps of the test file
        "ours": (
            parse_robots(t.ROBOTS, "newsstream").crawl_delay,
            parse_robots(t.ROBOTS, "somebot").crawl_delay,
            parse_robots(t.ROBOTS, "x").sitemaps,
        ),
        "protego": (
            Protego.parse(t.ROBOTS).crawl_delay("newsstream"),
            Protego.parse(t.ROBOTS).crawl_delay("somebot"),
            tuple(Protego.parse(t.ROBOTS).sitemaps),
        ),
    }
    want = (5, 2, ("https://example.com/sitemap.xml",))
    big = "User-agent: *\n" + "".join(f"Disallow: /section{i}/*.php$\n" for i in range(300))
    paths = [f"/section{i * 13}/page.php" for i in range(20)]
    print(f"robots.txt: {len(cases)} allow/deny cases + 3 crawl-delay/sitemap checks")
    row("", "cases right", "delay+sitemaps", "ms/parse+20q")
    for name, allowed in (("ours", ours_allowed), ("protego", protego_allowed)):
        wrong = [c[1:] for c in cases if allowed(*c[:3]) is not c[3]]
        extra_ok = sum(a == b for a, b in zip(extras[name], want, strict=True))
        if name == "ours":
            run = lambda: [parse_robots(big, "a").allowed(p) for p in paths]  # noqa: E731
        else:
            run = lambda: [Protego.parse(big).can_fetch("https://e.com" + p, "a") for p in paths]  # noqa: E731
        speed = timed(run, repeat) * 1000
        row(name, f"{len(cases) - len(wrong)}/{len(cases)}", f"{extra_ok}/3", f"{speed:.2f}")
        for case in wrong:
            print(f"    wrong: agent={case[0]} path={case[1]} expected allowed={case[2]}")


# --- URL canonicalisation -----------------------------------------------------------------

NOISE = "utm_source=tg&utm_medium=social&fbclid=IwAR0&gclid=x"


def spelling(url: str) -> str:
    """The same URL as a newsletter or a social site would link it."""
    scheme, rest = url.split("://", 1)
    host, _, path = rest.partition("/")
    port = ":443" if scheme == "https" else ":80"
    sep = "&" if "?" in path else "?"
    return f"{scheme.upper()}://{host.upper()}{port}/{path}{sep}{NOISE}#comments"


def shared_urls() -> list[str]:
    root = data_root()
    urls: list[str] = []
    aeb = root / "extraction/aeb/ground-truth.json"
    if aeb.exists():
        urls += [v["url"] for v in json.loads(aeb.read_text("utf-8")).values()]
    pairs = root / "stories/tgcontest-pairs.jsonl"
    if pairs.exists():
        for line in pairs.read_text("utf-8").splitlines():
            pair = json.loads(line)
            urls += [pair["first_url"], pair["second_url"]]
    return sorted(set(urls))


def courlan_canonical(url: str) -> str:
    return str(courlan.normalize_url(url, strict=True, trailing_slash=False))


def bench_urls(repeat: int) -> None:
    table = test_identity.TABLE
    urls = shared_urls()
    print(f"URL canonicalisation: {len(table)} test-table cases; {len(urls)} shared-data URLs")
    row("", "table right", "idempotent", "stable ids", "same as ours", "µs/URL")
    sides: dict[str, Callable[[str], str]] = {
        "ours": canonicalize,
        "w3lib canonicalize_url": canonicalize_url,
        "courlan normalize_url(strict)": courlan_canonical,
    }
    for name, fn in sides.items():
        right = idem = stable = same = 0
        for raw, expected in table:
            try:
                out = fn(raw)
            except ValueError:
                continue
            right += out == expected
            idem += fn(out) == out
        for url in urls:
            try:
                plain, noisy = fn(url), fn(spelling(url))
            except ValueError:
                continue
            stable += plain == noisy
            same += plain == canonicalize(url)
        speed = timed(partial(_each, fn, urls), repeat) * 1e6 / max(1, len(urls))
        row(name, f"{right}/{len(table)}", f"{idem}/{len(table)}", f"{stable}/{len(urls)}",
            f"{same}/{len(urls)}", f"{speed:.1f}")  # fmt: skip


# --- publication dates --------------------------------------------------------------------


def date_sets() -> dict[str, list[tuple[str, str | None, date]]]:
    """name -> [(html, url or None, known date)]."""
    text_cases = params(_dates_test().test_dates_in_text)
    sets: dict[str, list[tuple[str, str | None, date]]] = {
        "test cases (uk/ru/en text)": [
            (f"<html><body><p>{text}</p></body></html>", None, when.date())
            for text, when in text_cases
        ]
    }
    root = data_root() / "extraction"
    daniel = root / "daniel-ru/ground-truth.json"
    if daniel.exists():
        pages: list[tuple[str, str | None, date]] = []
        for key in sorted(json.loads(daniel.read_text("utf-8"))):
            raw = gzip.decompress((root / f"daniel-ru/html/{key}.html.gz").read_bytes())
            pages.append((decode_html(raw).text, None, date.fromisoformat(_iso(key[:8]))))
        sets["daniel-ru (collection day)"] = pages
    else:
        print("  (no shared data: daniel-ru and aeb skipped)")
    aeb = root / "aeb/ground-truth.json"
    if aeb.exists():
        pages = []
        for key, value in sorted(json.loads(aeb.read_text("utf-8")).items()):
            known = _url_day(value["url"])
            if known is not None:
                raw = gzip.decompress((root / f"aeb/html/{key}.html.gz").read_bytes())
                pages.append((raw.decode("utf-8", "replace"), None, known))
        sets["aeb (date in URL, URL hidden)"] = pages
    return sets


def _dates_test() -> Any:
    from tests.unit.clean import test_clean_dates_language

    return test_clean_dates_language


def _iso(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:]}"


def _url_day(url: str) -> date | None:
    match = re.search(r"/((?:19|20)\d\d)[/-]?(\d\d)[/-]?(\d\d)(?:[/_.-]|$)", url)
    try:
        return date(int(match[1]), int(match[2]), int(match[3])) if match else None
    except ValueError:
        return None


def _day(found: datetime | None) -> date | None:
    return found.date() if found is not None else None


def date_sides() -> dict[str, Callable[[str, str | None], date | None]]:
    def hd(html: str, url: str | None, extensive: bool = True) -> date | None:
        found = htmldate.find_date(html, extensive_search=extensive, original_date=True, url=url)
        return date.fromisoformat(found) if found else None

    return {
        "ours, rules only (before)": lambda h, u: _day(
            date_from_html(LexborHTMLParser(h), u, guess=False)
        ),
        # streams/clean/dates.py calls htmldate with extensive_search=False
        "htmldate fast + our rules (now)": lambda h, u: _day(
            date_from_html(LexborHTMLParser(h), u)
        ),
        "htmldate alone, extensive": hd,
        "htmldate alone, fast": lambda h, u: hd(h, u, extensive=False),
    }


def bench_dates(repeat: int) -> None:
    print("Publication dates: exact day / plausible (0-7 days before) / found at all / pages/s")
    htmldate.find_date("<html><body><p>12 March 2024</p></body></html>")  # import-time warm-up
    for set_name, pages in date_sets().items():
        print(f" {set_name}: {len(pages)} pages")
        row("", "exact", "plausible", "coverage", "pages/s")
        for name, fn in date_sides().items():
            reset_caches()  # htmldate memoises pages: each side starts cold, timed once
            began = time.perf_counter()
            found = [fn(html, url) for html, url, _ in pages]
            seconds = time.perf_counter() - began
            exact = sum(f == k for f, (_, _, k) in zip(found, pages, strict=True))
            near = sum(
                f is not None and k - timedelta(days=7) <= f <= k
                for f, (_, _, k) in zip(found, pages, strict=True)
            )
            cover = sum(f is not None for f in found)
            n = len(pages)
            row(name, f"{exact}/{n}", f"{near}/{n}", f"{cover}/{n}", f"{n / seconds:.0f}")


def bench_clean_cost(repeat: int) -> None:
    """What each date extractor costs the whole clean stage, in pages per CPU-second over the
    shared pages with HTML (CPU time: other load on the machine does not count)."""
    from unittest import mock

    # By module object: the package re-exports a function named `extract`.
    dates_module = importlib.import_module("streams.clean.dates")
    extract_module = importlib.import_module("streams.clean.extract")
    from streams.clean.stage import CleanStage, warm_up
    from streams.records import RawPage, SourceRef

    files = sorted(data_root().glob("extraction/*/html/*.html.gz"))
    raws = [
        RawPage(
            article_id=f"{i:032x}",
            url=f"https://bench.test/{i}",
            final_url=f"https://bench.test/{i}",
            status=200,
            fetched_at=datetime.now(UTC),
            source_id="bench",
            content_type="text/html",
            body_b64=RawPage.encode_body(gzip.decompress(f.read_bytes())),
        ).to_json()
        for i, f in enumerate(files)
    ]
    origin = SourceRef(topic="news.raw", partition=0, offset=0)
    find = dates_module.find_date

    def extensive(*args: Any, **kwargs: Any) -> Any:
        return find(*args, **(kwargs | {"extensive_search": True}))

    sides: dict[str, contextlib.AbstractContextManager[Any]] = {
        "ours, rules only (before)": mock.patch.object(
            extract_module, "date_from_html", partial(date_from_html, guess=False)
        ),
        "htmldate extensive + our rules": mock.patch.object(dates_module, "find_date", extensive),
        "htmldate fast + our rules (now)": contextlib.nullcontext(),
    }
    print(f"Clean stage over {len(raws)} shared pages: pages per CPU-second, best of {repeat}")
    warm_up()
    stage = CleanStage()
    for name, patch in sides.items():
        with patch:
            best = 0.0
            for _ in range(repeat):
                reset_caches()
                began = time.process_time()
                for value in raws:
                    with contextlib.suppress(Exception):  # pages without text: dead letters
                        stage(None, value, origin)
                best = max(best, len(raws) / (time.process_time() - began))
        row(name, f"{best:.1f}")


# --- feeds and sitemaps ---------------------------------------------------------------------

Item = tuple[str, str | None, datetime | None, str | None]  # url, title, published, language
_Z = UTC


def feed_cases() -> list[tuple[str, bytes, list[Item]]]:
    """The documents of test_crawl_discover.py with what its assertions expect."""
    t = test_crawl_discover
    h2 = timezone_plus(2)
    return [
        ("RSS", t.RSS, [
            ("https://example.com/uk/news/1.html", "Perhaps news",
             datetime(2024, 3, 12, 12, 5, tzinfo=_Z), "uk"),
            ("https://example.com/uk/news/2.html", "By guid", None, "uk"),
        ]),
        ("Atom", t.ATOM, [
            ("https://example.com/en/1", "One", datetime(2024, 3, 13, 10, 15, tzinfo=_Z), "en"),
            ("https://example.com/ru/2", "Two", datetime(2024, 3, 14, tzinfo=_Z), "ru"),
        ]),
        ("news sitemap", t.NEWS_SITEMAP, [
            ("https://example.com/a", "Headline A", datetime(2024, 3, 13, 11, 20, tzinfo=h2), "ru"),
            ("https://example.com/b", None, datetime(2024, 3, 10, tzinfo=_Z), None),
        ]),
        ("sitemap index", t.INDEX, [
            ("https://example.com/sitemap-news.xml", None, datetime(2024, 3, 17, 8, tzinfo=_Z),
             None),
        ]),
    ]  # fmt: skip


def timezone_plus(hours: int) -> Any:
    from datetime import timezone

    return timezone(timedelta(hours=hours))


BASE = "https://example.com/feed.xml"


def ours_items(body: bytes) -> list[Item] | None:
    try:
        return [(i.url, i.title, i.published, i.language) for i in parse_feed(body, BASE)]
    except DiscoveryError:
        return None


def feedparser_items(body: bytes) -> list[Item] | None:
    parsed = feedparser.parse(body, response_headers={"content-location": BASE})
    if parsed.bozo and not parsed.entries:
        return None
    language = parsed.feed.get("language")
    items: list[Item] = []
    for entry in parsed.entries:
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        stamp = datetime(*when[:6]).replace(tzinfo=_Z) if when else None
        link = entry.get("link")
        # A thin layer for our rules: folded whitespace, the entry's own xml:lang.
        title = " ".join(entry.get("title", "").split()) or None
        lang = entry.get("title_detail", {}).get("language") or language
        if link and link.startswith(("http://", "https://")):
            items.append((link, title, stamp, lang))
    return items


def usp_items(body: bytes) -> list[Item] | None:
    sitemap = sitemap_from_str(body.decode("utf-8"))
    if isinstance(sitemap, InvalidSitemap):
        return None
    if isinstance(sitemap, IndexXMLSitemap):
        return [(s.url, None, None, None) for s in sitemap.sub_sitemaps]
    items: list[Item] = []
    for page in sitemap.all_pages():
        story = page.news_story
        when = (story.publish_date if story else None) or page.last_modified
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=_Z)
        title = story.title if story else None
        items.append((page.url, title, when, story.publication_language if story else None))
    return items


def synthetic(kind: str, n: int) -> bytes:
    if kind == "rss":
        items = "".join(
            f"<item><title>Новина {i}</title><link>https://example.com/n/{i}</link>"
            f"<pubDate>Tue, 12 Mar 2024 14:05:00 +0200</pubDate></item>"
            for i in range(n)
        )
        return f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()
    urls = "".join(
        f"<url><loc>https://example.com/n/{i}</loc><lastmod>2024-03-10</lastmod></url>"
        for i in range(n)
    )
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<?xml version="1.0"?><urlset xmlns="{ns}">{urls}</urlset>'.encode()


def bench_feeds(repeat: int) -> None:
    test = test_crawl_discover.test_hostile_or_wrong_documents_raise
    hostile: list[bytes] = [case[0] for case in params(test)]
    cases = feed_cases()
    print(f"Feeds and sitemaps: {len(cases)} test documents, {len(hostile)} hostile/wrong ones")
    row("", "docs right", "hostile refused", "ms/1000 items")
    sides: dict[str, tuple[Callable[[bytes], list[Item] | None], str]] = {
        "ours (defusedxml)": (ours_items, "rss"),
        "feedparser": (feedparser_items, "rss"),
        "usp sitemap_from_str": (usp_items, "sitemap"),
    }
    for name, (fn, kind) in sides.items():
        right, wrong = 0, []
        for doc_name, body, expected in cases:
            got = fn(body)
            if got == expected:
                right += 1
            else:
                wrong.append(doc_name)
        refused = sum(fn(body) in (None, []) for body in hostile)
        big = synthetic(kind, 1000)
        speed = timed(partial(fn, big), repeat) * 1000
        row(name, f"{right}/{len(cases)}", f"{refused}/{len(hostile)}", f"{speed:.1f} ({kind})")
        if wrong:
            print(f"    differs on: {', '.join(wrong)}")
    big = synthetic("sitemap", 1000)
    print(f"  ours on the 1000-url sitemap: {timed(lambda: ours_items(big), repeat) * 1000:.1f} ms")


BENCHES: dict[str, Callable[[int], None]] = {
    "robots": bench_robots,
    "urls": bench_urls,
    "dates": bench_dates,
    "clean": bench_clean_cost,
    "feeds": bench_feeds,
}


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="pairs to run")
    parser.add_argument("--repeat", type=int, default=3, help="timing runs; the best is shown")
    args = parser.parse_args(None if argv is None else list(argv))
    for name in args.only or BENCHES:
        began = time.perf_counter()
        print(f"== {name}", flush=True)
        BENCHES[name](args.repeat)
        print(f"   ({time.perf_counter() - began:.1f} s)\n", flush=True)


if __name__ == "__main__":
    main()
