"""The one error raised by the local services in :mod:`streams.infra`."""

from __future__ import annotations

from streams.errors import NewsstreamError


class LocalServiceError(NewsstreamError, RuntimeError):
    """A local service (Kafka broker, embedded PostgreSQL) could not be fetched, started or stopped.

    The message says what failed and what to do about it, so the CLI can print it as it is.
    """
