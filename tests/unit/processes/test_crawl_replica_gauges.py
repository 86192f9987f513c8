"""The crawler replica's gauges from its in-memory view (no broker): frontier size and age per
owned partition, hosts owned, starved hosts; and forgetting the state of partitions that left."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from streams.crawl.fetch import Fetcher
from streams.crawl.hosts import Politeness
from streams.crawl.memory import state_record
from streams.kafka.crawlstate import host_partition
from streams.processes.lister import Lister
from streams.settings import load_settings


def gauge(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_gauges_and_dropping_a_partition() -> None:
    settings = load_settings(crawl_partitions=12)
    lister = Lister(settings, Fetcher(), Politeness(min_delay_s=1.0))
    hosts = [f"h{i}.example" for i in range(40)]
    part = host_partition(hosts[0], 12)
    mine = [h for h in hosts if host_partition(h, 12) == part]
    other = next(h for h in hosts if host_partition(h, 12) != part)
    lister.owned = {part}
    now = time.time()
    lister.restore(
        [
            state_record(
                "seen", f"https://{h}/a", {"first": now, "last": now, "ok": True}, ttl_s=None
            )
            for h in (*mine, other)
        ],
        {part},
    )
    assert lister.seen.due(f"https://{mine[0]}/a", now) is None  # restored: not due
    lister.note_pending(part, 7, mine[0])
    lister.pending[part][7] = (mine[0], now - 120.0)  # waiting two minutes, never fetched
    lister.report_once()
    assert gauge("newsstream_crawl_frontier_size", partition=str(part)) == 1
    assert gauge("newsstream_crawl_frontier_oldest_age_seconds", partition=str(part)) >= 119
    assert gauge("newsstream_crawl_hosts_starved") == 1  # 120 s > 10 x the 1 s delay
    assert gauge("newsstream_crawl_hosts_owned") == len(mine) + 1
    lister.drop({part})
    assert lister.seen.entry(f"https://{mine[0]}/a") is None
    assert lister.seen.entry(f"https://{other}/a") is not None  # not on the dropped partition
    lister.owned = set()
    lister.report_once()
    assert gauge("newsstream_crawl_frontier_size", partition=str(part)) == 0
    assert gauge("newsstream_crawl_hosts_starved") == 0
