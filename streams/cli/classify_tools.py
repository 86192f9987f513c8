"""Topic classification commands: `classify`, `classify-train`, `classify-eval`, and the
editors' feedback loop `corrections add|pull` (news.corrections -> the next training run)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import orjson

from streams.cli._context import Context

pass_ctx = click.make_pass_decorator(Context)
Doc = tuple[str, str, str, str | None]  # name, title, text, language


def _json_docs(name: str, lines: list[bytes]) -> Iterator[Doc]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row: Any = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(f"{name}:{n}: not a JSON line: {exc}") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise click.ClickException(f"{name}:{n}: expected an object with a 'text' field")
        ident = str(row.get("article_id") or row.get("id") or f"{name}:{n}")
        yield ident, str(row.get("title") or ""), row["text"], row.get("language")


def read_docs(files: tuple[str, ...]) -> Iterator[Doc]:
    """Article JSON lines when the input starts with '{', otherwise one plain-text document
    per file (its first line is the title)."""
    for name in files or ("-",):
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        if data.lstrip().startswith(b"{"):
            yield from _json_docs(name, data.splitlines())
            continue
        text = data.decode("utf-8", "replace").strip()
        title, _, body = text.partition("\n")
        yield name, title, body, None


@click.command()
@click.argument("files", nargs=-1)
@click.option("--language", default=None, help="Language of plain-text input (default: detect).")
@click.option("--compact", is_flag=True, help="Leave out evidence and scores below 0.05.")
def classify(files: tuple[str, ...], language: str | None, compact: bool) -> None:
    """Print one JSON line per document (FILES or stdin) with `topics` (above threshold),
    `scores` (every topic), `iptc` and `evidence`, through the same classifier as the stream.

    Input: Article JSON lines (as `extract` prints them) or plain text."""
    from streams.classify.classifier import default_classifier

    classifier = default_classifier()
    for ident, title, text, lang in read_docs(files):
        result = classifier.classify(title, text, lang or language).to_dict()
        if compact:
            result["scores"] = {k: v for k, v in result["scores"].items() if v >= 0.05}
            result.pop("evidence")
        click.echo(orjson.dumps({"id": ident} | result).decode())


@click.command("classify-train")
@click.option(
    "--corrections",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Editors' corrections (from `corrections pull`) to learn from as well.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Model file (default: the shipped streams/classify/model/topics.npz).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Embed every text again instead of reading ~/.cache/newsstream/e5-train.npz.",
)
def classify_train(corrections: Path | None, out: Path | None, no_cache: bool) -> None:
    """Train the desk model on ../shared/data/topics (training splits) and corrections.

    Progress goes to stderr; the first run embeds ~8,500 texts (about 5 minutes
    with NEWSSTREAM_ENCODER_THREADS=2), later runs read the embedding cache (~20 s)."""
    from streams.classify.model import DEFAULT_MODEL
    from streams.classify.train import DEFAULT_CACHE, train

    meta = train(
        corrections,
        out or DEFAULT_MODEL,
        None if no_cache else DEFAULT_CACHE,
        lambda msg: click.echo(msg, err=True),
    )
    click.echo(orjson.dumps(meta, option=orjson.OPT_INDENT_2).decode())


@click.command("classify-eval")
@click.option(
    "--png",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("bench/out/classify-confusion.png"),
    show_default=True,
)
@click.option("--model", type=click.Path(dir_okay=False, path_type=Path), default=None)
def classify_eval(png: Path, model: Path | None) -> None:
    """Held-out figures: per set, language and desk precision/recall/F1 (multi-label, at the
    calibrated thresholds); single-label macro-F1 and confusion matrices per set (SIB-200 dev,
    tgcontest exam + ria part9, Wikipedia's held-out months); the sample page's headlines."""
    from streams.classify.classifier import Classifier
    from streams.classify.evaluate import (
        desk_figures,
        desk_table,
        evaluate,
        held_out_results,
        plot,
        sample_headlines,
    )

    classifier = Classifier.from_files(model=model)
    results = held_out_results(classifier)
    reports = evaluate(classifier, results=results)
    for rep in reports:
        click.echo(rep.text() + "\n")
    click.echo(desk_table(desk_figures(*results)) + "\n")
    for line in sample_headlines(classifier):
        click.echo(line)
    drawn = plot(reports, png)
    click.echo(f"confusion matrices: {drawn}" if drawn else "matplotlib not installed: no PNG")


@click.group()
def corrections() -> None:
    """Editors' topic corrections on news.corrections, used by the next training run."""


@corrections.command("add")
@click.argument("article_json", type=click.File("rb"))
@click.option("--topic", "topics", multiple=True, required=True, help="Right topic (repeat).")
@click.option("--editor", required=True)
@click.option("--note", default="")
@pass_ctx
def corrections_add(
    ctx: Context, article_json: Any, topics: tuple[str, ...], editor: str, note: str
) -> None:
    """Publish a correction for the (Classified)Article in ARTICLE_JSON (`-` for stdin)."""
    from streams.classify.feedback import correction_for
    from streams.kafka.corrections import publish

    unknown = set(topics) - set(ctx.topology.desk_topics)
    if unknown:
        raise click.BadParameter(f"not desk topics: {sorted(unknown)}", param_hint="--topic")
    record = correction_for(article_json.read(), list(topics), editor, note)
    asyncio.run(publish(ctx.settings, record))
    click.echo(record.to_json().decode())


@corrections.command("pull")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def corrections_pull(ctx: Context, out: Path) -> None:
    """Write every correction on news.corrections (the latest per article) to OUT as JSON
    lines, the file `classify-train --corrections OUT` reads."""
    from streams.kafka.corrections import pull

    n, skipped = asyncio.run(pull(ctx.settings, out, frozenset(ctx.topology.desk_topics)))
    note = f" ({skipped} malformed records skipped: see the warnings above)" if skipped else ""
    click.echo(f"{n} corrections -> {out}{note}", err=True)


COMMANDS = [classify, classify_train, classify_eval, corrections]
