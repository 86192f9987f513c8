"""Worker memory over a long run: is it flat once the dedup window is full?

Usage: .venv/bin/python bench/soak.py [--minutes 4] [--rate 8] [--event-step-s 10] [--window-s 3600]

A broker (the project's own on free ports in a temporary directory, always stopped at the end;
or NEWSSTREAM_KAFKA_BOOTSTRAP) and one `python -m streams worker` with a fresh group. Pages
(../shared/data/extraction when present, else the demo pages) are published at ``--rate``
pages/s, each under a new URL, cycling through the set. Event time runs faster than the wall
clock: each page's fetch time is ``--event-step-s`` after the previous one, so the dedup and
template-line windows (``--window-s``) fill and start expiring within minutes. A cycled page is
a duplicate of its earlier copy while that copy is inside the window, and new again after.

Printed: the worker's resident memory (VmRSS) every ``--sample-s`` seconds, then the growth
over the second half of the run, when the window is full: "flat" means under 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import broker, load_pages  # bench/ is on sys.path as the script's folder

from streams.classify import load_taxonomy
from streams.identity import article_id, canonicalize
from streams.infra._process import free_ports, stop_child
from streams.kafka.admin import check_topics
from streams.kafka.clients import make_producer
from streams.records import RawPage
from streams.settings import Settings, load_settings
from streams.topology import RAW, build_topology


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB; NaN once the process has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pages(step_s: float) -> Iterator[RawPage]:
    """An endless stream of RawPages: the set cycled, a new URL and a later fetch time each."""
    source, start = [body for _, _, body in load_pages(None)], datetime.now(UTC)
    for n in range(10**9):
        body = source[n % len(source)]
        url = f"https://soak{n % 7}.example/news/{n}"
        yield RawPage(
            article_id=article_id(canonicalize(url)), url=url, final_url=url, status=200,
            fetched_at=start + timedelta(seconds=n * step_s), source_id=f"soak{n % 7}",
            content_type="text/html", body_b64=RawPage.encode_body(body),
        )  # fmt: skip


async def feed(settings: Settings, args: argparse.Namespace, pid: int) -> list[tuple[Any, ...]]:
    producer = make_producer(settings)
    await producer.start()
    samples: list[tuple[float, int, float]] = []
    began = time.monotonic()
    next_sample = began
    try:
        for sent, page in enumerate(pages(args.event_step_s)):
            now = time.monotonic()
            if now - began > args.minutes * 60:
                break
            if now >= next_sample:
                rss = rss_mb(pid)
                if math.isnan(rss):
                    raise SystemExit("the worker died; its log is printed below")
                samples.append((now - began, sent, rss))
                print(f"{now - began:7.0f} s {sent:7d} pages  worker RSS {samples[-1][2]:7.1f} MB",
                      flush=True)  # fmt: skip
                next_sample += args.sample_s
            await producer.send(RAW, page.to_json(), key=page.article_id.encode())
            await asyncio.sleep(max(0.0, began + (sent + 1) / args.rate - time.monotonic()))
        await producer.flush()
    finally:
        await producer.stop()
    return samples


def report(samples: list[tuple[float, int, float]]) -> None:
    half = [s for s in samples if s[0] >= samples[-1][0] / 2]
    if len(half) < 2:
        print("run too short to judge")
        return
    first, last = half[0], half[-1]
    growth = (last[2] - first[2]) / first[2] * 100
    per_k = (last[2] - first[2]) / max(1, last[1] - first[1]) * 1000
    verdict = "flat" if growth < 5 else "GROWING"
    print(f"second half: {first[2]:.1f} -> {last[2]:.1f} MB over {last[1] - first[1]} pages "
          f"({growth:+.1f} %, {per_k:+.2f} MB per 1000 pages): {verdict}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=8.0, help="pages/s published")
    parser.add_argument("--event-step-s", type=float, default=10.0, help="fetch-time step")
    parser.add_argument("--window-s", type=int, default=3600, help="dedup window (event time)")
    parser.add_argument("--sample-s", type=float, default=15.0)
    args = parser.parse_args()
    # A plain `kill` must still stop the broker and the worker this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="newsstream-soak-") as tmp, broker() as (bootstrap, _):
        env = {
            "NEWSSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "NEWSSTREAM_STATE_DIR": str(Path(tmp) / "state"),
            "NEWSSTREAM_CONSUMER_GROUP": f"soak-{uuid.uuid4().hex[:8]}",
            "NEWSSTREAM_DEDUP_WINDOW_S": str(args.window_s),
            "NEWSSTREAM_METRICS_PORT": str(free_ports(1)[0]),
        }
        settings = load_settings(**{k[11:].lower(): v for k, v in env.items()})
        topology = build_topology(settings, load_taxonomy().topic_names())
        asyncio.run(check_topics(settings, topology, create=True))
        log = (Path(tmp) / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            env=os.environ | env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        print(f"{args.rate:.0f} pages/s for {args.minutes:.0f} min, event time x"
              f"{args.rate * args.event_step_s:.0f}, dedup window {args.window_s} s")  # fmt: skip
        try:
            report(asyncio.run(feed(settings, args, worker.pid)))
        except SystemExit:
            log.close()
            print((Path(tmp) / "worker.log").read_text(errors="replace")[-3000:])
            raise
        finally:
            stop_child(worker)


if __name__ == "__main__":
    main()
