"""Near-duplicate detection: pair-level quality on the stories pairs, a mixed stream, speed.

Usage: .venv/bin/python bench/dedup.py

Reads ``shared/data/stories/tgcontest-pairs.jsonl`` and, as a background stream of unrelated
news, ``shared/data/topics/{tgcontest,ria}.jsonl`` (override the folder with
NEWSSTREAM_SHARED_DATA). Everything runs through the stream's two dedup steps in one process
(``streams/dedup/pipeline.py``). Prints, per pair category, how often the second text is called
a duplicate of the first; then streams every text through one run of the steps and checks each
duplicate it reports against the exact shingle containment; then articles per second of
fingerprint and of the two steps, and the bytes per article of the worker's dedup tables; then
recall per kind of copies made from real articles (exact, other template, promo inserts,
truncated, edited, revision) and the precision of all duplicate decisions in that stream.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.dedup.pipeline import DedupPipeline, text_article
from streams.dedup.quality import (
    CATEGORIES,
    Pair,
    background_texts,
    data_root,
    evaluate,
    exact_containment,
    load_pairs,
)
from streams.dedup.variants import KINDS, evaluate_copies, usable_bases
from streams.topology import CLEAN

REPEAT = 5
# Partitions of each dedup topic in the in-process run (state is per partition, as in a worker).
PARTITIONS = 4


def print_pairs(pairs: list[Pair]) -> None:
    tallies = evaluate(pairs)
    print(f"{'category':<12} {'pairs':>5} {'in order':>9} {'copy 2nd':>9} {'either':>7}  merged")
    for c in CATEGORIES:
        t = tallies[c]
        print(
            f"{c:<12} {t.pairs:>5} {t.rate(t.in_order):>9.2f} {t.rate(t.copy_second):>9.2f}"
            f" {t.rate(t.either):>7.2f}  {t.merged_ids}"
        )
    hits = tallies["reprint"].copy_second
    wrong = tallies["independent"].copy_second + tallies["bad"].copy_second
    grey = tallies["rewrite"].copy_second
    print(
        f"'duplicate' precision (copy second): {hits / max(1, hits + wrong):.2f} "
        f"excluding rewrites, {hits / max(1, hits + wrong + grey):.2f} counting them as wrong; "
        f"reprint recall {tallies['reprint'].rate(hits):.2f}"
    )


def stream(texts: list[str]) -> None:
    """The dedup steps over all texts in order: throughput, state size, and false merges."""
    t0 = time.perf_counter()
    # An Article per text as clean emits it: content hash and fingerprint are computed here.
    articles = [text_article(t, f"{i:032x}", float(i)) for i, t in enumerate(texts)]
    t1 = time.perf_counter()
    # One pass takes ~0.3 s, so a single run swings with whatever else the machine is doing:
    # the steps' figure is the fastest of REPEAT fresh runs over the same articles.
    steps_s = float("inf")
    for _ in range(REPEAT):
        started = time.perf_counter()
        run = DedupPipeline(window_s=7 * 86400, partitions=PARTITIONS)
        decisions = [run(a) for a in articles]
        steps_s = min(steps_s, time.perf_counter() - started)
    n = len(texts)
    print(
        f"\nstream of {n} texts: fingerprint {n / (t1 - t0):,.0f}/s,"
        f" dedup steps {n / steps_s:,.0f}/s (best of {REPEAT}),"
        f" both {n / (t1 - t0 + steps_s):,.0f}/s"
    )
    tables: dict[str, Mapping[str, object]] = {
        "url by_id": run.url_by_id,
        "hash by_hash": run.hash_by_hash,
        "band earliest": run.band_earliest,
        "gather": run.steps.gather_articles | run.steps.gather_bands,
    }
    sizes = {name: sum(len(json.dumps([k, v])) for k, v in m.items()) for name, m in tables.items()}
    parts = ", ".join(f"{name} {size / n:,.0f}" for name, size in sizes.items())
    print(f"state: {sum(sizes.values()) / n:,.0f} bytes of JSON per article ({parts})")
    # Records written per input article (the input itself not counted), per topic, with their
    # bytes (key and value), and the changelog records the tables would write.
    out = [t for t in sorted(run.written) if t != CLEAN]
    per_topic = ", ".join(
        f"{t} {run.written[t] / n:.2f} ({run.written_bytes[t] / n:,.0f} B)" for t in out
    )
    total = sum(run.written[t] for t in out) / n
    print(f"records written per article: {total:.2f}; {per_topic}")
    steps = run.steps
    changelog = {
        "url": steps.url_by_id.writes,
        "hash": steps.hash_by_hash.writes,
        "band": steps.band_earliest.writes,
        "gather": steps.gather_articles.writes + steps.gather_bands.writes,
    }
    parts = ", ".join(f"{k} {v / n:.2f}" for k, v in changelog.items())
    print(f"changelog records per article: {sum(changelog.values()) / n:.2f} ({parts})")
    dups = [(i, d) for i, d in enumerate(decisions) if d.kind == "duplicate"]
    false = 0
    for i, d in dups:
        j = int(d.duplicate_of or "0", 16)
        exact = exact_containment(texts[i], texts[j])
        false += exact < 0.4
        flag = "  <-- not a copy" if exact < 0.4 else ""
        print(f"  {i} dup of {j}: {d.reason} est {d.similarity:.2f} exact {exact:.2f}{flag}")
    print(f"{len(dups)} duplicates reported, {false} of them with exact containment < 0.4")


def print_copies(texts: list[str], limit: int = 400) -> None:
    """Copies made from real articles (streams/dedup/variants.py): recall per kind, precision."""
    bases = usable_bases(texts, limit)
    started = time.perf_counter()
    report = evaluate_copies(bases)
    elapsed = time.perf_counter() - started
    n = len(bases) * (len(KINDS) + 1)
    print(f"\ncopies of {len(bases)} real articles, {n} texts in one stream ({n / elapsed:,.0f}/s)")
    print(f"{'kind':<10} {'texts':>5} {'right':>6} {'recall':>7}")
    for kind, score in report.kinds.items():
        print(f"{kind:<10} {score.total:>5} {score.right:>6} {score.recall:>7.3f}")
    b = report.bases
    print(f"{'base/new':<10} {b.total:>5} {b.right:>6} {b.recall:>7.3f}")
    print(
        f"duplicate precision {report.precision:.4f} "
        f"({report.wrong_duplicates} wrong of {report.duplicates} duplicate decisions)"
    )


def main() -> int:
    root = data_root(Path(__file__).resolve().parents[2] / "shared/data")
    if not (root / "stories").is_dir():
        print(
            f"no shared data at {root}: put the data folder beside the checkout or set "
            "NEWSSTREAM_SHARED_DATA",
            file=sys.stderr,
        )
        return 2
    pairs = load_pairs(root)
    print_pairs(pairs)
    # Firsts, then unrelated news, then seconds: every pair meets across ~1000 other texts.
    texts = [p.first for p in pairs] + list(background_texts(root)) + [p.second for p in pairs]
    stream(texts)
    print_copies(list(background_texts(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
