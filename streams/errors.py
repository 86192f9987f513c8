"""The exception tree of newsstream.

    NewsstreamError                 base of every error raised on purpose
    ├── ConfigError                 settings, sources or taxonomy are invalid (says which key)
    ├── TopologyError               a topic is missing or its partition count differs
    ├── KafkaAccessError            the broker refuses us: TLS, login or ACL (says which setting)
    └── StageError                  one record could not be processed by a stage
        ├── MalformedRecord         bytes on a topic are not a valid record (JSON / schema)
        └── ExtractionFailed        a page yielded no usable article

Stage errors never escape a worker: the agent shell turns them into DeadLetter records
on ``news.dlq`` carrying ``reason`` (the ``reason`` attribute below), the message and the
original topic/partition/offset.
"""

from __future__ import annotations


class NewsstreamError(Exception):
    """Base class of every error newsstream raises on purpose."""


class ConfigError(NewsstreamError):
    """Invalid configuration; the message names the key and the fix."""


class TopologyError(NewsstreamError):
    """The broker's topics do not match ``streams.topology``."""


class KafkaAccessError(NewsstreamError):
    """The broker cannot be reached or refuses this client; the message names the cause and
    the setting to fix. Raised once, instead of retrying what cannot succeed."""


class StageError(NewsstreamError):
    """A record could not be processed; ``reason`` is a short, countable code."""

    reason = "stage_error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class MalformedRecord(StageError):
    """Bytes on a topic are not valid JSON or do not match the record's schema."""

    reason = "malformed"


class ExtractionFailed(StageError):
    """The page decoded but contained no article text."""

    reason = "no_content"
