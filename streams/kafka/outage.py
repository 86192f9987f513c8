"""Broker outages, said once: a watch that probes the bootstrap servers, and a log filter.

Without it, ~47 s of broker outage wrote ~6,000 ERROR lines per worker ("Unable connect to
node ...", once per client per retry). Now each process says:

* one WARNING when the broker goes away (``Kafka unreachable at HOST:PORT ...``),
* a WARNING summary every ``summary_every_s`` while it stays away (how long, lines held back),
* one INFO line when it is back, with the outage's length;

the Kafka client's own connection chatter (loggers ``aiokafka*`` and ``faust.transport*``, at
WARNING and above) is held back meanwhile and counted in
``newsstream_kafka_log_lines_muted_total{logger}``. ``newsstream_kafka_up`` and
``newsstream_kafka_outage_seconds`` show it on dashboards, and readiness (``/readyz``) is false
while the broker is unreachable; liveness is untouched: restarting a process cannot bring the
broker back.

The probe is a TCP connect to each bootstrap server: cheap, and true exactly when a client
could start talking. Authentication and authorisation failures are not outages; they are
reported by the clients themselves (``streams/kafka/probe.py`` explains them).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.health import HEALTH
from streams.metrics import BROKER_OUTAGE, BROKER_UP, LOG_LINES_MUTED

log = logging.getLogger(__name__)
MUTED_LOGGERS = ("aiokafka", "faust.transport")


@dataclass
class OutageState:
    """Shared by the watch (which writes) and the log filter (which reads); one per process."""

    down_since: float | None = None
    muted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mute(self, record: logging.LogRecord) -> bool:
        """True when ``record`` is Kafka client chatter during an outage (then it is counted)."""
        if self.down_since is None or record.levelno < logging.WARNING:
            return False
        if not record.name.startswith(MUTED_LOGGERS):
            return False
        with self._lock:
            self.muted += 1
        LOG_LINES_MUTED.labels(record.name.split(".")[0]).inc()
        return True

    def take_muted(self) -> int:
        with self._lock:
            n, self.muted = self.muted, 0
        return n


OUTAGE = OutageState()


@dataclass
class RepeatLimit:
    """One node of a cluster down is no outage (the others answer), yet every client retries
    it about ten times a second, each retry a line. Per (logger, message template, first
    argument, e.g. the node id) a line passes at most once per ``every_s``; the next one that
    passes says how many were held back. Held-back lines are counted like outage chatter."""

    every_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[tuple[str, str, str], tuple[float, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(MUTED_LOGGERS):
            return True
        args = record.args if isinstance(record.args, tuple) else ()
        key = (record.name, str(record.msg), str(args[0]) if args else "")
        now = self.clock()
        with self._lock:
            if len(self._seen) > 1000:  # bounded: forget everything rather than grow
                self._seen.clear()
            last, held = self._seen.get(key, (-1e18, 0))
            if now - last < self.every_s:
                self._seen[key] = (last, held + 1)
                held_back = True
            else:
                self._seen[key] = (now, 0)
                held_back = False
        if held_back:
            LOG_LINES_MUTED.labels(record.name.split(".")[0]).inc()
            return False
        if held:
            record.msg = f"{record.getMessage()} ({held} similar lines held back in the last"
            record.msg += f" {self.every_s:.0f} s)"
            record.args = ()
        return True


REPEATS = RepeatLimit()


class OutageFilter(logging.Filter):
    """Put on every handler (``streams.logs.logging_dict`` does): drops client chatter while
    the broker is known to be away (the watch summarises it), and repeats of one client line
    beyond one a minute otherwise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not OUTAGE.mute(record) and REPEATS.allow(record)


def _servers(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for item in bootstrap.split(","):
        host, _, port = item.strip().rpartition(":")
        out.append((host.strip("[]") or "localhost", int(port or 9092)))
    return out


async def reachable(bootstrap: str, timeout_s: float = 3.0) -> tuple[bool, str]:
    """(True, server) if a TCP connection to any bootstrap server opens, else (False, why)."""
    why = "no bootstrap servers"
    for host, port in _servers(bootstrap):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError) as exc:
            why = f"{host}:{port}: {exc.__class__.__name__}: {exc}".rstrip(": ")
            continue
        writer.close()
        return True, f"{host}:{port}"
    return False, why


@dataclass
class BrokerWatch:
    bootstrap: str
    component: str = "kafka"
    interval_s: float = 5.0
    summary_every_s: float = 60.0
    state: OutageState = field(default_factory=lambda: OUTAGE)
    _last_summary: float = 0.0
    _seen_up: bool = False

    def __post_init__(self) -> None:
        # Registered at once, so /readyz is never "ok" before the first probe has answered.
        HEALTH.set_ready(self.component, False, "first broker probe pending")

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    ok, detail = await reachable(self.bootstrap)
                except Exception as exc:  # a probe bug must not end the watch
                    ok, detail = False, f"probe failed: {exc!r}"
                self.observe(ok, detail, time.monotonic())
                await asyncio.sleep(self.interval_s)
        finally:
            HEALTH.forget(self.component)

    def observe(self, ok: bool, detail: str, now: float) -> None:
        """One probe's result: log and flag only the changes, and a summary while down."""
        state = self.state
        if ok:
            BROKER_UP.set(1)
            BROKER_OUTAGE.set(0)
            if state.down_since is not None:
                lasted = now - state.down_since
                state.down_since = None
                log.info(
                    "Kafka reachable again at %s after %.0f s (%d client log lines held back)",
                    detail,
                    lasted,
                    state.take_muted(),
                )
            HEALTH.set_ready(self.component, True, f"broker reachable at {detail}")
            self._seen_up = True
            return
        BROKER_UP.set(0)
        if state.down_since is None:
            state.down_since = self._last_summary = now
            log.warning(
                "Kafka unreachable at %s (%s); records wait, nothing is dropped; the client's"
                " connection errors are held back until it is back",
                self.bootstrap,
                detail,
            )
        elif now - self._last_summary >= self.summary_every_s:
            self._last_summary = now
            log.warning(
                "Kafka still unreachable at %s after %.0f s (%d client log lines held back)",
                self.bootstrap,
                now - state.down_since,
                state.take_muted(),
            )
        BROKER_OUTAGE.set(now - state.down_since)
        HEALTH.set_ready(
            self.component, False, f"broker unreachable for {now - state.down_since:.0f} s"
        )
