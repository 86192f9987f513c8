"""`newsstream worker`: check the topics, serve /metrics, run the faust agents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import faust

from streams.app.faust_app import create_app
from streams.kafka.admin import check_topics
from streams.metrics import serve_metrics
from streams.settings import Settings
from streams.topology import Topology

log = logging.getLogger(__name__)


def run_worker(settings: Settings, topology: Topology, stages: Iterable[str]) -> None:
    """Run until SIGINT/SIGTERM. Refuses to start (TopologyError) on mismatched topics."""
    asyncio.run(check_topics(settings.bootstrap(), topology, create=True))
    server = serve_metrics(settings.metrics_host, settings.metrics_port)
    log.info("metrics on http://%s:%d/metrics", *server.server_address[:2])
    # asyncio.run() above leaves no current loop; faust expects one to exist.
    asyncio.set_event_loop(asyncio.new_event_loop())
    app = create_app(settings, topology, stages)
    worker = faust.Worker(app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()
