"""One settings object: defaults < YAML file (``NEWSSTREAM_CONFIG``) < ``NEWSSTREAM_*`` env.

Every limit carries its unit in its name (``_bytes``, ``_s``, ``_ms``) and a description, which
``newsstream config show`` prints beside its value. Components are built from it by their
``from_settings`` constructors. With no broker and no DSN configured, newsstream starts its own
local Kafka and embedded PostgreSQL, so a fresh machine runs with ``make run`` alone.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from streams.errors import ConfigError

MIB = 1024 * 1024
# Headroom over the largest message (a dead letter) for the Kafka request envelope and the
# record-batch headers: a round margin, far above the few hundred bytes they take.
REQUEST_OVERHEAD_BYTES = 64 * 1024


def _state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "newsstream"


class Settings(BaseSettings):
    """Effective configuration of every newsstream process."""

    model_config = SettingsConfigDict(env_prefix="NEWSSTREAM_", extra="forbid", frozen=True)

    # --- Kafka -------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port list; unset = the project's local broker"
    )
    kafka_local_port: int = Field(
        default=19092,  # non-default so a developer's own Kafka on 9092 is untouched
        description="port of the local broker started when kafka_bootstrap is unset",
    )
    kafka_local_controller_port: int = Field(
        default=19093, description="KRaft controller port of the local broker"
    )
    kafka_local_heap: str = Field(default="512m", description="JVM heap of the local broker")
    kafka_local_secure_port: int = Field(
        default=19094, description="SASL_SSL port of `kafka up --secure` (its own state dir)"
    )
    kafka_local_secure_controller_port: int = Field(
        default=19095, description="KRaft controller port of `kafka up --secure`"
    )
    kafka_local_secure_mtls_port: int = Field(
        default=19096, description="mutual-TLS port of `kafka up --secure`"
    )
    kafka_local_cluster_port: int = Field(
        default=19192,
        description="first port of `kafka up --nodes N`: node i (1..N) takes this + 2(i-1) for"
        " clients and the port after it for its controller",
    )
    # Client security, named after the Kafka client properties (security.protocol, ...).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="security.protocol of every Kafka client"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="sasl.mechanism when the protocol is SASL_*"
    )
    kafka_sasl_username: str | None = Field(default=None, description="SASL user (principal)")
    kafka_sasl_password: SecretStr | None = Field(default=None, description="SASL password")
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="file holding the SASL password (a mounted Secret)"
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="PEM CA bundle for the broker's certificate; unset = system CAs"
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate for mutual TLS"
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="PEM key of kafka_ssl_certfile; unset = inside the certfile"
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        default=None, description="password of an encrypted kafka_ssl_keyfile"
    )
    kafka_ssl_key_password_file: Path | None = Field(
        default=None, description="file holding kafka_ssl_key_password (a mounted Secret)"
    )
    topic_partitions: int = Field(default=4, ge=1, description="partitions of stage topics")
    # Per environment: 1 on one broker; 3 and 2 on a cluster (`kafka up --nodes 3`, production),
    # so one broker can be lost without losing an acknowledged record or refusing writes.
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        description="copies of every partition on distinct brokers (topics create); at most the"
        " broker count",
    )
    topic_min_insync_replicas: int = Field(
        default=1,
        ge=1,
        description="min.insync.replicas of every topic: copies an acks=all write must reach, or"
        " it is refused (retried) rather than acknowledged",
    )
    topic_retention_ms: int = Field(
        default=7 * 24 * 3600 * 1000, description="retention of stage topics"
    )
    topic_max_message_bytes: int = Field(
        default=8 * MIB,  # a 5 MiB body is ~6.7 MiB once base64-encoded
        description="largest record on a stage topic; a larger page becomes a dead letter",
    )
    dlq_max_message_bytes: int = Field(
        default=16 * MIB,  # a dead letter carries the whole original message
        description="largest record on the dead-letter topic (it wraps a whole message)",
    )
    producer_linger_ms: int = Field(default=5, description="producer batching delay")
    producer_compression: str = Field(
        default="gzip", pattern="^(none|gzip)$", description="producer compression: none or gzip"
    )
    consumer_group: str = Field(
        default="newsstream", description="consumer group prefix of every process"
    )
    # faust's defaults; a crashed worker redoes at most this much of a partition, which the
    # idempotent stages absorb (streams/dedup/README.md).
    commit_every: int = Field(
        default=100, ge=1, description="stream workers commit offsets after this many records"
    )
    commit_interval_s: float = Field(
        default=1.0, gt=0, description="stream workers commit offsets at least this often"
    )
    # An agent goes on to its next record while the outputs of earlier ones are still being
    # acknowledged; each record is acked (and so committable) only once its own outputs and
    # every earlier record's are durable (streams/app/inflight.py). 1 = wait for each.
    max_in_flight: int = Field(
        default=256, ge=1, description="records per agent whose outputs may await broker acks"
    )
    # --- PostgreSQL --------------------------------------------------------------------
    postgres_dsn: SecretStr | None = Field(
        default=None, description="libpq DSN; unset = embedded PostgreSQL"
    )
    postgres_dsn_file: Path | None = Field(
        default=None, description="file holding postgres_dsn (a mounted Secret)"
    )
    postgres_embedded_port: int = Field(
        default=15432, description="port of the embedded PostgreSQL started when the DSN is unset"
    )
    # --- Processes ---------------------------------------------------------------------
    state_dir: Path = Field(
        default_factory=_state_home,
        description="local broker, embedded PostgreSQL and crawl state; default "
        "$XDG_STATE_HOME/newsstream",
    )
    metrics_host: str = Field(default="127.0.0.1", description="address of /metrics and probes")
    metrics_port: int = Field(
        default=9108,
        description="port of /metrics, /healthz, /readyz; each process of `run` takes the next "
        "free port after it",
    )
    log_level: str = Field(default="INFO", description="Python logging level")
    log_format: Literal["text", "json"] = Field(
        default="text", description="text for terminals, json (one object per line) for shippers"
    )
    # --- Crawler -----------------------------------------------------------------------
    sources_file: Path | None = Field(
        default=None, description="YAML list of sources; unset = streams/crawl/sources.yaml"
    )
    fetch_max_body_bytes: int = Field(
        default=5 * MIB, ge=1, description="cap on a response body, on the wire and decompressed"
    )
    fetch_connect_timeout_s: float = Field(default=5.0, gt=0, description="TCP+TLS connect")
    fetch_read_timeout_s: float = Field(
        default=10.0, gt=0, description="longest silence while reading a response"
    )
    fetch_total_timeout_s: float = Field(
        default=30.0, gt=0, description="one fetch, redirects included"
    )
    fetch_allow_cidrs: tuple[str, ...] = Field(
        default=(),
        description="networks exempt from the private/reserved address block (JSON list in env)",
    )
    fetch_max_redirects: int = Field(default=5, ge=0, description="redirects followed per fetch")
    fetch_user_agent: str = Field(
        default="newsstream/0.1 (+https://github.com/newsstream)",
        min_length=1,
        description="User-Agent header of every request",
    )
    fetch_accept_language: str = Field(
        default="uk,ru;q=0.9,en;q=0.8", description="Accept-Language header of every request"
    )
    fetch_max_connections: int = Field(
        default=200, ge=1, description="open connections of one crawler, all hosts together"
    )
    fetch_max_connections_per_host: int = Field(
        default=4, ge=1, description="open connections to one host"
    )
    crawl_poll_interval_s: float = Field(
        default=300.0, gt=0, description="first poll interval of a source (then adaptive)"
    )
    crawl_revisit_interval_s: float = Field(
        default=1800.0, gt=0, description="a young page is refetched (conditionally) after this"
    )
    crawl_max_in_flight: int = Field(
        default=256, ge=1, description="requests in flight over all hosts"
    )
    crawl_max_items_per_poll: int = Field(
        default=2000, ge=1, description="newest items of one listing fetched per poll"
    )
    crawl_max_child_sitemaps: int = Field(
        default=20, ge=0, description="newest children of a sitemap index read per poll"
    )
    # 12 splits evenly over 1, 2, 3, 4 and 6 replicas; replicas beyond it stay idle.
    crawl_partitions: int = Field(
        default=12,
        ge=1,
        description="partitions of news.crawl.frontier and news.crawl.state: the most crawler"
        " replicas that get work (hosts are spread over them)",
    )
    crawl_max_raw_lag: int = Field(
        default=100_000,
        ge=0,
        description="backpressure: crawling pauses while the workers' lag on news.raw is above"
        " this many records (0 = never pause)",
    )
    crawl_raw_lag_interval_s: float = Field(
        default=10.0, gt=0, description="how often the crawler measures the news.raw lag"
    )
    # Half: the workers keep the other half of the retention to catch up before Kafka could
    # delete a page they have not processed (NewsstreamRawNearRetention fires at 0.7).
    crawl_max_raw_age_fraction: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="backpressure: crawling also pauses while the oldest news.raw record the"
        " workers have not committed is older than this fraction of news.raw's retention"
        " (0 = never pause on age)",
    )
    crawl_max_pending: int = Field(
        default=5000,
        ge=1,
        description="frontier URLs one crawler replica holds in memory before it stops reading",
    )
    crawl_host_concurrency: int = Field(default=2, ge=1, description="requests to one host at once")
    crawl_host_min_delay_s: float = Field(
        default=1.0, ge=0, description="least time between request starts on one host"
    )
    crawl_max_retries: int = Field(default=3, ge=0, description="retries of a transient failure")
    crawl_backoff_base_s: float = Field(
        default=2.0, ge=0, description="first retry backoff (doubles, with jitter)"
    )
    crawl_backoff_max_s: float = Field(default=120.0, ge=0, description="longest retry backoff")
    crawl_max_retry_after_s: float = Field(
        default=300.0,
        ge=0,
        description="a longer Retry-After still pauses the host, but the request gives up",
    )
    crawl_default_pause_s: float = Field(
        default=30.0, ge=0, description="host pause on 429/503 without a usable Retry-After"
    )
    backfill_batch_pages: int = Field(
        default=200,  # large enough to batch on the wire, small enough to retry
        ge=1,
        description="pages per awaited producer batch of `replay`",
    )
    # --- Stages ------------------------------------------------------------------------
    dedup_window_s: int = Field(
        default=7 * 24 * 3600, description="how far back a duplicate is looked for"
    )
    # A timeout during a rebalance decides without the bands of the moving partitions (a copy
    # may be missed, never a wrong merge). 120 s was too long for the chaos test: after a worker
    # SIGKILL some band verdicts came more than 90 s late (a stalled partition, not explained).
    dedup_gather_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="an article whose bands have not all answered by then is decided without them",
    )
    classify_review_threshold: float = Field(
        default=0.35, description="an article whose best desk score is under it goes to review"
    )
    # Reports of one event come within days; the storylines were scored within 3 (docs/stories.md).
    stories_window_s: float = Field(
        default=3 * 24 * 3600.0,
        gt=0,
        description="a story with no article this recent (before the newest) is closed",
    )
    stories_top_hours: float = Field(
        default=6.0, gt=0, description="the biggest-stories gauge counts stories seen this recently"
    )
    # 1: a worker runs several stages and scales by processes; 2 threads measured slower than 1
    # on a shared 2-core machine (bench/classify.py).
    encoder_threads: int = Field(
        default=1, ge=1, le=64, description="threads of the sentence encoder in a worker"
    )
    # --- Sink --------------------------------------------------------------------------
    sink_batch_max_records: int = Field(
        default=500, ge=1, description="records per PostgreSQL transaction, at most"
    )
    sink_poll_timeout_ms: int = Field(
        default=500, ge=1, description="wait for a batch before checking health and stop"
    )
    sink_backoff_base_s: float = Field(
        default=0.5, gt=0, description="first retry delay while PostgreSQL is down (doubles)"
    )
    sink_backoff_max_s: float = Field(
        default=30.0, gt=0, description="longest retry delay while PostgreSQL is down"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file is layered under the environment by load_settings.
        return init_settings, env_settings

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        """``<secret>_file`` (e.g. a mounted Kubernetes Secret) fills ``<secret>`` with the
        file's text less a trailing newline; an unreadable file is reported by _check_files."""
        if not isinstance(data, dict):
            return data
        for name in cls.model_fields:
            path = data.get(f"{name}_file")
            if path is None:
                continue
            if data.get(name) is not None:
                raise ValueError(
                    f"set NEWSSTREAM_{name.upper()} or NEWSSTREAM_{name.upper()}_FILE, not both"
                )
            with contextlib.suppress(OSError):
                text = Path(path).read_text(encoding="utf-8")
                data = {**data, name: text.removesuffix("\n").removesuffix("\r")}
        return data

    @field_validator(
        "kafka_sasl_password_file",
        "kafka_ssl_key_password_file",
        "kafka_ssl_cafile",
        "kafka_ssl_certfile",
        "kafka_ssl_keyfile",
        "postgres_dsn_file",
    )
    @classmethod
    def _check_files(cls, path: Path | None) -> Path | None:
        if path is not None and not os.access(path, os.R_OK):
            raise ValueError(f"cannot read {path}: no such file, or not readable by this user")
        return path

    @model_validator(mode="after")
    def _check_replication(self) -> Settings:
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(
                f"NEWSSTREAM_TOPIC_MIN_INSYNC_REPLICAS={self.topic_min_insync_replicas} is more"
                f" than NEWSSTREAM_TOPIC_REPLICATION_FACTOR={self.topic_replication_factor}:"
                " every write would be refused"
            )
        return self

    @model_validator(mode="after")
    def _check_kafka_security(self) -> Settings:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_") and (
            not self.kafka_sasl_username or self.kafka_sasl_password is None
        ):
            raise ValueError(
                f"NEWSSTREAM_KAFKA_SECURITY_PROTOCOL={protocol} needs"
                " NEWSSTREAM_KAFKA_SASL_USERNAME and NEWSSTREAM_KAFKA_SASL_PASSWORD (or"
                " NEWSSTREAM_KAFKA_SASL_PASSWORD_FILE)"
            )
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError(
                "NEWSSTREAM_KAFKA_SSL_KEYFILE is set without NEWSSTREAM_KAFKA_SSL_CERTFILE"
            )
        return self

    @property
    def kafka_home(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def postgres_home(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def uses_local_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def max_request_bytes(self) -> int:
        """Largest Kafka request or fetch: a dead letter plus REQUEST_OVERHEAD_BYTES."""
        return self.dlq_max_message_bytes + REQUEST_OVERHEAD_BYTES

    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_local_port}"

    def masked(self) -> dict[str, Any]:
        """Effective settings for display; secrets are masked, paths are strings."""
        out = self.model_dump(mode="json")
        for name in out:
            if isinstance(getattr(self, name), SecretStr) and out[name] is not None:
                out[name] = "********"
        return out

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        """What each setting means, by name (every field has one; a test checks)."""
        return {name: f.description or "" for name, f in cls.model_fields.items()}


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings; a bad value raises ConfigError naming the key and the source.

    The file's values go in as init values minus those the environment sets, which gives
    defaults < file < env < ``overrides`` with no state shared between calls."""
    path = config_file or os.environ.get("NEWSSTREAM_CONFIG")
    yaml_file = Path(path) if path else None
    try:
        values = _file_values(yaml_file) if yaml_file is not None else {}
        for name in EnvSettingsSource(Settings)():
            values.pop(name, None)
        return Settings(**(values | overrides))
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']} (env NEWSSTREAM_"
            f"{str(e['loc'][0]).upper()})"
            if e["loc"]
            else f"  {e['msg']}"  # a check across settings names them in its message
            for e in exc.errors()
        ]
        origin = f" (file {yaml_file})" if yaml_file else ""
        raise ConfigError("invalid settings" + origin + ":\n" + "\n".join(lines)) from exc
    except SettingsError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc


def _file_values(yaml_file: Path) -> dict[str, Any]:
    if not yaml_file.is_file():
        raise ConfigError(f"config file {yaml_file} does not exist (from NEWSSTREAM_CONFIG?)")
    try:
        data = yaml.safe_load(yaml_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {yaml_file} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {yaml_file}: expected a mapping of setting names")
    return {str(k): v for k, v in data.items()}
