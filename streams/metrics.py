"""Prometheus metrics of every newsstream process; names read like paths.

Every outcome a record can have is a label value of ``newsstream_records_total``, so the sum
over outcomes of a stage equals its input: nothing disappears without a counter. Labels are
bounded: stages, outcomes, reasons, desk topics, language buckets and configured source ids,
never URLs. docs/metrics.md lists every metric and what it answers. Dashboards
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

from streams.health import HEALTH

RECORDS = Counter("newsstream_records", "Records leaving a stage, by outcome", ["stage", "outcome"])
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
    "From fetch to durable storage in PostgreSQL, per source",
    ["source"],
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300),
)
FETCHES = Counter("newsstream_fetch", "Fetch attempts by outcome", ["outcome"])
FETCH_BLOCKED = Counter("newsstream_fetch_blocked", "Fetches refused by safety policy", ["reason"])
FETCH_BYTES = Counter("newsstream_fetch_bytes", "Body bytes received")
ROBOTS_FETCHES = Counter(
    "newsstream_fetch_robots", "robots.txt fetches (not in newsstream_fetch_total)", ["outcome"]
)
FETCH_SECONDS = Histogram(
    "newsstream_fetch_duration_seconds",
    "Fetch duration including redirects",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SINK_WRITES = Counter(
    "newsstream_sink_writes", "PostgreSQL writes by table and result", ["table", "result"]
)
ROUTED = Counter("newsstream_articles_routed", "Articles published per desk topic", ["topic"])
DEDUP_LATE_BANDS = Counter(
    "newsstream_dedup_late_bands",
    "Band verdicts an article was decided without (its gather timed out)",
)
CONSUMER_LAG = Gauge(
    "newsstream_consumer_lag", "Messages behind the end of a partition", ["topic", "partition"]
)
SKIPPED_OFFSETS = Counter(
    "newsstream_consumer_skipped_offsets_total",
    "Input offsets faust's consumer jumped over and acked as a gap (streams/app/consumer.py)",
    ["topic"],
)
REREAD_JUMPS = Counter(
    "newsstream_consumer_reread_jumps_total",
    "Input records that came beyond the offset due (a batch read before a seek): the partition"
    " was seeked back and read again instead of acking the jump (streams/app/consumer.py)",
    ["topic"],
)
COMMIT_HOLDS = Counter(
    "newsstream_consumer_commit_holds_total",
    "Commit attempts of an input partition held because its committed offset was not acked"
    " while later ones were (faust would commit past it; streams/app/consumer.py)",
    ["topic"],
)
IN_FLIGHT = Gauge(
    "newsstream_stage_in_flight_records",
    "Records of a stage whose outputs await the broker's acks (not yet committable)",
    ["stage"],
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
SOURCES_READ = Counter(
    "newsstream_sources_records_read",
    "Records read from news.sources (crawler, `newsstream sources`), by outcome",
    ["outcome"],  # source | tombstone | bad_key | not_json | not_a_source | key_mismatch
)

# --- Storage (the sink); counted when a row is written, so replays never count twice -------
SINK_BATCH_SIZE = Histogram(
    "newsstream_sink_batch_size",
    "Records per PostgreSQL transaction",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000),
)
SINK_WRITE_SECONDS = Histogram(
    "newsstream_sink_write_duration_seconds",
    "One batch transaction in PostgreSQL, from BEGIN to durable COMMIT",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
SINK_UP = Gauge("newsstream_sink_database_up", "1 while the sink holds a working connection")
BROKER_UP = Gauge("newsstream_kafka_up", "1 while this process can reach a Kafka bootstrap server")
BROKER_OUTAGE = Gauge(
    "newsstream_kafka_outage_seconds", "How long the current Kafka outage has lasted (0 if none)"
)
LOG_LINES_MUTED = Counter(
    "newsstream_kafka_log_lines_muted",
    "Kafka client log lines held back during a broker outage (summarised instead)",
    ["logger"],
)
ARTICLES_STORED = Counter(
    "newsstream_articles_stored",
    "New or revised articles stored, per desk topic (none: no topic) and language bucket",
    ["topic", "language"],
)
ARTICLES_BY_LANGUAGE = Counter(
    "newsstream_articles_stored_by_language",
    "New or revised articles stored, once each, by language bucket",
    ["language"],
)
DUPLICATES = Counter(
    "newsstream_duplicates", "Duplicate events stored, by kind (dedup reason)", ["kind"]
)
EXTRACTION = Counter(
    "newsstream_extraction",
    "Stored articles by metadata completeness (empty text never gets here: it is the "
    "no_content dead letter of the clean stage)",
    ["outcome"],
)
CLASSIFIER_CONFIDENCE = Histogram(
    "newsstream_classifier_confidence",
    "Score of each topic the classifier assigned, at storage",
    ["topic"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
RUBRIC_PRIORS = Counter(
    "newsstream_classify_rubric_priors",
    "Articles with a publisher rubric, by whether the rubric had a learned prior",
    ["kind"],  # learned | too_few (fewer than MIN_ARTICLES seen so far)
)
RUBRIC_BOOK_KEYS = Gauge(
    "newsstream_classify_rubric_book_keys", "(source, rubric) pairs this worker knows"
)
RUBRIC_RECORDS_READ = Counter(
    "newsstream_classify_rubric_records_read",
    "Records read back from news.rubrics into the rubric book, by outcome",
    ["outcome"],  # merged | other_group | malformed
)
FRESHNESS = Histogram(
    "newsstream_publication_to_storage_seconds",
    "Per source: from the article's publication time to its durable storage",
    ["source"],
    buckets=(30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600),
)
SOURCE_LAST_STORED = Gauge(
    "newsstream_source_last_stored_timestamp_seconds",
    "Unix time the last new or revised article of a source was stored",
    ["source"],
)

# --- Stories (docs/stories.md) -------------------------------------------------------------
STORIES_ASSIGNED = Counter(
    "newsstream_stories_assigned",
    "Articles given a story, by how: new story, linked to one, translation, redelivered",
    ["outcome"],  # new | linked | translation | redelivered
)
STORIES_UPDATED = Counter(
    "newsstream_stories_updated", "Story summaries published with a new revision (>= 2)"
)
STORY_ARTICLES = Histogram(
    "newsstream_story_articles",
    "Articles per story, observed once per story when it leaves the time window (closed)",
    buckets=(1, 2, 3, 5, 8, 13, 21, 34, 55, 100, 200, 500),
)
STORY_ASSIGN_SECONDS = Histogram(
    "newsstream_stories_assign_seconds",
    "Time of one assignment (features, candidates, scores, state and tables), per article",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
STORY_STATE = Gauge(
    "newsstream_stories_state",
    "Size of the story stage's window: articles, open stories, candidate keys",
    ["what"],  # articles | stories | keys
)
STORY_TOP = Gauge(
    "newsstream_story_top_articles",
    "Articles of the biggest stories seen in the last hours (at most 10 series at a time;"
    " a story leaving the top 10 loses its series)",
    ["rank", "story_id", "headline"],
)

# --- Crawler replicas (news.crawl.frontier partitions by host) ----------------------------
CRAWL_FRONTIER_SIZE = Gauge(
    "newsstream_crawl_frontier_size",
    "Frontier URLs not yet done on a partition this replica owns (end offset - committed)",
    ["partition"],
)
CRAWL_FRONTIER_AGE = Gauge(
    "newsstream_crawl_frontier_oldest_age_seconds",
    "Age of the oldest frontier URL this replica holds and has not finished, per partition",
    ["partition"],
)
CRAWL_HOSTS_OWNED = Gauge(
    "newsstream_crawl_hosts_owned", "Hosts this replica owns that it knows of (state or work)"
)
CRAWL_HOST_GAP = Histogram(
    "newsstream_crawl_host_fetch_gap_seconds",
    "Time between two request starts to the same host (this replica's view)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
CRAWL_BUDGET_RATIO = Gauge(
    "newsstream_crawl_politeness_budget_ratio",
    "Max over hosts of requests in the last minute / requests its delay allows (<= 1 polite)",
)
CRAWL_HOSTS_STARVED = Gauge(
    "newsstream_crawl_hosts_starved",
    "Hosts with frontier URLs waiting and no request for more than 10 times their delay",
)
CRAWL_REBALANCES = Counter(
    "newsstream_crawl_rebalances", "Frontier partition assignments this replica received"
)
CRAWL_BACKPRESSURE = Gauge(
    "newsstream_crawl_backpressure",
    "1 while crawling is paused because news.raw lags (too many or too old records)",
)
CRAWL_RAW_LAG = Gauge(
    "newsstream_crawl_raw_lag", "Records of news.raw the workers have not committed yet"
)
CRAWL_RAW_AGE = Gauge(
    "newsstream_crawl_raw_unprocessed_age_seconds",
    "Age of the oldest news.raw record the workers have not committed, per partition",
    ["partition"],
)
CRAWL_RAW_RETENTION = Gauge(
    "newsstream_crawl_raw_retention_seconds",
    "retention.ms of news.raw in the topology, in seconds (-1: kept for ever)",
)
CRAWL_RAW_DELETED = Gauge(
    "newsstream_crawl_raw_deleted_unprocessed",
    "news.raw records retention deleted before the workers committed them (last measurement)",
    ["partition"],
)
CRAWL_STATE_RECORDS = Counter(
    "newsstream_crawl_state_records",
    "news.crawl.state records written or restored, by entry and what happened",
    ["entry", "action"],  # entry: seen|source|robots|backoff; action: written|restored|expired
)
CRAWL_FRONTIER_ITEMS = Counter(
    "newsstream_crawl_frontier_items",
    "Frontier records by what the owner did with them",
    ["outcome"],  # sent | fetched | seen | failed | retried | malformed
)

# Language label values: the pipeline's languages plus a few neighbours; anything else is
# "other" so a misdetection can never mint a new series.
LANGUAGE_LABELS = frozenset({"uk", "ru", "en", "pl", "de", "fr", "be", "ro"})


def language_label(language: str | None) -> str:
    if not language:
        return "unknown"
    return language if language in LANGUAGE_LABELS else "other"


def _send(handler: BaseHTTPRequestHandler, code: int, body: bytes, ctype: str) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            _send(self, 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            return
        if path in ("/healthz", "/livez"):
            ok, lines = HEALTH.liveness()
        elif path == "/readyz":
            ok, lines = HEALTH.readiness()
        else:
            self.send_error(404)
            return
        text = "\n".join(["ok" if ok else "failing", *lines]) + "\n"
        _send(self, 200 if ok else 503, text.encode(), "text/plain; charset=utf-8")

    def log_message(self, format: str, *args: object) -> None:
        """Scrapes every 15 s and probes every few seconds would drown the logs."""


def serve_metrics(host: str, port: int, pending: tuple[str, ...] = ()) -> ThreadingHTTPServer:
    """Serve /metrics, /healthz (liveness) and /readyz (readiness) from a daemon thread;
    port 0 picks a free one. ``pending`` components are not ready until they say so, so a
    probe that comes before they start cannot see a process with nothing registered as ready."""
    for component in pending:
        HEALTH.set_ready(component, False, "starting")
    server = ThreadingHTTPServer((host, port), _Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
