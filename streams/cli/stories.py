"""`newsstream stories`: group articles into stories offline, with the stream stage's code."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import orjson

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


@click.command()
@click.argument("files", nargs=-1)
@click.option("--window-days", type=float, default=3.0, show_default=True,
              help="Stories older than this (before the newest article) are closed.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress or summary on stderr.")
def stories(files: tuple[str, ...], window_days: float, quiet: bool) -> None:
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


COMMANDS = [stories]
