"""`newsstream stories`: group articles into stories offline, with the stream stage's code;
`newsstream stories show ID`: a story the sink stored, with its articles."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson

from streams.cli._context import Context

PROGRESS_EVERY = 500  # lines; the encoder reads ~20-50 articles/s, so about every 10-30 s


def _lines(files: tuple[str, ...]) -> Iterator[bytes]:
    for name in files or ("-",):
        if name == "-":
            yield from sys.stdin.buffer
            continue
        try:
            stream = Path(name).open("rb")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise click.ClickException(f"cannot read {name}: {exc.strerror}") from exc
        with stream:
            yield from stream


class _Stories(click.Group):
    """``stories [FILES]`` assigns (the command of part 1, kept as it was); ``stories show ID``
    reads PostgreSQL. Anything but a subcommand name or --help goes to ``assign``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["assign", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_Stories)
def stories() -> None:
    """Stories: reports of one event across outlets and languages (docs/stories.md)."""


@stories.command("assign")
@click.argument("files", nargs=-1)
@click.option("--window-days", type=float, default=3.0, show_default=True,
              help="Stories older than this (before the newest article) are closed.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress or summary on stderr.")
def assign_cmd(files: tuple[str, ...], window_days: float, quiet: bool) -> None:
    """Assign each article a story, in input order (FILES or stdin).

    Input: JSON lines with `text` and optionally `title`, `url`, `language`, `published`
    (ISO 8601 or epoch seconds), `article_id`, `alternates` (hreflang: {lang: URL}) and
    `topics` (desks). Output: one JSON line per input line with `story_id`, `new_story`,
    `translation_of`, `matched` (the article it was linked through) and `score`. A bad line
    gets `{"line": N, "error": ...}`, is counted, and makes the exit status 1.
    """
    from streams.stories import Limits, StoryAssigner
    from streams.stories.lines import Totals, story_lines
    from streams.stories.vectors import story_vectors

    if window_days <= 0:
        raise click.BadParameter("must be positive", param_hint="--window-days")
    assigner = StoryAssigner(limits=Limits(window_s=window_days * 86_400.0))
    totals = Totals()
    started = time.monotonic()
    for done, out in enumerate(
        story_lines(_lines(files), assigner, story_vectors, totals), start=1
    ):
        click.echo(orjson.dumps(out).decode())
        if not quiet and done % PROGRESS_EVERY == 0:
            rate = done / max(1e-9, time.monotonic() - started)
            click.echo(f"stories: {done} lines ({rate:.0f}/s)", err=True)
    if not quiet:
        click.echo(
            f"stories: {totals.lines} lines, {totals.new_stories} new stories, {totals.linked} "
            f"linked, {totals.translations} translations, {totals.bad} bad lines",
            err=True,
        )
    if totals.bad:
        raise SystemExit(1)


def _article_line(row: Any) -> str:
    when = row["published"] or row["fetched_at"]
    translation = f"  translation of {row['translation_of']}" if row["translation_of"] else ""
    return (
        f"  {when:%Y-%m-%d %H:%M} {row['source_id'][:16]:16} {row['language'] or '--':2}"
        f" {row['title'][:90]}\n    {row['article_id']}  {row['url']}{translation}"
    )


@stories.command("show")
@click.argument("story_id")
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object: the story and its articles."
)
@click.pass_obj
def show_cmd(obj: Context, story_id: str, as_json: bool) -> None:
    """A stored story: its summary and its articles, oldest first (from PostgreSQL)."""
    from streams.cli.articles import _dsn, _with_conn
    from streams.sinks.query import get_story

    story, articles = asyncio.run(_with_conn(_dsn(obj), lambda c: get_story(c, story_id)))
    if story is None and not articles:
        raise click.ClickException(f"no stored story {story_id}")
    if as_json:
        data = {"story": dict(story) if story else None, "articles": [dict(a) for a in articles]}
        click.echo(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode())
        return
    if story is None:  # the articles are stored, the summary not yet (two topics)
        click.echo(f"story {story_id} (summary not stored yet)")
    else:
        click.echo(
            f"story {story_id} r{story['revision']}: {story['headline']}\n"
            f"  {story['article_count']} articles, {story['first_seen']:%Y-%m-%d %H:%M} to"
            f" {story['last_seen']:%Y-%m-%d %H:%M}; languages {','.join(story['languages'])};"
            f" outlets {','.join(story['outlets'])}; desks {','.join(story['desks']) or '-'}"
        )
    click.echo(f"stored articles: {len(articles)}")
    for row in articles:
        click.echo(_article_line(row))


COMMANDS = [stories]
