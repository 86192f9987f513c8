"""The stage table drives the wiring: the faust app's agents and tables, the changelog topics
`topics create` makes, and the flow text in the README, the architecture page and the
topology module's docstring."""

from __future__ import annotations

from pathlib import Path

import streams.topology
from streams.app.faust_app import create_app
from streams.settings import Settings
from streams.topology import STAGES, Topology, build_topology, render_flow

ROOT = Path(__file__).resolve().parents[3]


def test_flow_text_in_readme_architecture_and_module_is_the_generated_one(
    settings: Settings,
) -> None:
    flow = render_flow(build_topology(settings, ["crime"]))
    assert "clean" in flow
    assert "news.topic.<desk>" in flow
    for where in (ROOT / "README.md", ROOT / "docs/architecture.md"):
        assert f"```\n{flow}\n```" in where.read_text(), f"{where}: run `newsstream topics flow`"
    assert f"\n{flow}\n" in (streams.topology.__doc__ or "")


def test_every_stage_reads_and_writes_what_its_topics_say(topology: Topology) -> None:
    for row in topology.stages:
        assert row.stage in topology[row.input].consumers
        for name in topology.outputs(row):
            assert row.stage in topology[name].producers, (row.stage, name)
    assert {"crawl", "replay", "sink"} <= set(topology["news.dlq"].producers)


def test_app_agents_and_tables_come_from_the_stage_table(
    settings: Settings, topology: Topology
) -> None:
    app = create_app(settings, topology, ["clean", "dedup"])  # classify would load the model
    rows = [row for row in STAGES if row.group in ("clean", "dedup")]
    agents = {agent.name.rsplit(".", 1)[-1]: agent for agent in app.agents.values()}
    assert len(agents) == len(rows)
    for row in rows:
        assert list(agents[row.agent].channel.topics) == [row.input]
    faust_changelogs = {t.changelog_topic_name for t in app.tables.values()}
    ours = {topology.changelog(t) for row in rows for t in row.tables}
    assert faust_changelogs == ours
    for name in ours:
        spec = topology[name]
        assert spec.internal
        assert spec.compact
        assert spec.retention_ms == -1
        table_input = next(r.input for r in rows if name in map(topology.changelog, r.tables))
        assert spec.partitions == topology[table_input].partitions


def test_changelogs_stay_out_of_the_published_contract(topology: Topology) -> None:
    internal = {t.name for t in topology if t.internal}
    assert internal
    assert all(n.endswith("-changelog") for n in internal)
    assert not internal & {t.name for t in topology.public()}
