"""Replication per environment: the settings, the topology, the local cluster's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import ConfigError, TopologyError
from streams.infra._kafka_setup import Quorum, server_properties
from streams.infra.kafka_cluster import LocalKafkaCluster, cluster_ports, cluster_replication
from streams.infra.kafka_local import LocalKafkaConfig
from streams.kafka.admin import _check_brokers
from streams.settings import load_settings
from streams.topology import RAW, build_topology


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))


def test_replication_is_one_by_default_and_min_isr_may_not_exceed_it() -> None:
    settings = load_settings()
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas) == (1, 1)
    with pytest.raises(ConfigError, match="NEWSSTREAM_TOPIC_MIN_INSYNC_REPLICAS=2 is more than"):
        load_settings(topic_min_insync_replicas=2)


def test_every_topic_and_changelog_carries_the_environments_replication() -> None:
    settings = load_settings(topic_replication_factor=3, topic_min_insync_replicas=2)
    topology = build_topology(settings, ["crime"])
    assert {(t.replication_factor, t.min_insync_replicas) for t in topology} == {(3, 2)}
    assert any(t.internal for t in topology)  # the changelogs are among them
    assert topology[RAW].configs()["min.insync.replicas"] == "2"


def test_a_replication_factor_over_the_broker_count_is_refused_naming_the_setting() -> None:
    settings = load_settings(topic_replication_factor=3, topic_min_insync_replicas=2)
    topology = build_topology(settings, [])
    with pytest.raises(TopologyError, match=r"NEWSSTREAM_TOPIC_REPLICATION_FACTOR=3 .* 1 broker"):
        _check_brokers(settings, topology, 1)
    _check_brokers(settings, topology, 3)


def test_single_node_properties_keep_the_standalone_quorum_and_replication_one() -> None:
    text = server_properties(
        host="127.0.0.1", port=19092, controller_port=19093, data_dir=Path("/d"),
        partitions_default=4, message_max_bytes=1024,
    )  # fmt: skip
    got = props(text)
    assert got["node.id"] == "1"
    assert got["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert "controller.quorum.voters" not in got
    assert got["offsets.topic.replication.factor"] == got["min.insync.replicas"] == "1"


def test_a_cluster_node_is_a_static_voter_with_replication_three_and_min_isr_two() -> None:
    voters = "1@127.0.0.1:1,2@127.0.0.1:3,3@127.0.0.1:5"
    text = server_properties(
        host="127.0.0.1", port=2, controller_port=3, data_dir=Path("/d"),
        partitions_default=4, message_max_bytes=1024, quorum=Quorum(2, voters, "id", 3, 2),
    )  # fmt: skip
    got = props(text)
    assert got["node.id"] == "2"
    assert got["controller.quorum.voters"] == voters
    assert "controller.quorum.bootstrap.servers" not in got
    for key in ("default.replication.factor", "offsets.topic.replication.factor",
                "transaction.state.log.replication.factor"):  # fmt: skip
        assert got[key] == "3", key
    assert got["min.insync.replicas"] == got["transaction.state.log.min.isr"] == "2"


def test_cluster_nodes_take_consecutive_ports_and_one_state_dir_each(tmp_path: Path) -> None:
    assert cluster_ports(19192, 3) == [(19192, 19193), (19194, 19195), (19196, 19197)]
    assert cluster_replication(3) == (3, 2)
    assert cluster_replication(2) == (2, 1)
    cluster = LocalKafkaCluster(tmp_path, cluster_ports(19192, 3), LocalKafkaConfig(home=tmp_path))
    assert cluster.bootstrap == "127.0.0.1:19192,127.0.0.1:19194,127.0.0.1:19196"
    assert [n.home for n in cluster.nodes] == [tmp_path / f"node{i}" for i in (1, 2, 3)]
    quorums = [n.config.quorum for n in cluster.nodes]
    assert [q.node_id for q in quorums if q] == [1, 2, 3]
    assert {q.voters for q in quorums if q} == {
        "1@127.0.0.1:19193,2@127.0.0.1:19195,3@127.0.0.1:19197"
    }
    assert cluster.node_by_id(2).bootstrap == "127.0.0.1:19194"
