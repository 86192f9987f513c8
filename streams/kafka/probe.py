"""Say in one line why the broker refuses us, and which setting fixes it.

aiokafka retries or reports a failed bootstrap as "Unable to bootstrap from [...]", whatever
the cause. ``check_connection`` dials the bootstrap servers itself first (TLS, then SASL) so the
real cause surfaces, then asks for the topics and group the caller will use, so a missing ACL
is named before any consumer joins. Every failure is a ``KafkaAccessError`` whose message
names the cause and the ``NEWSSTREAM_*`` setting to change; ``explain`` turns the errors a
running client meets (TopicAuthorizationFailed, GroupAuthorizationFailed) into the same lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    UnsupportedSaslMechanismError,
)

from streams.errors import KafkaAccessError
from streams.kafka.security import aiokafka_kwargs
from streams.settings import Settings
from streams.topology import Topology

__all__ = ["BrokerUnreachable", "check_connection", "check_stages", "explain", "kafka_errors"]

TOPIC_AUTHORIZATION_FAILED = 29
UNKNOWN_TOPIC = 3
_LOGIN = "NEWSSTREAM_KAFKA_SASL_USERNAME"


# aiokafka ships no type information, so mypy sees KafkaConnectionError as Any.
class BrokerUnreachable(KafkaAccessError, KafkaConnectionError):  # type: ignore[misc]
    """No bootstrap server answered: maybe a passing outage, unlike a refused login. Also a
    KafkaConnectionError, so loops that retry aiokafka's connection errors retry this one."""

    def __str__(self) -> str:
        return Exception.__str__(self)  # not KafkaError's "ClassName: message"


def _who(settings: Settings) -> str:
    name = settings.kafka_sasl_username
    return f"user {name!r}" if name else "this client"


def _acl_fix(settings: Settings, what: str) -> str:
    return (
        f"{_who(settings)} has no ACL for {what}; grant it (see docs/security.md), or log in as"
        f" the process's own user ({_LOGIN})"
    )


def explain(exc: BaseException, settings: Settings, server: str | None = None) -> str:
    """One line naming what went wrong with ``exc`` and the setting that fixes it."""
    at = server or settings.bootstrap()
    if isinstance(exc, ssl.SSLError):
        return _explain_tls(exc, settings, at)
    if isinstance(exc, KafkaError):
        return _explain_kafka(exc, settings, at)
    if isinstance(exc, TimeoutError):
        return (
            f"no answer from the broker at {at}; check NEWSSTREAM_KAFKA_BOOTSTRAP, and that"
            f" NEWSSTREAM_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} is the"
            " protocol of that listener"
        )
    return f"cannot reach the broker at {at} ({exc}); check NEWSSTREAM_KAFKA_BOOTSTRAP"


def _explain_tls(exc: ssl.SSLError, settings: Settings, at: str) -> str:
    if not isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS with the broker at {at} failed ({exc.reason or exc}); is"
            f" NEWSSTREAM_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} the"
            " protocol of that listener?"
        )
    reason = exc.verify_message or str(exc)
    if "mismatch" in reason:  # "Hostname mismatch" / "IP address mismatch"
        return (
            f"the TLS certificate of the broker at {at} does not name that host ({reason});"
            " set NEWSSTREAM_KAFKA_BOOTSTRAP to a host name the certificate lists"
        )
    cafile = settings.kafka_ssl_cafile
    trusted = f"the CA in {cafile}" if cafile else "the system CAs (SSL_CAFILE unset)"
    return (
        f"the TLS certificate of the broker at {at} is not trusted by {trusted}: {reason};"
        " set NEWSSTREAM_KAFKA_SSL_CAFILE to the CA that signed the broker's certificate"
    )


def _explain_kafka(exc: KafkaError, settings: Settings, at: str) -> str:
    mechanism = settings.kafka_sasl_mechanism
    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"Kafka at {at} refused the login of {_who(settings)} ({mechanism}): wrong password"
            " or unknown user; check NEWSSTREAM_KAFKA_SASL_PASSWORD (or"
            f" NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE) and {_LOGIN}"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return (
            f"Kafka at {at} does not accept SASL mechanism {mechanism}; set"
            " NEWSSTREAM_KAFKA_SASL_MECHANISM to one it enables"
        )
    if isinstance(exc, TopicAuthorizationFailedError):
        return _acl_fix(settings, f"topic(s) {exc.args[0] if exc.args else ''}".strip())
    if isinstance(exc, GroupAuthorizationFailedError):
        return _acl_fix(settings, "its consumer group") + " or NEWSSTREAM_CONSUMER_GROUP"
    if isinstance(exc, KafkaConnectionError):
        return (
            f"the broker at {at} closed the connection while we said hello ({exc}); is"
            f" NEWSSTREAM_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} the"
            " protocol of that listener?"
        )
    return f"Kafka at {at}: {exc}"


def _servers(settings: Settings) -> list[tuple[str, int]]:
    out = []
    for item in settings.bootstrap().split(","):
        host, _, port = item.strip().rpartition(":")
        out.append((host.strip("[]"), int(port)))
    return out


async def _login(settings: Settings, timeout_s: float) -> None:
    """Open one connection (TCP, TLS, SASL) to the first bootstrap server that takes it."""
    kwargs = aiokafka_kwargs(settings)
    kwargs.pop("bootstrap_servers")
    failure: tuple[BaseException, str] | None = None
    for host, port in _servers(settings):
        try:
            conn = await asyncio.wait_for(
                create_conn(host, port, request_timeout_ms=int(timeout_s * 1000), **kwargs),
                timeout_s,
            )
        except (KafkaError, OSError, TimeoutError) as exc:
            failure = failure or (exc, f"{host}:{port}")
            continue
        # close() returns a future that resolves once the socket is closed: awaited, so no
        # transport is left for the garbage collector (a ResourceWarning) when the loop ends.
        closed = conn.close()
        if closed is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(closed), 5)
        return
    assert failure is not None
    error, server = failure
    kind = KafkaAccessError if isinstance(error, KafkaError | ssl.SSLError) else BrokerUnreachable
    raise kind(explain(error, settings, server)) from None


async def check_connection(
    settings: Settings,
    *,
    topics: Iterable[str] = (),
    group: str | None = None,
    timeout_s: float = 15.0,
) -> None:
    """Raise KafkaAccessError unless we can log in, see every topic in ``topics`` and use
    ``group``. A topic that does not exist is left to the caller's own message."""
    await _login(settings, timeout_s)
    wanted = sorted(set(topics))
    if not wanted and group is None:
        return
    async with kafka_errors(settings):
        admin = AIOKafkaAdminClient(
            **aiokafka_kwargs(settings), request_timeout_ms=int(timeout_s * 1000)
        )
        await admin.start()
        try:
            refused = [
                t["topic"]
                for t in (await admin.describe_topics(wanted) if wanted else [])
                if t["error_code"] == TOPIC_AUTHORIZATION_FAILED
            ]
            if refused:
                raise KafkaAccessError(_acl_fix(settings, f"topic(s) {', '.join(refused)}"))
            if group is not None:
                try:
                    await admin.find_coordinator(group)
                except GroupAuthorizationFailedError:
                    raise KafkaAccessError(
                        _acl_fix(settings, f"consumer group {group!r}")
                        + " or NEWSSTREAM_CONSUMER_GROUP"
                    ) from None
        finally:
            await admin.close()


async def check_stages(
    settings: Settings, topology: Topology, stages: Iterable[str], group: str | None
) -> None:
    """``check_connection`` for a process running ``stages``: the topics they read or write
    according to the topology, and the process's consumer group."""
    names = set(stages)
    topics = [t.name for t in topology if names & {*t.producers, *t.consumers}]
    await check_connection(settings, topics=topics, group=group)


@asynccontextmanager
async def kafka_errors(settings: Settings) -> AsyncIterator[None]:
    """Turn the authorization errors a client meets into KafkaAccessError (one clear line)."""
    try:
        yield
    except (TopicAuthorizationFailedError, GroupAuthorizationFailedError) as exc:
        raise KafkaAccessError(explain(exc, settings)) from None
