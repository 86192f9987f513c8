"""PostgreSQL over TLS: the embedded server with ssl=on and a generated CA, reached with libpq's
``sslmode=verify-full`` and ``sslrootcert`` by the sink's ``connect`` and by ``newsstream
articles``. What TLS refuses (another CA, another host name, a server without TLS, a plain
client of a TLS-only server) ends in one line naming the cause and the setting to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from streams.infra._process import free_ports
from streams.infra._tls import make_ca, make_server_cert
from streams.infra.postgres_local import EmbeddedPostgres
from streams.sinks.postgres import TRANSIENT_ERRORS, PostgresAccessError, connect

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    (port,) = free_ports(1)
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pgtls") / "data", port=port, tls=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that signed nothing the server presents."""
    home = tmp_path_factory.mktemp("other-ca")
    make_ca(home / "ca.crt", home / "ca.key")
    return home / "ca.crt"


def with_root(dsn: str, ca: Path, sslmode: str = "verify-full") -> str:
    base = dsn.split("?", 1)[0]
    return f"{base}?sslmode={sslmode}&sslrootcert={quote(str(ca))}"


def articles_cli(dsn: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"NEWSSTREAM_POSTGRES_DSN": dsn, "NEWSSTREAM_STATE_DIR": str(state)}
    cmd = [sys.executable, "-m", "streams", "articles", "search", "--limit", "1"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)


def assert_one_clear_line(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


async def test_sink_connects_with_verify_full(tls_server: EmbeddedPostgres) -> None:
    assert "sslmode=verify-full" in tls_server.dsn
    assert "sslrootcert=" in tls_server.dsn
    conn = await connect(tls_server.dsn)  # migrations run over TLS too
    try:
        row = await conn.fetchrow(
            "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        )
        assert row is not None
        assert row["ssl"] is True, row
        assert await conn.fetchval("SELECT count(*) FROM articles") == 0
    finally:
        await conn.close()


def test_server_key_is_private_to_the_server(tls_server: EmbeddedPostgres) -> None:
    key = tls_server.tls_dir / "server.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (tls_server.tls_dir / "ca.key").stat().st_mode & 0o777 == 0o600


def test_articles_command_over_tls(tls_server: EmbeddedPostgres, tmp_path: Path) -> None:
    done = articles_cli(tls_server.dsn, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "(0 articles)" in done.stderr


async def test_wrong_root_certificate_is_refused(
    tls_server: EmbeddedPostgres, other_ca: Path, tmp_path: Path
) -> None:
    dsn = with_root(tls_server.dsn, other_ca)
    with pytest.raises(PostgresAccessError, match=r"not trusted.*sslrootcert") as caught:
        await connect(dsn)
    assert "NEWSSTREAM_POSTGRES_DSN" in str(caught.value)
    # Not transient: the sink stops with the line instead of retrying it for ever.
    assert not isinstance(caught.value, TRANSIENT_ERRORS)
    assert_one_clear_line(articles_cli(dsn, tmp_path), "not trusted", "sslrootcert")


async def test_missing_root_certificate_is_named(
    tls_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.crt"
    with pytest.raises(PostgresAccessError, match=f"{missing}, the sslrootcert"):
        await connect(with_root(tls_server.dsn, missing))


async def test_plain_client_of_a_tls_only_server_is_refused(
    tls_server: EmbeddedPostgres,
) -> None:
    with pytest.raises(PostgresAccessError, match=r"TLS connections only.*sslmode=verify-full"):
        await connect(with_root(tls_server.dsn, tls_server.ca_file, sslmode="disable"))


async def test_plain_server_with_verify_full_is_refused(
    postgres_dsn: str, tls_server: EmbeddedPostgres, tmp_path: Path
) -> None:
    dsn = with_root(postgres_dsn, tls_server.ca_file)
    with pytest.raises(PostgresAccessError, match=r"does not offer TLS.*sslmode"):
        await connect(dsn)
    assert_one_clear_line(articles_cli(dsn, tmp_path), "does not offer TLS")


async def test_hostname_mismatch_is_refused(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    server = EmbeddedPostgres(tmp_path / "data", port=port, tls=True)
    # Certificates already in place are used as they are: this one names another host.
    ca_key = server.tls_dir / "ca.key"
    make_ca(server.ca_file, ca_key)
    make_server_cert(server.ca_file, ca_key, server.tls_dir / "server.pem", ("db.example.org",))
    try:
        server.start()
        with pytest.raises(PostgresAccessError, match="does not name the DSN's host"):
            await connect(server.dsn)
    finally:
        server.stop()
