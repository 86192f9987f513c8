"""Observability tests run a real sink on the session broker and PostgreSQL, so they share the
pipeline fixtures (a module-scoped consumer group and children stopped at the end)."""

from __future__ import annotations

from tests.integration.pipeline.conftest import spawn, stream_env, stream_settings, stream_topology

__all__ = ["spawn", "stream_env", "stream_settings", "stream_topology"]
