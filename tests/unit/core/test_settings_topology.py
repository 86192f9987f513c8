from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import ConfigError
from streams.settings import load_settings
from streams.topology import (
    ARTICLES,
    CRAWL_STATE,
    DLQ,
    FRONTIER,
    RAW,
    SOURCES,
    STORIES_ASSIGN,
    build_topology,
    changelog_topic,
)


def test_defaults_env_and_yaml_layering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "newsstream.yaml"
    cfg.write_text("topic_partitions: 6\nmetrics_port: 9200\n")
    monkeypatch.setenv("NEWSSTREAM_METRICS_PORT", "9300")
    s = load_settings(cfg)
    assert s.topic_partitions == 6  # from the file
    assert s.metrics_port == 9300  # env wins over the file
    assert s.fetch_max_body_bytes == 5 * 1024 * 1024  # default


def test_bad_values_name_the_key_and_the_env_var(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("topic_partitions: zero\n")
    with pytest.raises(ConfigError, match=r"topic_partitions.*NEWSSTREAM_TOPIC_PARTITIONS"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")
    cfg.write_text("no_such_setting: 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        load_settings(cfg)


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSSTREAM_POSTGRES_DSN", "postgresql://u:hunter2@db/news")
    shown = load_settings().masked()
    assert shown["postgres_dsn"] == "********"
    assert "hunter2" not in repr(shown)


def test_topology_has_every_stage_topic_and_a_desk_per_taxonomy_topic() -> None:
    topo = build_topology(load_settings(topic_partitions=3), ["diplomacy", "crime"])
    names = set(topo.topics)
    assert {RAW, ARTICLES, DLQ, "news.clean", "news.unique", "news.duplicates"} <= names
    assert {"news.topic.diplomacy", "news.topic.crime"} <= names
    # news.sources has one partition whatever the setting: a new count would mean recreating
    # the topic, and with it every source.
    crawl = {FRONTIER, CRAWL_STATE}  # partitioned by host: crawl_partitions
    # The story stage's input and its tables: one window over all articles (docs/stories.md).
    stories = {
        STORIES_ASSIGN,
        *(changelog_topic("newsstream", t) for t in ("stories-members", "stories-summaries")),
    }
    assert all(t.partitions == 3 for t in topo if t.name not in {SOURCES, *crawl, *stories})
    assert topo[SOURCES].partitions == 1
    assert {topo[t].partitions for t in stories} == {1}
    assert {topo[t].partitions for t in crawl} == {load_settings().crawl_partitions}
    assert topo[CRAWL_STATE].compact
    assert topo[DLQ].max_message_bytes > topo[RAW].max_message_bytes  # a letter wraps a message
    assert topo[ARTICLES].configs()["cleanup.policy"] == "compact,delete"
    assert [s.input for s in topo.stages if s.stage == "clean"] == [RAW, "news.backfill.raw"]
