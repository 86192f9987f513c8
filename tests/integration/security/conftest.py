"""The secure local broker, started the way an operator does: `newsstream kafka up --secure`.

Its state dir and ports are the test session's own; a failure to start fails the tests with
the command's output rather than skipping them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.infra._process import free_ports
from streams.infra.kafka_local import LocalKafka, LocalKafkaConfig
from streams.kafka.security import client_settings
from streams.settings import Settings, load_settings

# The console script installed beside this interpreter (`pip install -e .`).
NEWSSTREAM = str(Path(sys.executable).with_name("newsstream"))


@dataclass(frozen=True)
class SecureBroker:
    env: dict[str, str]  # NEWSSTREAM_* of the CLI that runs this broker
    broker: LocalKafka

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    def cli(
        self, *args: str, extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [NEWSSTREAM, *args],
            env={**os.environ, **self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def user_env(self, user: str, *flags: str) -> dict[str, str]:
        """What `newsstream kafka env --user USER [FLAGS]` prints, as a dict."""
        done = self.cli("kafka", "env", "--user", user, *flags)
        assert done.returncode == 0, done.stderr
        out = {}
        for line in done.stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            out[name] = value
        return out

    def settings(self, user: str, *flags: str, **overrides: object) -> Settings:
        base = load_settings(state_dir=self.env["NEWSSTREAM_STATE_DIR"])
        return client_settings(base, self.user_env(user, *flags)).model_copy(update=overrides)


@pytest.fixture(scope="session")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    state = tmp_path_factory.mktemp("secure-state")
    port, controller_port, mtls_port = free_ports(3)
    env = {
        "NEWSSTREAM_STATE_DIR": str(state),
        "NEWSSTREAM_KAFKA_LOCAL_SECURE_PORT": str(port),
        "NEWSSTREAM_KAFKA_LOCAL_SECURE_CONTROLLER_PORT": str(controller_port),
        "NEWSSTREAM_KAFKA_LOCAL_SECURE_MTLS_PORT": str(mtls_port),
    }
    broker = LocalKafka(
        LocalKafkaConfig(
            home=state / "kafka-secure",
            port=port,
            controller_port=controller_port,
            secure=True,
            mtls_port=mtls_port,
        )
    )
    secure = SecureBroker(env, broker)
    try:
        done = secure.cli("kafka", "up", "--secure")
        if done.returncode != 0:
            pytest.fail(f"`newsstream kafka up --secure` failed:\n{done.stdout}\n{done.stderr}")
        yield secure
    finally:
        broker.down(timeout_s=10)
