"""Topic classification: quality on the held-out splits and throughput of one process.

Usage: .venv/bin/python bench/classify.py [--png PATH] [--limit N]

Prints per-language, per-label precision/recall/F1 and confusion matrices (SIB-200 dev;
tgcontest exam + ria part9 mapped as in streams/classify/README.md), writes the matrices as a
PNG, then times the classify stage (Article JSON in, routed ClassifiedArticle JSON out, one
article per call as in the worker) on full-length news articles, and the clean stage on the
Russian extraction set in the same run, for the relative cost. Single process: the machine is
shared. Reads ../shared/data (override with NEWSSTREAM_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.classify.classifier import Classifier
from streams.classify.data import SHARED_DATA, load_all
from streams.classify.evaluate import evaluate, plot
from streams.classify.taxonomy import load_taxonomy
from streams.records import Article, RawPage, SourceRef
from streams.stages.classify import ClassifyStage
from streams.stages.clean import CleanStage

ORIGIN = SourceRef(topic="news.unique", partition=0, offset=0)


def articles(limit: int) -> list[bytes]:
    news = [e for e in load_all() if e.source != "sib200"][:limit]
    now = datetime.now(UTC)
    return [
        Article(
            article_id=f"{i:032x}", url=f"https://bench.test/{i}", canonical_url=f"https://bench.test/{i}",
            source_id="bench", title=e.title, text=e.text, language=e.language, fetched_at=now,
            content_hash=f"{i:064x}",
        ).to_json()
        for i, e in enumerate(news)
    ]  # fmt: skip


def classify_rate(values: list[bytes]) -> float:
    stage = ClassifyStage(desks=frozenset(load_taxonomy().topic_names()), review_below=0.5)
    stage(None, values[0], ORIGIN)  # warm-up: model and encoder load once per process
    start = time.perf_counter()
    outcomes: dict[str, int] = {}
    for value in values:
        result = stage(None, value, ORIGIN)
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    rate = len(values) / (time.perf_counter() - start)
    avg_chars = sum(len(json.loads(v)["text"]) for v in values) / len(values)
    print(f"| classify stage | {rate:.1f} articles/s | {len(values)} articles, "
          f"{avg_chars:.0f} chars avg | {outcomes} |")
    return rate


def clean_rate(limit: int) -> float | None:
    folder = SHARED_DATA / "extraction" / "daniel-ru" / "html"
    files = sorted(folder.glob("*.html.gz"))[:limit]
    if not files:
        return None
    raws = [RawPage(
        article_id=f"{i:032x}", url=f"https://ru.test/{i}", final_url=f"https://ru.test/{i}",
        status=200, fetched_at=datetime.now(UTC), source_id="bench", content_type="text/html",
        body_b64=RawPage.encode_body(gzip.decompress(f.read_bytes())),
    ).to_json() for i, f in enumerate(files)]
    stage = CleanStage()
    stage(None, raws[0], ORIGIN)
    start = time.perf_counter()
    for value in raws:
        # a page without text is a dead letter in the worker; time it too
        with contextlib.suppress(Exception):
            stage(None, value, ORIGIN)
    rate = len(raws) / (time.perf_counter() - start)
    print(f"| clean stage (daniel-ru HTML) | {rate:.1f} pages/s | {len(raws)} pages | |")
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--png", type=Path, default=Path("bench/out/classify-confusion.png"))
    parser.add_argument("--limit", type=int, default=400)
    args = parser.parse_args()
    if not (SHARED_DATA / "topics").is_dir():
        print(f"shared data {SHARED_DATA} missing: set NEWSSTREAM_SHARED_DATA")
        return 2
    classifier = Classifier.from_files()
    print(f"classifier {classifier.version}\n")
    reports = evaluate(classifier)
    for rep in reports:
        print(rep.text() + "\n")
    summary = ", ".join(f"{r.name}/{r.language} {r.macro_f1:.3f}" for r in reports)
    print(f"summary macro-F1: {summary}")
    print(f"confusion matrices: {plot(reports, args.png) or 'matplotlib missing, no PNG'}\n")
    print("| what | rate (one process) | input | outcomes |\n|---|---|---|---|")
    c = classify_rate(articles(args.limit))
    k = clean_rate(args.limit)
    if k:
        print(f"\nclassify costs {k / c:.2f}x the time of cleaning per article")
    return 0


if __name__ == "__main__":
    sys.exit(main())
