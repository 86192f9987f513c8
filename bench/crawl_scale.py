"""`bench/crawl.py scale`: crawler replicas on a broker of their own (see bench/crawl.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition

from streams.crawl.fetch import Fetcher, FetchPolicy
from streams.crawl.hosts import Politeness
from streams.crawl.polite import PoliteFetcher
from streams.crawl.sources import Source
from streams.infra._process import free_ports, stop_children
from streams.infra.kafka_local import LocalKafka, LocalKafkaConfig
from streams.kafka.admin import check_topics
from streams.kafka.clients import make_consumer
from streams.kafka.sources import put_sources
from streams.settings import Settings, load_settings
from streams.topology import RAW, build_topology
from tests.integration.crawl.farm import Farm, Request

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Outcome:
    replicas: int
    seconds: float
    pages: int
    fetched_twice: int
    never_fetched: int
    min_gap_s: float
    records: int
    ids: int

    @property
    def rate(self) -> float:
        return self.pages / self.seconds if self.seconds > 0 else 0.0


def run_scale(hosts: int, pages: int, delay_s: float, replicas: str, timeout_s: float) -> None:
    counts = [int(n) for n in replicas.split(",")]
    print(
        f"{hosts} hosts x {pages} pages = {hosts * pages} pages (+1 cross-host link per feed),"
        f" per-host delay {delay_s:.2f} s, concurrency 1 per host; replicas {counts}",
        flush=True,
    )
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="crawl-scale-") as tmp, Farm(hosts, pages, 1) as farm:
        print("reference: one in-process PoliteFetcher over the same pages ...", flush=True)
        reference_s = asyncio.run(_reference(farm, delay_s))
        for n in counts:
            outcomes.append(_one_count(farm, n, delay_s, Path(tmp) / f"r{n}", timeout_s))
    _print(outcomes, hosts * pages, reference_s, delay_s)


async def _reference(farm: Farm, delay_s: float) -> float:
    """The pages fetched by PoliteFetcher alone (no Kafka, no feeds): this machine's ceiling
    for the crawler's fetch path under the same manners."""
    urls = sorted(farm.page_urls())
    policy = FetchPolicy(allow_cidrs=("127.0.0.1/32",))
    manners = Politeness(concurrency=1, min_delay_s=delay_s, max_retries=0)
    async with Fetcher(policy) as fetcher:
        polite = PoliteFetcher(fetcher, politeness=manners)
        began = time.perf_counter()
        results = await asyncio.gather(*(polite.fetch(u) for u in urls))
        elapsed = time.perf_counter() - began
    bad = [r for r in results if r.outcome != "fetched"]
    if bad:
        raise SystemExit(f"reference: {len(bad)} fetches failed: {bad[0].outcome} {bad[0].reason}")
    return elapsed


def _one_count(farm: Farm, n: int, delay_s: float, home: Path, timeout_s: float) -> Outcome:
    kafka_port, controller = free_ports(2)
    kafka = LocalKafka(
        LocalKafkaConfig(home=home / "kafka", port=kafka_port, controller_port=controller)
    )
    print(f"\n{n} replica(s): starting a fresh broker ...", flush=True)
    kafka.up()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        settings = load_settings(
            kafka_bootstrap=kafka.bootstrap, state_dir=home / "state", consumer_group="bench"
        )
        asyncio.run(check_topics(settings, build_topology(settings, [])))
        logs = [home / f"replica{i}.log" for i in range(n)]
        ports = free_ports(n)
        for i, port in enumerate(ports):
            procs.append(_spawn(settings, home / f"s{i}", port, delay_s, logs[i]))
        _wait(lambda: _assigned(logs, settings.crawl_partitions), 180, "replicas assigned")
        print(f"  {n} replica(s) hold all {settings.crawl_partitions} partitions", flush=True)
        mark = len(farm.requests())
        began = time.monotonic()
        sources = [Source(id=f"site-{i}", url=url) for i, url in enumerate(farm.feeds())]
        asyncio.run(put_sources(settings, sources))
        wanted = farm.page_urls()
        done: list[Request] = []

        def all_fetched() -> bool:
            done[:] = farm.requests()[mark:]
            got = Farm.report(done)["pages"]
            print(f"  {len(got)}/{len(wanted)} pages fetched", flush=True)
            return set(got) >= wanted

        _wait(all_fetched, timeout_s, "every page fetched", every_s=5.0)
        last = max(r.at for r in done if r.path.startswith("/news/"))
        time.sleep(3.0)  # late duplicates, if any, would arrive now
        report = Farm.report(farm.requests()[mark:])
        records, ids = asyncio.run(_raw_counts(settings))
        owned = [_gauge(port, "newsstream_crawl_hosts_owned") for port in ports]
        budget = max(_gauge(port, "newsstream_crawl_politeness_budget_ratio") for port in ports)
        print(
            f"  hosts per replica {[int(h) for h in owned]}, politeness budget ratio (max over"
            f" replicas, last minute) {budget:.2f}",
            flush=True,
        )
    finally:
        stop_children(procs)
        kafka.down()
    got = report["pages"]
    return Outcome(
        replicas=n,
        seconds=last - began,
        pages=len(set(got) & wanted),
        fetched_twice=sum(1 for c in got.values() if c > 1),
        never_fetched=len(wanted - set(got)),
        min_gap_s=report["min_gap"],
        records=records,
        ids=ids,
    )


def _spawn(
    settings: Settings, state: Path, port: int, delay_s: float, log: Path
) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap(),
        "NEWSSTREAM_STATE_DIR": str(state),
        "NEWSSTREAM_CONSUMER_GROUP": settings.consumer_group,
        "NEWSSTREAM_FETCH_ALLOW_CIDRS": '["127.0.0.1/32"]',
        "NEWSSTREAM_CRAWL_HOST_MIN_DELAY_S": str(delay_s),
        "NEWSSTREAM_CRAWL_HOST_CONCURRENCY": "1",
        "NEWSSTREAM_METRICS_PORT": str(port),
        "NEWSSTREAM_LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "streams", "crawl"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _gauge(port: int, name: str) -> float:
    """One unlabelled sample from a replica's /metrics."""
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split(" ", 1)[1])
    return float("nan")


def _assigned(logs: list[Path], partitions: int) -> bool:
    held = 0
    for log in logs:
        lines = [ln for ln in log.read_text().splitlines() if "crawler assigned" in ln]
        if not lines:
            return False
        held += int(lines[-1].split("crawler assigned ", 1)[1].split(" ", 1)[0])
    return held == partitions


def _wait(check: object, timeout_s: float, what: str, every_s: float = 1.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


async def _raw_counts(settings: Settings) -> tuple[int, int]:
    """Records on news.raw and distinct keys (article ids: hashes of the canonical URL)."""
    consumer = make_consumer(settings, group=None)
    await consumer.start()
    keys: set[bytes] = set()
    records = 0
    try:
        metadata = await consumer._client.fetch_all_metadata()
        tps = [TopicPartition(RAW, p) for p in sorted(metadata.partitions_for_topic(RAW) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        waiting = {tp for tp in tps if ends[tp] > 0}
        while waiting:
            batch = await consumer.getmany(*waiting, timeout_ms=1000)
            for part in batch.values():
                for rec in part:
                    records += 1
                    keys.add(rec.key or b"")
            waiting = {tp for tp in waiting if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return records, len(keys)


def _print(outcomes: list[Outcome], total: int, reference_s: float, delay_s: float) -> None:
    print()
    print(
        f"{'crawler':<34}{'pages/s':>9}{'seconds':>9}{'min gap ms':>12}{'twice':>7}"
        f"{'never':>7}{'raw recs':>10}{'raw ids':>9}"
    )
    ref = total / reference_s
    print(f"{'PoliteFetcher in-process (ref)':<34}{ref:>9.0f}{reference_s:>9.1f}")
    for o in outcomes:
        name = f"newsstream crawl x{o.replicas} (Kafka)"
        print(
            f"{name:<34}{o.rate:>9.0f}{o.seconds:>9.1f}{o.min_gap_s * 1000:>12.1f}"
            f"{o.fetched_twice:>7}{o.never_fetched:>7}{o.records:>10}{o.ids:>9}"
        )
    worst = min(o.min_gap_s for o in outcomes)
    verdict = "intact" if worst >= delay_s else "VIOLATED"
    print(
        f"\nsmallest same-host gap over all runs: {worst * 1000:.1f} ms against a delay of"
        f" {delay_s * 1000:.0f} ms ({verdict}); 'twice' = pages fetched twice, 'never' = listed"
        " pages never fetched; published twice = raw recs - raw ids"
    )
