"""Crawler throughput across many hosts on loopback, with politeness checked in the same run.

Usage: .venv/bin/python bench/crawl.py scale [--hosts 1000] [--pages 20] [--replicas 1,2,3]
       .venv/bin/python bench/crawl.py [fetch] [--hosts 200] [--pages 10] [--delay-s 0.05]

``scale``: a broker of its own, ``--hosts`` loopback sites in a child process (one port each,
so one host each; a feed per site listing its pages and one page of the next site), one source
per site on news.sources, and 1, 2, 3 ``newsstream crawl`` replicas as separate processes (a
fresh broker for each count). The sites log every request on CLOCK_MONOTONIC (one clock for
every process), which gives: pages/s from the sources' arrival to the last page fetched; the
smallest gap between two requests to one host across all replicas (robots.txt, feed and pages,
against the configured delay); pages fetched twice; discovered pages never fetched; and from
news.raw, records and distinct article ids (published twice = records - ids). The reference
line is the same pages through one in-process ``PoliteFetcher`` (no Kafka) in the same run.

``fetch``: the crawler's fetch path alone.

A child process serves ``--hosts`` sites (one port each, so each is its own host to the
crawler), every site with a robots.txt and ``--pages`` article pages of ~30 KB. The crawler's
real fetch path (``PoliteFetcher``: safety checks, robots.txt, per-host turns and delay, body
caps) fetches every page once. Printed: pages/s and MB/s overall, and the smallest gap between
two request starts on one host, which must not be under the per-host delay (politeness intact).
The reference is the same pages fetched by a bare aiohttp client with no manners, in the same
run, so the cost of politeness and safety is visible.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
from collections import defaultdict
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from streams.crawl.fetch import Fetcher, FetchPolicy
from streams.crawl.hosts import Politeness
from streams.crawl.polite import PoliteFetcher
from streams.infra._process import free_ports

PARAGRAPH = "<p>" + "Новини дня: уряд оголосив про нові заходи підтримки. " * 12 + "</p>\n"
PAGE = (
    "<html><head><title>t</title></head><body><article>" + PARAGRAPH * 40 + "</article>"
    "</body></html>"
).encode()


def serve(ports: list[int], ready: multiprocessing.synchronize.Event) -> None:
    """Child process: one aiohttp site per port; robots.txt allows everything."""

    async def robots(_: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    async def page(_: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/news/{n}", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        for port in ports:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def polite_run(urls: list[str], delay_s: float) -> tuple[float, int, float]:
    """Seconds, bytes, and the smallest same-host gap between request starts."""
    starts: dict[str, list[float]] = defaultdict(list)
    policy = FetchPolicy(allow_cidrs=("127.0.0.1/32",), max_connections=400)
    manners = Politeness(concurrency=1, min_delay_s=delay_s, max_retries=0)
    async with Fetcher(policy) as fetcher:
        polite = PoliteFetcher(fetcher, politeness=manners, max_in_flight=256)
        inner = fetcher.fetch

        async def timed(url: str, **kw: object) -> object:
            starts[url.split("/news/", maxsplit=1)[0]].append(time.monotonic())
            return await inner(url, **kw)  # type: ignore[arg-type]

        fetcher.fetch = timed  # type: ignore[method-assign,assignment]
        began = time.perf_counter()
        results = await asyncio.gather(*(polite.fetch(u) for u in urls))
        elapsed = time.perf_counter() - began
    bad = [r for r in results if r.outcome != "fetched"]
    if bad:
        raise SystemExit(f"{len(bad)} fetches failed, first: {bad[0].outcome} {bad[0].reason}")
    gaps = [b - a for times in starts.values() for a, b in itertools.pairwise(times)]
    return elapsed, sum(len(r.body) for r in results), min(gaps, default=float("inf"))


async def bare_run(urls: list[str]) -> float:
    """The same pages with no politeness, safety or caps: the ceiling of this machine."""
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(url: str) -> int:
            async with session.get(url) as resp:
                return len(await resp.read())

        began = time.perf_counter()
        await asyncio.gather(*(get(u) for u in urls))
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    fetch = sub.add_parser("fetch", help="the fetch path alone, against bare aiohttp")
    fetch.add_argument("--hosts", type=int, default=200, help="sites, one port each")
    fetch.add_argument("--pages", type=int, default=10, help="pages per site")
    fetch.add_argument("--delay-s", type=float, default=0.05, help="per-host delay")
    scale = sub.add_parser("scale", help="crawler replicas on Kafka (see the module docstring)")
    scale.add_argument("--hosts", type=int, default=1000, help="sites, one port each")
    scale.add_argument("--pages", type=int, default=20, help="pages per site")
    scale.add_argument("--delay-s", type=float, default=1.0, help="per-host delay")
    scale.add_argument("--replicas", default="1,2,3", help="replica counts, comma-separated")
    scale.add_argument("--timeout-s", type=float, default=600, help="per replica count")
    argv = sys.argv[1:]
    if not argv or argv[0] not in ("fetch", "scale", "-h", "--help"):
        argv = ["fetch", *argv]  # `make bench` and older command lines: the fetch path
    args = parser.parse_args(argv)
    if args.mode == "scale":
        from crawl_scale import run_scale

        run_scale(args.hosts, args.pages, args.delay_s, args.replicas, args.timeout_s)
        return
    fetch_bench(args)


def fetch_bench(args: argparse.Namespace) -> None:
    ports = free_ports(args.hosts)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(ports, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the loopback sites did not start in 30 s")
        urls = [f"http://127.0.0.1:{p}/news/{n}" for n in range(args.pages) for p in ports]
        bare = asyncio.run(bare_run(urls))
        elapsed, size, gap = asyncio.run(polite_run(urls, args.delay_s))
    finally:
        server.terminate()
        server.join(5)
    n = len(urls)
    floor = args.pages * args.delay_s
    print(
        f"{n} pages on {args.hosts} hosts, {len(PAGE) / 1024:.0f} KB each, "
        f"per-host delay {args.delay_s * 1000:.0f} ms (politeness floor {floor:.2f} s)"
    )
    print(f"{'client':<28}{'pages/s':>10}{'MB/s':>8}{'seconds':>9}")
    print(
        f"{'newsstream PoliteFetcher':<28}{n / elapsed:>10.0f}{size / elapsed / 1e6:>8.1f}"
        f"{elapsed:>9.2f}"
    )
    print(
        f"{'bare aiohttp (no manners)':<28}{n / bare:>10.0f}{n * len(PAGE) / bare / 1e6:>8.1f}"
        f"{bare:>9.2f}"
    )
    verdict = "intact" if gap >= args.delay_s * 0.95 else "VIOLATED"
    print(f"smallest same-host gap between request starts: {gap * 1000:.1f} ms ({verdict})")


if __name__ == "__main__":
    main()
