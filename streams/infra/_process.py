"""Process, pid-file and port helpers shared by the local services."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

_PROC = Path("/proc")


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on (host, port).

    Binding with SO_REUSEADDR (as the JVM and PostgreSQL do) ignores sockets left in TIME_WAIT
    by a server that just stopped, so a quick restart is not mistaken for a conflict.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Ports free right now on ``host``, distinct (all sockets are held until all are known):
    tests and benchmarks run their own broker, PostgreSQL and workers on them, so a
    developer's own servers on the default ports are never touched."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]


def stop_child(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it has not exited in ``timeout_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_children(procs: list[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> None:
    """Stop several children together: SIGTERM to all first (so they shut down in parallel,
    e.g. replicas handing partitions over), then wait for each, SIGKILL past ``timeout_s``."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        stop_child(proc, timeout_s)


def accepts_connections(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True when a TCP connection to (host, port) succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def proc_cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file``, or None when the file is missing or garbled."""
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def is_alive(pid: int) -> bool:
    """True when ``pid`` is a live (not zombie) process.

    If it is our own child that exited, reap it here: otherwise it stays a zombie, which
    ``kill(pid, 0)`` still reports as existing.
    """
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        # The state letter follows the parenthesised command name, which may contain spaces.
        state = (_PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
        if state not in ("Z", "X"):
            return True
        # Only the main thread is a zombie: a JVM shutting down lets its launcher thread exit
        # while the shutdown hooks still run in other threads. Gone only when no thread is left.
        return len(list((_PROC / str(pid) / "task").iterdir())) > 1
    except (OSError, IndexError):
        return True


def cmdline_contains(pid: int, needle: str) -> bool:
    """True when the command line of ``pid`` mentions ``needle``.

    Guards against a recycled pid: a pid file that outlived its broker may name an unrelated
    process. Without /proc (macOS) we cannot tell and assume it is ours.
    """
    path = _PROC / str(pid) / "cmdline"
    if not _PROC.is_dir():
        return True
    try:
        return needle in path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.1)
    return not is_alive(pid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except OSError as exc:  # pragma: no cover - only with foreign processes
        if exc.errno != errno.EPERM:
            raise


def stop_process_group(pid: int, timeout_s: float, name: str) -> None:
    """SIGTERM the process group led by ``pid``; SIGKILL it if it outlives ``timeout_s``.

    Our services are started with ``start_new_session=True``, so the pid is the group id and
    any helper processes they fork go down with them.
    """
    _signal_group(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout_s):
        log.info("%s (pid %d) stopped", name, pid)
    else:
        log.warning("%s (pid %d) ignored SIGTERM for %.0f s; killing it", name, pid, timeout_s)
        _signal_group(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)
    # Stragglers of the group (none expected) must not keep ports or locks.
    _signal_group(pid, signal.SIGKILL)


def tail(path: Path, lines: int, start: int = 0) -> str:
    """The last ``lines`` lines written to a text file after byte offset ``start``."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            # Only the end matters; a rolled 50 MB log need not be read whole.
            handle.seek(max(start, size - 256 * 1024) if start <= size else 0)
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])
