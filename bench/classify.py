"""Topic classification: held-out quality, and the classify stage's speed and memory in one process.

Usage:
    .venv/bin/python bench/classify.py                  # quality, then speed and memory
    .venv/bin/python bench/classify.py --skip-quality   # speed and memory only (~2 min)
    .venv/bin/python bench/classify.py --limit 100 --threads 2 --png /tmp/confusion.png

Quality (as ``newsstream classify-eval``): single-label reports per held-out set and language
(SIB-200 dev; tgcontest exam + ria part9 in tgcontest's label space; Wikipedia's held-out
months) with confusion matrices, drawn as a PNG (``--png``); the multi-label per set, language
and desk table; and the 13 headlines of the sample page.

Speed, all in this process and run, the loops interleaved call by call so that load from other
processes on the shared machine falls on all of them alike (compare the rows with each other,
not with another day):

* the clean stage on the Russian extraction pages (daniel-ru HTML), pages/s: the reference;
* the classify stage as the worker runs it, one Article JSON per call, on typical articles:
  real news (title + full text) from the tgcontest, ria and lenta-crime training sets, taken
  in turn from each set and language; articles/s and ms/article p50/p95;
* the same with a rubric book attached (each article carries its set's label as its rubric
  and the set as its source), for the overhead of the rubric path;
* ``Classifier.classify_many`` in batches of 16: what batching inside the agent would give;
* the cost split: the sentence encoder alone (``streams.classify.model.embed``) on the same
  titles/texts, one per call and in batches of 16, and the classify stage with the encoder
  replaced by a lookup of the same vectors (everything else: JSON, term rules, model head,
  routing).

The issue's target is 15 articles/s per worker process for typical articles: printed, never
asserted. Memory is the process RSS from /proc/self/status (VmRSS, VmHWM = peak; RssFile is
mostly the memory-mapped 4-bit model, shared by the workers of one host): before the
classifier loads, with the model and encoder loaded, after encoding the bench's articles once
(the pages of the mapped model a worker touches), and at the end. The encoder runs
NEWSSTREAM_ENCODER_THREADS threads (default 1; ``--threads`` sets it for this run).
Reads ../shared/data (override with NEWSSTREAM_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.classify.classifier import Classifier, Item, default_classifier
from streams.classify.data import SHARED_DATA, Example, load_all
from streams.classify.encoder import EMBED_CHARS, ENCODER_NAME, Encoder, embed_text
from streams.classify.evaluate import (
    desk_figures,
    desk_table,
    evaluate,
    held_out_results,
    plot,
    sample_headlines,
)
from streams.classify.model import TopicModel, embed
from streams.classify.rubrics import MIN_ARTICLES, RubricBook
from streams.classify.stage import ClassifyStage
from streams.clean.stage import CleanStage
from streams.records import Article, RawPage, SourceRef
from streams.settings import Settings

ORIGIN = SourceRef(topic="news.unique", partition=0, offset=0)
NEWS_SOURCES = ("tgcontest", "ria", "lenta-crime")
BATCH = 16
TARGET = 15.0  # articles/s per worker process (the issue)
THREADS_ENV = "NEWSSTREAM_ENCODER_THREADS"
KIB_PER_MIB = 1024  # /proc/self/status counts kB


# ---- measuring ----------------------------------------------------------------------------


@dataclass
class Loop:
    """One timed loop: its calls, each handling ``per_call`` items, and their durations."""

    what: str
    calls: Sequence[Callable[[], object]]
    per_call: int = 1
    unit: str = "articles"
    note: str = ""
    warm_up: Callable[[], object] | None = None  # default: the first call, untimed
    seconds: list[float] = field(default_factory=list)

    @property
    def items(self) -> int:
        return len(self.seconds) * self.per_call

    @property
    def rate(self) -> float:
        return self.items / sum(self.seconds)

    @property
    def ms_each(self) -> float:
        return 1000 * sum(self.seconds) / self.items

    def pct(self, q: float) -> float:
        """ms per item at the q-th percentile of calls (a batch's time split over its items)."""
        return 1000 * float(np.percentile(self.seconds, q)) / self.per_call

    def row(self) -> str:
        return (
            f"| {self.what} | {self.rate:.1f} {self.unit}/s | {self.ms_each:.1f} | "
            f"{self.pct(50):.1f} | {self.pct(95):.1f} | {self.items} | {self.note} |"
        )


def run_interleaved(loops: Sequence[Loop]) -> None:
    """Every loop's warm-up (untimed), then all calls of all loops, each loop's spread evenly
    over the run, so drift in the machine's load falls on every loop alike."""
    for loop in loops:
        (loop.warm_up or loop.calls[0])()
    n = max(len(loop.calls) for loop in loops)
    # at each step the loops take turns going first (a call right after the same article's
    # call by another loop finds the encoder's weights in the CPU cache)
    order = sorted(
        (pos, (k - pos) % len(loops), k, j)
        for k, loop in enumerate(loops)
        for j in range(len(loop.calls))
        for pos in [j * n // len(loop.calls)]
    )
    for *_, k, j in order:
        start = time.perf_counter()
        loops[k].calls[j]()
        loops[k].seconds.append(time.perf_counter() - start)


def memory() -> dict[str, float]:
    """VmRSS, VmHWM (peak RSS), RssAnon and RssFile of this process in MiB."""
    out = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in {"VmRSS", "VmHWM", "RssAnon", "RssFile"}:
                out[key] = int(value.split()[0]) / KIB_PER_MIB
    return out


def mem_line(label: str, m: dict[str, float]) -> str:
    keys = ("VmRSS", "VmHWM", "RssAnon", "RssFile")
    cells = [f"{m[k]:.0f} MiB" if k in m else "n/a" for k in keys]
    return f"| {label} | {' | '.join(cells)} |"


# ---- inputs -------------------------------------------------------------------------------


def news_examples(examples: list[Example], limit: int) -> list[Example]:
    """Typical articles: real news with a title and a text, from each set and language in turn."""
    groups: dict[tuple[str, str], list[Example]] = {}
    for e in examples:
        if e.source in NEWS_SOURCES and e.title.strip() and e.text.strip():
            groups.setdefault((e.source, e.language or "?"), []).append(e)
    out: list[Example] = []
    for i in range(max(map(len, groups.values()), default=0)):
        out += [rows[i] for rows in groups.values() if i < len(rows)]
    return out[:limit]


def article_json(i: int, e: Example, now: datetime, *, rubric: bool) -> bytes:
    return Article(
        article_id=f"{i:032x}", url=f"https://bench.test/{i}", canonical_url=f"https://bench.test/{i}",
        source_id=e.source if rubric else "bench", title=e.title, text=e.text,
        language=e.language, rubric=e.source_label if rubric else None, fetched_at=now,
        content_hash=f"{i:064x}",
    ).to_json()  # fmt: skip


def raw_pages(limit: int) -> list[bytes]:
    files = sorted((SHARED_DATA / "extraction" / "daniel-ru" / "html").glob("*.html.gz"))[:limit]
    now = datetime.now(UTC)
    return [RawPage(
        article_id=f"{i:032x}", url=f"https://ru.test/{i}", final_url=f"https://ru.test/{i}",
        status=200, fetched_at=now, source_id="bench", content_type="text/html",
        body_b64=RawPage.encode_body(gzip.decompress(f.read_bytes())),
    ).to_json() for i, f in enumerate(files)]  # fmt: skip


def learned_priors(news: list[Example]) -> int:
    """Calls on which the book had a prior: after MIN_ARTICLES of that (source, rubric), the
    warm-up call (the first article) included."""
    seen: Counter[tuple[str, str]] = Counter({(news[0].source, news[0].source_label): 1})
    learned = 0
    for e in news:
        learned += seen[(e.source, e.source_label)] >= MIN_ARTICLES
        seen[(e.source, e.source_label)] += 1
    return learned


class KnownVectors:
    """The topic model with the encoder replaced by a lookup of precomputed vectors: the
    classify stage through it costs everything but the encoder."""

    def __init__(self, model: TopicModel, vectors: dict[tuple[str, str], Any]) -> None:
        self._model, self._vectors = model, vectors
        self.misses = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def scores(self, titles: Sequence[str], texts: Sequence[str], rules: Any, embeddings: Any = None
               ) -> Any:  # fmt: skip
        rows = []
        for h, t in zip(titles, texts, strict=True):
            if (h, t) not in self._vectors:
                self.misses += 1
                self._vectors[(h, t)] = embed([h], [t])[0]
            rows.append(self._vectors[(h, t)])
        return self._model.scores(titles, texts, rules, np.stack(rows))


# ---- parts --------------------------------------------------------------------------------


def quality(classifier: Classifier, examples: list[Example], png: Path) -> None:
    results = held_out_results(classifier, examples)
    reports = evaluate(classifier, results=results)
    for rep in reports:
        print(rep.text() + "\n")
    summary = ", ".join(f"{r.name}/{r.language} {r.macro_f1:.3f}" for r in reports)
    print(f"summary macro-F1: {summary}\n")
    print(desk_table(desk_figures(*results)) + "\n")
    for line in sample_headlines(classifier):
        print(line)
    print(f"\nconfusion matrices: {plot(reports, png) or 'matplotlib missing, no PNG'}\n")


def speed(
    classifier: Classifier, news: list[Example], pages: list[bytes], vectors: dict[Any, Any]
) -> dict[str, Loop]:
    """Loops by key: clean (when there are pages), stage, rubric, batch, enc1, enc16, rest."""
    now = datetime.now(UTC)
    plain = [article_json(i, e, now, rubric=False) for i, e in enumerate(news)]
    with_rubric = [article_json(i, e, now, rubric=True) for i, e in enumerate(news)]
    titles, texts = [e.title for e in news], [e.text for e in news]
    items = [Item(e.title, e.text, e.language) for e in news]
    whole: list[slice] = [slice(i, i + BATCH) for i in range(0, len(news) - BATCH + 1, BATCH)]
    desks = frozenset(classifier.taxonomy.topic_names())
    review = Settings.model_fields["classify_review_threshold"].default

    def calls(stage: Any, values: Sequence[bytes], seen: Counter[str] | None = None,
              dead_letters: bool = False) -> list[Callable[[], object]]:  # fmt: skip
        def one(value: bytes) -> Callable[[], object]:
            def call() -> object:
                try:
                    result = stage(None, value, ORIGIN)
                except Exception:
                    if not dead_letters:
                        raise
                    return None  # a page without text is a dead letter in the worker: timed too
                if seen is not None:
                    seen[result.outcome] += 1
                return result

            return call

        return [one(v) for v in values]

    # the stage the worker builds; default_classifier() is the classifier it uses
    worker = ClassifyStage(desks=desks, review_below=review)
    book = RubricBook("bench", writer="bench")
    with_book = ClassifyStage(desks=desks, review_below=review, rubrics=book)
    assert classifier.model is not None
    lookup = KnownVectors(classifier.model, vectors)
    without = Classifier(classifier.taxonomy, lookup)  # type: ignore[arg-type]
    no_encoder = ClassifyStage(desks=desks, review_below=review, classifier=without.classify)
    outcomes: Counter[str] = Counter()
    loops = {
        "stage": Loop("classify stage, 1 article/call (as the worker)",
                      calls(worker, plain, outcomes),
                      warm_up=lambda: worker(None, plain[0], ORIGIN)),
        "rubric": Loop("classify stage + rubric book, 1 article/call",
                       calls(with_book, with_rubric)),
        "batch": Loop(f"`classify_many`, batches of {BATCH}",
                      [partial(classifier.classify_many, items[s]) for s in whole], BATCH,
                      note="the classifier alone: no JSON, no routing"),
        "enc1": Loop("encoder alone (`embed`), 1 article/call",
                     [partial(embed, titles[i : i + 1], texts[i : i + 1])
                      for i in range(len(news))],
                     note=f"title + lead, <= {EMBED_CHARS} chars"),
        "enc16": Loop(f"encoder alone (`embed`), batches of {BATCH}",
                      [partial(embed, titles[s], texts[s]) for s in whole], BATCH),
        "rest": Loop("classify stage without the encoder, 1 article/call",
                     calls(no_encoder, plain),
                     note="encoder replaced by a lookup of the same vectors"),
    }  # fmt: skip
    if pages:
        cleaning = calls(CleanStage(), pages, dead_letters=True)
        loops["clean"] = Loop("clean stage (reference)", cleaning, unit="pages",
                              note="daniel-ru HTML, `CleanStage()`")  # fmt: skip
    run_interleaved(list(loops.values()))
    loops["stage"].note = "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    keys = len({(e.source, e.source_label) for e in news})
    loops["rubric"].note = (
        f"{keys} source/rubric keys; prior blended on {learned_priors(news)} calls; every call "
        "counted into the book + 1 news.rubrics record"
    )
    if lookup.misses:
        loops["rest"].note += f" ({lookup.misses} misses encoded)"
    return loops


def report(loops: dict[str, Loop], news: list[Example]) -> None:
    order = ("clean", "stage", "rubric", "batch", "enc1", "enc16", "rest")
    print("| what | rate (one process) | ms/item mean | ms p50 | ms p95 | items | notes |")
    print("|---|---|---|---|---|---|---|")
    for key in order:
        if key in loops:
            print(loops[key].row())
    clean, one, rubric = loops.get("clean"), loops["stage"], loops["rubric"]
    batch, enc1, enc16, rest = loops["batch"], loops["enc1"], loops["enc16"], loops["rest"]

    chars = [len(e.title) + len(e.text) for e in news]
    embedded = [len(embed_text(e.title, e.text)) for e in news]
    sources = Counter(e.source for e in news)
    langs = Counter(e.language or "?" for e in news)
    print(
        f"\narticles: {len(news)} ({', '.join(f'{k} {v}' for k, v in sources.items())}; "
        f"{', '.join(f'{k} {v}' for k, v in langs.most_common())}); title + text "
        f"{np.median(chars):.0f} chars median, the encoder reads {np.mean(embedded):.0f} chars mean"
    )
    print(
        f"\ncost split, 1 article/call: encoder {enc1.ms_each:.1f} ms + the rest "
        f"{rest.ms_each:.1f} ms = {enc1.ms_each + rest.ms_each:.1f} ms (stage measured "
        f"{one.ms_each:.1f} ms); the encoder is {100 * enc1.ms_each / one.ms_each:.0f}% of it"
    )
    print(
        f"cost split, batches of {BATCH}: encoder {enc16.ms_each:.1f} ms/article of "
        f"`classify_many`'s {batch.ms_each:.1f} ms ({100 * enc16.ms_each / batch.ms_each:.0f}%)"
    )
    print(
        f"rubric path overhead: {rubric.ms_each - one.ms_each:+.1f} ms/article "
        f"({100 * (rubric.ms_each / one.ms_each - 1):+.1f}%)"
    )
    print(
        f"batching: `classify_many` x{BATCH} runs at {batch.rate / one.rate:.2f}x the rate of "
        f"the stage one article per call; the encoder x{BATCH} at "
        f"{enc16.rate / enc1.rate:.2f}x its one-per-call rate"
    )
    if clean is not None:
        print(
            f"\nclassify costs {clean.rate / one.rate:.2f}x the time of cleaning per article "
            f"({one.ms_each:.1f} ms vs {clean.ms_each:.1f} ms per page)"
        )
        both = 1 / (1 / clean.rate + 1 / one.rate)
        print(
            f"clean + classify in turn in one process (no dedup, no broker): {both:.1f} articles/s"
        )
    else:
        print("\nno daniel-ru HTML pages found: no clean-stage reference")
    for loop in (one, rubric, batch):
        met = "met" if loop.rate >= TARGET else "NOT met"
        print(
            f"target >= {TARGET:.0f} articles/s per worker: {loop.what}: {loop.rate:.1f} -> {met}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--png",
        type=Path,
        default=Path("bench/out/classify-confusion.png"),
        help="where to draw the confusion matrices (default: %(default)s)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=300,
        help="news articles to time, and at most this many clean pages (default: %(default)s)",
    )
    parser.add_argument(
        "--skip-quality", action="store_true", help="only the speed and memory part"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"encoder threads for this run (sets {THREADS_ENV}; default: as set, else 1)",
    )
    args = parser.parse_args()
    if args.limit < BATCH:
        parser.error(f"--limit must be at least {BATCH}")
    if not (SHARED_DATA / "topics").is_dir():
        print(f"shared data {SHARED_DATA} missing: set NEWSSTREAM_SHARED_DATA")
        return 2
    if args.threads is not None:
        os.environ[THREADS_ENV] = str(args.threads)
        Encoder.threads = args.threads  # the engine is not loaded yet: it starts with these
    threads = os.environ.get(THREADS_ENV)
    env = f"{THREADS_ENV}={threads if threads is not None else 'unset'}"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"CPUs: {os.cpu_count()} ({usable} usable by this process; load average {load}); "
        f"encoder threads: {threads or 1} ({env})"
    )

    examples = load_all()
    news = news_examples(examples, args.limit)
    pages = raw_pages(args.limit)
    before = memory()
    start = time.perf_counter()
    classifier = default_classifier()  # what the stage uses: one model per process
    classifier.classify("warm-up", "warm-up", "en")  # the encoder loads on first use
    load_s = time.perf_counter() - start
    loaded = memory()
    print(f"classifier {classifier.version}, encoder {ENCODER_NAME}: loaded in {load_s:.1f} s\n")

    # Once through the encoder: the vectors for the encoder-less stage, and the mapped model's
    # pages these articles' tokens touch become resident, as in a worker that has been running.
    keys = [(e.title, e.text) for e in news]
    vectors = dict(zip(keys, embed([k[0] for k in keys], [k[1] for k in keys]), strict=True))
    warm = memory()

    if not args.skip_quality:
        quality(classifier, examples, args.png)
    report(speed(classifier, news, pages, vectors), news)

    after = memory()
    print("\n| process memory | VmRSS | VmHWM (peak) | RssAnon | RssFile |\n|---|---|---|---|---|")
    print(mem_line("before loading the classifier (imports + data)", before))
    print(mem_line("worker memory with the model loaded (model + encoder, 1 warm-up call)", loaded))
    print(
        mem_line(f"worker memory with the model loaded, after encoding {len(news)} articles", warm)
    )
    print(mem_line(f"after the run ({'speed' if args.skip_quality else 'quality + speed'})", after))
    if before and warm:
        print(
            f"\nthe model + encoder add {warm['VmRSS'] - before['VmRSS']:.0f} MiB RSS to a worker "
            f"once running ({warm['RssFile'] - before['RssFile']:.0f} MiB of it file-backed, "
            "mostly the mapped model: shared by the workers of one host)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
