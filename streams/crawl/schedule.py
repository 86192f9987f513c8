"""When to poll each feed, sitemap or section page again.

The interval adapts to the source: a poll that finds new items halves it (down to
``min_interval_s``), a poll that finds nothing (or gets 304 Not Modified) stretches it by half
(up to ``max_interval_s``). A busy wire feed converges on the minimum, a weekly column on the
maximum, and neither needs hand tuning.

A poll that fails (network error, timeout, 4xx/5xx, unparsable document) doubles the wait per
consecutive failure, up to ``dead_interval_s``. After ``dead_after`` failures in a row the
source is reported dead (an error log and ``newsstream_source_dead{source}`` = 1) and is then
only probed at ``dead_interval_s``; one good poll brings it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streams.metrics import SOURCE_DEAD, SOURCE_FAILURES, SOURCE_INTERVAL

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleConfig:
    initial_interval_s: float = 300.0
    min_interval_s: float = 60.0
    max_interval_s: float = 3600.0
    dead_after: int = 5
    dead_interval_s: float = 6 * 3600.0
    shrink: float = 0.5
    grow: float = 1.5


@dataclass
class SourceState:
    interval_s: float
    min_s: float
    max_s: float
    next_due: float = 0.0  # due at once on start
    failures: int = 0
    dead: bool = False


class SourceSchedule:
    """Adaptive poll times per source id; time is the caller's (monotonic) clock."""

    def __init__(self, config: ScheduleConfig | None = None) -> None:
        self.config = config if config is not None else ScheduleConfig()
        self._states: dict[str, SourceState] = {}

    def state(self, source_id: str) -> SourceState:
        st = self._states.get(source_id)
        if st is None:
            c = self.config
            start = min(max(c.initial_interval_s, c.min_interval_s), c.max_interval_s)
            st = self._states[source_id] = SourceState(start, c.min_interval_s, c.max_interval_s)
        return st

    def set_bounds(self, source_id: str, min_s: float | None, max_s: float | None) -> None:
        """Per-source floor and cap (from the sources file) instead of the defaults."""
        st = self.state(source_id)
        st.min_s = min_s if min_s is not None else st.min_s
        st.max_s = max(max_s if max_s is not None else st.max_s, st.min_s)
        st.interval_s = min(max(st.interval_s, st.min_s), st.max_s)

    def due(self, source_ids: list[str], now: float) -> list[str]:
        return [s for s in source_ids if self.state(s).next_due <= now]

    def next_wakeup(self, source_ids: list[str], now: float) -> float:
        """Seconds until the first source is due (0 when one is due already)."""
        if not source_ids:
            return self.config.max_interval_s
        return max(0.0, min(self.state(s).next_due for s in source_ids) - now)

    def succeeded(self, source_id: str, new_items: int, now: float) -> float:
        """Record a good poll (200 or 304); return the next interval."""
        c, st = self.config, self.state(source_id)
        if st.dead:
            log.warning("source %s is back after %d failed polls", source_id, st.failures)
        st.failures, st.dead = 0, False
        SOURCE_DEAD.labels(source_id).set(0)
        factor = c.shrink if new_items > 0 else c.grow
        st.interval_s = min(max(st.interval_s * factor, st.min_s), st.max_s)
        return self._book(source_id, st, st.interval_s, now)

    def failed(self, source_id: str, reason: str, now: float) -> float:
        """Record a failed poll; return the wait before the next attempt."""
        c, st = self.config, self.state(source_id)
        st.failures += 1
        SOURCE_FAILURES.labels(source_id).inc()
        wait = min(st.interval_s * 2 ** min(st.failures, 16), c.dead_interval_s)
        if st.failures >= c.dead_after:
            if not st.dead:
                log.error(
                    "source %s looks dead: %d failed polls in a row (last: %s); probing every "
                    "%.0fs",
                    source_id,
                    st.failures,
                    reason,
                    c.dead_interval_s,
                )
            st.dead = True
            SOURCE_DEAD.labels(source_id).set(1)
            wait = c.dead_interval_s
        else:
            log.warning("source %s poll failed (%s); retry in %.0fs", source_id, reason, wait)
        return self._book(source_id, st, wait, now)

    def export(self, source_id: str, now: float, wall: float) -> dict[str, object]:
        """One source's state as JSON, its next poll as wall-clock time (``now`` is the
        schedule's clock, ``wall`` the Unix time at the same instant)."""
        st = self.state(source_id)
        return {
            "interval_s": st.interval_s,
            "failures": st.failures,
            "dead": st.dead,
            "next_due": wall + (st.next_due - now),
        }

    def restore(self, source_id: str, data: dict[str, object], now: float, wall: float) -> None:
        """Put back what :meth:`export` gave, on this process's clock."""
        st = self.state(source_id)
        st.interval_s = min(max(float(data["interval_s"]), st.min_s), st.max_s)  # type: ignore[arg-type]
        st.failures = int(data["failures"])  # type: ignore[call-overload]
        st.dead = bool(data["dead"])
        st.next_due = now + (float(data["next_due"]) - wall)  # type: ignore[arg-type]

    def forget(self, source_id: str) -> None:
        self._states.pop(source_id, None)

    def _book(self, source_id: str, st: SourceState, wait: float, now: float) -> float:
        st.next_due = now + wait
        SOURCE_INTERVAL.labels(source_id).set(wait)
        return wait
