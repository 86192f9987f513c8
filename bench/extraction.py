"""Main-text extraction: ours vs trafilatura, resiliparse and jusText on the same pages and run.

Usage: .venv/bin/python bench/extraction.py [--limit N] [--only NAME ...] [--stages]

Reads ``shared/data/extraction/{aeb,daniel-ru}`` (override the folder with
NEWSSTREAM_SHARED_DATA) and prints F1 / precision / recall (the benchmark's word-4-gram metric,
``streams.clean.metric``) and pages per second for each extractor and set. Single process: the
machine is shared. Every extractor gets the raw bytes and decodes them its own way.
``--stages`` also times the worker's stage functions, clean (with learned template lines) then
both dedup steps, over the same pages as RawPage/Article JSON: one worker's ceiling, no broker.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import justext
import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.clean.boilerplate import TemplateLines
from streams.clean.extract import extract
from streams.clean.metric import Score, aggregate, score_page
from streams.clean.stage import CleanStage
from streams.dedup.pipeline import DedupSteps
from streams.records import RawPage, SourceRef

SETS = ("aeb", "daniel-ru")
Page = tuple[str, bytes, str]


def data_root() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared/data"
    return Path(os.environ.get("NEWSSTREAM_SHARED_DATA", default))


def load(name: str, limit: int | None) -> list[Page]:
    folder = data_root() / "extraction" / name
    truth = json.loads((folder / "ground-truth.json").read_text("utf-8"))
    pages = []
    for key in sorted(truth)[:limit]:
        raw = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        pages.append((key, raw, truth[key]["articleBody"]))
    return pages


def extractors() -> dict[str, Callable[[bytes], str]]:
    stoplist = justext.get_stoplist("English")

    def jt(raw: bytes) -> str:
        paragraphs = justext.justext(raw, stoplist)
        return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)

    return {
        "newsstream extract()": lambda raw: extract(raw).text,
        "trafilatura extract()": lambda raw: trafilatura.extract(raw) or "",
        "trafilatura fast=True": lambda raw: trafilatura.extract(raw, fast=True) or "",
        "resiliparse main_content": lambda raw: extract_plain_text(
            bytes_to_str(raw, detect_encoding(raw) or "utf-8"), main_content=True
        ),
        "justext (English)": jt,
    }


def run(name: str, func: Callable[[bytes], str], pages: list[Page]) -> tuple[Score, float]:
    func(pages[0][1])  # warm-up: imports and lazy model loading are not per-page costs
    predictions = []
    start = time.perf_counter()
    for i, (_key, raw, _truth) in enumerate(pages, 1):
        try:
            predictions.append(func(raw))
        except Exception:  # a crashing extractor scores zero on that page, the run goes on
            predictions.append("")
        if i % 20 == 0 or i == len(pages):
            print(f"\r  {name:<28} {i:>4}/{len(pages)}", end="", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - start
    print(file=sys.stderr)
    score = aggregate(score_page(t, p) for (_, _, t), p in zip(pages, predictions, strict=True))
    return score, len(pages) / elapsed


def stage_throughput(name: str, pages: list[Page]) -> None:
    clean = CleanStage(TemplateLines({}))
    dedup = DedupSteps(window_s=7 * 86400)  # the four dedup steps, records passed in memory
    origin = SourceRef(topic="news.raw", partition=0, offset=0)
    raws = [
        RawPage(
            article_id=f"{i:032x}", url=f"https://{name}.test/{key}", final_url=f"https://{name}.test/{key}",
            status=200, fetched_at=datetime.now(UTC), source_id=name, content_type="text/html",
            body_b64=RawPage.encode_body(raw),
        ).to_json()
        for i, (key, raw, _truth) in enumerate(pages)
    ]  # fmt: skip
    # Warm-up on a throwaway stage: imports and model loading are not per-page costs.
    CleanStage()(None, raws[0], origin)
    start = time.perf_counter()
    outcomes: dict[str, int] = {}
    for value in raws:
        try:
            article = clean(None, value, origin).emits[0].value
        except Exception:  # no text: a dead letter in the worker
            outcomes["dead_letter"] = outcomes.get("dead_letter", 0) + 1
            continue
        step = dedup(None, article, origin)
        outcomes[step.outcome] = outcomes.get(step.outcome, 0) + 1
    rate = len(raws) / (time.perf_counter() - start)
    print(f"| {name} | clean + dedup steps | {rate:.0f} pages/s | {outcomes} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="pages per set")
    parser.add_argument("--only", nargs="*", help="extractor names containing these words")
    parser.add_argument("--stages", action="store_true", help="also time clean + dedup stages")
    args = parser.parse_args()
    if not (data_root() / "extraction").is_dir():
        print(f"shared data not found at {data_root()} (set NEWSSTREAM_SHARED_DATA); nothing to do")
        return 2
    warnings.filterwarnings("ignore")
    chosen = {
        k: v for k, v in extractors().items() if not args.only or any(w in k for w in args.only)
    }
    rows = []
    for set_name in SETS:
        pages = load(set_name, args.limit)
        print(f"{set_name}: {len(pages)} pages", file=sys.stderr)
        for name, func in chosen.items():
            score, speed = run(name, func, pages)
            rows.append((set_name, name, score, speed))
    print("\n| set | extractor | F1 | precision | recall | pages/s |\n|---|---|---|---|---|---|")
    for set_name, name, s, speed in rows:
        figures = f"{s.f1:.3f} | {s.precision:.3f} | {s.recall:.3f} | {speed:.0f}"
        print(f"| {set_name} | {name} | {figures} |")
    if args.stages:
        print("\n| set | stage functions | throughput | outcomes |\n|---|---|---|---|")
        for set_name in SETS:
            stage_throughput(set_name, load(set_name, args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
