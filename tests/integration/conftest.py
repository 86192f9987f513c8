"""Session-wide real services for the integration tests.

The broker and PostgreSQL run in temporary state dirs on ports picked at run time, so a
developer's own ``newsstream kafka up`` (19092/19093) or PostgreSQL is never touched. The jar
cache is the shared default one, so only the first run on a machine downloads the broker.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest

from streams.infra._process import free_ports
from streams.infra.kafka_local import LocalKafka, LocalKafkaConfig
from streams.infra.postgres_local import EmbeddedPostgres


def kafka_config(home: Path) -> LocalKafkaConfig:
    port, controller_port = free_ports(2)
    return LocalKafkaConfig(home=home, port=port, controller_port=controller_port)


@pytest.fixture(scope="session")
def local_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A running LocalKafka for the whole session; stopped at the end whatever happened."""
    kafka = LocalKafka(kafka_config(tmp_path_factory.mktemp("kafka")))
    try:
        kafka.up()
        yield kafka
    finally:
        kafka.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(local_kafka: LocalKafka) -> str:
    return local_kafka.bootstrap


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    (port,) = free_ports(1)
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres") / "data", port=port)
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def kafka_factory(tmp_path: Path) -> Iterator[Callable[[], LocalKafka]]:
    """Makes extra (not started) LocalKafka instances on their own ports; downs them all after."""
    made: list[LocalKafka] = []

    def make() -> LocalKafka:
        kafka = LocalKafka(kafka_config(tmp_path / f"kafka{len(made)}"))
        made.append(kafka)
        return kafka

    yield make
    for kafka in made:
        kafka.down(timeout_s=10)


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[Callable[[], EmbeddedPostgres]]:
    """Makes extra (not started) EmbeddedPostgres instances; stops them all after."""
    made: list[EmbeddedPostgres] = []

    def make() -> EmbeddedPostgres:
        (port,) = free_ports(1)
        server = EmbeddedPostgres(tmp_path / f"pg{len(made)}", port=port)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@contextmanager
def own_database(server_dsn: str, prefix: str) -> Iterator[str]:
    """A database of its own on a shared PostgreSQL server (so other tests' rows never
    interfere); dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    try:
        yield server_dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f"DROP DATABASE {name} WITH (FORCE)"))
