"""Long-running processes: `run`, `worker`, `sink`, `crawl`."""

from __future__ import annotations

import asyncio
import signal

import click

from streams.cli._context import Context
from streams.topology import STAGE_GROUPS

pass_ctx = click.make_pass_decorator(Context)


@click.command()
@click.option(
    "--demo",
    is_flag=True,
    help="Crawl the built-in sample news site on 127.0.0.1 instead of live sources.",
)
@pass_ctx
def run(ctx: Context, demo: bool) -> None:
    """Everything in one process group: local Kafka, embedded PostgreSQL, crawler, workers,
    sink, /metrics (ports from NEWSSTREAM_METRICS_PORT upwards). Ctrl-C stops it all."""
    from streams.processes.run import run_all

    raise SystemExit(run_all(ctx.settings, ctx.topology, demo=demo, local_kafka=ctx.local_kafka))


@click.command()
@click.option(
    "--stages",
    default=",".join(STAGE_GROUPS),
    show_default=True,
    help="Comma-separated stages this worker runs.",
)
@pass_ctx
def worker(ctx: Context, stages: str) -> None:
    """Run the stream stages (faust agents). Scale out by starting more workers: they share
    one consumer group and split the partitions. Refuses to start on mismatched topics."""
    from streams.processes.worker import run_worker

    wanted = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = sorted(set(wanted) - set(STAGE_GROUPS))
    if unknown:
        raise click.BadParameter(f"unknown stages {unknown}; known: {', '.join(STAGE_GROUPS)}")
    run_worker(ctx.settings, ctx.topology, wanted)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@click.command()
@pass_ctx
def sink(ctx: Context) -> None:
    """Write news.articles and news.duplicates to PostgreSQL (NEWSSTREAM_POSTGRES_DSN, or an
    embedded server when unset). Offsets are committed after each transaction."""
    from streams.metrics import serve_metrics
    from streams.processes.sink import run_sink

    s = ctx.settings
    serve_metrics(s.metrics_host, s.metrics_port, pending=("sink",))

    async def go(dsn: str) -> None:
        await run_sink(s, dsn, _stop_event())

    if s.postgres_dsn is not None:
        asyncio.run(go(s.postgres_dsn.get_secret_value()))
        return
    from streams.infra.postgres_local import EmbeddedPostgres

    with EmbeddedPostgres(s.postgres_home, port=s.postgres_embedded_port) as pg:
        asyncio.run(go(pg.dsn))


@click.command()
@click.option("--demo", is_flag=True, help="Serve and crawl the built-in sample site.")
@click.option(
    "--once", is_flag=True, help="One pass over the sources file, without Kafka state, then exit."
)
@pass_ctx
def crawl(ctx: Context, demo: bool, once: bool) -> None:
    """Crawl into news.raw as one replica of the crawler group: the sources on news.sources
    (seeded from the sources file when the topic is new) whose hosts hash to this replica's
    news.crawl.frontier partitions; memory in news.crawl.state. Run several for more hosts.
    --once: one pass over the sources file from this process alone (seen-set in the state
    dir); --demo: the built-in sample site."""
    from streams.metrics import serve_metrics
    from streams.processes.crawler import run_crawler

    s = ctx.settings
    serve_metrics(s.metrics_host, s.metrics_port)

    async def go() -> None:
        from streams.health import heartbeat_forever

        beat = asyncio.create_task(heartbeat_forever("crawl"))  # /healthz: the loop turns
        try:
            await run_crawler(s, demo=demo, once=once, stop=_stop_event())
        finally:
            beat.cancel()

    asyncio.run(go())


COMMANDS = [run, worker, sink, crawl]
