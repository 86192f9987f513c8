"""`newsstream kafka up --secure`: per-role users over SASL_SSL, ACLs, and the errors a client
gets when the broker refuses it (each one line naming the setting to fix)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.errors import KafkaAccessError
from streams.infra._tls import make_server_cert
from streams.kafka.backlog import BacklogReader
from streams.kafka.clients import make_consumer, make_producer
from streams.kafka.probe import check_connection
from streams.kafka.reader import read_topic
from streams.topology import ARTICLES, CLEAN, RAW
from tests.integration.security.conftest import SecureBroker

pytestmark = pytest.mark.integration


async def _produce(broker: SecureBroker, user: str, topic: str, key: bytes, value: bytes) -> None:
    producer = make_producer(broker.settings(user))
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _consume_one(
    broker: SecureBroker, user: str, topic: str, group: str, key: bytes
) -> bytes:
    """The value of ``key`` on ``topic``, read in ``group`` (offsets committed)."""
    consumer = make_consumer(broker.settings(user), topic, group=group)
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                found = [r.value for rs in batch.values() for r in rs if r.key == key]
                if found:
                    await consumer.commit()
                    return found[0] or b""
    finally:
        await consumer.stop()


async def test_each_role_round_trips_over_sasl_ssl(secure_broker: SecureBroker) -> None:
    """crawler writes news.raw; worker reads it in its group and writes news.clean and
    news.articles; sink reads news.articles in its group: each as its own SCRAM user."""
    key = uuid.uuid4().hex.encode()
    group = secure_broker.settings("worker").consumer_group
    await _produce(secure_broker, "crawler", RAW, key, b"page")
    assert await _consume_one(secure_broker, "worker", RAW, group, key) == b"page"
    await _produce(secure_broker, "worker", CLEAN, key, b"article")
    await _produce(secure_broker, "worker", ARTICLES, key, b"classified")
    assert (
        await _consume_one(secure_broker, "sink", ARTICLES, f"{group}-sink", key) == b"classified"
    )


async def test_wrong_password_is_refused_with_one_clear_line(secure_broker: SecureBroker) -> None:
    wrong = secure_broker.settings("worker", kafka_sasl_password=SecretStr("not-the-password"))
    with pytest.raises(KafkaAccessError, match="refused the login of user 'worker'") as caught:
        await check_connection(wrong)
    assert "NEWSSTREAM_KAFKA_SASL_PASSWORD" in str(caught.value)


def test_cli_wrong_password_exits_with_one_line(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    (tmp_path / "pw").write_text("not-the-password\n")
    env = secure_broker.user_env("worker") | {
        "NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "pw")
    }
    done = secure_broker.cli("tail", RAW, "--idle-exit", "1", extra=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "refused the login of user 'worker'" in lines[0]


async def test_missing_read_acl_is_refused_with_one_clear_line(
    secure_broker: SecureBroker,
) -> None:
    sink = secure_broker.settings("sink")
    # No ACL at all on news.raw for the sink: refused before any consumer starts.
    with pytest.raises(KafkaAccessError, match=r"user 'sink' has no ACL for topic\(s\) news.raw"):
        await check_connection(sink, topics=[RAW])
    with pytest.raises(KafkaAccessError, match=r"news\.raw"):
        async for _ in read_topic(sink, RAW):
            pass
    # No ACL on the workers' consumer group for the sink.
    with pytest.raises(KafkaAccessError, match="consumer group 'newsstream'"):
        await check_connection(sink, group="newsstream")


async def test_the_crawler_measures_the_workers_backlog_but_cannot_read_raw_pages(
    secure_broker: SecureBroker,
) -> None:
    """Backpressure under ACLs: DESCRIBE on the workers' group gives the crawler their committed
    offsets on news.raw; it may not fetch the pages, so the oldest one's timestamp comes from
    ListOffsets by time (DESCRIBE is enough)."""
    crawler = secure_broker.settings("crawler")
    producer = make_producer(crawler)
    await producer.start()
    try:
        await producer.send_and_wait(RAW, b"{}", key=b"backlog")
    finally:
        await producer.stop()
    reader = BacklogReader(crawler, "newsstream", RAW)
    backlog = await reader.measure()
    assert sum(b.lag for b in backlog) >= 1, backlog
    assert reader.by_time  # the fetch was refused
    waiting = [b for b in backlog if b.unprocessed]
    assert waiting, backlog
    assert all(b.oldest_ms is not None for b in waiting), backlog
    assert 0 <= max(b.age_s(time.time()) for b in waiting) < 3600, backlog


def test_cli_missing_read_acl_exits_with_the_cause(secure_broker: SecureBroker) -> None:
    done = secure_broker.cli("dlq", "list", extra=secure_broker.user_env("worker"))
    assert done.returncode == 2, done.stdout
    assert "Traceback" not in done.stderr
    assert "error: user 'worker' has no ACL for topic(s) news.dlq" in done.stderr


async def test_untrusted_certificate_is_refused(secure_broker: SecureBroker) -> None:
    no_ca = secure_broker.settings("worker", kafka_ssl_cafile=None)
    with pytest.raises(KafkaAccessError, match="NEWSSTREAM_KAFKA_SSL_CAFILE") as caught:
        await check_connection(no_ca)
    assert "not trusted by the system CAs" in str(caught.value)


async def test_hostname_mismatch_is_refused(secure_broker: SecureBroker, tmp_path: Path) -> None:
    """A server whose certificate, signed by the trusted CA, names another host."""
    files = secure_broker.broker.secure_files
    assert files is not None
    make_server_cert(files.ca_cert, files.ca_key, tmp_path / "other.pem", ("other.invalid",))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "other.pem")
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        impostor = secure_broker.settings("worker", kafka_bootstrap=f"127.0.0.1:{port}")
        with pytest.raises(KafkaAccessError, match="does not name that host") as caught:
            await check_connection(impostor, timeout_s=5)
        assert "NEWSSTREAM_KAFKA_BOOTSTRAP" in str(caught.value)
    finally:
        server.close()
        await server.wait_closed()


async def test_mutual_tls_login_as_the_certificate_user(secure_broker: SecureBroker) -> None:
    """The mTLS listener: the client certificate's CN is the principal, with the same ACLs."""
    key = uuid.uuid4().hex.encode()
    producer = make_producer(secure_broker.settings("worker", "--mtls"))
    await producer.start()
    try:
        await producer.send_and_wait(ARTICLES, b"over mtls", key=key)
    finally:
        await producer.stop()
    with pytest.raises(KafkaAccessError, match=r"no ACL for topic\(s\) news\.raw"):
        await check_connection(secure_broker.settings("sink", "--mtls"), topics=[RAW])


async def test_kcat_consumes_articles_with_the_printed_settings(
    secure_broker: SecureBroker,
) -> None:
    """kcat (librdkafka 2.0 on Debian 12) cannot log in with SCRAM to Kafka 4: its SCRAM nonce
    bug is fixed only in librdkafka 2.6.1. So it uses what `kafka env --user sink --mtls`
    prints: the sink's client certificate, the principal the ACLs name."""
    key = uuid.uuid4().hex
    await _produce(secure_broker, "worker", ARTICLES, key.encode(), b'{"title": "kcat"}')
    env = secure_broker.user_env("sink", "--mtls")
    assert env["NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    cmd = ["kcat", "-C", "-b", env["NEWSSTREAM_KAFKA_BOOTSTRAP"], "-t", ARTICLES,
           "-X", f"security.protocol={env['NEWSSTREAM_KAFKA_SECURITY_PROTOCOL']}",
           "-X", f"ssl.ca.location={env['NEWSSTREAM_KAFKA_SSL_CAFILE']}",
           "-X", f"ssl.certificate.location={env['NEWSSTREAM_KAFKA_SSL_CERTFILE']}",
           "-X", f"ssl.key.location={env['NEWSSTREAM_KAFKA_SSL_KEYFILE']}",
           "-o", "beginning", "-e", "-q", "-f", "%k %s\\n"]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, cmd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f'{key} {{"title": "kcat"}}' in done.stdout.splitlines()
    # The same user's ACLs hold over mTLS: no READ on the raw pages.
    cmd[cmd.index(ARTICLES)] = RAW
    refused = await asyncio.to_thread(
        subprocess.run, cmd, capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode != 0
    assert "authoriz" in refused.stderr.lower(), refused.stderr
