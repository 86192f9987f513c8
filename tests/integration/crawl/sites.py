"""A scriptable test site: routes by path, hit counts and request times per path."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MIB = 1024 * 1024
RECENT = datetime.now(UTC) - timedelta(hours=1)


class Site:
    def __init__(self, robots: str = "User-agent: *\nAllow: /\n") -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.headers: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.base = ""
        self.text("/robots.txt", robots, "text/plain")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] += 1
        self.times[request.path].append(time.monotonic())
        self.headers[request.path].append(dict(request.headers))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    def text(self, path: str, body: str | bytes, content_type: str, etag: bool = False) -> None:
        data = body.encode() if isinstance(body, str) else body
        tag = '"' + hashlib.sha256(data).hexdigest()[:12] + '"'

        async def handler(request: web.Request) -> web.Response:
            if etag and request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
            headers = {"Content-Type": content_type} | ({"ETag": tag} if etag else {})
            return web.Response(body=data, headers=headers)

        self.routes[path] = handler

    def page(self, path: str, title: str, charset: str = "utf-8") -> bytes:
        html = (
            f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title></head>'
            f"<body><article><h1>{title}</h1><p>{title}: текст новини.</p></article></body></html>"
        )
        data = html.encode(charset)
        self.text(path, data, f"text/html; charset={charset}")
        return data

    def rss(self, path: str, links: list[str]) -> None:
        items = "".join(
            f"<item><title>Item {i}</title><link>{escape(self.base + link)}</link>"
            f"<pubDate>{format_datetime(RECENT - timedelta(minutes=i))}</pubDate></item>"
            for i, link in enumerate(links)
        )
        xml = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'
        xml += "</channel></rss>"
        self.text(path, xml, "application/rss+xml; charset=utf-8", etag=True)

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler


async def slow_loris(_: web.Request) -> web.StreamResponse:
    """Headers at once, then one byte every 0.2 s: beats any read timeout, never ends."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html"})
    await resp.prepare(_)
    try:
        for _i in range(100):
            await resp.write(b"<")
            await asyncio.sleep(0.2)
    except (ConnectionError, RuntimeError):
        pass
    return resp


async def huge_page(request: web.Request) -> web.StreamResponse:
    """50 MB of HTML, chunked (no Content-Length to refuse it early)."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html"})
    await resp.prepare(request)
    chunk = b"<p>" + b"x" * (MIB - 7) + b"</p>\n"
    try:
        for _ in range(50):
            await resp.write(chunk)
    except (ConnectionError, RuntimeError):
        pass
    return resp


GZIP_BOMB = gzip.compress(b"<html>" + b"\0" * (64 * MIB), compresslevel=9)


async def gzip_bomb(_: web.Request) -> web.Response:
    return web.Response(
        body=GZIP_BOMB, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
