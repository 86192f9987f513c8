"""What a stage returns: an outcome (a counter label) and the messages to publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from streams.records import Record, SourceRef


@dataclass(frozen=True)
class Emit:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int | None = None  # None: the producer's partitioner picks by key

    @classmethod
    def record(cls, topic: str, key: str, record: Record) -> Emit:
        return cls(topic, key.encode(), record.to_json())


@dataclass(frozen=True)
class StageResult:
    outcome: str
    emits: list[Emit] = field(default_factory=list)


class Stage(Protocol):
    """A stage: one message in, a result out (or a StageError)."""

    name: str

    def __call__(self, key: bytes | None, value: bytes, origin: SourceRef) -> StageResult: ...
