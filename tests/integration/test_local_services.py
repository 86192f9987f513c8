"""The project's own Kafka broker and embedded PostgreSQL, started for real."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.infra._process import cmdline_contains, is_alive
from streams.infra.errors import LocalServiceError
from streams.infra.kafka_local import LocalKafka
from streams.infra.postgres_local import EmbeddedPostgres

pytestmark = pytest.mark.integration


def live_processes_mentioning(needle: str) -> list[int]:
    """Pids of live (not zombie) processes whose command line contains ``needle``."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and int(entry.name) != os.getpid()
        and cmdline_contains(int(entry.name), needle)
        and is_alive(int(entry.name))
    ]


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# --- Kafka -------------------------------------------------------------------------------


def test_up_is_idempotent(local_kafka: LocalKafka) -> None:
    pid_before = local_kafka.status().pid
    started = time.monotonic()
    local_kafka.up()
    assert time.monotonic() - started < 10  # returned at once, did not start a second broker
    assert local_kafka.status().pid == pid_before


def test_status_reports_answering(local_kafka: LocalKafka) -> None:
    status = local_kafka.status()
    assert status.running
    assert status.answering
    assert status.pid is not None
    assert status.bootstrap == local_kafka.bootstrap == f"127.0.0.1:{local_kafka.config.port}"


async def test_produced_message_is_consumed_back(kafka_bootstrap: str) -> None:
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            sent = await producer.send_and_wait(topic, "Київ".encode(), key=b"k1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=f"test-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"k1", "Київ".encode())
        assert (record.partition, record.offset) == (sent.partition, sent.offset)
    finally:
        await admin.delete_topics([topic])
        await admin.close()


def test_port_in_use_gives_clear_error(kafka_factory: Callable[[], LocalKafka]) -> None:
    kafka = kafka_factory()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", kafka.config.port))
        squatter.listen()
        with pytest.raises(LocalServiceError, match=f"port {kafka.config.port}") as caught:
            kafka.up()
    assert "NEWSSTREAM_KAFKA_LOCAL_PORT" in str(caught.value)
    assert not kafka.pid_file.exists()
    assert live_processes_mentioning(str(kafka.props_file)) == []


def test_down_when_never_started_is_harmless(kafka_factory: Callable[[], LocalKafka]) -> None:
    kafka = kafka_factory()
    kafka.down()
    assert not kafka.status().running


def test_recovers_from_sigkill_then_down_leaves_no_java(
    kafka_factory: Callable[[], LocalKafka], caplog: pytest.LogCaptureFixture
) -> None:
    kafka = kafka_factory()
    kafka.up()
    pid = kafka.status().pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    assert wait_until(lambda: not is_alive(pid))
    # What a killed broker leaves behind: its pid file and the data dir's lock file.
    assert kafka.pid_file.exists()
    assert (kafka.data_dir / ".lock").exists()

    with caplog.at_level(logging.WARNING, logger="streams.infra"):
        kafka.up()
    assert "removed stale pid file" in caplog.text
    assert "removed stale Kafka lock file" in caplog.text
    status = kafka.status()
    assert status.running
    assert status.answering
    assert status.pid != pid

    kafka.down()
    assert live_processes_mentioning(str(kafka.props_file)) == []
    assert not kafka.pid_file.exists()
    assert not kafka.status().answering
    kafka.down()  # a second down is harmless


def test_broker_dying_during_start_reports_its_log(
    kafka_factory: Callable[[], LocalKafka],
) -> None:
    # A heap the JVM refuses makes the broker exit at once, like any fatal start-up error.
    kafka = LocalKafka(dataclasses.replace(kafka_factory().config, heap="1k"))
    with pytest.raises(LocalServiceError, match="died during start") as caught:
        kafka.up()
    assert "heap" in str(caught.value).lower()
    assert not kafka.pid_file.exists()
    assert live_processes_mentioning(str(kafka.props_file)) == []


def test_stale_pid_file_of_unrelated_process_is_ignored(
    kafka_factory: Callable[[], LocalKafka],
) -> None:
    kafka = kafka_factory()
    kafka.home.mkdir(parents=True)
    # Our own pid: alive, but not a broker of this state dir (a recycled pid).
    kafka.pid_file.write_text(f"{os.getpid()}\n")
    status = kafka.status()
    assert not status.running
    assert not kafka.pid_file.exists()


# --- PostgreSQL --------------------------------------------------------------------------


def test_embedded_postgres_answers(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_embedded_postgres_restart_keeps_data_and_stop_leaves_nothing(
    postgres_factory: Callable[[], EmbeddedPostgres],
) -> None:
    server = postgres_factory()
    with server as running:
        assert running.start() == running.dsn  # idempotent
        with psycopg.connect(running.dsn, autocommit=True) as conn:
            conn.execute("create table kept (word text)")
            conn.execute("insert into kept values ('Львів')")
    assert wait_until(lambda: live_processes_mentioning(str(server.data_dir)) == [])
    server.stop()  # a second stop is harmless

    dsn = server.start()  # reuses the data dir
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select word from kept").fetchone() == ("Львів",)
    server.stop()
    assert wait_until(lambda: live_processes_mentioning(str(server.data_dir)) == [])
