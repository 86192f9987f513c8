"""news.sources: the topic's layout, its ACLs and schema, and the record codec and table."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import orjson
import pytest
from aiokafka import ConsumerRecord
from prometheus_client import REGISTRY

from streams.crawl.sources import Source, load_sources
from streams.kafka.acls import Operation, Resource, role_acls
from streams.kafka.sources import InvalidSourceRecord, SourceTable, decode_source, encode_source
from streams.schemas import asyncapi
from streams.settings import Settings
from streams.topology import SOURCES, Topology
from tests.conftest import REPO

FEED = Source(id="kyiv-feed", url="https://example.org/rss", language="uk")


def record(key: bytes | None, value: bytes | None, offset: int = 0) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(SOURCES, 0, offset, 0, 0, key, value, None, 0, 0, [])


def read_count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("newsstream_sources_records_read_total", {"outcome": outcome})
    return value or 0.0


def test_the_topic_is_compacted_kept_for_ever_and_read_by_the_crawler(topology: Topology) -> None:
    spec = topology[SOURCES]
    assert spec.configs()["cleanup.policy"] == "compact"  # no retention deletes a source
    assert spec.configs()["retention.ms"] == "-1"
    assert spec.producers == ("sources",)
    assert spec.consumers == ("crawl",)
    assert spec.key == "source id"
    assert not spec.internal
    # the other compacted topics keep their "compact,delete"
    assert topology["news.articles"].configs()["cleanup.policy"] == "compact,delete"


def test_acls_let_the_crawler_read_sources_and_no_process_write_them(
    settings: Settings, topology: Topology
) -> None:
    acls = {(a.principal, a.resource, a.name, a.operation) for a in role_acls(topology, settings)}
    assert ("crawler", Resource.TOPIC, SOURCES, Operation.READ) in acls
    assert not [a for a in acls if a[2] == SOURCES and a[3] != Operation.READ]
    assert {a[0] for a in acls if a[2] == SOURCES} == {"crawler"}  # admin is a super user


def test_asyncapi_channel_and_committed_schema(topology: Topology) -> None:
    channel = asyncapi(topology)["channels"]["news_sources"]
    assert channel["address"] == SOURCES
    assert channel["messages"] == {"Source": {"$ref": "#/components/messages/Source"}}
    config = channel["bindings"]["kafka"]["topicConfiguration"]
    assert config["cleanup.policy"] == ["compact"]
    schema = json.loads((REPO / "schemas" / "Source.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for source in load_sources():  # every seed source is a valid record
        jsonschema.validate(orjson.loads(encode_source(source)[1]), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(FEED.model_dump(mode="json") | {"surprise": 1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(FEED.model_dump(mode="json") | {"url": "ftp://x"}, schema)


def test_encode_decode_round_trip() -> None:
    source = Source(
        id="s.1", url="https://example.org/", kind="section", allowed_hosts=("example.org",)
    )
    key, value = encode_source(source)
    assert key == b"s.1"
    assert orjson.loads(value)["allowed_hosts"] == ["example.org"]
    assert decode_source(key, value) == ("s.1", source)
    assert decode_source(b"s.1", None) == ("s.1", None)  # a tombstone


@pytest.mark.parametrize(
    ("key", "value", "reason", "says"),
    [
        (None, b"{}", "bad_key", "no key"),
        (None, None, "bad_key", "no key"),
        (b"\xff\xfe", None, "bad_key", "UTF-8"),
        (b"kyiv-feed", b"{not json", "not_json", "not JSON"),
        (b"kyiv-feed", b"[1, 2]", "not_a_source", "not a JSON object"),
        (b"kyiv-feed", b'{"id": "kyiv-feed"}', "not_a_source", "url"),
        (b"kyiv-feed", b'{"id": "kyiv-feed", "url": "ftp://x"}', "not_a_source", "url"),
        (b"other", encode_source(FEED)[1], "key_mismatch", "'other' is not the source's id"),
    ],
)
def test_invalid_records_say_why(
    key: bytes | None, value: bytes | None, reason: str, says: str
) -> None:
    with pytest.raises(InvalidSourceRecord, match=says) as caught:
        decode_source(key, value)
    assert caught.value.reason == reason


def test_table_applies_changes_in_order_and_skips_junk(caplog: pytest.LogCaptureFixture) -> None:
    table = SourceTable()
    moved = FEED.model_copy(update={"url": "https://example.org/feed.xml"})
    before = {o: read_count(o) for o in ("source", "tombstone", "not_json", "key_mismatch")}
    changes = [
        table.apply(record(*encode_source(FEED), offset=0)),
        table.apply(record(*encode_source(FEED), offset=1)),  # the same again: no change
        table.apply(record(b"kyiv-feed", b"junk", offset=2)),
        table.apply(record(b"other", encode_source(moved)[1], offset=3)),
        table.apply(record(*encode_source(moved), offset=4)),
        table.apply(record(b"gone", None, offset=5)),  # unknown id: no change
        table.apply(record(b"kyiv-feed", None, offset=6)),
    ]
    assert changes == [
        ("kyiv-feed", FEED),
        None,
        None,
        None,
        ("kyiv-feed", moved),
        None,
        ("kyiv-feed", None),
    ]
    assert table.sources == {}
    assert table.invalid == 2
    assert read_count("source") - before["source"] == 3
    assert read_count("tombstone") - before["tombstone"] == 2
    assert read_count("not_json") - before["not_json"] == 1
    assert read_count("key_mismatch") - before["key_mismatch"] == 1
    assert "news.sources partition 0 offset 2 skipped, not a source (not_json)" in caplog.text


def test_junk_keeps_the_previous_value_of_its_key() -> None:
    table = SourceTable()
    table.apply(record(*encode_source(FEED)))
    table.apply(record(b"kyiv-feed", b'{"id": "kyiv-feed"}', offset=1))
    assert table.sources == {"kyiv-feed": FEED}
