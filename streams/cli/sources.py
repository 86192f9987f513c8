"""`newsstream sources`: the crawler's sources on news.sources, changed live.

Every running crawler follows news.sources, so a source added, changed or removed here is
polled (or no longer polled) without a restart. The YAML sources file is the seed and import
format. Writing needs WRITE on news.sources: run these as the admin user, or as a principal
granted it (docs/security.md); `list` needs READ only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import orjson
from pydantic import ValidationError

from streams.cli._context import Context
from streams.crawl.sources import Source, load_sources

pass_ctx = click.make_pass_decorator(Context)
COLUMNS = ("id", "kind", "language", "url", "allowed_hosts")


def build_source(fields: Mapping[str, Any]) -> Source:
    """A Source from command-line values (None: not given, so the model's default), or a
    one-line click error naming the option and what is wrong with it."""
    given = {k: v for k, v in fields.items() if v is not None and v != ()}
    try:
        return Source.model_validate(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        option = f"--{name.replace('_', '-')}" if name else "source"
        value = f" {given[name]!r}" if name in given else ""
        message = f"{first['msg']} (got{value or ' nothing'})"
        raise click.BadParameter(message, param_hint=option) from None


@dataclass
class ImportPlan:
    """What `sources import` writes: new and changed sources, and with --prune removals."""

    added: list[Source] = field(default_factory=list)
    changed: list[Source] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def writes(self) -> list[Source]:
        return self.added + self.changed

    def line(self, *, dry_run: bool) -> str:
        verb = "would write" if dry_run else "wrote"
        return (
            f"{verb} {len(self.writes)} sources ({len(self.added)} new, {len(self.changed)}"
            f" changed), {len(self.unchanged)} unchanged, {len(self.removed)} removed"
        )


def plan_import(current: Mapping[str, Source], wanted: Iterable[Source], prune: bool) -> ImportPlan:
    plan = ImportPlan()
    ids = set()
    for source in wanted:
        ids.add(source.id)
        old = current.get(source.id)
        if old is None:
            plan.added.append(source)
        elif old != source:
            plan.changed.append(source)
        else:
            plan.unchanged.append(source.id)
    if prune:
        plan.removed = sorted(set(current) - ids)
    return plan


def render_table(sources: Mapping[str, Source]) -> str:
    rows = [
        (
            s.id,
            s.kind,
            s.language or "-",
            s.url,
            ",".join(s.allowed_hosts) or "-",
        )
        for s in sorted(sources.values(), key=lambda s: s.id)
    ]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(COLUMNS)]
    lines = [[c.upper() for c in COLUMNS], *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


@click.group()
def sources() -> None:
    """The crawler's sources on Kafka (news.sources), changed without a restart.

    Running crawlers follow the topic: an added source is polled on its next turn, a removed
    one is no longer polled. The YAML file (streams/crawl/sources.yaml format) is the seed:
    `newsstream sources import FILE`. Writing needs WRITE on news.sources (run as the Kafka
    admin user, see docs/security.md); `list` needs READ only.
    """


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of the sources.")
@pass_ctx
def sources_list(ctx: Context, as_json: bool) -> None:
    """Print the sources on news.sources, sorted by id."""
    from streams.kafka.sources import scan_sources

    table = asyncio.run(scan_sources(ctx.settings))
    if as_json:
        rows = [s.model_dump(mode="json") for _, s in sorted(table.sources.items())]
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif table.sources:
        click.echo(render_table(table.sources))
    skipped = f"; {table.invalid} invalid records skipped (see the log)" if table.invalid else ""
    click.echo(f"{len(table.sources)} sources{skipped}", err=True)


@sources.command("add")
@click.option("--id", "source_id", required=True, help="Source id: a-z, 0-9, '_', '.', '-'.")
@click.option("--url", required=True, help="Feed, sitemap or section URL (http/https).")
@click.option(
    "--kind",
    type=click.Choice(["feed", "sitemap", "section"]),
    default=None,
    help="What the URL lists.  [default: feed]",
)
@click.option("--language", default=None, help="Language hint (the text decides).")
@click.option("--link-pattern", default=None, help="Regex of article links (sections).")
@click.option("--max-item-age-s", type=float, default=None, help="Skip older items.")
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="Only items on this host or its subdomains (repeatable; none = any).",
)
@click.option("--min-interval-s", type=float, default=None, help="Adaptive re-poll floor.")
@click.option("--max-interval-s", type=float, default=None, help="Adaptive re-poll cap.")
@click.option("--replace", is_flag=True, help="Replace a source with this id if there is one.")
@pass_ctx
def sources_add(ctx: Context, /, source_id: str, replace: bool, **fields: Any) -> None:
    """Add a source (validated like the sources file); running crawlers pick it up.

    \b
    Example:
      newsstream sources add --id ukrinform --url https://www.ukrinform.ua/rss --language uk
    """
    from streams.kafka.sources import put_sources, read_sources

    source = build_source({"id": source_id, **fields})
    current = asyncio.run(read_sources(ctx.settings))
    old = current.get(source.id)
    if old is not None and not replace:
        raise click.ClickException(
            f"source {source.id!r} exists ({old.url}); add --replace to replace it"
        )
    if old == source:
        click.echo(f"source {source.id} unchanged")
        return
    asyncio.run(put_sources(ctx.settings, [source]))
    click.echo(f"{'replaced' if old else 'added'} source {source.id}")


@sources.command("remove")
@click.argument("ids", nargs=-1, required=True)
@pass_ctx
def sources_remove(ctx: Context, ids: tuple[str, ...]) -> None:
    """Remove the sources IDS; running crawlers stop polling them. Nothing is removed when
    one of the ids is not on news.sources."""
    from streams.kafka.sources import read_sources, remove_sources

    current = asyncio.run(read_sources(ctx.settings))
    unknown = [i for i in dict.fromkeys(ids) if i not in current]
    if unknown:
        raise click.ClickException(
            f"no source with id {', '.join(map(repr, unknown))} on news.sources; nothing"
            " removed (`newsstream sources list` shows the ids)"
        )
    n = asyncio.run(remove_sources(ctx.settings, ids))
    click.echo(f"removed {n} sources: {', '.join(dict.fromkeys(ids))}")


@sources.command("import")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--prune", is_flag=True, help="Also remove the sources that are not in FILE.")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option(
    "--if-new",
    is_flag=True,
    help="Only when news.sources has never held a record: seeds a fresh deployment, and"
    " changes nothing on later runs (live changes stay).",
)
@pass_ctx
def sources_import(
    ctx: Context, file: Path | None, prune: bool, dry_run: bool, if_new: bool
) -> None:
    """Add or update every source of FILE (the YAML sources file format; default
    NEWSSTREAM_SOURCES_FILE, else the built-in streams/crawl/sources.yaml), writing only
    those that are new or changed."""
    from streams.kafka.sources import put_sources, remove_sources, scan_sources

    wanted = load_sources(file or ctx.settings.sources_file)
    table = asyncio.run(scan_sources(ctx.settings))
    if if_new and table.ever_written:
        click.echo("news.sources has held sources before: nothing imported (--if-new)", err=True)
        return
    plan = plan_import(table.sources, wanted, prune)
    for source in plan.added:
        click.echo(f"+ {source.id} {source.url}")
    for source in plan.changed:
        click.echo(f"~ {source.id} {source.url}")
    for source_id in plan.removed:
        click.echo(f"- {source_id}")
    if not dry_run:
        if plan.writes:
            asyncio.run(put_sources(ctx.settings, plan.writes))
        if plan.removed:
            asyncio.run(remove_sources(ctx.settings, plan.removed))
    click.echo(plan.line(dry_run=dry_run), err=True)


COMMANDS = [sources]
