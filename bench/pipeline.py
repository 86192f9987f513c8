"""End-to-end throughput of one worker process through a real broker vs the bare stage functions.

Usage: .venv/bin/python bench/pipeline.py [--limit N] [--repeat N] [--linger-ms MS]

DESIGN target: one worker through Kafka within 80 % of the bare stages, measured in the same
run on the same records. Pages are ../shared/data/extraction/*/html/*.html.gz when present (else
the demo site's pages), each published as a RawPage with its own URL.

- bare: the same RawPage bytes through CleanStage, the four dedup steps (`DedupSteps`, dict
  state), ClassifyStage (with the story vector, as in the worker) and StoryStage (dict
  tables), called directly in this process, one page after another.
- end to end: a broker (the project's own on free ports in a temporary directory, always
  stopped at the end; or NEWSSTREAM_KAFKA_BOOTSTRAP), the pages published on news.raw first,
  then `python -m streams worker` with a fresh consumer group and state dir drains them. The
  rate is counted from the first to the last outcome (news.articles, news.duplicates or
  news.dlq; by the output records' timestamps), so process start and group join are not in it.
- latency: every third page is held back and published afterwards at half the measured
  end-to-end rate; p50/p95 of news.articles timestamp minus news.raw timestamp per article.

The worker's producer linger is set with --linger-ms (default 0, as in the integration tests):
a record is acked only once its outputs are, so a linger delays every record's commit (the
agent reads on meanwhile, streams/app/inflight.py).

CPU: this process's CPU time over the bare run, and the worker's and the broker's (from /proc)
from the worker's start of work to the last outcome: where the time goes when the ratio falls
short, and what this machine could do at best with all its cores busy.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import TopicPartition

from streams.classify import load_taxonomy
from streams.clean.boilerplate import TemplateLines
from streams.clean.stage import CleanStage
from streams.dedup.pipeline import DedupSteps
from streams.identity import article_id, canonicalize
from streams.infra._process import free_ports, proc_cpu_s, read_pid, stop_child
from streams.infra.kafka_local import LocalKafka, LocalKafkaConfig
from streams.kafka.admin import check_topics
from streams.kafka.clients import make_consumer, make_producer
from streams.records import RawPage, SourceRef
from streams.settings import Settings, load_settings
from streams.stage import Stage, StageResult
from streams.topology import (
    ARTICLES,
    DLQ,
    DUPLICATES,
    RAW,
    Topology,
    build_topology,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "extraction"
OUTPUTS = (ARTICLES, DUPLICATES, DLQ)
WEEK_S = 7 * 24 * 3600


# --- input -------------------------------------------------------------------------------------


def load_pages(limit: int | None) -> list[tuple[str, str, bytes]]:
    """(source, name, html bytes): the extraction sets when present, else the demo pages."""
    files = sorted(DATA.glob("*/html/*.html.gz"))
    if files:
        pages = [
            (f.parent.parent.name, f.name.removesuffix(".html.gz"), gzip.decompress(f.read_bytes()))
            for f in files
        ]
    else:
        from streams.demo.pages import PAGES

        pages = [("demo", p.key, p.render("https://demo.example")) for p in PAGES]
    return pages[:limit]


def make_raws(pages: list[tuple[str, str, bytes]], tag: str, repeat: int) -> list[RawPage]:
    """One RawPage per page and round, each under its own URL (rounds after the first are
    copies under other URLs: they end as duplicates)."""
    raws = []
    for round_ in range(repeat):
        for source, name, html in pages:
            url = f"https://{source}.bench-{tag}.example/{round_}/{name}.html"
            raws.append(RawPage(
                article_id=article_id(canonicalize(url)), url=url, final_url=url, status=200,
                fetched_at=datetime.now(UTC), source_id=source, content_type="text/html",
                body_b64=RawPage.encode_body(html),
            ))  # fmt: skip
    return raws


# --- bare stages -------------------------------------------------------------------------------


@dataclass
class Bare:
    seconds: dict[str, float] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0  # this process, all threads (the encoder's too)

    def timed(self, stage: Stage, value: bytes, origin: SourceRef) -> StageResult:
        started = time.perf_counter()
        try:
            return stage(None, value, origin)
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[stage.name] = self.seconds.get(stage.name, 0.0) + elapsed

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def run_bare(values: list[bytes], settings: Settings) -> Bare:
    """Each page through every stage it reaches in the worker, in order, state in dicts."""
    from streams.classify.stage import ClassifyStage  # loads the model (not timed)
    from streams.stories import Limits
    from streams.stories.stage import StoryStage
    from streams.stories.vectors import story_vector

    clean = CleanStage(TemplateLines({}))
    dedup = DedupSteps(window_s=WEEK_S)  # the four dedup steps, records passed in memory
    desks = frozenset(load_taxonomy().topic_names())
    # as in the worker: classify also embeds the story vector, the stories stage assigns
    classify = ClassifyStage(desks, settings.classify_review_threshold, story_vector=story_vector)
    stories = StoryStage({}, {}, desks, settings.classify_review_threshold,
                         limits=Limits(window_s=settings.stories_window_s))  # fmt: skip
    CleanStage()(None, values[0], SourceRef(topic=RAW, partition=0, offset=0))  # warm-up
    bare = Bare()
    cpu0 = time.process_time()
    for offset, value in enumerate(values):
        origin = SourceRef(topic=RAW, partition=0, offset=offset)
        result: StageResult | None = None
        for stage in (clean, dedup, classify, stories):
            try:
                result = bare.timed(stage, result.emits[0].value if result else value, origin)
            except Exception:  # the worker's shell dead-letters it
                bare.count("dlq")
                break
            if result.outcome == "duplicate":
                bare.count("duplicates")
                break
        else:
            bare.count("articles")
    bare.cpu_s = time.process_time() - cpu0
    return bare


# --- broker and worker -------------------------------------------------------------------------


@contextmanager
def broker() -> Iterator[tuple[str, int | None]]:
    """NEWSSTREAM_KAFKA_BOOTSTRAP, or a local broker of our own that is always stopped; with
    the broker's pid when it is ours."""
    if os.environ.get("NEWSSTREAM_KAFKA_BOOTSTRAP"):
        yield os.environ["NEWSSTREAM_KAFKA_BOOTSTRAP"], None
        return
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as home:
        port, controller = free_ports(2)
        kafka = LocalKafka(LocalKafkaConfig(home=Path(home), port=port, controller_port=controller))
        try:
            kafka.up()
            yield kafka.bootstrap, read_pid(kafka.pid_file)
        finally:
            kafka.down()


async def start_group_at_end(settings: Settings, topology: Topology) -> None:
    """Commit the fresh group's offsets at the end of the worker's inputs, so a shared broker's
    older records are not part of the measurement."""
    from streams.kafka import admin

    inputs = [row.input for row in topology.stages]
    await admin.start_group_at_end(settings, topology, settings.consumer_group, inputs)


def start_worker(
    settings: Settings, linger_ms: int, log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    (port,) = free_ports(1)
    env = os.environ | {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap(),
        "NEWSSTREAM_CONSUMER_GROUP": settings.consumer_group,
        "NEWSSTREAM_STATE_DIR": str(settings.state_dir),
        "NEWSSTREAM_METRICS_PORT": str(port),
        "NEWSSTREAM_PRODUCER_LINGER_MS": str(linger_ms),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streams", "worker"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    return proc, port


def wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"worker not ready after {timeout_s}s:\n{log.read_text()[-3000:]}")


# --- publishing and collecting -----------------------------------------------------------------


@dataclass
class Seen:
    """Per article id: the news.raw timestamp and the first outcome (topic, timestamp ms)."""

    raw_ms: dict[str, int] = field(default_factory=dict)
    first: dict[str, tuple[str, int]] = field(default_factory=dict)
    article_ms: dict[str, int] = field(default_factory=dict)


async def publish(settings: Settings, raws: list[RawPage], seen: Seen, per_s: float = 0) -> None:
    """Publish in order (acks=all); paced at ``per_s`` when given, else as fast as acks come."""
    producer = make_producer(settings)
    await producer.start()
    try:
        started = time.monotonic()
        futures = []
        for i, raw in enumerate(raws):
            if per_s:
                await asyncio.sleep(max(0.0, started + i / per_s - time.monotonic()))
            # The record's CreateTime is this send time: the start of its raw -> articles span.
            stamp = seen.raw_ms[raw.article_id] = int(time.time() * 1000)
            futures.append(await producer.send(
                RAW, raw.to_json(), key=raw.article_id.encode(), timestamp_ms=stamp))  # fmt: skip
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


class Outputs:
    """A consumer on the outcome topics from their current end; ``until`` reads until every
    wanted id has an outcome."""

    def __init__(self, settings: Settings, seen: Seen) -> None:
        self.consumer = make_consumer(settings, group=None)
        self.seen = seen

    async def start(self, topology: Topology) -> None:
        await self.consumer.start()
        tps = [TopicPartition(t, p) for t in OUTPUTS for p in range(topology[t].partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:  # resolve now, before anything is published
            await self.consumer.position(tp)

    async def until(self, ids: set[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ids <= self.seen.first.keys() and time.monotonic() < deadline:
            batch = await self.consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                for rec in records:
                    self._add(tp.topic, (rec.key or b"").decode(), rec.timestamp)
        missing = ids - self.seen.first.keys()
        if missing:
            raise SystemExit(f"{len(missing)} pages without an outcome after {timeout_s}s")

    def _add(self, topic: str, aid: str, ts: int) -> None:
        if aid in self.seen.raw_ms or aid in self.seen.first:
            self.seen.first.setdefault(aid, (topic, ts))
            if topic == ARTICLES:
                self.seen.article_ms.setdefault(aid, ts)


# --- the run -----------------------------------------------------------------------------------


def scrape_stage_seconds(port: int) -> dict[str, float]:
    """Seconds the worker spent inside each stage function (its stage duration histogram)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    seconds: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "newsstream_stage_duration_seconds_sum":
                # the sharded dedup runs as dedup_url/_hash/_band/_gather: one bare "dedup"
                stage = "dedup" if s.labels["stage"].startswith("dedup") else s.labels["stage"]
                seconds[stage] = seconds.get(stage, 0.0) + s.value
    return seconds


@dataclass
class EndToEnd:
    pages: int
    seconds: float
    outcomes: dict[str, int]
    latencies_ms: list[int]
    paced_per_s: float
    stage_seconds: dict[str, float]  # inside the worker, during the throughput phase
    worker_cpu_s: float  # from the worker's partitions assigned to the last bulk outcome
    broker_cpu_s: float


def rate_from_outputs(seen: Seen, ids: set[str]) -> tuple[float, dict[str, int]]:
    """(seconds from the first outcome to the last, outcome counts) for these ids."""
    stamps = sorted(seen.first[i][1] for i in ids)
    outcomes: dict[str, int] = {}
    for i in ids:
        name = seen.first[i][0].removeprefix("news.")
        outcomes[name] = outcomes.get(name, 0) + 1
    return (stamps[-1] - stamps[0]) / 1000, outcomes


async def drive(
    settings: Settings,
    topology: Topology,
    bulk: list[RawPage],
    held: list[RawPage],
    worker: Callable[[], int],
    cpu: Callable[[], tuple[float, float]],
) -> EndToEnd:
    seen = Seen()
    outputs = Outputs(settings, seen)
    await outputs.start(topology)
    try:
        await publish(settings, bulk, seen)
        port = worker()  # starts the worker and waits until it has its partitions
        bulk_ids = {r.article_id for r in bulk}
        cpu0 = cpu()
        await outputs.until(bulk_ids, timeout_s=600)
        cpu1 = cpu()
        stage_seconds = scrape_stage_seconds(port)
        seconds, outcomes = rate_from_outputs(seen, bulk_ids)
        paced = max(1.0, (len(bulk) - 1) / seconds / 2) if seconds else 10.0
        await publish(settings, held, seen, per_s=paced)
        await outputs.until({r.article_id for r in held}, timeout_s=600)
    finally:
        await outputs.consumer.stop()
    lat = [seen.article_ms[r.article_id] - seen.raw_ms[r.article_id]
           for r in held if r.article_id in seen.article_ms]  # fmt: skip
    return EndToEnd(len(bulk), seconds, outcomes, lat, paced, stage_seconds,
                    cpu1[0] - cpu0[0], cpu1[1] - cpu0[1])  # fmt: skip


def run_end_to_end(bulk: list[RawPage], held: list[RawPage], linger_ms: int) -> EndToEnd:
    with broker() as (bootstrap, broker_pid), tempfile.TemporaryDirectory(prefix="bench-") as state:
        group = f"bench-{uuid.uuid4().hex[:8]}"
        settings = load_settings(kafka_bootstrap=bootstrap, consumer_group=group,
                                 state_dir=Path(state), producer_linger_ms=0)  # fmt: skip
        topology = build_topology(settings, load_taxonomy().topic_names())
        asyncio.run(check_topics(settings, topology, create=True))
        asyncio.run(start_group_at_end(settings, topology))
        procs: list[subprocess.Popen[bytes]] = []
        log = Path(state) / "worker.log"

        def worker() -> int:
            proc, port = start_worker(settings, linger_ms, log)
            procs.append(proc)
            wait_ready(proc, port, log)
            return port

        def cpu() -> tuple[float, float]:
            """CPU seconds so far: the worker, the broker (nan when not ours)."""
            ours = proc_cpu_s(broker_pid) if broker_pid else float("nan")
            return sum(proc_cpu_s(p.pid) for p in procs), ours

        try:
            return asyncio.run(drive(settings, topology, bulk, held, worker, cpu))
        finally:
            for proc in procs:
                stop_child(proc)


# --- report ------------------------------------------------------------------------------------


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))]) if ordered else float("nan")


def report(n: int, bare: Bare, e2e: EndToEnd) -> None:
    bare_s = sum(bare.seconds.values())
    print("| path | pages | seconds | pages/s | outcomes |")
    print("|---|---|---|---|---|")
    for name, secs in bare.seconds.items():
        inside = e2e.stage_seconds.get(name, float("nan"))
        print(f"| bare {name} (alone) | {n} | {secs:.2f} | {n / secs:.0f} | "
              f"same stage inside the worker: {inside:.2f} s |")  # fmt: skip
    print(f"| **bare, all stages** | {n} | {bare_s:.2f} | **{n / bare_s:.0f}** | {bare.outcomes} |")
    e2e_rate = (e2e.pages - 1) / e2e.seconds if e2e.seconds else float("nan")
    print(f"| **one worker via Kafka** | {e2e.pages} | {e2e.seconds:.2f} | **{e2e_rate:.0f}** "
          f"| {e2e.outcomes} |")  # fmt: skip
    inside = sum(e2e.stage_seconds.values())
    print(f"| one worker: inside stage functions | {e2e.pages} | {inside:.2f} | "
          f"{e2e.pages / inside:.0f} | rest: Kafka, faust, waits |")  # fmt: skip
    print(f"\nend-to-end / bare: {e2e_rate / (n / bare_s):.0%} (DESIGN target >= 80%)")
    cores = os.cpu_count() or 1
    print(f"CPU-seconds for the {n} pages: bare {bare.cpu_s:.1f} (this process, all threads);"
          f" through Kafka: worker {e2e.worker_cpu_s:.1f} (inside stage functions {inside:.1f}"
          f" wall), broker {e2e.broker_cpu_s:.1f}; {cores} cores. The CPU-bound ceiling of"
          f" this machine through Kafka is {cores * n / (e2e.worker_cpu_s + e2e.broker_cpu_s):.1f}"
          f" pages/s against {cores * n / bare.cpu_s:.1f} bare.")  # fmt: skip
    lat = e2e.latencies_ms
    print(f"raw -> articles latency at {e2e.paced_per_s:.0f} pages/s (half the end-to-end rate), "
          f"{len(lat)} articles: p50 {percentile(lat, 0.5):.0f} ms, "
          f"p95 {percentile(lat, 0.95):.0f} ms, max {max(lat, default=0)} ms")  # fmt: skip
    if lat:
        print(f"(mean {statistics.mean(lat):.0f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="at most this many pages")
    parser.add_argument("--repeat", type=int, default=1, help="rounds (later ones: copies)")
    parser.add_argument("--linger-ms", type=int, default=0, help="the worker's producer linger")
    args = parser.parse_args()
    # A plain `kill` must still stop the broker and the worker this run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pages = load_pages(args.limit)
    tag = uuid.uuid4().hex[:8]
    held = make_raws(pages[2::3], tag + "-lat", 1)
    bulk = make_raws([p for i, p in enumerate(pages) if i % 3 != 2], tag, args.repeat)
    print(f"{len(bulk)} pages for throughput, {len(held)} for latency "
          f"({'extraction sets' if DATA.is_dir() else 'demo pages'})", file=sys.stderr)  # fmt: skip
    bare = run_bare([r.to_json() for r in bulk], load_settings())
    e2e = run_end_to_end(bulk, held, args.linger_ms)
    report(len(bulk), bare, e2e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
