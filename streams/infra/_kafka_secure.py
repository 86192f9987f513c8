"""What makes the local broker a secure one (``newsstream kafka up --secure``).

Clients meet a SASL_SSL listener: TLS with a certificate from the project's own CA, then
SCRAM-SHA-512 as one of the users in ``USERS``; and a mutual-TLS listener where the same user
is the CN of its client certificate (for clients whose SCRAM does not work with Kafka 4, such as
librdkafka before 2.6.1, Debian 12's kcat among them). The KRaft StandardAuthorizer refuses
anything an ACL does not allow; ``admin`` is the only super user clients can log in as. The
controller listener (loopback only) takes SASL/PLAIN with a static ``controller`` user, because
KRaft keeps SCRAM credentials in the metadata log, which the controller must read before it can
check any.

Files, under the broker's state dir (secrets 0600)::

    tls/ca.pem, tls/ca.key      the CA (clients trust ca.pem)
    tls/broker.pem              broker key + certificate chain, SAN localhost and 127.0.0.1
    users/<name>.password       one SCRAM password per user (usable as *_PASSWORD_FILE)
    users/<name>.pem            key + client certificate of the user (CN=<name>), for mTLS
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.infra import _tls

USERS = ("admin", "crawler", "worker", "sink")
ADMIN = "admin"
MECHANISM = "SCRAM-SHA-512"
PROTOCOL = "SASL_SSL"
_CONTROLLER_USER = "controller"
HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class SecureFiles:
    home: Path

    @property
    def ca_cert(self) -> Path:
        return self.home / "tls" / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.home / "tls" / "ca.key"

    @property
    def broker_pem(self) -> Path:
        return self.home / "tls" / "broker.pem"

    def password_file(self, user: str) -> Path:
        return self.home / "users" / f"{user}.password"

    def client_pem(self, user: str) -> Path:
        return self.home / "users" / f"{user}.pem"

    def password(self, user: str) -> str:
        return self.password_file(user).read_text(encoding="utf-8").strip()

    def prepare(self) -> None:
        """Create what is missing: CA, broker certificate, one password per user."""
        if not self.ca_cert.is_file() or not self.ca_key.is_file():
            _tls.make_ca(self.ca_cert, self.ca_key)
            self.broker_pem.unlink(missing_ok=True)  # signed by a CA that is gone
        if not self.broker_pem.is_file():
            _tls.make_server_cert(self.ca_cert, self.ca_key, self.broker_pem, HOSTS)
        for user in (*USERS, _CONTROLLER_USER):
            if not self.password_file(user).is_file():
                # URL-safe characters only: --add-scram and JAAS parse them without quoting.
                _tls.write_private(self.password_file(user), secrets.token_urlsafe(24).encode())
        for user in USERS:
            if not self.client_pem(user).is_file():
                _tls.make_server_cert(self.ca_cert, self.ca_key, self.client_pem(user), (user,))

    def scram_format_args(self) -> list[str]:
        """StorageTool arguments that create every SCRAM user when storage is formatted."""
        args = []
        for user in USERS:
            args += ["--add-scram", f"{MECHANISM}=[name={user},password={self.password(user)}]"]
        return args

    def server_settings(
        self, host: str, port: int, controller_port: int, mtls_port: int
    ) -> dict[str, object]:
        """server.properties entries that replace the plaintext listener."""
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        ctl = self.password(_CONTROLLER_USER)
        listeners = (
            f"{PROTOCOL}://{host}:{port},MTLS://{host}:{mtls_port},"
            f"CONTROLLER://{host}:{controller_port}"
        )
        return {
            "listeners": listeners,
            "advertised.listeners": listeners,
            "inter.broker.listener.name": PROTOCOL,
            "listener.security.protocol.map": (
                f"{PROTOCOL}:{PROTOCOL},MTLS:SSL,CONTROLLER:SASL_PLAINTEXT"
            ),
            "listener.name.mtls.ssl.client.auth": "required",
            # The principal of a client certificate "CN=sink,O=newsstream local" is User:sink.
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),.*$/$1/,DEFAULT",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            f"listener.name.{PROTOCOL.lower()}.{MECHANISM.lower()}.sasl.jaas.config": (
                f'{scram} required username="{ADMIN}" password="{self.password(ADMIN)}";'
            ),
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": (
                f'{plain} required username="{_CONTROLLER_USER}" password="{ctl}"'
                f' user_{_CONTROLLER_USER}="{ctl}";'
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.broker_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca_cert),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{ADMIN};User:{_CONTROLLER_USER}",
        }

    def client_env(self, user: str, bootstrap: str, *, mtls: bool = False) -> dict[str, str]:
        """The NEWSSTREAM_KAFKA_* settings of a client logging in as ``user`` with SCRAM, or
        with its client certificate (``mtls``; ``bootstrap`` is then the mTLS listener's)."""
        if user not in USERS:
            raise KeyError(f"no user {user!r} on the secure broker; users: {', '.join(USERS)}")
        if mtls:
            return {
                "NEWSSTREAM_KAFKA_BOOTSTRAP": bootstrap,
                "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": "SSL",
                "NEWSSTREAM_KAFKA_SSL_CAFILE": str(self.ca_cert),
                "NEWSSTREAM_KAFKA_SSL_CERTFILE": str(self.client_pem(user)),
                "NEWSSTREAM_KAFKA_SSL_KEYFILE": str(self.client_pem(user)),
            }
        return {
            "NEWSSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "NEWSSTREAM_KAFKA_SECURITY_PROTOCOL": PROTOCOL,
            "NEWSSTREAM_KAFKA_SASL_MECHANISM": MECHANISM,
            "NEWSSTREAM_KAFKA_SASL_USERNAME": user,
            "NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE": str(self.password_file(user)),
            "NEWSSTREAM_KAFKA_SSL_CAFILE": str(self.ca_cert),
        }

    def admin_client_kwargs(self) -> Mapping[str, Any]:
        """aiokafka arguments (less bootstrap) for the broker's own start-up probe, as admin."""
        return {
            "security_protocol": PROTOCOL,
            "ssl_context": ssl.create_default_context(cafile=str(self.ca_cert)),
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": ADMIN,
            "sasl_plain_password": self.password(ADMIN),
        }
