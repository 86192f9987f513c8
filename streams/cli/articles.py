"""`newsstream articles`: look at what the sink stored, without writing SQL."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import click
import orjson

from streams.cli._context import Context

pass_ctx = click.make_pass_decorator(Context)
_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, now: datetime | None = None) -> datetime:
    """``2h``/``3d``/``1w`` ago, or an ISO date/time (UTC when it names no zone)."""
    match = _RELATIVE.match(value.strip())
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(**{unit: amount})
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r}: use e.g. 6h, 2d, 2026-03-01 or 2026-03-01T08:00"
        ) from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _dsn(ctx: Context) -> str:
    s = ctx.settings
    if s.postgres_dsn is not None:
        return s.postgres_dsn.get_secret_value()
    from streams.infra.postgres_local import EmbeddedPostgres

    return EmbeddedPostgres(s.postgres_home, port=s.postgres_embedded_port).dsn


async def _with_conn(dsn: str, work: Any) -> Any:
    import asyncpg

    from streams.sinks.postgres import PostgresAccessError, open_connection

    try:
        conn = await open_connection(dsn, timeout_s=10)
    except PostgresAccessError as exc:  # TLS or DSN: the message names what to fix
        raise click.ClickException(str(exc)) from exc
    except (OSError, asyncpg.PostgresError) as exc:
        raise click.ClickException(
            f"cannot reach PostgreSQL ({exc}); set NEWSSTREAM_POSTGRES_DSN, or start the"
            " embedded server with `newsstream sink` or `newsstream run`"
        ) from exc
    try:
        return await work(conn)
    finally:
        await conn.close()


def _line(row: Any) -> str:
    when = row["published"] or row["fetched_at"]
    topics = ",".join(row["topics"]) or "-"
    rev = f" r{row['revision']}" if row["revision"] else ""
    return (
        f"{when:%Y-%m-%d %H:%M} {row['source_id'][:16]:16} {row['language'] or '--':2}"
        f" [{topics}]{rev} {row['title'][:90]}\n    {row['article_id']}  {row['url']}"
    )


@click.group()
def articles() -> None:
    """Stored articles in PostgreSQL (NEWSSTREAM_POSTGRES_DSN, or the embedded server)."""


@articles.command("search")
@click.option("--text", "-t", help='Full-text query (web search syntax: words, "phrase", -not).')
@click.option("--topic", help="Desk topic, e.g. diplomacy.")
@click.option("--iptc", help="IPTC Media Topic code, e.g. medtop:16000000.")
@click.option("--source", help="Source id from the sources file.")
@click.option("--language", "-l", help="ISO 639-1 code: uk, ru, en ...")
@click.option("--since", help="Published at or after: 6h, 2d, 1w or an ISO date/time.")
@click.option("--until", help="Published before: same forms as --since.")
@click.option("--limit", "-n", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_ctx
def search_cmd(
    ctx: Context,
    text: str | None,
    topic: str | None,
    iptc: str | None,
    source: str | None,
    language: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Newest first. Example: newsstream articles search --topic crime --since 1d -t police"""
    from streams.sinks.query import ArticleQuery, search

    query = ArticleQuery(
        text=text,
        topic=topic,
        iptc=iptc,
        source=source,
        language=language,
        limit=limit,
        since=parse_when(since) if since else None,
        until=parse_when(until) if until else None,
    )
    rows = asyncio.run(_with_conn(_dsn(ctx), lambda conn: search(conn, query)))
    for row in rows:
        click.echo(orjson.dumps(dict(row), default=str).decode() if as_json else _line(row))
    if not as_json:
        click.echo(f"({len(rows)} article{'s' if len(rows) != 1 else ''})", err=True)


@articles.command("show")
@click.argument("article_id")
@pass_ctx
def show_cmd(ctx: Context, article_id: str) -> None:
    """Every stored field of one article, its text included."""
    from streams.sinks.query import get_article

    row = asyncio.run(_with_conn(_dsn(ctx), lambda conn: get_article(conn, article_id)))
    if row is None:
        raise click.ClickException(f"no stored article {article_id}")
    data = {k: v for k, v in dict(row).items() if k not in ("search", "body")}
    click.echo(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode())
    click.echo("\n" + row["body"])


COMMANDS = [articles]
