"""Prometheus metrics of every newsstream process; names read like paths.

Every outcome a record can have is a label value of ``newsstream_records_total``, so the sum
over outcomes of a stage equals its input: nothing disappears without a counter. Dashboards
(deploy/grafana) and alert rules (deploy/prometheus) use exactly these names; a test checks it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

RECORDS = Counter(
    "newsstream_records", "Records leaving a stage, by outcome", ["stage", "outcome"]
)
DEAD_LETTERS = Counter(
    "newsstream_dead_letters", "Records sent to news.dlq, by stage and reason", ["stage", "reason"]
)
STAGE_SECONDS = Histogram(
    "newsstream_stage_duration_seconds",
    "Time spent in a stage function per record",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
END_TO_END = Histogram(
    "newsstream_end_to_end_latency_seconds",
    "From fetch to durable storage in PostgreSQL",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300),
)
FETCHES = Counter("newsstream_fetch", "Fetch attempts by outcome", ["outcome"])
FETCH_BLOCKED = Counter("newsstream_fetch_blocked", "Fetches refused by safety policy", ["reason"])
FETCH_BYTES = Counter("newsstream_fetch_bytes", "Body bytes received")
FETCH_SECONDS = Histogram(
    "newsstream_fetch_duration_seconds",
    "Fetch duration including redirects",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SINK_WRITES = Counter(
    "newsstream_sink_writes", "PostgreSQL writes by table and result", ["table", "result"]
)
ROUTED = Counter("newsstream_articles_routed", "Articles published per desk topic", ["topic"])
CONSUMER_LAG = Gauge(
    "newsstream_consumer_lag", "Messages behind the end of a partition", ["topic", "partition"]
)
LAST_RECORD = Gauge(
    "newsstream_last_record_timestamp_seconds", "Unix time of the last record", ["stage"]
)
SOURCE_FRESHNESS = Gauge(
    "newsstream_source_freshness_seconds", "Publication to fetch delay, last item", ["source"]
)
FETCH_STATUS = Counter(
    "newsstream_fetch_status", "Fetch attempts by final HTTP status code", ["code"]
)
FETCH_RETRIES = Counter(
    "newsstream_fetch_retries", "Fetches retried after a transient failure", ["reason"]
)
HOST_PAUSES = Counter(
    "newsstream_host_pauses", "Hosts paused after 429/503 (Retry-After honoured)", ["status"]
)
CRAWL_ITEMS = Counter(
    "newsstream_crawl_items",
    "Items listed by feeds/sitemaps/sections, by what the crawler did with them",
    ["outcome"],
)
SOURCE_FAILURES = Counter(
    "newsstream_source_failures", "Failed polls of a feed/sitemap/section", ["source"]
)
SOURCE_DEAD = Gauge(
    "newsstream_source_dead", "1 while a source has failed repeatedly and is backed off", ["source"]
)
SOURCE_INTERVAL = Gauge(
    "newsstream_source_poll_interval_seconds", "Current adaptive re-poll interval", ["source"]
)
REPLAYED = Counter(
    "newsstream_replay_pages", "Saved pages read by `newsstream replay`, by outcome", ["outcome"]
)

METRIC_NAMES = frozenset(
    {
        "newsstream_records_total",
        "newsstream_dead_letters_total",
        "newsstream_stage_duration_seconds",
        "newsstream_end_to_end_latency_seconds",
        "newsstream_fetch_total",
        "newsstream_fetch_blocked_total",
        "newsstream_fetch_bytes_total",
        "newsstream_fetch_duration_seconds",
        "newsstream_sink_writes_total",
        "newsstream_articles_routed_total",
        "newsstream_consumer_lag",
        "newsstream_last_record_timestamp_seconds",
        "newsstream_source_freshness_seconds",
        "newsstream_fetch_status_total",
        "newsstream_fetch_retries_total",
        "newsstream_host_pauses_total",
        "newsstream_crawl_items_total",
        "newsstream_source_failures_total",
        "newsstream_source_dead",
        "newsstream_source_poll_interval_seconds",
        "newsstream_replay_pages_total",
    }
)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/metrics"):
            body, ctype = generate_latest(REGISTRY), CONTENT_TYPE_LATEST
        elif self.path.startswith("/healthz"):
            body, ctype = b"ok\n", "text/plain"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every 15 s would drown the logs."""


def serve_metrics(host: str, port: int) -> ThreadingHTTPServer:
    """Serve /metrics and /healthz from a daemon thread; port 0 picks a free one."""
    server = ThreadingHTTPServer((host, port), _Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
