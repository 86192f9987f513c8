"""Commands for the parts newsstream runs on: `kafka`, `topics`, `config`."""

from __future__ import annotations

import asyncio
import dataclasses
import shlex
import time

import click
import orjson
import yaml

from streams.cli._context import Context
from streams.infra._kafka_secure import ADMIN, USERS
from streams.infra.kafka_local import LocalKafka
from streams.kafka.acls import apply_acls, role_acls
from streams.kafka.admin import TopicState, check_topics, create_topics, describe
from streams.kafka.probe import check_connection
from streams.kafka.security import client_settings
from streams.settings import Settings
from streams.topology import Topology

pass_ctx = click.make_pass_decorator(Context)


@click.group()
def kafka() -> None:
    """The project's local Kafka broker (KRaft, 127.0.0.1, jars fetched with Maven)."""


_SECURE = click.option(
    "--secure",
    is_flag=True,
    help="The SASL_SSL broker (SCRAM users, ACLs) on NEWSSTREAM_KAFKA_LOCAL_SECURE_PORT.",
)


_NODES = click.option(
    "--nodes",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Combined broker+controller nodes. 3: a replicated cluster (replication 3, min ISR 2)"
    " on NEWSSTREAM_KAFKA_LOCAL_CLUSTER_PORT and the ports after it, state in"
    " <state>/kafka-cluster/node<i>.",
)


@kafka.command("up")
@_SECURE
@_NODES
@pass_ctx
def kafka_up(ctx: Context, secure: bool, nodes: int) -> None:
    """Fetch the jars if needed, format storage once, start the broker, wait until it answers.

    With --secure: a TLS certificate from a CA of its own, SCRAM-SHA-512 users admin, crawler,
    worker and sink, the topology's topics and each user's ACLs (docs/security.md).
    With --nodes 3: three nodes of one cluster; prints the settings its clients need.
    Starting an already running broker is harmless."""
    started = time.monotonic()
    if nodes > 1:
        _cluster_up(ctx, secure, nodes)
        return
    broker = ctx.local_kafka(secure=secure)
    broker.up()
    if secure:
        provision_secure(broker, ctx.settings, ctx.topology)
    click.echo(f"kafka answering on {broker.bootstrap} ({time.monotonic() - started:.1f}s)")
    if secure:
        click.echo('client settings: eval "$(newsstream kafka env --user worker)"')


@kafka.command("env")
@click.option("--user", default=ADMIN, show_default=True, type=click.Choice(USERS))
@click.option("--mtls", is_flag=True, help="Log in with the user's client certificate instead.")
@pass_ctx
def kafka_env(ctx: Context, user: str, mtls: bool) -> None:
    """Print the `export NEWSSTREAM_KAFKA_...` lines of a client of the secure broker."""
    broker = ctx.local_kafka(secure=True)
    files = broker.secure_files
    assert files is not None
    if not files.client_pem(user).is_file():
        raise click.ClickException("no secure broker here yet: run `newsstream kafka up --secure`")
    bootstrap = broker.mtls_bootstrap if mtls else broker.bootstrap
    for name, value in files.client_env(user, bootstrap, mtls=mtls).items():
        click.echo(f"export {name}={shlex.quote(value)}")


def _cluster_up(ctx: Context, secure: bool, nodes: int) -> None:
    if secure:
        raise click.UsageError("--secure starts one node; --nodes is a plaintext cluster")
    started = time.monotonic()
    cluster = ctx.local_cluster(nodes)
    cluster.up()
    replicas, min_isr = cluster.replication
    click.echo(
        f"kafka cluster of {nodes} nodes answering on {cluster.bootstrap}"
        f" ({time.monotonic() - started:.1f}s); its clients and topics need:"
    )
    click.echo(f"export NEWSSTREAM_KAFKA_BOOTSTRAP={cluster.bootstrap}")
    click.echo(f"export NEWSSTREAM_TOPIC_REPLICATION_FACTOR={replicas}")
    click.echo(f"export NEWSSTREAM_TOPIC_MIN_INSYNC_REPLICAS={min_isr}")


@kafka.command("down")
@_SECURE
@_NODES
@pass_ctx
def kafka_down(ctx: Context, secure: bool, nodes: int) -> None:
    """Stop the local broker, or with --nodes every node of the cluster at once (SIGTERM, then
    SIGKILL after 30 s). Harmless when stopped."""
    if nodes > 1:
        ctx.local_cluster(nodes).down()
        click.echo(f"kafka cluster of {nodes} nodes stopped")
        return
    ctx.local_kafka(secure=secure).down()
    click.echo("kafka stopped")


@kafka.command("status")
@_SECURE
@_NODES
@pass_ctx
def kafka_status(ctx: Context, secure: bool, nodes: int) -> None:
    """Print whether the local broker runs and answers (with --nodes: each node, one JSON
    object); exit 1 when it (any node) does not answer."""
    if nodes > 1:
        cluster = ctx.local_cluster(nodes).status()
        click.echo(orjson.dumps(dataclasses.asdict(cluster)).decode())
        if not cluster.answering:
            raise SystemExit(1)
        return
    st = ctx.local_kafka(secure=secure).status()
    click.echo(orjson.dumps(st.__dict__).decode())
    if not st.answering:
        raise SystemExit(1)


@kafka.command("fetch")
@pass_ctx
def kafka_fetch(ctx: Context) -> None:
    """Download the broker jars with Maven into the cache (done by `up` when missing)."""
    click.echo(f"jars in {ctx.local_kafka().fetch()}")


def provision_secure(broker: LocalKafka, settings: Settings, topology: Topology) -> None:
    """As admin on the secure broker: create the topology's topics, then every role's ACLs."""
    assert broker.secure_files is not None
    admin = client_settings(settings, broker.secure_files.client_env(ADMIN, broker.bootstrap))
    asyncio.run(create_topics(admin, topology))
    asyncio.run(apply_acls(admin, role_acls(topology, settings)))


async def _describe(ctx: Context) -> list[TopicState]:
    await check_connection(ctx.settings)
    return await describe(ctx.settings, ctx.topology, configs=True)


@click.group()
def topics() -> None:
    """The topics of streams.topology on the configured broker."""


@topics.command("create")
@pass_ctx
def topics_create(ctx: Context) -> None:
    """Create missing topics (idempotent) and check partition counts."""
    created = asyncio.run(create_topics(ctx.settings, ctx.topology))
    asyncio.run(check_topics(ctx.settings, ctx.topology, create=False))
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
    states = {s.name: s for s in asyncio.run(_describe(ctx))}
    for spec in ctx.topology:
        st = states[spec.name]
        want = _layout(spec.partitions, spec.replication_factor, spec.min_insync_replicas)
        found = "missing" if st.actual_partitions is None else (
            _layout(st.actual_partitions, st.actual_replication, st.actual_min_isr)
        )  # fmt: skip
        found = found if st.authorized else "no ACL"
        mark = ("ok" if st.ok and st.replication_ok else "MISMATCH") if st.authorized else "-"
        click.echo(
            f"{spec.name:32} {spec.value:18} {want} on broker: {found:14} {mark:8} "
            f"{spec.description}"
        )


def _layout(partitions: int, replicas: int | None, min_isr: int | None) -> str:
    """Partitions, replication factor, min.insync.replicas ("?" when unknown): 4p r3 isr2."""
    return f"{partitions}p r{replicas or '?'} isr{min_isr or '?'}"


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
