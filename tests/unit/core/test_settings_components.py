"""Every limit of a component reaches it from Settings, and every setting says what it means."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.crawl.fetch import FetchPolicy
from streams.crawl.hosts import Politeness
from streams.processes.poll import CrawlLimits
from streams.processes.sink import SinkConfig
from streams.settings import REQUEST_OVERHEAD_BYTES, Settings, load_settings

Getter = Callable[[Settings], Any]

# env var suffix, value set, where it must arrive, value expected there
REACHES: list[tuple[str, str, Getter, Any]] = [
    ("FETCH_MAX_BODY_BYTES", "1000", lambda s: FetchPolicy.from_settings(s).max_body_bytes, 1000),
    (
        "FETCH_MAX_BODY_BYTES",
        "1000",
        lambda s: FetchPolicy.from_settings(s).max_decompressed_bytes,
        1000,
    ),
    (
        "FETCH_CONNECT_TIMEOUT_S",
        "1.5",
        lambda s: FetchPolicy.from_settings(s).connect_timeout_s,
        1.5,
    ),
    ("FETCH_READ_TIMEOUT_S", "2.5", lambda s: FetchPolicy.from_settings(s).read_timeout_s, 2.5),
    ("FETCH_TOTAL_TIMEOUT_S", "9", lambda s: FetchPolicy.from_settings(s).total_timeout_s, 9.0),
    ("FETCH_MAX_REDIRECTS", "2", lambda s: FetchPolicy.from_settings(s).max_redirects, 2),
    (
        "FETCH_ALLOW_CIDRS",
        '["10.0.0.0/8"]',
        lambda s: FetchPolicy.from_settings(s, ("127.0.0.0/8",)).allow_cidrs,
        ("10.0.0.0/8", "127.0.0.0/8"),
    ),
    (
        "FETCH_USER_AGENT",
        "probe/2.0",
        lambda s: FetchPolicy.from_settings(s).user_agent,
        "probe/2.0",
    ),
    ("FETCH_ACCEPT_LANGUAGE", "en", lambda s: FetchPolicy.from_settings(s).accept_language, "en"),
    ("FETCH_MAX_CONNECTIONS", "17", lambda s: FetchPolicy.from_settings(s).max_connections, 17),
    (
        "FETCH_MAX_CONNECTIONS_PER_HOST",
        "3",
        lambda s: FetchPolicy.from_settings(s).max_connections_per_host,
        3,
    ),
    ("CRAWL_HOST_CONCURRENCY", "5", lambda s: Politeness.from_settings(s).concurrency, 5),
    ("CRAWL_HOST_MIN_DELAY_S", "0.25", lambda s: Politeness.from_settings(s).min_delay_s, 0.25),
    ("CRAWL_MAX_RETRIES", "0", lambda s: Politeness.from_settings(s).max_retries, 0),
    ("CRAWL_BACKOFF_BASE_S", "0.5", lambda s: Politeness.from_settings(s).backoff_base_s, 0.5),
    ("CRAWL_BACKOFF_MAX_S", "60", lambda s: Politeness.from_settings(s).backoff_max_s, 60.0),
    (
        "CRAWL_MAX_RETRY_AFTER_S",
        "42",
        lambda s: Politeness.from_settings(s).max_retry_after_s,
        42.0,
    ),
    ("CRAWL_DEFAULT_PAUSE_S", "7", lambda s: Politeness.from_settings(s).default_pause_s, 7.0),
    ("CRAWL_MAX_IN_FLIGHT", "9", lambda s: CrawlLimits.from_settings(s).max_in_flight, 9),
    (
        "CRAWL_MAX_ITEMS_PER_POLL",
        "11",
        lambda s: CrawlLimits.from_settings(s).max_items_per_poll,
        11,
    ),
    ("CRAWL_MAX_CHILD_SITEMAPS", "4", lambda s: CrawlLimits.from_settings(s).max_child_sitemaps, 4),
    ("SINK_BATCH_MAX_RECORDS", "50", lambda s: SinkConfig.from_settings(s).batch_max_records, 50),
    ("SINK_POLL_TIMEOUT_MS", "200", lambda s: SinkConfig.from_settings(s).poll_timeout_ms, 200),
    ("SINK_BACKOFF_BASE_S", "0.1", lambda s: SinkConfig.from_settings(s).backoff_base_s, 0.1),
    ("SINK_BACKOFF_MAX_S", "5", lambda s: SinkConfig.from_settings(s).backoff_max_s, 5.0),
    ("COMMIT_EVERY", "10", lambda s: s.commit_every, 10),
    ("COMMIT_INTERVAL_S", "0.5", lambda s: s.commit_interval_s, 0.5),
    (
        "DLQ_MAX_MESSAGE_BYTES",
        "1000000",
        lambda s: s.max_request_bytes,
        1000000 + REQUEST_OVERHEAD_BYTES,
    ),
]


@pytest.mark.parametrize(("env", "raw", "where", "expected"), REACHES, ids=[r[0] for r in REACHES])
def test_env_var_reaches_the_component(
    monkeypatch: pytest.MonkeyPatch, env: str, raw: str, where: Getter, expected: Any
) -> None:
    assert where(load_settings()) != expected  # the default differs, so the test shows a change
    monkeypatch.setenv(f"NEWSSTREAM_{env}", raw)
    assert where(load_settings()) == expected


def test_components_from_default_settings_are_the_dataclass_defaults() -> None:
    """The dataclass defaults (used by tests and benches) and Settings' defaults agree."""
    s = load_settings()
    assert FetchPolicy.from_settings(s) == FetchPolicy()
    assert Politeness.from_settings(s) == Politeness()
    assert CrawlLimits.from_settings(s) == CrawlLimits()
    assert SinkConfig.from_settings(s) == SinkConfig()


def test_every_setting_has_a_description() -> None:
    missing = [name for name, text in Settings.descriptions().items() if len(text.strip()) < 8]
    assert missing == []
    assert set(Settings.descriptions()) == set(Settings.model_fields)


def test_crawler_and_backfill_settings_reach_the_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWSSTREAM_CRAWL_REVISIT_INTERVAL_S", "60")
    monkeypatch.setenv("NEWSSTREAM_BACKFILL_BATCH_PAGES", "3")
    s = load_settings()
    assert (s.crawl_revisit_interval_s, s.backfill_batch_pages) == (60.0, 3)


def test_load_settings_yaml_files_in_parallel_threads_do_not_mix(tmp_path: Path) -> None:
    files = []
    for n in range(8):
        path = tmp_path / f"c{n}.yaml"
        path.write_text(f"topic_partitions: {n + 1}\nfetch_user_agent: agent-{n}\n")
        files.append(path)
    seen: dict[int, tuple[int, str]] = {}
    start = threading.Barrier(len(files))

    def load(n: int) -> None:
        start.wait()
        for _ in range(20):
            s = load_settings(files[n])
            assert (s.topic_partitions, s.fetch_user_agent) == (n + 1, f"agent-{n}")
        seen[n] = (s.topic_partitions, s.fetch_user_agent)

    threads = [threading.Thread(target=load, args=(n,)) for n in range(len(files))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {n: (n + 1, f"agent-{n}") for n in range(len(files))}
    assert load_settings().topic_partitions == 4  # no file left behind for the next call


def test_yaml_file_sits_under_env_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("commit_every: 7\ncrawl_max_retries: 1\nsink_batch_max_records: 9\n")
    monkeypatch.setenv("NEWSSTREAM_CRAWL_MAX_RETRIES", "2")
    s = load_settings(cfg, sink_batch_max_records=10)
    assert (s.commit_every, s.crawl_max_retries, s.sink_batch_max_records) == (7, 2, 10)
    monkeypatch.setenv("NEWSSTREAM_CONFIG", str(cfg))
    assert load_settings().commit_every == 7


def test_config_show_prints_every_setting_with_its_description(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from streams.cli import cli

    monkeypatch.setenv("NEWSSTREAM_POSTGRES_DSN", "postgresql://u:hunter2@db/news")
    monkeypatch.setenv("NEWSSTREAM_SINK_BATCH_MAX_RECORDS", "77")
    shown = CliRunner().invoke(cli, ["config", "show"], catch_exceptions=False).output
    assert "hunter2" not in shown
    lines = shown.splitlines()
    for name, text in Settings.descriptions().items():
        key = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
        assert lines[key - 1] == f"# {text} (NEWSSTREAM_{name.upper()})"
    parsed = yaml.safe_load(shown)
    assert parsed["sink_batch_max_records"] == 77
    assert parsed["postgres_dsn"] == "********"

    out = CliRunner().invoke(cli, ["config", "show", "--format", "json"], catch_exceptions=False)
    rows = json.loads(out.output)
    assert set(rows) == set(Settings.model_fields)
    assert rows["sink_batch_max_records"] == {
        "value": 77,
        "env": "NEWSSTREAM_SINK_BATCH_MAX_RECORDS",
        "description": Settings.descriptions()["sink_batch_max_records"],
    }
    assert "hunter2" not in out.output
