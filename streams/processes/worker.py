"""`newsstream worker`: check the topics, serve /metrics, run the faust agents."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import faust

from streams.app.faust_app import create_app
from streams.health import HEALTH, heartbeat_forever
from streams.kafka.admin import check_topics
from streams.kafka.outage import BrokerWatch
from streams.kafka.probe import check_stages
from streams.logs import logging_dict
from streams.metrics import serve_metrics
from streams.settings import Settings
from streams.topology import Topology

log = logging.getLogger(__name__)


def run_worker(settings: Settings, topology: Topology, stages: Iterable[str]) -> None:
    """Run until SIGINT/SIGTERM. Refuses to start (TopologyError) on mismatched topics."""
    # One clear line (KafkaAccessError) for a refused login, an untrusted certificate or a
    # missing ACL, instead of a client retrying what cannot succeed.
    rows = [row.stage for row in topology.stages if row.group in set(stages)]
    asyncio.run(check_stages(settings, topology, rows, settings.consumer_group))
    asyncio.run(check_topics(settings, topology, create=True))
    server = serve_metrics(settings.metrics_host, settings.metrics_port, pending=("worker",))
    log.info("metrics on http://%s:%d/metrics", *server.server_address[:2])
    # asyncio.run() above leaves no current loop; faust expects one to exist.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # faust creates its data dir without parents: a fresh state dir would stop the worker.
    (settings.state_dir / "faust").mkdir(parents=True, exist_ok=True)
    app = create_app(settings, topology, stages)
    _report_health(app, settings.bootstrap())
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        redirect_stdouts=False,
        # Our format (text or JSON lines) for faust's records too, and its chatter at WARNING.
        logging_config=logging_dict(settings.log_level, settings.log_format),
    )
    worker.execute_from_commandline()


def _report_health(app: faust.App, bootstrap: str) -> None:
    """/readyz: ready once the group has assigned this worker its partitions (none is fine: an
    idle standby is healthy) and while the broker answers (streams/kafka/outage.py). /healthz:
    a task on the worker's loop keeps beating."""
    HEALTH.set_ready("worker", False, "joining the consumer group")

    def assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        tps = kwargs.get("assigned", args[0] if args else ())
        HEALTH.set_ready("worker", True, f"{len(tps)} partitions assigned")

    async def beat() -> None:
        await heartbeat_forever("worker")

    broker_watch = BrokerWatch(bootstrap)  # registers "kafka: not ready" before faust starts

    async def watch_broker() -> None:
        await broker_watch.run_forever()

    app.on_partitions_assigned.connect(assigned)
    app.task(beat)
    app.task(watch_broker)
