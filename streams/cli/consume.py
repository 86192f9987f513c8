"""Downstream-facing commands: `tail` a topic, inspect and replay the `dlq`."""

from __future__ import annotations

import asyncio
from typing import Any

import click
import orjson
from aiokafka import ConsumerRecord

from streams.cli._context import Context
from streams.errors import MalformedRecord
from streams.kafka.dlq import replay_dead_letters
from streams.kafka.reader import read_topic
from streams.records import DeadLetter
from streams.topology import DLQ

pass_ctx = click.make_pass_decorator(Context)


def _article(d: dict[str, Any]) -> str:
    topics = ",".join(d.get("topics", [])) or "-"
    story, original = d.get("story_id"), d.get("translation_of")
    return (
        f"[{topics}] ({d.get('language')}) {d.get('title', '')[:90]}  {d.get('url')}"
        + (f"  story {story}" if story else "")
        + (f" translation of {original}" if original else "")
    )


# One line per record kind (the record's ``kind``); any other kind prints its URL.
_LINES: dict[str, Any] = {
    "ClassifiedArticle": _article,
    "Article": _article,
    "DeadLetter": lambda d: (
        f"{d['stage']}/{d['reason']} from {d.get('origin')}: {d['error'][:120]}"
    ),
    "DuplicateEvent": lambda d: (
        f"{d['article_id']} duplicates {d['duplicate_of']} ({d['reason']}, {d['similarity']:.2f})"
    ),
    "StorySummary": lambda d: (
        f"story {d['story_id']} r{d['revision']} {d['article_count']} articles"
        f" ({','.join(d.get('languages', []))}) {d.get('headline', '')[:80]}"
    ),
}


def _summary(record: ConsumerRecord[bytes, bytes]) -> str:
    where = f"{record.partition}:{record.offset}"
    try:
        data: Any = orjson.loads(record.value or b"null")
    except orjson.JSONDecodeError:
        return f"{where} <not JSON: {len(record.value or b'')} bytes>"
    if not isinstance(data, dict):
        return f"{where} {data!r:.120}"
    kind = data.get("kind", "?")
    line = _LINES.get(kind)
    return f"{where} {line(data)}" if line else f"{where} {kind} {data.get('url', '')}"


@click.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest record, not the end.")
@click.option("--json", "as_json", is_flag=True, help="Print each record's JSON as is.")
@click.option("--limit", type=int, default=None, help="Stop after N records.")
@click.option(
    "--idle-exit",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Stop after this long without a record (default: follow forever).",
)
@pass_ctx
def tail(
    ctx: Context,
    topic: str,
    from_beginning: bool,
    as_json: bool,
    limit: int | None,
    idle_exit: float | None,
) -> None:
    """Print records of TOPIC as they arrive (a downstream consumer; commits nothing).

    Example: newsstream tail news.topic.diplomacy --from-beginning
    """

    async def go() -> None:
        seen = 0
        async for rec in read_topic(
            ctx.settings,
            topic,
            from_beginning=from_beginning,
            follow=True,
            idle_timeout_s=idle_exit,
        ):
            click.echo((rec.value or b"").decode("utf-8", "replace") if as_json else _summary(rec))
            seen += 1
            if limit is not None and seen >= limit:
                return

    asyncio.run(go())


@click.group()
def dlq() -> None:
    """Dead letters: records a stage could not process, with the reason and origin."""


@dlq.command("list")
@click.option("--stage", default=None, help="Only this stage (crawl, clean, dedup, ...).")
@click.option("--reason", default=None, help="Only this reason code (malformed, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print full DeadLetter JSON.")
@pass_ctx
def dlq_list(ctx: Context, stage: str | None, reason: str | None, as_json: bool) -> None:
    """List dead letters currently on news.dlq, oldest first, and count them by reason."""

    async def go() -> dict[str, int]:
        counts: dict[str, int] = {}
        async for rec in read_topic(ctx.settings, DLQ):
            try:
                letter = DeadLetter.from_json(rec.value or b"")
            except MalformedRecord:
                continue
            if (stage and letter.stage != stage) or (reason and letter.reason != reason):
                continue
            key = f"{letter.stage}/{letter.reason}"
            counts[key] = counts.get(key, 0) + 1
            click.echo(letter.to_json().decode() if as_json else _summary(rec))
        return counts

    counts = asyncio.run(go())
    total = sum(counts.values())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    click.echo(f"{total} dead letters" + (f" ({detail})" if detail else ""), err=True)


@dlq.command("replay")
@click.option("--stage", default=None, help="Only dead letters of this stage.")
@click.option("--reason", default=None, help="Only dead letters with this reason.")
@click.option("--dry-run", is_flag=True, help="Show what would be replayed.")
@pass_ctx
def dlq_replay(ctx: Context, stage: str | None, reason: str | None, dry_run: bool) -> None:
    """Republish dead letters' original messages to their original topics.

    Progress is kept in the consumer group `<group>-dlq-replay`, so a letter is replayed
    once; fix the cause first (a replayed record that fails again comes back)."""
    n = asyncio.run(
        replay_dead_letters(
            ctx.settings, stage=stage, reason=reason, dry_run=dry_run, echo=click.echo
        )
    )
    click.echo(f"{'would replay' if dry_run else 'replayed'} {n} dead letters", err=True)


COMMANDS = [tail, dlq]
