"""Fetcher against hostile and ordinary servers on loopback."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from streams.crawl.fetch import Fetcher

MIB = 1024 * 1024
HTML = "text/html; charset=utf-8"
PAGE = "<html><head><title>Новини</title></head><body><p>Текст статті</p></body></html>"
Factory = Callable[..., Fetcher]
Serve = Callable[..., Awaitable[str]]


def _app(**routes: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.Application:
    app = web.Application()
    for name, handler in routes.items():
        app.router.add_get("/" + name.replace("_", "-"), handler)
    return app


async def _page(_: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html", headers={"ETag": '"v1"'})


async def test_fetches_html(serve: Serve, fetcher_factory: Factory) -> None:
    base = await serve(_app(page=_page))
    result = await fetcher_factory().fetch(base + "/page")
    assert (result.outcome, result.status, result.reason) == ("fetched", 200, None)
    assert result.body.decode() == PAGE
    assert result.headers["content-type"] == HTML
    assert result.headers["etag"] == '"v1"'
    assert result.final_url == base + "/page"
    assert result.redirects == ()
    assert result.fetched_at.tzinfo is not None
    assert result.elapsed_s >= 0


async def test_follows_redirects_and_records_hops(serve: Serve, fetcher_factory: Factory) -> None:
    async def r1(_: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/r2")

    async def r2(_: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    base = await serve(_app(r1=r1, r2=r2, page=_page))
    result = await fetcher_factory().fetch(base + "/r1")
    assert result.outcome == "fetched"
    assert result.redirects == (base + "/r2", base + "/page")
    assert result.final_url == base + "/page"


async def test_redirect_to_other_loopback_address_is_blocked_at_the_hop(
    serve: Serve, fetcher_factory: Factory
) -> None:
    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(text="<p>internal admin</p>", content_type="text/html")

    internal = await serve(_app(secret=secret), host="127.0.0.2")

    async def jump(_: web.Request) -> web.Response:
        raise web.HTTPFound(internal + "/secret")

    base = await serve(_app(jump=jump))
    result = await fetcher_factory().fetch(base + "/jump")
    assert (result.outcome, result.reason) == ("blocked", "loopback")
    assert result.redirects == (internal + "/secret",)
    assert result.status == 302
    assert hits == []  # never connected


async def test_redirects_to_metadata_and_other_schemes_are_blocked(
    serve: Serve, fetcher_factory: Factory
) -> None:
    async def meta(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def ftp(_: web.Request) -> web.Response:
        raise web.HTTPFound("ftp://127.0.0.1/file")

    base = await serve(_app(meta=meta, ftp=ftp))
    fetcher = fetcher_factory()
    assert (await fetcher.fetch(base + "/meta")).reason == "metadata"
    assert (await fetcher.fetch(base + "/ftp")).reason == "scheme"


async def test_redirect_loop_stops(serve: Serve, fetcher_factory: Factory) -> None:
    async def loop(_: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    base = await serve(_app(loop=loop))
    result = await fetcher_factory(max_redirects=3).fetch(base + "/loop")
    assert (result.outcome, result.reason) == ("error", "too_many_redirects")
    assert len(result.redirects) == 3


async def test_not_allow_listed_loopback_is_blocked(serve: Serve, fetcher_factory: Factory) -> None:
    base = await serve(_app(page=_page))
    result = await fetcher_factory(allow_cidrs=()).fetch(base + "/page")
    assert (result.outcome, result.reason, result.status) == ("blocked", "loopback", None)
    by_name = await fetcher_factory(allow_cidrs=()).fetch("http://localhost:8080/")
    assert (by_name.outcome, by_name.reason) == ("blocked", "loopback")


class FakeResolver(AbstractResolver):
    """Names resolve to what the test says: a stand-in for a hostile DNS server."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host=ip, port=port, family=socket.AF_INET, proto=0, flags=0
            )
            for ip in self.table[host]
        ]

    async def close(self) -> None:
        return None


async def test_resolved_addresses_are_checked(serve: Serve, fetcher_factory: Factory) -> None:
    base = await serve(_app(page=_page))
    port = base.rsplit(":", 1)[1]
    resolver = FakeResolver(
        {
            "news.test": ["127.0.0.1"],
            "rebind.test": ["127.0.0.2"],
            "mixed.test": ["127.0.0.1", "10.0.0.7"],
            "meta.test": ["169.254.169.254"],
        }
    )
    fetcher = fetcher_factory(resolver=resolver)
    assert (await fetcher.fetch(f"http://news.test:{port}/page")).outcome == "fetched"
    for host, reason in [("rebind", "loopback"), ("mixed", "private"), ("meta", "metadata")]:
        result = await fetcher.fetch(f"http://{host}.test:{port}/page")
        assert (result.outcome, result.reason) == ("blocked", reason), host


async def test_gzip_bomb_is_too_large(serve: Serve, fetcher_factory: Factory) -> None:
    bomb = gzip.compress(b"\0" * (100 * MIB), compresslevel=9)

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Type": HTML, "Content-Encoding": "gzip"})

    base = await serve(_app(bomb=handler))
    result = await fetcher_factory().fetch(base + "/bomb")
    assert (result.outcome, result.reason) == ("too_large", "decompressed")
    assert result.body == b""


async def test_gzip_page_is_decoded(serve: Serve, fetcher_factory: Factory) -> None:
    async def handler(_: web.Request) -> web.Response:
        body = gzip.compress(PAGE.encode())
        return web.Response(body=body, headers={"Content-Type": HTML, "Content-Encoding": "gzip"})

    base = await serve(_app(gz=handler))
    result = await fetcher_factory().fetch(base + "/gz")
    assert result.outcome == "fetched"
    assert result.body.decode() == PAGE


async def test_big_declared_length_is_refused_before_reading(
    serve: Serve, fetcher_factory: Factory
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": HTML})
        response.content_length = 50 * MIB
        await response.prepare(request)
        await response.write(b"x" * 1024)
        return response

    base = await serve(_app(big=handler))
    result = await fetcher_factory().fetch(base + "/big")
    assert (result.outcome, result.reason) == ("too_large", "content_length")


async def test_big_streamed_body_stops_reading_early(
    serve: Serve, fetcher_factory: Factory
) -> None:
    sent = [0]
    done = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": HTML})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"x" * (256 * 1024)
        try:
            while sent[0] < 50 * MIB:
                await response.write(chunk)
                sent[0] += len(chunk)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            done.set()
        return response

    base = await serve(_app(stream=handler))
    result = await fetcher_factory().fetch(base + "/stream")
    assert (result.outcome, result.reason) == ("too_large", "body")
    await asyncio.wait_for(done.wait(), 5)
    assert sent[0] < 20 * MIB  # cap (5 MiB) plus socket buffers, far from 50 MB


async def test_slow_loris_times_out(serve: Serve, fetcher_factory: Factory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": HTML})
        await response.prepare(request)
        try:
            for _ in range(100):  # one byte every 50 ms: never idle long enough for sock_read
                await response.write(b"<")
                await asyncio.sleep(0.05)
        except ConnectionError:
            pass
        return response

    base = await serve(_app(slow=handler))
    fetcher = fetcher_factory(total_timeout_s=0.6, read_timeout_s=0.3)
    result = await fetcher.fetch(base + "/slow")
    assert (result.outcome, result.reason) == ("timeout", "total")
    assert result.elapsed_s < 2


async def test_silent_server_hits_read_timeout(serve: Serve, fetcher_factory: Factory) -> None:
    async def handler(_: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text=PAGE, content_type="text/html")

    base = await serve(_app(silent=handler))
    result = await fetcher_factory(read_timeout_s=0.2).fetch(base + "/silent")
    assert (result.outcome, result.reason) == ("timeout", "read")


async def test_conditional_get_gives_not_modified(serve: Serve, fetcher_factory: Factory) -> None:
    async def handler(request: web.Request) -> web.Response:
        headers = {"ETag": '"v7"', "Last-Modified": "Tue, 12 Mar 2024 12:00:00 GMT"}
        if request.headers.get("If-None-Match") == '"v7"' or request.headers.get(
            "If-Modified-Since"
        ):
            return web.Response(status=304, headers=headers)
        return web.Response(text="<rss/>", content_type="application/rss+xml", headers=headers)

    base = await serve(_app(feed=handler))
    fetcher = fetcher_factory()
    first = await fetcher.fetch(base + "/feed", kind="feed")
    assert first.outcome == "fetched"
    again = await fetcher.fetch(base + "/feed", kind="feed", etag=first.headers["etag"])
    assert (again.outcome, again.status, again.body) == ("not_modified", 304, b"")
    by_date = await fetcher.fetch(
        base + "/feed", kind="feed", last_modified=first.headers["last-modified"]
    )
    assert by_date.outcome == "not_modified"


async def test_windows_1251_bytes_are_intact(serve: Serve, fetcher_factory: Factory) -> None:
    raw = "<html><body><p>Задержаны мошенники — «служба безопасности»</p></body></html>".encode(
        "cp1251"
    )

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=raw, headers={"Content-Type": "text/html; charset=windows-1251"})

    base = await serve(_app(cp=handler))
    result = await fetcher_factory().fetch(base + "/cp")
    assert result.body == raw
    assert result.headers["content-type"] == "text/html; charset=windows-1251"


async def test_content_types(serve: Serve, fetcher_factory: Factory) -> None:
    async def pdf(_: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.4", content_type="application/pdf")

    async def rss(_: web.Request) -> web.Response:
        return web.Response(text="<rss/>", content_type="application/rss+xml")

    base = await serve(_app(pdf=pdf, rss=rss))
    fetcher = fetcher_factory()
    result = await fetcher.fetch(base + "/pdf")
    assert (result.outcome, result.reason) == ("bad_content_type", "application/pdf")
    assert (await fetcher.fetch(base + "/rss")).outcome == "bad_content_type"
    assert (await fetcher.fetch(base + "/rss", kind="feed")).outcome == "fetched"


async def test_http_errors_keep_retry_after(serve: Serve, fetcher_factory: Factory) -> None:
    async def busy(_: web.Request) -> web.Response:
        return web.Response(status=503, text="busy", headers={"Retry-After": "120"})

    base = await serve(_app(busy=busy))
    fetcher = fetcher_factory()
    result = await fetcher.fetch(base + "/busy")
    assert (result.outcome, result.status, result.reason) == ("http_error", 503, "status_503")
    assert result.headers["retry-after"] == "120"
    missing = await fetcher.fetch(base + "/missing")
    assert (missing.outcome, missing.status) == ("http_error", 404)


async def test_unsupported_encoding_and_refused_connection(
    serve: Serve, fetcher_factory: Factory
) -> None:
    async def brotli(_: web.Request) -> web.Response:
        return web.Response(body=b"\x0b", headers={"Content-Type": HTML, "Content-Encoding": "br"})

    base = await serve(_app(br=brotli))
    fetcher = fetcher_factory()
    result = await fetcher.fetch(base + "/br")
    assert (result.outcome, result.reason) == ("error", "unsupported_content_encoding")
    with socket.socket() as sock:  # a port that is certainly closed: bound, never listening
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
        refused = await fetcher.fetch(f"http://127.0.0.1:{closed}/")
    assert refused.outcome == "error"
    assert refused.reason is not None
