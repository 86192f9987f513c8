"""Cost of the story stage as the worker runs it, next to the classify stage, in one run.

Usage:
    .venv/bin/python bench/stories_stage.py                  # 120 articles, window x10
    .venv/bin/python bench/stories_stage.py --limit 60 --copies 5

Reads ``topics/tgcontest.jsonl`` (real ru/en news articles, title on the first line) from
../shared/data (override with NEWSSTREAM_SHARED_DATA). Per article, interleaved, one process:

1. ``ClassifyStage`` as offline tools run it (it routes the article itself): the reference;
2. ``ClassifyStage`` as the worker runs it (``story_vector`` set: it also embeds headline and
   lead and hands a StoryRequest to news.stories.assign);
3. ``StoryStage`` on that StoryRequest: parse, ``StoryAssigner.assign``, both tables
   (plain dicts here; the worker's faust tables add a changelog write each), routing and
   the summary.

Then the throughput of ``StoryStage`` alone on a fuller window: the same requests again
under new ids and later times, ``--copies`` times, so the window holds limit x copies
articles (each copy finds its earlier copies as candidates: more scoring than a real stream,
a pessimistic case). That is the rate one owner of the single news.stories.assign partition
can sustain, to compare with the classify stage's rate per worker.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.classify.stage import ClassifyStage
from streams.dedup.fingerprint import fingerprint
from streams.identity import article_id, content_hash
from streams.records import Article, SourceRef, StoryRequest
from streams.stories.quality import data_root
from streams.stories.stage import StoryStage
from streams.stories.vectors import story_vector
from streams.topology import STORIES_ASSIGN

ORIGIN = SourceRef(topic="news.unique", partition=0, offset=0)
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def load_articles(root: Path, limit: int) -> list[Article]:
    path = root / "topics" / "tgcontest.jsonl"
    if not path.is_file():
        sys.exit(f"no {path}: set NEWSSTREAM_SHARED_DATA to the shared data folder")
    out: list[Article] = []
    for i, line in enumerate(path.read_bytes().splitlines()[:limit]):
        row = orjson.loads(line)
        title, _, text = row["text"].partition("\n")
        url = row.get("url") or f"https://bench.example/{i}"
        out.append(
            Article(
                article_id=article_id(url), url=url, canonical_url=url,
                source_id=row.get("source") or "bench", title=title[:2000],
                text=text.strip() or title, language=row.get("lang"),
                fetched_at=T0 + timedelta(minutes=i), content_hash=content_hash(text),
                fingerprint=fingerprint(text),
            )
        )  # fmt: skip
    return out


def per_article(articles: list[Article]) -> tuple[dict[str, float], list[bytes]]:
    desks = frozenset({"diplomacy", "politics", "war", "economy", "crime", "sport"})
    reference = ClassifyStage(desks, 0.35)
    worker = ClassifyStage(desks, 0.35, story_vector=story_vector)
    stories = StoryStage({}, {}, desks, 0.35)
    spent = {"classify (routes itself)": 0.0, "classify + story vector": 0.0, "stories": 0.0}
    requests: list[bytes] = []
    for art in articles:
        value = art.to_json()
        t0 = time.perf_counter()
        reference(None, value, ORIGIN)
        t1 = time.perf_counter()
        out = worker(None, value, ORIGIN)
        t2 = time.perf_counter()
        (request,) = [e.value for e in out.emits if e.topic == STORIES_ASSIGN]
        stories(None, request, ORIGIN)
        t3 = time.perf_counter()
        requests.append(request)
        spent["classify (routes itself)"] += t1 - t0
        spent["classify + story vector"] += t2 - t1
        spent["stories"] += t3 - t2
    return {k: 1000 * v / len(articles) for k, v in spent.items()}, requests


def copied(request: bytes, copy: int, n: int) -> bytes:
    """The request again under a new id, ``copy`` x ``n`` minutes later."""
    req = StoryRequest.from_json(request)
    art = req.article
    url = f"{art.url}#copy{copy}"
    moved = art.model_copy(
        update={
            "article_id": article_id(url), "url": url, "canonical_url": url,
            "fetched_at": art.fetched_at + timedelta(minutes=copy * n), "published": None,
        }
    )  # fmt: skip
    return req.model_copy(update={"article": moved}).to_json()


def window_rate(requests: list[bytes], copies: int) -> tuple[float, float, StoryStage]:
    """(articles/s, ms/article, the stage at the end) of StoryStage alone."""
    stream = [copied(r, c, len(requests)) for c in range(copies) for r in requests]
    stage = StoryStage({}, {}, frozenset({"diplomacy"}), 0.35)
    started = time.perf_counter()
    for value in stream:
        stage(None, value, ORIGIN)
    elapsed = time.perf_counter() - started
    return len(stream) / elapsed, 1000 * elapsed / len(stream), stage


def restart(stage: StoryStage) -> tuple[float, float]:
    """(seconds to rebuild the window from the tables, as a new owner does after a
    rebalance, and the rebuilt assigner's memory in MiB, tables not included)."""
    tracemalloc.start()
    started = time.perf_counter()
    rebuilt = StoryStage(stage.members, stage.summaries, frozenset(), 0.35)
    rebuilt.assigner()
    elapsed = time.perf_counter() - started
    size, _ = tracemalloc.get_traced_memory()  # while ``rebuilt`` holds its window
    tracemalloc.stop()
    return elapsed, size / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=120, help="articles (tgcontest.jsonl)")
    parser.add_argument("--copies", type=int, default=10, help="window fill for the rate")
    args = parser.parse_args()
    root = data_root(Path(__file__).resolve().parents[2] / "shared" / "data")
    articles = load_articles(root, args.limit)
    story_vector("warm-up", "warm-up")  # model loads are not timed
    ClassifyStage(frozenset(), 0.35)(None, articles[0].to_json(), ORIGIN)
    ms, requests = per_article(articles)
    print(f"## Cost per article ({len(articles)} tgcontest articles, interleaved, one process)\n")
    print("| what | ms/article |\n|---|---|")
    for name, value in ms.items():
        print(f"| {name} | {value:.2f} |")
    extra = ms["classify + story vector"] - ms["classify (routes itself)"]
    print(f"\nstory vector in classify: +{extra:.1f} ms/article; story stage: {ms['stories']:.2f}")
    rate, per, stage = window_rate(requests, args.copies)
    kept = len(stage.members)
    total = len(requests) * args.copies
    print(f"\n## Story stage alone, {total} articles ({args.copies} copies)\n")
    print(f"{rate:.0f} articles/s ({per:.2f} ms/article), {kept} articles in the window at the end")
    worker_rate = 1000 / ms["classify + story vector"]
    print(f"classify + story vector per worker: {worker_rate:.1f} articles/s")
    seconds, mib = restart(stage)
    print(f"rebuild from the tables: {seconds:.2f} s, {mib:.1f} MiB ({kept} articles)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
