"""Many news sites on loopback in a child process of their own, with a request log.

Each site is one port on 127.0.0.1 (so one host to the crawler): ``/robots.txt``,
``/feed.xml`` listing its ``pages`` pages and ``cross`` pages of the next site (discovery of
another host's links), and ``/news/<n>`` pages with an ETag (a conditional GET gets 304).
Every request is logged with CLOCK_MONOTONIC, which is one clock for all processes of the
machine, so gaps between requests from different crawler processes are comparable. The
sites run apart from the crawlers and from the test, so a busy test loop does not delay the
timestamps. ``GET /_log`` on the control port returns the log as JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import multiprocessing
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from streams.infra._process import free_ports

FILLER = "<p>" + "Новини дня: уряд оголосив про нові заходи підтримки. " * 6 + "</p>\n"


def page_body(port: int, n: int, paragraphs: int) -> bytes:
    return (
        f"<html><head><title>Site {port} story {n}</title></head><body><article>"
        f"<h1>Story {n} of {port}</h1>{FILLER * paragraphs}</article></body></html>"
    ).encode()


def feed_body(links: list[str]) -> bytes:
    now = datetime.now(UTC) - timedelta(minutes=5)
    items = "".join(
        f"<item><title>Item {i}</title><link>{u}</link>"
        f"<pubDate>{format_datetime(now - timedelta(minutes=i))}</pubDate></item>"
        for i, u in enumerate(links)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>".encode()


def _serve(
    ports: list[int], control: int, pages: int, cross: int, paragraphs: int, ready: Any
) -> None:
    log: list[tuple[int, str, float, bool]] = []

    def site_of(request: web.Request) -> int:
        return int(request.host.rsplit(":", 1)[1])

    async def handle(request: web.Request) -> web.Response:
        port = site_of(request)
        conditional = "If-None-Match" in request.headers
        log.append((port, request.path, time.monotonic(), conditional))
        if request.path == "/robots.txt":
            return web.Response(text="User-agent: *\nAllow: /\n")
        if request.path == "/feed.xml":
            nxt = ports[(ports.index(port) + 1) % len(ports)]
            links = [f"http://127.0.0.1:{port}/news/{n}" for n in range(pages)]
            links += [f"http://127.0.0.1:{nxt}/news/{n}" for n in range(cross)]
            return web.Response(body=feed_body(links), content_type="application/rss+xml")
        if request.path.startswith("/news/"):
            n = int(request.path.rsplit("/", 1)[1])
            body = page_body(port, n, paragraphs)
            tag = '"' + hashlib.sha256(body).hexdigest()[:12] + '"'
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
            return web.Response(
                body=body, headers={"ETag": tag, "Content-Type": "text/html; charset=utf-8"}
            )
        return web.Response(status=404)

    async def dump(_: web.Request) -> web.Response:
        return web.Response(body=json.dumps(log).encode(), content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in ports:
            await web.TCPSite(runner, "127.0.0.1", port, backlog=512).start()
        control_app = web.Application()
        control_app.router.add_get("/_log", dump)
        control_runner = web.AppRunner(control_app, access_log=None)
        await control_runner.setup()
        await web.TCPSite(control_runner, "127.0.0.1", control).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


@dataclass
class Request:
    port: int
    path: str
    at: float
    conditional: bool


class Farm:
    """``with Farm(hosts, pages, cross) as farm:`` sites up in a child process."""

    def __init__(self, hosts: int, pages: int, cross: int = 0, paragraphs: int = 4) -> None:
        self.hosts, self.pages, self.cross, self.paragraphs = hosts, pages, cross, paragraphs
        *self.ports, self.control = free_ports(hosts + 1)
        self._proc: multiprocessing.Process | None = None

    def __enter__(self) -> Farm:
        ready = multiprocessing.Event()
        args = (self.ports, self.control, self.pages, self.cross, self.paragraphs, ready)
        self._proc = multiprocessing.Process(target=_serve, args=args, daemon=True)
        self._proc.start()
        if not ready.wait(60):
            raise RuntimeError("the loopback sites did not start in 60 s")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.join(10)

    def base(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def feeds(self) -> list[str]:
        return [self.base(p) + "/feed.xml" for p in self.ports]

    def page_urls(self) -> set[str]:
        return {self.base(p) + f"/news/{n}" for p in self.ports for n in range(self.pages)}

    def requests(self) -> list[Request]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.control}/_log", timeout=30) as r:
            return [Request(*row) for row in json.loads(r.read())]

    @staticmethod
    def report(requests: list[Request]) -> dict[str, Any]:
        """Smallest same-host gap (any path), page fetches per URL, by-host times."""
        by_host: defaultdict[int, list[Request]] = defaultdict(list)
        pages: Counter[str] = Counter()
        for r in requests:
            by_host[r.port].append(r)
            if r.path.startswith("/news/") and not r.conditional:
                pages[f"http://127.0.0.1:{r.port}{r.path}"] += 1
        gaps: list[tuple[float, Request, Request]] = []
        for seen in by_host.values():
            seen.sort(key=lambda r: r.at)
            gaps += [(b.at - a.at, a, b) for a, b in itertools.pairwise(seen)]
        gaps.sort(key=lambda g: g[0])
        return {
            "min_gap": gaps[0][0] if gaps else float("inf"),
            "closest": gaps[:5],
            "pages": pages,
            "hosts": len(by_host),
        }
