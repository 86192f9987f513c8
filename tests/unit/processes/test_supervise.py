"""`newsstream run` restarts a child that dies, with backoff, and gives up past a limit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streams.processes import run
from streams.processes.run import CHILD_RESTARTS, Child, supervise


def fake_spawn(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    # A child that dies at once with the exit code given as its one argument.
    return subprocess.Popen([sys.executable, "-c", f"raise SystemExit({args[0]})"])


def test_a_dead_child_is_restarted_with_growing_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "_spawn", fake_spawn)
    child = Child("worker", ["3"], 0)
    child.start({})
    assert child.proc is not None
    child.proc.wait()
    assert child.died(now=child.started + 1) is None
    assert child.restart_at == child.started + 2  # 1 s backoff
    assert child.backoff_s == 2
    child.start({})
    assert child.proc is not None
    child.proc.wait()
    assert child.died(now=child.started + 1) is None
    assert child.restart_at == child.started + 3  # 2 s backoff
    # A child that ran for a minute before dying is healthy again: back to 1 s.
    child.start({})
    assert child.proc is not None
    child.proc.wait()
    assert child.died(now=child.started + 61) is None
    assert child.restart_at == child.started + 62


def test_crashing_past_the_limit_stops_everything_with_a_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(run, "_spawn", fake_spawn)
    monkeypatch.setattr(run, "BACKOFF_FIRST_S", 0.0)
    monkeypatch.setattr(run, "BACKOFF_MAX_S", 0.0)
    before = CHILD_RESTARTS.labels("sink")._value.get()
    child = Child("sink", ["7"], 0, backoff_s=0.0)
    child.start({})
    code = supervise([child], {}, stopping=lambda: False)
    assert code == 1
    assert CHILD_RESTARTS.labels("sink")._value.get() - before == run.MAX_CRASHES - 1
    assert any(
        "sink died 5 times" in r.getMessage() and "last exit code 7" in r.getMessage()
        for r in caplog.records
    )
