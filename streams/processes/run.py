"""`newsstream run`: the whole service in one process group on the embedded defaults.

Start order: local Kafka (unless a broker is configured) -> embedded PostgreSQL (unless a DSN
is configured) -> topics -> sink, worker, crawler as child processes. Stop order is the
reverse, so in-flight records drain downstream before their consumers go: crawler, worker,
sink, then PostgreSQL and the broker (only those this command started itself).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from streams.kafka.admin import check_topics
from streams.settings import Settings

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 20.0


def _die_with_parent() -> None:
    """Children get SIGTERM if `run` itself dies, so a killed `run` leaves no stray workers."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def local_services(ctx: object, settings: Settings) -> Iterator[dict[str, str]]:
    """Start what is not configured; yield the env that points children at it."""
    from streams.cli._context import Context

    assert isinstance(ctx, Context)
    env = {"NEWSSTREAM_KAFKA_BOOTSTRAP": settings.bootstrap()}
    with ExitStack() as stack:
        if settings.uses_local_kafka:
            broker = ctx.local_kafka()
            was_running = broker.status().answering
            t0 = time.monotonic()
            broker.up()
            log.info("local kafka ready on %s in %.1fs", broker.bootstrap, time.monotonic() - t0)
            if not was_running:
                stack.callback(broker.down)
        if settings.postgres_dsn is None:
            from streams.infra.postgres_local import EmbeddedPostgres

            t0 = time.monotonic()
            pg = EmbeddedPostgres(settings.postgres_home, port=settings.postgres_embedded_port)
            env["NEWSSTREAM_POSTGRES_DSN"] = pg.start()
            stack.callback(pg.stop)
            log.info("embedded postgres ready in %.1fs", time.monotonic() - t0)
        yield env


def _spawn(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    child_env = os.environ | env | {"NEWSSTREAM_METRICS_PORT": str(port)}
    cmd = [sys.executable, "-m", "streams", *args]
    log.info("starting %s (metrics :%d)", " ".join(args), port)
    return subprocess.Popen(
        cmd,
        env=child_env,
        # PR_SET_PDEATHSIG must be set in the child itself: subprocess has no other hook.
        preexec_fn=_die_with_parent,  # noqa: PLW1509
        start_new_session=True,
    )


def _stop(children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    for name, proc in children:
        if proc.poll() is None:
            log.info("stopping %s", name)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs; killing it", name, STOP_GRACE_S)
                proc.kill()
                proc.wait()


def run_all(ctx: object, settings: Settings, topology: object, *, demo: bool) -> int:
    """Run until Ctrl-C/SIGTERM or until a child dies; return the exit code."""
    import asyncio

    from streams.topology import Topology

    assert isinstance(topology, Topology)
    started = time.monotonic()
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with local_services(ctx, settings) as env:
        bootstrap = env["NEWSSTREAM_KAFKA_BOOTSTRAP"]
        local = settings.model_copy(update={"kafka_bootstrap": bootstrap})
        asyncio.run(check_topics(local, topology, create=True))
        port = settings.metrics_port
        crawl_args = ["crawl", "--demo"] if demo else ["crawl"]
        children = [
            ("sink", _spawn(["sink"], env, port + 2)),
            ("worker", _spawn(["worker"], env, port + 1)),
            ("crawler", _spawn(crawl_args, env, port)),
        ]
        log.info(
            "newsstream running (cold start %.1fs); Ctrl-C stops everything",
            time.monotonic() - started,
        )
        code = 0
        try:
            while not stopping:
                dead = [(n, p.returncode) for n, p in children if p.poll() is not None]
                if dead:
                    log.error("child exited: %s; stopping everything", dead)
                    code = 1
                    break
                time.sleep(0.5)
        finally:
            _stop(list(reversed(children)))
    return code
