"""Liveness and readiness of a newsstream process, served next to ``/metrics``.

* ``/healthz`` (liveness): the process answers and none of its loops has missed its heartbeat
  for longer than its deadline. A failing liveness probe means "restart me".
* ``/readyz`` (readiness): every component that registered a check reports ready (the sink is
  connected to PostgreSQL, a worker has its Kafka assignment). Not ready means "do not count on
  me now", never "restart me": PostgreSQL being down must not make Kubernetes kill the sink,
  which is waiting to catch up.

Components register by name; a process with nothing registered is ready and alive as long as it
answers, which is right for short commands and the faust worker before it starts.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

__all__ = ["HEALTH", "Health", "heartbeat_forever"]


@dataclass
class Health:
    _ready: dict[str, tuple[bool, str]] = field(default_factory=dict)
    _beats: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_ready(self, component: str, ready: bool, why: str = "") -> None:
        with self._lock:
            self._ready[component] = (ready, why)

    def beat(self, component: str, deadline_s: float = 120.0) -> None:
        """Record that ``component``'s loop is turning; liveness fails after ``deadline_s``."""
        with self._lock:
            self._beats[component] = (time.monotonic(), deadline_s)

    def forget(self, component: str) -> None:
        with self._lock:
            self._ready.pop(component, None)
            self._beats.pop(component, None)

    def readiness(self) -> tuple[bool, list[str]]:
        with self._lock:
            items = sorted(self._ready.items())
        lines = [
            f"{name}: {'ready' if ok else 'not ready'} {why}".rstrip() for name, (ok, why) in items
        ]
        return all(ok for _, (ok, _) in items), lines

    def liveness(self) -> tuple[bool, list[str]]:
        now = time.monotonic()
        with self._lock:
            items = sorted(self._beats.items())
        lines, alive = [], True
        for name, (last, deadline) in items:
            age = now - last
            stuck = age > deadline
            alive = alive and not stuck
            lines.append(f"{name}: last heartbeat {age:.0f}s ago{' (stuck)' if stuck else ''}")
        return alive, lines


# One per process: the HTTP thread reads it, the asyncio loops write it.
HEALTH = Health()


async def heartbeat_forever(
    component: str, interval_s: float = 10.0, deadline_s: float = 120.0
) -> None:
    """Beat while the asyncio loop turns: a loop blocked by a runaway call stops beating, and
    liveness fails once ``deadline_s`` passes. Cancel the task to stop (it forgets itself)."""
    try:
        while True:
            HEALTH.beat(component, deadline_s)
            await asyncio.sleep(interval_s)
    finally:
        HEALTH.forget(component)
