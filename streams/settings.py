"""One settings object: defaults < YAML file (``NEWSSTREAM_CONFIG``) < ``NEWSSTREAM_*`` env.

Every limit carries its unit in its name (``_bytes``, ``_s``, ``_ms``). With no broker and no
DSN configured, newsstream starts its own local Kafka and embedded PostgreSQL, so a fresh
machine runs with ``make run`` alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from streams.errors import ConfigError

MIB = 1024 * 1024


def _state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "newsstream"


class Settings(BaseSettings):
    """Effective configuration of every newsstream process."""

    model_config = SettingsConfigDict(env_prefix="NEWSSTREAM_", extra="forbid", frozen=True)
    _yaml_file: ClassVar[Path | None] = None

    # --- Kafka -------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port list; unset = the project's local broker"
    )
    kafka_local_port: int = 19092  # non-default so a developer's own Kafka on 9092 is untouched
    kafka_local_controller_port: int = 19093
    kafka_local_heap: str = "512m"
    topic_partitions: int = Field(default=4, ge=1, description="partitions of stage topics")
    topic_retention_ms: int = 7 * 24 * 3600 * 1000
    topic_max_message_bytes: int = 8 * MIB  # a 5 MiB body is ~6.7 MiB once base64-encoded
    dlq_max_message_bytes: int = 16 * MIB  # a dead letter carries the whole original message
    producer_linger_ms: int = 5
    producer_compression: str = Field(default="gzip", pattern="^(none|gzip)$")
    consumer_group: str = "newsstream"
    # --- PostgreSQL --------------------------------------------------------------------
    postgres_dsn: SecretStr | None = Field(
        default=None, description="libpq DSN; unset = embedded PostgreSQL"
    )
    postgres_embedded_port: int = 15432
    # --- Processes ---------------------------------------------------------------------
    state_dir: Path = Field(default_factory=_state_home)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9108  # each process of `run` takes the next free port after this
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text for terminals, json (one object per line) for shippers"
    )
    # --- Crawler -----------------------------------------------------------------------
    sources_file: Path | None = None
    fetch_max_body_bytes: int = 5 * MIB
    fetch_connect_timeout_s: float = 5.0
    fetch_read_timeout_s: float = 10.0
    fetch_total_timeout_s: float = 30.0
    fetch_allow_cidrs: tuple[str, ...] = ()
    crawl_poll_interval_s: float = 300.0
    # --- Stages ------------------------------------------------------------------------
    dedup_window_s: int = 7 * 24 * 3600
    classify_review_threshold: float = 0.35
    # Threads of the sentence encoder in a worker. 1: a worker runs several stages and scales
    # by processes; 2 threads measured slower than 1 on a shared 2-core machine (bench/classify.py).
    encoder_threads: int = Field(default=1, ge=1, le=64)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._yaml_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=cls._yaml_file))
        return tuple(sources)

    @property
    def kafka_home(self) -> Path:
        return self.state_dir / "kafka"

    @property
    def postgres_home(self) -> Path:
        return self.state_dir / "postgres"

    @property
    def uses_local_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    def bootstrap(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_local_port}"

    def masked(self) -> dict[str, Any]:
        """Effective settings for display; secrets are masked, paths are strings."""
        out = self.model_dump(mode="json")
        for name in out:
            if isinstance(getattr(self, name), SecretStr) and out[name] is not None:
                out[name] = "********"
        return out


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings; a bad value raises ConfigError naming the key and the source."""
    path = config_file or os.environ.get("NEWSSTREAM_CONFIG")
    yaml_file = Path(path) if path else None
    if yaml_file is not None and not yaml_file.is_file():
        raise ConfigError(f"config file {yaml_file} does not exist (from NEWSSTREAM_CONFIG?)")
    Settings._yaml_file = yaml_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']} (env NEWSSTREAM_"
            f"{str(e['loc'][0]).upper()})"
            for e in exc.errors()
        ]
        origin = f" (file {yaml_file})" if yaml_file else ""
        raise ConfigError("invalid settings" + origin + ":\n" + "\n".join(lines)) from exc
    finally:
        Settings._yaml_file = None
