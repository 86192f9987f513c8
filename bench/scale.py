"""Scale measured: 1, 2 and 4 worker processes on the 3-node local cluster, 12 partitions.

Usage: .venv/bin/python bench/scale.py [--pages N] [--workers 1,2,4] [--partitions 12]

A 3-node KRaft cluster of the project's own (streams/infra/kafka_cluster.py; free ports, a
temporary state dir, replication 3, min ISR 2) with every stage topic at ``--partitions``.
Pages are those of bench/pipeline.py (../shared/data/extraction when present, else the demo
pages), split the same way: two thirds are the measured stream, one third the trickle.

For each worker count N, with a fresh consumer group (so fresh tables: every N sees the same
stream as new) whose offsets start at the end of every input topic:

1. joins: worker 1 starts; then workers 2..N one at a time while a trickle of pages
   (``--trickle-per-s``) flows. Per join: spawn -> the new worker's /readyz says "partitions
   assigned" (includes its start-up: imports, model load); spawn -> every worker's /readyz
   changed (all reassigned); and the rebalance pause as the stream sees it: the longest gap
   between consecutive outcomes (news.articles/duplicates/dlq) of the trickle from the spawn
   until 5 s after all are reassigned, and the worst raw -> outcome latency in that window.
2. throughput: after 5 s idle (the brokers' and workers' idle CPU is measured), the measured
   stream is published to news.raw (acks=all) and drained by the N workers (all stages unless
   ``--stages``). Wall rate: first to last outcome, as bench/pipeline.py counts it. CPU:
   utime+stime of the worker processes and of the three brokers from /proc, from the publish
   until the workers' counters stand still (band verdicts may come after the last outcome).
   Per stage, from each worker's /metrics: records handled per worker (the shares), seconds
   inside the stage function, and the stage's wall rate (first to last change of its summed
   counter, sampled every 0.5 s). A probe sends one small record with acks=all every 0.2 s
   meanwhile (round trips p50/p95). Memory: each worker's VmRSS and VmHWM (peak RSS).

A page still without an outcome 90 s after the last outcome came (three times the dedup
gather timeout) is counted as lost, not waited for.

The reference, measured in the same run: the bare stage functions on the same pages in this
process (bench/pipeline.py's ``run_bare``), and the 1-worker row. Everything started here
(brokers, workers) is stopped at the end, on an error, on Ctrl-C and on SIGTERM; workers also
get SIGTERM if this process dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import (  # bench/ is on sys.path as the script's folder
    DATA,
    Outputs,
    Seen,
    load_pages,
    make_raws,
    publish,
    run_bare,
    start_group_at_end,
)
from prometheus_client.parser import text_string_to_metric_families

from streams.classify import load_taxonomy
from streams.infra._process import free_ports, proc_cpu_s, read_pid, stop_child
from streams.infra.kafka_cluster import LocalKafkaCluster
from streams.infra.kafka_local import LocalKafkaConfig
from streams.kafka.admin import check_topics
from streams.processes.run import _die_with_parent
from streams.records import RawPage
from streams.settings import Settings, load_settings
from streams.topology import STAGES, build_topology

READY_POLL_S = 0.25
METRICS_EVERY = 2  # readiness polls per /metrics scrape (0.5 s)
SETTLE_S = 5.0  # the trickle keeps flowing this long after every worker is reassigned
JOIN_TIMEOUT_S = 240.0
# Longer than the dedup gather timeout (30 s), which decides an article whose band verdicts
# are late: a page still without an outcome after this is lost.
STALL_S = 90.0
QUIET_S = 3.0  # no stage counter moved for this long: the workers' queues are empty
IDLE_S = 5.0  # CPU of idle brokers and workers is measured this long before the drain
PROBE_EVERY_S = 0.2  # one acks=all send to the probe topic this often during the drain
PROBE_TOPIC = "bench.scale.ack-probe"  # read by nobody; only its round trips count
LATE_BANDS = "(late band verdicts)"  # newsstream_dedup_late_bands_total, beside the stage seconds
STAGE_ORDER = {stage: i for i, stage in enumerate(dict.fromkeys(s.stage for s in STAGES))}


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    spawned: float  # time.time()
    ready: list[tuple[float, str]] = field(default_factory=list)  # /readyz 200 bodies, changes
    counts: list[tuple[float, dict[str, float], dict[str, float]]] = field(default_factory=list)

    def ready_since(self, t: float) -> float | None:
        """When /readyz first said (again) "partitions assigned" after ``t``."""
        return next((at for at, _ in self.ready if at >= t), None)


def spawn_worker(index: int, settings: Settings, stages: str, logs: Path) -> Worker:
    (port,) = free_ports(1)
    env = os.environ | {
        "NEWSSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap(),
        "NEWSSTREAM_CONSUMER_GROUP": settings.consumer_group,
        "NEWSSTREAM_STATE_DIR": str(settings.state_dir),
        "NEWSSTREAM_METRICS_PORT": str(port),
        "NEWSSTREAM_PRODUCER_LINGER_MS": str(settings.producer_linger_ms),
        "NEWSSTREAM_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "NEWSSTREAM_TOPIC_REPLICATION_FACTOR": str(settings.topic_replication_factor),
        "NEWSSTREAM_TOPIC_MIN_INSYNC_REPLICAS": str(settings.topic_min_insync_replicas),
    }
    log = logs / f"{settings.consumer_group}-worker{index}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--stages", stages],
            env=env, stdout=out, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - as `newsstream run` starts its children
        )  # fmt: skip
    return Worker(index, proc, port, log, time.time())


def stop_workers(workers: list[Worker]) -> None:
    for w in workers:  # all at once: each takes seconds to leave the group
        if w.proc.poll() is None:
            w.proc.terminate()
    for w in workers:
        stop_child(w.proc)


def proc_mem_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM = peak RSS) of ``pid`` in MiB."""
    values = {"VmRSS:": float("nan"), "VmHWM:": float("nan")}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            parts = line.split()
            if parts and parts[0] in values:
                values[parts[0]] = int(parts[1]) / 1024
    except OSError:
        pass
    return values["VmRSS:"], values["VmHWM:"]


def http_text(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (urllib.error.URLError, OSError):
        return 0, ""


def stage_counters(text: str) -> tuple[dict[str, float], dict[str, float]]:
    """(records by stage, summed over outcomes; seconds inside the stage function by stage)."""
    records: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "newsstream_records_total":
                stage = s.labels["stage"]
                records[stage] = records.get(stage, 0.0) + s.value
            elif s.name == "newsstream_stage_duration_seconds_sum":
                seconds[s.labels["stage"]] = s.value
            elif s.name == "newsstream_dedup_late_bands_total":
                seconds[LATE_BANDS] = s.value
    return records, seconds


class Sampler(threading.Thread):
    """Polls every worker's /readyz (keeping each change of a 200 body) and, every
    METRICS_EVERY polls, its /metrics stage counters."""

    def __init__(self) -> None:
        super().__init__(name="sampler", daemon=True)
        self.workers: list[Worker] = []
        self.halt = threading.Event()

    def run(self) -> None:
        tick = 0
        while not self.halt.wait(READY_POLL_S):
            tick += 1
            for w in list(self.workers):
                if w.proc.poll() is not None:
                    continue
                now = time.time()
                code, text = http_text(w.port, "/readyz")
                # Only the worker's own line: the broker watch's line changes on its own.
                body = next((ln for ln in text.splitlines() if ln.startswith("worker:")), "")
                if code == 200 and (not w.ready or w.ready[-1][1] != body):
                    w.ready.append((now, body))
                if tick % METRICS_EVERY == 0:
                    code, text = http_text(w.port, "/metrics")
                    if code == 200:
                        w.counts.append((time.time(), *stage_counters(text)))


# --- the cluster -------------------------------------------------------------------------------


@contextmanager
def cluster(home: Path, settings: Settings) -> Iterator[LocalKafkaCluster]:
    """Three nodes on free ports, always stopped."""
    ports = free_ports(6)
    base = LocalKafkaConfig(
        home=home,
        partitions_default=settings.topic_partitions,
        message_max_bytes=settings.max_request_bytes,
        start_timeout_s=180.0,
    )
    kafka = LocalKafkaCluster(home, list(zip(ports[::2], ports[1::2], strict=True)), base)
    try:
        say(f"starting the 3-node cluster in {home}")
        kafka.up()
        say(f"cluster up on {kafka.bootstrap}")
        yield kafka
    finally:
        say("stopping the cluster")
        kafka.down(timeout_s=20)


def broker_pids(kafka: LocalKafkaCluster) -> list[int]:
    return [pid for node in kafka.nodes if (pid := read_pid(node.pid_file)) is not None]


# --- one worker count --------------------------------------------------------------------------


@dataclass
class Join:
    workers: int  # after this join
    ready_s: float | None  # spawn -> the new worker's partitions assigned
    all_s: float | None  # spawn -> every worker reassigned
    gap_s: float = float("nan")  # longest gap between trickle outcomes around the join
    worst_latency_s: float = float("nan")  # worst raw -> outcome of a page sent meanwhile
    window: tuple[float, float] = (0.0, 0.0)


@dataclass
class StageRun:
    records: dict[int, float]  # by worker
    fn_s: float  # inside the stage function, all workers
    wall_s: float  # first to last change of the summed counter


@dataclass
class CountRun:
    workers: int
    pages: int
    wall_s: float
    outcomes: dict[str, int]
    worker_cpu_s: float
    broker_cpu_s: float
    stages: dict[str, StageRun]
    memory: list[tuple[float, float]]  # per worker: (RSS, peak RSS) MiB
    assigned: list[str]  # per worker: its /readyz
    joins: list[Join]
    idle_cores: tuple[float, float]  # brokers, workers: cores used with nothing flowing
    cpu_window_s: float  # the CPU counts' span: publish start to the last outcome read
    load: tuple[float, float]  # 1-minute load average at the drain's start and end
    lost: tuple[set[str], set[str]]  # pages without an outcome: trickle (joins), drain
    ack_ms: list[float]  # acks=all round trips of the probe during the drain
    late_bands: tuple[float, float]  # band verdicts gathered too late: joins, drain


@dataclass
class Bench:
    """What every worker count shares."""

    settings: Settings
    desks: tuple[str, ...]
    bulk: list[RawPage]
    trickle_pages: list[tuple[str, str, bytes]]
    trickle_per_s: float
    stages: str
    logs: Path
    tag: str
    sampler: Sampler
    brokers: list[int]


class Trickle:
    """Pages at a steady rate until stopped, each under a new URL (cycling through the set)."""

    def __init__(self, bench: Bench, settings: Settings, seen: Seen) -> None:
        self.bench, self.settings, self.seen = bench, settings, seen
        self.ids: list[str] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        from streams.kafka.clients import make_producer
        from streams.topology import RAW

        producer = make_producer(self.settings)
        await producer.start()
        try:
            for round_ in range(1_000_000):
                tag = f"{self.bench.tag}-{self.settings.consumer_group}-t{round_}"
                for raw in make_raws(self.bench.trickle_pages, tag, 1):
                    if self.stop.is_set():
                        return
                    stamp = self.seen.raw_ms[raw.article_id] = int(time.time() * 1000)
                    await producer.send_and_wait(
                        RAW, raw.to_json(), key=raw.article_id.encode(), timestamp_ms=stamp
                    )
                    self.ids.append(raw.article_id)
                    await asyncio.sleep(1 / self.bench.trickle_per_s)
        finally:
            await producer.stop()


async def wait_joined(new: Worker, workers: list[Worker]) -> Join:
    """Until the new worker and every other one report an assignment made after its spawn."""
    t = new.spawned
    deadline = time.time() + JOIN_TIMEOUT_S
    while time.time() < deadline:
        if new.proc.poll() is not None:
            raise SystemExit(f"worker {new.index} exited ({new.proc.returncode})")
        ready = new.ready_since(t)
        others = [w.ready_since(t) for w in workers if w is not new]
        done = [o for o in others if o is not None]
        if ready is not None and len(done) == len(others):
            return Join(len(workers), ready - t, max([ready, *done]) - t)
        if ready is not None:  # an old worker whose /readyz did not change: give it 30 s
            deadline = min(deadline, ready + 30.0)
        await asyncio.sleep(READY_POLL_S)
    ready = new.ready_since(t)
    if ready is None:
        raise SystemExit(f"worker {new.index} not ready after {JOIN_TIMEOUT_S:.0f} s")
    return Join(len(workers), ready - t, None)


async def grow(n: int, bench: Bench, settings: Settings, seen: Seen, workers: list[Worker]) -> (
    tuple[list[Join], list[str]]
):  # fmt: skip
    """Start workers 1..n one at a time; the trickle flows from worker 1's start on."""
    trickle = Trickle(bench, settings, seen)
    task: asyncio.Task[None] | None = None
    joins = []
    for k in range(1, n + 1):
        w = spawn_worker(k, settings, bench.stages, bench.logs)
        workers.append(w)
        bench.sampler.workers.append(w)
        say(f"N={n}: worker {k} started (pid {w.proc.pid}), waiting for its partitions")
        join = await wait_joined(w, workers)
        end = w.spawned + (join.all_s or join.ready_s or 0.0) + SETTLE_S
        join.window = (w.spawned, end)
        joins.append(join)
        say(
            f"N={n}: worker {k} assigned after {fmt(join.ready_s)} s, all after {fmt(join.all_s)} s"
        )
        if task is None:
            task = asyncio.create_task(trickle.run())
        await asyncio.sleep(SETTLE_S)
    trickle.stop.set()
    if task is not None:
        await task
    return joins, trickle.ids


@contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


async def outcomes_of(outputs: Outputs, ids: set[str], timeout_s: float) -> set[str]:
    """Read outcomes until every id has one, or none came for STALL_S; the ids without one."""
    deadline = time.monotonic() + timeout_s
    last, have = time.monotonic(), -1
    while not ids <= outputs.seen.first.keys():
        now, got = time.monotonic(), len(ids & outputs.seen.first.keys())
        if got != have:
            last, have = now, got
        if now > deadline or now - last > STALL_S:
            missing = ids - outputs.seen.first.keys()
            say(f"{len(missing)} pages without an outcome after {now - last:.0f} s without one")
            return missing
        with contextlib.suppress(SystemExit):  # until() gives up on its own after 1 s
            await outputs.until(ids, timeout_s=1)
    return set()


def quiet_since(w: Worker, t: float) -> bool:
    """No stage counter of ``w`` moved in the samples taken since ``t``."""
    recent = [records for at, records, _ in w.counts if at >= t]
    return len(recent) >= 2 and all(records == recent[-1] for records in recent)


async def until_quiet(workers: list[Worker], timeout_s: float = 180.0) -> None:
    """Until no worker's stage counters moved for QUIET_S (every queue is empty)."""
    started = time.time()
    while time.time() - started < timeout_s:
        await asyncio.sleep(QUIET_S)
        if all(quiet_since(w, time.time() - QUIET_S) for w in workers):
            return
    say(f"workers still busy after {timeout_s:.0f} s; measuring anyway")


def pause_of(seen: Seen, ids: list[str], window: tuple[float, float]) -> tuple[float, float]:
    """(longest gap between consecutive outcomes overlapping ``window``, worst raw -> outcome
    latency of the pages published in it), seconds."""
    start, end = window
    outs = sorted(seen.first[i][1] / 1000 for i in ids if i in seen.first)
    gaps = [b - a for a, b in itertools.pairwise(outs) if b >= start and a <= end]
    lat = [
        seen.first[i][1] / 1000 - seen.raw_ms[i] / 1000
        for i in ids
        if i in seen.first and start <= seen.raw_ms[i] / 1000 <= end
    ]
    return max(gaps, default=float("nan")), max(lat, default=float("nan"))


def scrape_all(workers: list[Worker]) -> dict[int, tuple[dict[str, float], dict[str, float]]]:
    out = {}
    for w in workers:
        code, text = http_text(w.port, "/metrics")
        if code != 200:
            raise SystemExit(f"worker {w.index}: /metrics answered {code}")
        out[w.index] = stage_counters(text)
    return out


def stage_runs(
    workers: list[Worker],
    before: dict[int, tuple[dict[str, float], dict[str, float]]],
    after: dict[int, tuple[dict[str, float], dict[str, float]]],
) -> dict[str, StageRun]:
    """Per stage: records per worker, seconds in the function, and wall time from the sampled
    counters (from the last sample before its first change to the first at its final value)."""
    names = sorted(
        {s for rec, _ in after.values() for s in rec},
        key=lambda s: STAGE_ORDER.get(s, len(STAGE_ORDER)),
    )
    runs = {}
    for stage in names:
        records = {i: after[i][0].get(stage, 0.0) - before[i][0].get(stage, 0.0) for i in after}
        fn_s = sum(after[i][1].get(stage, 0.0) - before[i][1].get(stage, 0.0) for i in after)
        starts, ends = [], []
        for w in workers:
            base, final = before[w.index][0].get(stage, 0.0), after[w.index][0].get(stage, 0.0)
            if final == base:
                continue
            series = [(t, rec.get(stage, 0.0)) for t, rec, _ in w.counts]
            starts.append(max((t for t, v in series if v <= base), default=w.spawned))
            ends.append(min((t for t, v in series if v >= final), default=time.time()))
        wall = max(ends) - min(starts) if starts else float("nan")
        runs[stage] = StageRun(records, fn_s, wall)
    return runs


async def idle_cores(bench: Bench, workers: list[Worker]) -> tuple[float, float]:
    """(brokers, workers): cores used over IDLE_S with nothing flowing."""
    b0, w0 = sum(map(proc_cpu_s, bench.brokers)), sum(proc_cpu_s(w.proc.pid) for w in workers)
    await asyncio.sleep(IDLE_S)
    b1, w1 = sum(map(proc_cpu_s, bench.brokers)), sum(proc_cpu_s(w.proc.pid) for w in workers)
    return (b1 - b0) / IDLE_S, (w1 - w0) / IDLE_S


async def probe_acks(settings: Settings, stop: asyncio.Event) -> list[float]:
    """acks=all round trips (ms) of one small record every PROBE_EVERY_S until ``stop``."""
    from streams.kafka.clients import make_producer

    producer = make_producer(settings)
    await producer.start()
    out: list[float] = []
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await producer.send_and_wait(PROBE_TOPIC, b"probe", key=str(len(out)).encode())
            out.append(1000 * (time.perf_counter() - started))
            await asyncio.sleep(PROBE_EVERY_S)
    finally:
        await producer.stop()
    return out


async def create_probe_topic(settings: Settings) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    from streams.kafka.security import aiokafka_kwargs

    admin = AIOKafkaAdminClient(**aiokafka_kwargs(settings))
    await admin.start()
    try:
        configs = {"min.insync.replicas": str(settings.topic_min_insync_replicas)}
        topic = NewTopic(PROBE_TOPIC, settings.topic_partitions,
                         settings.topic_replication_factor, topic_configs=configs)  # fmt: skip
        await admin.create_topics([topic])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def drain(bench: Bench, settings: Settings, outputs: Outputs, workers: list[Worker]) -> (
    CountRun
):  # fmt: skip
    """Publish the measured stream and wait for every outcome; CPU, counters and memory."""
    from pipeline import rate_from_outputs

    idle = await idle_cores(bench, workers)
    load0 = os.getloadavg()[0]
    say(f"N={len(workers)}: publishing {len(bench.bulk)} pages")
    before = await asyncio.to_thread(scrape_all, workers)
    cpu0, window0 = [proc_cpu_s(w.proc.pid) for w in workers], time.monotonic()
    brokers0 = sum(proc_cpu_s(pid) for pid in bench.brokers)
    stop = asyncio.Event()
    probe = asyncio.create_task(probe_acks(settings, stop))
    await publish(settings, bench.bulk, outputs.seen)
    ids = {r.article_id for r in bench.bulk}
    lost = await outcomes_of(outputs, ids, timeout_s=1800)
    ids -= lost
    # Band verdicts can still be queued after the last outcome (a gather timeout decided
    # without them): their CPU belongs to these pages too.
    await until_quiet(workers)
    cpu1, window = [proc_cpu_s(w.proc.pid) for w in workers], time.monotonic() - window0
    brokers1 = sum(proc_cpu_s(pid) for pid in bench.brokers)
    stop.set()
    await asyncio.sleep(READY_POLL_S * METRICS_EVERY * 2)  # a sample after the last change
    after = await asyncio.to_thread(scrape_all, workers)
    wall_s, outcomes = rate_from_outputs(outputs.seen, ids)
    return CountRun(
        workers=len(workers), pages=len(ids), wall_s=wall_s, outcomes=outcomes,
        worker_cpu_s=sum(cpu1) - sum(cpu0), broker_cpu_s=brokers1 - brokers0,
        stages=stage_runs(workers, before, after),
        memory=[proc_mem_mib(w.proc.pid) for w in workers],
        assigned=[w.ready[-1][1] if w.ready else "?" for w in workers],
        joins=[], idle_cores=idle, cpu_window_s=window, load=(load0, os.getloadavg()[0]),
        ack_ms=await probe,
        late_bands=(late_bands(before), late_bands(after) - late_bands(before)),
        lost=(set(), lost),
    )  # fmt: skip


def late_bands(counters: dict[int, tuple[dict[str, float], dict[str, float]]]) -> float:
    return sum(seconds.get(LATE_BANDS, 0.0) for _, seconds in counters.values())


async def measure(n: int, bench: Bench, settings: Settings, workers: list[Worker]) -> CountRun:
    topology = build_topology(settings, bench.desks)
    await check_topics(settings, topology, create=True)
    with quiet_logger("aiokafka.consumer.fetcher"):  # errors while new leaders are elected
        await start_group_at_end(settings, topology)
    outputs = Outputs(settings, Seen())
    await outputs.start(topology)
    try:
        joins, trickle = await grow(n, bench, settings, outputs.seen, workers)
        say(f"N={n}: all {n} in; draining the trickle ({len(trickle)} pages)")
        lost = await outcomes_of(outputs, set(trickle), timeout_s=600)
        await until_quiet(workers)  # late band verdicts may still be queued
        for join in joins:
            join.gap_s, join.worst_latency_s = pause_of(outputs.seen, trickle, join.window)
        run = await drain(bench, settings, outputs, workers)
    finally:
        await outputs.consumer.stop()
    run.joins = joins
    run.lost = (lost, run.lost[1])
    return run


def run_count(n: int, bench: Bench) -> CountRun:
    """N workers with a fresh group; always stopped at the end."""
    group = f"scale{n}-{bench.tag}"
    settings = bench.settings.model_copy(update={"consumer_group": group})
    workers: list[Worker] = []
    try:
        run = asyncio.run(measure(n, bench, settings, workers))
    except BaseException:
        for w in workers:
            say(f"worker {w.index} log ({w.log}), last lines:")
            print("\n".join(w.log.read_text(errors="replace").splitlines()[-15:]), file=sys.stderr)
        raise
    finally:
        bench.sampler.workers.clear()
        say(f"N={n}: stopping {len(workers)} workers")
        stop_workers(workers)
    say(f"N={n}: {run.pages} pages in {run.wall_s:.1f} s, {run.worker_cpu_s:.0f} CPU-s")
    return run


# --- report ------------------------------------------------------------------------------------


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None or value != value else format(value, spec)


def report_counts(runs: list[CountRun], bare_rate: float) -> None:
    ref = runs[0]
    print("| workers | pages | wall s | pages/s | vs first row | vs bare | worker CPU-s/page "
          "| broker CPU-s/page | RSS / peak MiB per worker | assigned per worker "
          "| load avg |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        rate = (r.pages - 1) / r.wall_s
        ref_rate = (ref.pages - 1) / ref.wall_s
        mem = ", ".join(f"{rss:.0f}/{peak:.0f}" for rss, peak in r.memory)
        parts = "; ".join(a.removeprefix("worker: ready ") for a in r.assigned)
        cells = [f"{r.workers}", f"{r.pages}", f"{r.wall_s:.1f}", f"**{rate:.1f}**",
                 f"{rate / ref_rate:.2f}x", f"{rate / bare_rate:.0%}",
                 f"**{r.worker_cpu_s / r.pages:.3f}**", f"{r.broker_cpu_s / r.pages:.3f}", mem,
                 parts, f"{r.load[0]:.1f}-{r.load[1]:.1f}"]  # fmt: skip
        print("| " + " | ".join(cells) + " |")
    print(f"\noutcomes: {'; '.join(f'N={r.workers} {r.outcomes}' for r in runs)}")


def report_stages(runs: list[CountRun], bare_ms: dict[str, float]) -> None:
    print("\n| stage | workers | records (per page) | wall records/s | in function ms/record "
          "| share of records per worker |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in runs:
        for stage, s in r.stages.items():
            total = sum(s.records.values())
            if not total:
                continue
            shares = " / ".join(f"{v / total:.0%}" for _, v in sorted(s.records.items()))
            per_page = f"{total:.0f} ({total / r.pages:.1f})"
            ms = f"{1000 * s.fn_s / total:.1f}"
            cells = [stage, f"{r.workers}", per_page, fmt(total / s.wall_s, ".0f"), ms, shares]
            print("| " + " | ".join(cells) + " |")
    bare = ", ".join(f"{name} {ms:.1f}" for name, ms in bare_ms.items())
    print(f"\nbare stage functions in this process, ms per page: {bare}")


def report_joins(runs: list[CountRun], trickle_per_s: float) -> None:
    normal = f"normal {1 / trickle_per_s:.2f}"
    print(f"\n| workers | join | spawn -> own partitions s | spawn -> all reassigned s "
          f"| longest outcome gap s ({normal}) | worst latency s |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in runs:
        for j in r.joins:
            gap = fmt(j.gap_s, ".2f") if j.workers > 1 else "(first)"
            worst = fmt(j.worst_latency_s) if j.workers > 1 else "-"
            cells = [f"{r.workers}", f"{j.workers - 1} -> {j.workers}", fmt(j.ready_s),
                     fmt(j.all_s), gap, worst]  # fmt: skip
            print("| " + " | ".join(cells) + " |")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report_kafka(runs: list[CountRun]) -> None:
    print("\n| workers | cores used idle: brokers / workers "
          "| CPU-s/page less idle: brokers / workers "
          "| acks=all round trip p50 / p95 ms (probe during the drain) "
          "| late band verdicts: joins / drain "
          "| pages without an outcome: joins / drain |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in runs:
        acks = f"{percentile(r.ack_ms, 0.5):.0f} / {percentile(r.ack_ms, 0.95):.0f}"
        idle = f"{r.idle_cores[0]:.2f} / {r.idle_cores[1]:.2f}"
        late = f"{r.late_bands[0]:.0f} / {r.late_bands[1]:.0f}"
        net_b = (r.broker_cpu_s - r.idle_cores[0] * r.cpu_window_s) / r.pages
        net_w = (r.worker_cpu_s - r.idle_cores[1] * r.cpu_window_s) / r.pages
        lost = f"{len(r.lost[0])} / {len(r.lost[1])}"
        print(f"| {r.workers} | {idle} | {net_b:.3f} / {net_w:.3f} | {acks} ({len(r.ack_ms)} "
              f"sends) | {late} | {lost} |")  # fmt: skip


def report_projection(runs: list[CountRun], partitions: int, max_in_flight: int) -> None:
    """What the figures imply for more machines: CPU per page in workers and brokers, the
    ceiling that puts on this box, and the latency bound of one worker's band agent (which,
    since agents keep up to ``max_in_flight`` records awaiting their acks, is far above it)."""
    ref = runs[0]
    cpu = (ref.worker_cpu_s - ref.idle_cores[1] * ref.cpu_window_s) / ref.pages
    broker = (ref.broker_cpu_s - ref.idle_cores[0] * ref.cpu_window_s) / ref.pages
    bands = max(
        (sum(r.stages["dedup_band"].records.values()) / r.pages for r in runs
         if "dedup_band" in r.stages),
        default=0.0,
    )  # fmt: skip
    rtt_ms = percentile(ref.ack_ms, 0.5)
    bound = 1000 * max_in_flight / (bands * rtt_ms) if bands and rtt_ms else float("inf")
    cores = os.cpu_count() or 1
    print(
        f"\nWith {ref.workers} worker(s), less idle: {cpu:.3f} CPU-s/page in workers and "
        f"{broker:.3f} in the brokers (replication included). A core feeds about "
        f"{1 / cpu:.1f} pages/s of worker work; M machines of k cores about M*k*{1 / cpu:.1f}, "
        f"plus {broker:.3f}*rate cores of brokers. This box ({cores} cores, workers and "
        f"brokers on it) tops out near {cores / (cpu + broker):.1f} pages/s. One worker's band "
        f"agent ({bands:.0f} records per page, up to {max_in_flight} awaiting acks=all at "
        f"p50 {rtt_ms:.0f} ms) would bind only at ~{bound:.0f} pages/s: CPU is the limit, and "
        f"workers <= {partitions} (partitions)."
    )


# --- the run -----------------------------------------------------------------------------------


def streams_of(pages: int | None) -> tuple[list[RawPage], list[tuple[str, str, bytes]], str]:
    """(the measured stream, the trickle's pages, the run's tag), split as bench/pipeline.py
    splits them; more pages than the set has are copies under other URLs (duplicates)."""
    every = load_pages(None)
    measured = [p for i, p in enumerate(every) if i % 3 != 2]
    tag = uuid.uuid4().hex[:8]
    want = pages or len(measured)
    bulk = make_raws(measured, tag, -(-want // len(measured)))[:want]
    return bulk, every[2::3], tag


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Takes about 6-9 minutes with the defaults on a 2-core machine.",
    )
    parser.add_argument("--pages", type=int, default=80,
                        help="pages in the measured stream; 0: the set less the trickle's "
                             "third (171 with the shared data); more: copies")  # fmt: skip
    parser.add_argument("--workers", default="1,2,4", help="worker counts, in order")
    parser.add_argument("--partitions", type=int, default=12, help="partitions of every topic")
    parser.add_argument("--trickle-per-s", type=float, default=0.5,
                        help="pages/s flowing while workers join (shows the pause)")  # fmt: skip
    parser.add_argument("--stages", default="clean,dedup,classify,stories",
                        help="what each worker runs (`newsstream worker --stages`)")  # fmt: skip
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    # A plain `kill` must still stop the brokers and workers this run started (finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    bulk, trickle_pages, tag = streams_of(args.pages)
    say(f"{len(bulk)} pages measured, {len(trickle_pages)} in the trickle "
        f"({'extraction sets' if DATA.is_dir() else 'demo pages'}); bare stages first")  # fmt: skip
    bare = run_bare([r.to_json() for r in bulk], load_settings())
    bare_rate = len(bulk) / sum(bare.seconds.values())
    say(f"bare stage functions: {bare_rate:.1f} pages/s {bare.outcomes}")
    sampler = Sampler()
    sampler.start()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        base = load_settings(
            topic_partitions=args.partitions, topic_replication_factor=3,
            topic_min_insync_replicas=2, producer_linger_ms=0, state_dir=Path(tmp) / "state",
        )  # fmt: skip
        with cluster(Path(tmp) / "kafka", base) as kafka:
            bench = Bench(
                settings=base.model_copy(update={"kafka_bootstrap": kafka.bootstrap}),
                desks=tuple(load_taxonomy().topic_names()), bulk=bulk,
                trickle_pages=trickle_pages, trickle_per_s=args.trickle_per_s,
                stages=args.stages, logs=Path(tmp), tag=tag, sampler=sampler,
                brokers=broker_pids(kafka),
            )  # fmt: skip
            asyncio.run(create_probe_topic(bench.settings))
            runs = [run_count(n, bench) for n in counts]
    sampler.halt.set()
    print(f"\n3-node cluster (replication 3, min ISR 2), {args.partitions} partitions per topic, "
          f"{os.cpu_count()} cores; workers run `--stages {args.stages}`\n")  # fmt: skip
    report_counts(runs, bare_rate)
    report_stages(runs, {k: 1000 * v / len(bulk) for k, v in bare.seconds.items()})
    report_joins(runs, args.trickle_per_s)
    report_kafka(runs)
    report_projection(runs, args.partitions, bench.settings.max_in_flight)
    print(f"bare stage functions (reference): {bare_rate:.1f} pages/s, {bare.outcomes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
