"""The one place that turns the Kafka security settings into client arguments.

Every aiokafka client in the project takes ``**aiokafka_kwargs(settings)`` (bootstrap servers,
security protocol, SASL mechanism and credentials, TLS context); the faust app takes
``faust_credentials(settings)`` as ``broker_credentials``. The TLS context is built here, never
by a library default: it verifies the broker's certificate against ``kafka_ssl_cafile`` (or
the system CAs) and checks that the certificate names the host the client dialled.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from streams.errors import ConfigError
from streams.settings import Settings

__all__ = [
    "aiokafka_kwargs",
    "client_settings",
    "faust_broker_url",
    "faust_credentials",
    "ssl_context",
]


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The client TLS context for SSL and SASL_SSL; None for the plaintext protocols."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = settings.kafka_ssl_cafile
    try:
        # create_default_context: CERT_REQUIRED and check_hostname on, TLS 1.2 at least.
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"NEWSSTREAM_KAFKA_SSL_CAFILE={cafile} is not a readable PEM CA bundle: {exc}"
        ) from exc
    if settings.kafka_ssl_certfile is not None:
        password = settings.kafka_ssl_key_password
        try:
            context.load_cert_chain(
                settings.kafka_ssl_certfile,
                settings.kafka_ssl_keyfile,
                password.get_secret_value() if password else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"NEWSSTREAM_KAFKA_SSL_CERTFILE={settings.kafka_ssl_certfile} /"
                f" NEWSSTREAM_KAFKA_SSL_KEYFILE={settings.kafka_ssl_keyfile}: cannot load the"
                f" client certificate and key ({exc}); check the files and"
                " NEWSSTREAM_KAFKA_SSL_KEY_PASSWORD"
            ) from exc
    return context


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """Connection arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap(),
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        kwargs |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return kwargs


def faust_credentials(settings: Settings) -> CredentialsT | None:
    """What ``faust.App(broker_credentials=...)`` needs; None for PLAINTEXT.

    Built with our own context: ``faust.SSLCredentials()`` without one raises."""
    context = ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        # An ssl_context makes SASLCredentials SASL_SSL; without one it is SASL_PLAINTEXT.
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def faust_broker_url(settings: Settings) -> str:
    """faust's broker URL. The scheme stays ``kafka://`` under TLS too: faust's aiokafka
    driver takes the protocol from the credentials, not from the URL."""
    return ";".join(f"kafka://{server}" for server in settings.bootstrap().split(","))


def client_settings(settings: Settings, env: Mapping[str, str]) -> Settings:
    """``settings`` with ``NEWSSTREAM_*`` values from ``env`` on top (e.g. `kafka env` output
    for one user), validated again so that ``*_FILE`` secrets are read."""
    values = settings.model_dump()
    values |= {key.removeprefix("NEWSSTREAM_").lower(): value for key, value in env.items()}
    for name in list(values):
        if values.get(f"{name}_file") is not None:
            values[name] = None  # read again from the file, which may be a new one
    return Settings(**values)
