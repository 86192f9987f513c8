"""Commands for the parts newsstream runs on: `kafka`, `topics`, `config`."""

from __future__ import annotations

import asyncio
import time

import click
import orjson
import yaml

from streams.cli._context import Context
from streams.kafka.admin import check_topics, create_topics, describe

pass_ctx = click.make_pass_decorator(Context)


@click.group()
def kafka() -> None:
    """The project's local Kafka broker (KRaft, 127.0.0.1, jars fetched with Maven)."""


@kafka.command("up")
@pass_ctx
def kafka_up(ctx: Context) -> None:
    """Fetch the jars if needed, format storage once, start the broker, wait until it answers.

    Starting an already running broker is harmless."""
    started = time.monotonic()
    broker = ctx.local_kafka()
    broker.up()
    click.echo(f"kafka answering on {broker.bootstrap} ({time.monotonic() - started:.1f}s)")


@kafka.command("down")
@pass_ctx
def kafka_down(ctx: Context) -> None:
    """Stop the local broker (SIGTERM, then SIGKILL after 30 s). Harmless when stopped."""
    ctx.local_kafka().down()
    click.echo("kafka stopped")


@kafka.command("status")
@pass_ctx
def kafka_status(ctx: Context) -> None:
    """Print whether the local broker runs and answers; exit 1 when it does not answer."""
    st = ctx.local_kafka().status()
    click.echo(orjson.dumps(st.__dict__).decode())
    if not st.answering:
        raise SystemExit(1)


@kafka.command("fetch")
@pass_ctx
def kafka_fetch(ctx: Context) -> None:
    """Download the broker jars with Maven into the cache (done by `up` when missing)."""
    click.echo(f"jars in {ctx.local_kafka().fetch()}")


@click.group()
def topics() -> None:
    """The topics of streams.topology on the configured broker."""


@topics.command("create")
@pass_ctx
def topics_create(ctx: Context) -> None:
    """Create missing topics (idempotent) and check partition counts."""
    bootstrap = ctx.settings.bootstrap()
    created = asyncio.run(create_topics(bootstrap, ctx.topology))
    asyncio.run(check_topics(bootstrap, ctx.topology, create=False))
    click.echo(f"{len(created)} created, {len(ctx.topology.topics)} topics in the topology OK")


@topics.command("flow")
@pass_ctx
def topics_flow(ctx: Context) -> None:
    """Print who reads and writes which topic, in flow order, from the stage table (the text
    the README, docs/architecture.md and streams/topology.py show). Needs no broker."""
    from streams.topology import render_flow

    click.echo(render_flow(ctx.topology))


@topics.command("describe")
@pass_ctx
def topics_describe(ctx: Context) -> None:
    """Print every topology topic with its layout and its state on the broker."""
    states = {s.name: s for s in asyncio.run(describe(ctx.settings.bootstrap(), ctx.topology))}
    for spec in ctx.topology:
        st = states[spec.name]
        found = "missing" if st.actual_partitions is None else f"{st.actual_partitions}p"
        mark = "ok" if st.ok else "MISMATCH"
        click.echo(
            f"{spec.name:32} {spec.value:18} {spec.partitions}p on broker: {found:8} {mark:8} "
            f"{spec.description}"
        )


@click.group()
def config() -> None:
    """Effective settings."""


@config.command("show")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@pass_ctx
def config_show(ctx: Context, fmt: str) -> None:
    """Print the effective settings (defaults < YAML file < NEWSSTREAM_* env), secrets masked,
    each with what it means and its environment variable: in YAML as a comment above the key
    (keys as in a settings file), in JSON as {name: {value, env, description}}."""
    values = ctx.settings.masked()
    about = type(ctx.settings).descriptions()
    if fmt == "json":
        rows = {
            name: {"value": value, "env": f"NEWSSTREAM_{name.upper()}", "description": about[name]}
            for name, value in values.items()
        }
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    for name, value in values.items():
        click.echo(f"# {about[name]} (NEWSSTREAM_{name.upper()})")
        click.echo(yaml.safe_dump({name: value}, sort_keys=False, allow_unicode=True).rstrip())


COMMANDS = [kafka, topics, config]
