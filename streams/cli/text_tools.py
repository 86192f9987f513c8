"""Operator tools over the same code as the stream: `extract`, `dedup`, `classify`."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson

from streams.cli._context import Context
from streams.errors import StageError
from streams.identity import article_id, canonicalize
from streams.records import RawPage

pass_ctx = click.make_pass_decorator(Context)
GZIP_MAGIC = b"\x1f\x8b"


def _read(path: str) -> bytes:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data


def _looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body", b"<meta"))


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--url", default=None, help="URL the page came from (for links and ids).")
@pass_ctx
def extract(ctx: Context, files: tuple[str, ...], url: str | None) -> None:
    """Print one Article JSON line per FILE (HTML, possibly gzipped, or plain text; raw bytes
    in any charset; `-` reads stdin), through the same cleaning as the stream."""
    from streams.clean.stage import page_to_article

    failed = 0
    for name in files:
        data = _read(name)
        page_url = url or f"https://local.invalid/{Path(name).name}"
        page = RawPage(
            article_id=article_id(canonicalize(page_url)),
            url=page_url,
            final_url=page_url,
            status=200,
            fetched_at=datetime.now(UTC),
            source_id="cli",
            content_type="text/html" if _looks_like_html(data) else "text/plain",
            body_b64=RawPage.encode_body(data),
        )
        try:
            article = page_to_article(page)
        except StageError as exc:
            failed += 1
            click.echo(orjson.dumps({"file": name, "error": exc.reason, "detail": str(exc)}))
            continue
        click.echo(orjson.dumps({"file": name} | article.model_dump(mode="json")).decode())
    if failed:
        raise SystemExit(1)


def _lines(files: tuple[str, ...]) -> Iterator[bytes]:
    for name in files or ("-",):
        stream = sys.stdin.buffer if name == "-" else Path(name).open("rb")  # noqa: SIM115
        with stream:
            yield from (line for line in stream if line.strip())


@click.command()
@click.argument("files", nargs=-1)
@click.option("--window-s", type=float, default=None, help="Dedup window (default: settings).")
@pass_ctx
def dedup(ctx: Context, files: tuple[str, ...], window_s: float | None) -> None:
    """Read articles in order (FILES or stdin; Article JSON lines, `{url, title, text,
    language, published}` objects or plain text) and print, for each, what the stream's dedup
    steps say: `new`, `duplicate` (with the id it duplicates and the kind) or `revision`."""
    from streams.dedup.cli import dedup_lines

    window = window_s if window_s is not None else ctx.settings.dedup_window_s
    for result in dedup_lines(_lines(files), window):
        click.echo(orjson.dumps(result).decode())


COMMANDS = [extract, dedup]
