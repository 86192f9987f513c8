"""What every command needs: settings, topology (from the taxonomy) and local services."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from streams.infra.kafka_cluster import LocalKafkaCluster, cluster_ports
from streams.infra.kafka_local import LocalKafka, LocalKafkaConfig
from streams.settings import Settings, load_settings
from streams.topology import Topology, build_topology


class Context:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file

    @cached_property
    def settings(self) -> Settings:
        return load_settings(self.config_file)

    @cached_property
    def topology(self) -> Topology:
        from streams.classify import load_taxonomy

        return build_topology(self.settings, load_taxonomy().topic_names())

    def local_kafka(self, *, secure: bool = False) -> LocalKafka:
        """The local broker; ``secure``: the SASL_SSL one, with its own state dir and ports."""
        s = self.settings
        return LocalKafka(
            LocalKafkaConfig(
                home=s.state_dir / "kafka-secure" if secure else s.kafka_home,
                port=s.kafka_local_secure_port if secure else s.kafka_local_port,
                controller_port=(
                    s.kafka_local_secure_controller_port
                    if secure
                    else s.kafka_local_controller_port
                ),
                secure=secure,
                mtls_port=s.kafka_local_secure_mtls_port,
                partitions_default=s.topic_partitions,
                message_max_bytes=s.max_request_bytes,
                heap=s.kafka_local_heap,
            )
        )

    def local_cluster(self, nodes: int) -> LocalKafkaCluster:
        """The local cluster of ``nodes`` combined nodes (``kafka up --nodes N``, N >= 2)."""
        s = self.settings
        base = LocalKafkaConfig(
            home=s.state_dir / "kafka-cluster",
            partitions_default=s.topic_partitions,
            message_max_bytes=s.max_request_bytes,
            heap=s.kafka_local_heap,
        )
        ports = cluster_ports(s.kafka_local_cluster_port, nodes)
        return LocalKafkaCluster(s.state_dir / "kafka-cluster", ports, base)

    def postgres_dir(self) -> Path:
        return self.settings.postgres_home
