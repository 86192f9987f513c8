"""Kafka security settings: validation, *_FILE secrets, masking, client arguments, ACLs."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faust.auth import SASLCredentials, SSLCredentials

from streams.errors import ConfigError
from streams.infra._tls import make_ca
from streams.kafka.acls import Operation, Resource, role_acls
from streams.kafka.probe import explain
from streams.kafka.security import aiokafka_kwargs, faust_credentials
from streams.settings import load_settings
from streams.topology import build_topology

SASL = {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_username": "worker"}


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    make_ca(tmp_path / "ca.pem", tmp_path / "ca.key")
    return tmp_path / "ca.pem"


def test_plaintext_is_the_default_and_needs_nothing() -> None:
    kwargs = aiokafka_kwargs(load_settings(kafka_bootstrap="b:9092"))
    assert kwargs == {"bootstrap_servers": "b:9092", "security_protocol": "PLAINTEXT"}
    assert faust_credentials(load_settings()) is None


def test_password_file_is_read_and_masked(tmp_path: Path, ca: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    settings = load_settings(**SASL, kafka_sasl_password_file=secret, kafka_ssl_cafile=ca)
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "s3cret"
    shown = settings.masked()
    assert shown["kafka_sasl_password"] == "********"
    assert shown["kafka_sasl_password_file"] == str(secret)
    assert "s3cret" not in str(shown)


def test_password_file_from_the_environment(
    tmp_path: Path, ca: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("from-env")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_SASL_USERNAME", "sink")
    monkeypatch.setenv("NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("NEWSSTREAM_KAFKA_SSL_CAFILE", str(ca))
    kwargs = aiokafka_kwargs(load_settings())
    assert kwargs["sasl_plain_username"] == "sink"
    assert kwargs["sasl_plain_password"] == "from-env"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"kafka_ssl_cafile": "/nonexistent/ca.pem"}, "NEWSSTREAM_KAFKA_SSL_CAFILE"),
        (
            {**SASL, "kafka_sasl_password_file": "/nonexistent"},
            "NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE",
        ),
        (SASL, "NEWSSTREAM_KAFKA_SASL_PASSWORD"),
        ({"kafka_security_protocol": "TLS"}, "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "NEWSSTREAM_KAFKA_SASL_MECHANISM"),
        ({"kafka_ssl_keyfile": "/etc/hostname"}, "NEWSSTREAM_KAFKA_SSL_CERTFILE"),
        (
            {**SASL, "kafka_sasl_password": "a", "kafka_sasl_password_file": "/etc/hostname"},
            "NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE, not both",
        ),
    ],
)
def test_invalid_settings_name_the_setting(values: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(**values)


def test_ssl_context_checks_hostname_and_certificate(ca: Path) -> None:
    settings = load_settings(**SASL, kafka_sasl_password="pw", kafka_ssl_cafile=ca)
    context = aiokafka_kwargs(settings)["ssl_context"]
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.ssl_context is not None
    assert credentials.ssl_context.check_hostname


def test_ssl_only_gives_ssl_credentials(ca: Path) -> None:
    settings = load_settings(kafka_security_protocol="SSL", kafka_ssl_cafile=ca)
    assert isinstance(faust_credentials(settings), SSLCredentials)
    assert "sasl_mechanism" not in aiokafka_kwargs(settings)


def test_a_file_that_is_no_ca_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("not a certificate")
    settings = load_settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "ca.pem")
    with pytest.raises(ConfigError, match="NEWSSTREAM_KAFKA_SSL_CAFILE"):
        aiokafka_kwargs(settings)


def test_explain_names_cause_and_setting() -> None:
    from aiokafka.errors import SaslAuthenticationFailed, TopicAuthorizationFailedError

    settings = load_settings(**SASL, kafka_sasl_password="pw")
    assert "NEWSSTREAM_KAFKA_SASL_PASSWORD" in explain(SaslAuthenticationFailed("x"), settings)
    line = explain(TopicAuthorizationFailedError("news.raw"), settings)
    assert "'worker' has no ACL for topic(s) news.raw" in line
    assert "NEWSSTREAM_KAFKA_BOOTSTRAP" in explain(ConnectionRefusedError(111, "refused"), settings)


def test_acls_follow_the_topology() -> None:
    settings = load_settings()
    topology = build_topology(settings, ["crime"])
    acls = {(a.principal, a.resource, a.name, a.operation) for a in role_acls(topology, settings)}
    assert ("crawler", Resource.TOPIC, "news.raw", Operation.WRITE) in acls
    assert ("worker", Resource.TOPIC, "news.raw", Operation.READ) in acls
    assert ("worker", Resource.TOPIC, "news.topic.crime", Operation.WRITE) in acls
    assert ("worker", Resource.GROUP, "newsstream", Operation.READ) in acls
    assert ("sink", Resource.TOPIC, "news.articles", Operation.READ) in acls
    assert ("sink", Resource.GROUP, "newsstream-sink", Operation.READ) in acls
    # Backpressure: the crawler reads the workers' committed offsets, nothing more.
    assert ("crawler", Resource.GROUP, "newsstream", Operation.DESCRIBE) in acls
    assert ("crawler", Resource.GROUP, "newsstream", Operation.READ) not in acls
    changelog = topology.changelog("dedup-url-by-id")
    assert ("worker", Resource.TOPIC, changelog, Operation.CREATE) in acls
    # Least privilege: nobody but the worker reads raw pages, the sink writes no articles,
    # and no process principal reads the dead letters (an operator's job, as admin).
    assert not any(a[2] == "news.raw" and a[3] == Operation.READ for a in acls if a[0] != "worker")
    assert ("sink", Resource.TOPIC, "news.articles", Operation.WRITE) not in acls
    assert not any(a[2] == "news.dlq" and a[3] == Operation.READ for a in acls)
    assert {a[0] for a in acls} == {"crawler", "worker", "sink"}
