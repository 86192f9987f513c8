"""Crawler tools for operators: `fetch` (debug one URL) and `replay` (backfill saved pages)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import orjson

from streams.cli._context import Context

pass_ctx = click.make_pass_decorator(Context)


def _check_cidrs(_: click.Context, __: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from streams.crawl.safety import parse_networks

    try:
        parse_networks(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command()
@click.argument("url")
@click.option(
    "--allow",
    "allow",
    multiple=True,
    metavar="CIDR",
    callback=_check_cidrs,
    help="Also allow these networks (repeatable), e.g. 10.0.0.0/8 for an intranet.",
)
@click.option("--no-robots", is_flag=True, help="Do not consult robots.txt.")
@click.option(
    "--kind",
    type=click.Choice(["page", "feed"]),
    default="page",
    show_default=True,
    help="feed also accepts RSS/Atom/sitemap content types.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    help="Retries for transient failures (the crawler: crawl_max_retries, 3).",
)
@pass_ctx
def fetch(
    ctx: Context, url: str, allow: tuple[str, ...], no_robots: bool, kind: str, retries: int
) -> None:
    """Fetch URL once through the crawler's policy (address safety, robots.txt, size caps,
    timeouts, charset decoding) and print the outcome as JSON. Exit 0 only when fetched."""
    report = asyncio.run(_fetch(ctx, url, allow, not no_robots, kind, retries))
    click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    raise SystemExit(0 if report["outcome"] == "fetched" else 1)


async def _fetch(
    ctx: Context, url: str, allow: tuple[str, ...], robots: bool, kind: str, retries: int
) -> dict[str, Any]:
    from streams.clean.decode import decode_html
    from streams.crawl.fetch import Fetcher, FetchPolicy
    from streams.crawl.hosts import Politeness
    from streams.crawl.polite import PoliteFetcher

    politeness = replace(Politeness.from_settings(ctx.settings), max_retries=retries)
    async with Fetcher(FetchPolicy.from_settings(ctx.settings, allow)) as fetcher:
        polite = PoliteFetcher(fetcher, politeness=politeness)
        result = await polite.fetch(url, kind="feed" if kind == "feed" else "page",
                                    obey_robots=robots)  # fmt: skip
    content_type = result.headers.get("content-type")
    charset = None
    if result.ok:
        charset = decode_html(result.body, content_type=content_type).charset
    return {
        "url": url,
        "status": result.status,
        "outcome": result.outcome,
        "reason": result.reason,
        "final_url": result.final_url,
        "redirects": list(result.redirects),
        "content_type": content_type,
        "charset": charset,
        "bytes": len(result.body),
        "elapsed_s": round(result.elapsed_s, 4),
    }


@click.command()
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))  # fmt: skip
@click.option(
    "--source-id", default="replay", show_default=True, help="source_id recorded on every RawPage."
)
@pass_ctx
def replay(ctx: Context, paths: tuple[Path, ...], source_id: str) -> None:
    """Publish saved pages (directories of *.html / *.html.gz, WARC files) to
    news.backfill.raw, showing progress. Run `newsstream topics create` first."""
    from streams.processes.backfill import ReplayProgress
    from streams.processes.backfill import replay as run_replay

    def show(progress: ReplayProgress) -> None:
        click.echo(progress.line(), err=True)

    done = asyncio.run(run_replay(ctx.settings, list(paths), source_id=source_id, report=show))
    click.echo(done.line(), err=True)
    if done.skipped:
        click.echo(f"skipped by reason: {dict(sorted(done.skipped.items()))}", err=True)


COMMANDS = [fetch, replay]
