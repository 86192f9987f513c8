"""`newsstream sources`: option validation, the import plan and the table (no broker)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from streams.cli import cli
from streams.cli.sources import build_source, plan_import, render_table
from streams.crawl.sources import Source

A = Source(id="a", url="https://a.example/rss", language="uk")
B = Source(id="b", url="https://b.example/sitemap.xml", kind="sitemap")
C = Source(id="c", url="https://c.example/news", kind="section", allowed_hosts=("c.example",))


def test_options_become_a_source_with_the_model_defaults() -> None:
    source = build_source(
        {"id": "kyiv", "url": "https://kyiv.example/rss", "kind": None, "allowed_hosts": ()}
    )
    assert source == Source(id="kyiv", url="https://kyiv.example/rss")
    hosts = build_source({"id": "k", "url": "https://k/", "allowed_hosts": ("k", "www.k")})
    assert hosts.allowed_hosts == ("k", "www.k")


@pytest.mark.parametrize(
    ("fields", "option", "says"),
    [
        ({"id": "Kyiv", "url": "https://k/"}, "--id", "should match pattern"),
        ({"id": "k", "url": "ftp://k/"}, "--url", "'ftp://k/'"),
        ({"id": "k", "url": "https://k/", "link_pattern": "(["}, "--link-pattern", "not a regular"),
        ({"id": "k", "url": "https://k/", "min_interval_s": 0.0}, "--min-interval-s", "greater"),
    ],
)
def test_a_bad_option_is_one_line_naming_it(
    fields: dict[str, object], option: str, says: str
) -> None:
    with pytest.raises(click.BadParameter) as caught:
        build_source(fields)
    assert caught.value.param_hint == option
    assert says in caught.value.format_message()
    assert "\n" not in caught.value.format_message()


def test_add_refuses_bad_options_before_touching_kafka() -> None:
    # No broker runs: an error here can only come from validation.
    result = CliRunner().invoke(cli, ["sources", "add", "--id", "k", "--url", "gopher://k"])
    assert result.exit_code == 2
    assert "Invalid value for --url: String should match pattern '^https?://'" in result.output
    result = CliRunner().invoke(cli, ["sources", "add", "--id", "k"])
    assert result.exit_code == 2
    assert "Missing option '--url'" in result.output


def test_import_plan_writes_only_new_and_changed_and_prunes_on_request() -> None:
    moved = A.model_copy(update={"url": "https://a.example/feed.xml"})
    current = {"a": A, "b": B, "old": Source(id="old", url="https://old.example/")}
    plan = plan_import(current, [moved, B, C], prune=False)
    assert plan.added == [C]
    assert plan.changed == [moved]
    assert plan.unchanged == ["b"]
    assert plan.removed == []
    assert plan.writes == [C, moved]
    assert plan.line(dry_run=True) == (
        "would write 2 sources (1 new, 1 changed), 1 unchanged, 0 removed"
    )
    assert plan_import(current, [moved, B, C], prune=True).removed == ["old"]
    assert plan_import({}, [], prune=True).writes == []


def test_table_has_a_header_and_one_sorted_row_per_source() -> None:
    lines = render_table({"c": C, "a": A}).splitlines()
    assert lines[0].split() == ["ID", "KIND", "LANGUAGE", "URL", "ALLOWED_HOSTS"]
    assert lines[1].split() == ["a", "feed", "uk", "https://a.example/rss", "-"]
    assert lines[2].split() == ["c", "section", "-", "https://c.example/news", "c.example"]
    assert lines[1].index("https") == lines[0].index("URL")  # columns line up


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert "sources" in result.output
    result = CliRunner().invoke(cli, ["sources", "--help"])
    assert result.exit_code == 0
    for sub in ("add", "remove", "list", "import"):
        assert f"\n  {sub} " in result.output
