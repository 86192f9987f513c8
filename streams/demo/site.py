"""An offline demo news site on 127.0.0.1 for tests, demos and benchmarks.

It runs inside the caller's event loop (no threads) and serves the pages of
:mod:`streams.demo.pages` plus ``/robots.txt``, an RSS 2.0 feed at ``/rss.xml``, a Google News
sitemap at ``/sitemap.xml`` and a section page at ``/news/``. Feeds, sitemap and pages answer
conditional GETs (ETag / Last-Modified) with 304.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import UTC
from email.utils import format_datetime, parsedate_to_datetime
from types import TracebackType
from xml.sax.saxutils import escape

from aiohttp import web

from streams.demo.pages import PAGES, PRIVATE_PATH, SECTION_PATH, DemoPage, page_by_path
from streams.demo.templates import SITE_NAME, render_section

ROBOTS_TXT = """# Demo site: everything but drafts may be crawled.
User-agent: *
Allow: /
Disallow: /private/

Sitemap: {base}/sitemap.xml
"""
_PRIVATE_HTML = "<!DOCTYPE html><html><body><h1>Drafts</h1><p>Not for crawlers.</p></body></html>"
_SITEMAP_NS = (
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
    'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
)


def _http_date(page: DemoPage, revision: int | None = None) -> str:
    """Last-Modified of ``page`` as served at ``revision`` (None: the latest one)."""
    latest = revision is None or revision >= page.revisions - 1
    when = page.modified if latest else page.story.published
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _not_modified(request: web.Request, etag: str, last_modified: str) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in (tag.strip() for tag in if_none_match.split(","))
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        return parsedate_to_datetime(since) >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False


def _respond(
    request: web.Request, body: bytes, content_type: str, last_modified: str
) -> web.Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = {"ETag": etag, "Last-Modified": last_modified, "Content-Type": content_type}
    if _not_modified(request, etag, last_modified):
        return web.Response(status=304, headers={"ETag": etag, "Last-Modified": last_modified})
    return web.Response(body=body, headers=headers)


class DemoSite:
    """``async with DemoSite() as site:`` then fetch ``site.url(path)``; ``port=0`` picks one."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, pages: Sequence[DemoPage] = PAGES
    ) -> None:
        self._host = host
        self._port = port
        self.pages = tuple(pages)
        self.hits: Counter[str] = Counter()  # requests per path; drives the revised page
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("DemoSite is not started")
        return self._base_url

    def url(self, path: str) -> str:
        return self.base_url + path

    def article_urls(self) -> list[str]:
        return [self.url(p.path) for p in self.pages]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/robots.txt", self._robots)
        app.router.add_get("/rss.xml", self._rss)
        app.router.add_get("/sitemap.xml", self._sitemap)
        app.router.add_get("/{tail:.*}", self._page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self._base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._base_url = None

    async def __aenter__(self) -> DemoSite:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _latest(self) -> str:
        return _http_date(max(self.pages, key=lambda p: p.modified))

    async def _robots(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        return web.Response(text=ROBOTS_TXT.format(base=self.base_url), content_type="text/plain")

    async def _rss(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        items = "".join(
            f"<item><title>{escape(p.story.title)}</title><link>{escape(self.url(p.path))}</link>"
            f'<guid isPermaLink="true">{escape(self.url(p.path))}</guid>'
            f"<pubDate>{format_datetime(p.story.published)}</pubDate>"
            f"<dc:language>{p.story.lang}</dc:language>"
            f"<category>{escape(p.story.section)}</category>"
            f"<description>{escape(p.story.description)}</description></item>\n"
            for p in self.pages
        )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>\n'
            f"<title>{SITE_NAME['en']} (demo)</title><link>{self.base_url}/</link>"
            f"<description>Demo news feed</description>\n{items}</channel></rss>\n"
        )
        return _respond(request, xml.encode(), "application/rss+xml; charset=utf-8", self._latest())

    async def _sitemap(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        urls = "".join(
            f"<url><loc>{escape(self.url(p.path))}</loc>"
            f"<lastmod>{p.modified.isoformat()}</lastmod><news:news><news:publication>"
            f"<news:name>{escape(SITE_NAME[p.story.lang])}</news:name>"
            f"<news:language>{p.story.lang}</news:language></news:publication>"
            f"<news:publication_date>{p.story.published.isoformat()}</news:publication_date>"
            f"<news:title>{escape(p.story.title)}</news:title></news:news></url>\n"
            for p in self.pages
        )
        xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset {_SITEMAP_NS}>\n{urls}</urlset>\n'
        return _respond(request, xml.encode(), "application/xml; charset=utf-8", self._latest())

    async def _page(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        if request.path == SECTION_PATH:
            links = [(p.path, p.story.title) for p in self.pages]
            return web.Response(text=render_section("en", links), content_type="text/html")
        if request.path == PRIVATE_PATH:
            return web.Response(text=_PRIVATE_HTML, content_type="text/html")
        page = page_by_path(request.path)
        if page is None or page not in self.pages:
            return web.Response(status=404, text="<h1>Not found</h1>", content_type="text/html")
        # The first request sees revision 0, later ones the latest revision.
        revision = self.hits[request.path] - 1
        body = page.render(self.base_url, revision)
        return _respond(request, body, page.content_type, _http_date(page, revision))
