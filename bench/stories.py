"""Story grouping: pair accuracy, storyline clustering, ablation and per-article cost.

Usage:
    .venv/bin/python bench/stories.py                    # everything (embeddings cached)
    .venv/bin/python bench/stories.py --limit 800 --cost-limit 30
    .venv/bin/python bench/stories.py --tune             # also: how the weights were chosen

Reads ``stories/tgcontest-pairs.jsonl`` and ``topics/wikipedia-current-events.jsonl`` from
../shared/data (override with NEWSSTREAM_SHARED_DATA). Every figure is given per held-out half:
**A** is the half the weights were chosen on, **B** was only measured (pairs split by a hash of
the first URL, events by date, see ``streams/stories/quality.py``).

1. Pairs: same-story pairs linked, different-story pairs kept apart, for the assigner, an
   embeddings-only baseline (cosine alone, its threshold chosen on half A by the same rule)
   and the assigner without each signal.
2. Storylines: the first ``--limit`` events by date through one assigner; pairwise and BCubed
   precision/recall over events at most ``--days`` apart, same rows. Desks are the classify
   model's (from the same embeddings), as the stage after classify will have them.
3. Sharding: key candidates against scoring every article of the window, and the cost of
   articles in flight (decided before the previous ones are filed).
4. Across languages: FLORES sentences and their translations (SIB-200), ids not used for the
   calibration table: the share of translations and of unrelated sentences that reach the
   threshold, raw and calibrated (``streams/stories/languages.py``).
   Then real ru and en articles of the same days (``topics/tgcontest.jsonl``, unlabelled):
   the links made across languages and the most similar ru-en pairs, for reading.
5. One outlet's timed stream (ria.ru, ``topics/ria.jsonl``, no story labels): the links the
   assigner makes with and without the same-outlet, same-day penalty, and every link the
   penalty stops, with its headlines, for reading (the pairs cannot weigh that penalty: they
   have no times and few same-outlet pairs).
6. Cost per article, interleaved in this run: the classify stage (one Article JSON per call,
   as the worker runs it), the story stage's embedding of title + lead (the same encoder
   call), and ``StoryAssigner.assign`` alone over a warm state.

With ``--tune`` also: how the weights were chosen (half A), the story vector's candidates
(``VECTOR_KINDS``, among them cheaper ones that reuse the classify input), the text evidence
beyond the cosine, the time penalty's grid, and names weighed on a larger training set
(Wikipedia event pairs, ``streams/stories/transfer.py``) carried over to the pairs.

Embeddings are cached in ~/.cache/newsstream/e5-stories.npz (``--no-cache`` to recompute).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.classify.classifier import default_classifier
from streams.classify.encoder import Encoder, Matrix, cached_encode, embed_text
from streams.classify.stage import ClassifyStage
from streams.records import Article, SourceRef
from streams.stories.assigner import StoryArticle, StoryAssigner
from streams.stories.languages import calibrated
from streams.stories.quality import (
    Event,
    StoryPair,
    assign_events,
    clustering,
    data_root,
    load_events,
    load_pairs,
    load_stream,
    pair_scores,
    stream_links,
)
from streams.stories.scoring import Vector, Weights
from streams.stories.transfer import NameIdf, background, transfer
from streams.stories.tuning import (
    ABLATIONS,
    MARGIN,
    MARGIN_GRID,
    TIME_GRID,
    compare_evidence,
    cos_auc,
    linked_without_false_link,
    margin_rule,
    recentre,
    text_evidence,
    tune_weights,
)
from streams.stories.vectors import LEAD_CHARS, mean_vectors, story_texts, story_vectors

CACHE = Path.home() / ".cache" / "newsstream" / "e5-stories.npz"
ORIGIN = SourceRef(topic="news.unique", partition=0, offset=0)
PairVectors = dict[int, tuple[Vector, Vector]]


def vectors_of(groups: list[list[str]], cache: Path | None, what: str) -> Matrix:
    """Story vectors (each group: a headline and a lead) through the embedding cache."""
    flat = cached_encode(
        [t for g in groups for t in g],
        cache,
        lambda done, todo: print(f"embedding {what} {done}/{todo}", file=sys.stderr),
    )
    return mean_vectors(flat, [len(g) for g in groups])


# The story vector's candidates (``--tune``): which encoder inputs, averaged. "classify" is the
# classify stage's own "title. lead" of 160 characters (free when passed on); "rest" the lead
# up to 300 characters after what "classify" holds (with "classify", the whole lead 300 for the
# tokens of the rest alone: ``lead_rest``).
VECTOR_KINDS = {
    "story": ("headline", "lead"),
    "classify": ("classify",),
    "headline": ("headline",),
    "lead": ("lead",),
    "headline + classify's": ("headline", "classify"),
    "headline + lead + classify's": ("headline", "lead", "classify"),
    "headline + classify's + rest": ("headline", "classify", "rest"),
    "classify's + rest": ("classify", "rest"),
    "headline + rest": ("headline", "rest"),
}


def lead_rest(title: str, text: str) -> str:
    """The story lead (``LEAD_CHARS``) after the part the classify input already holds."""
    lead, head = embed_text("", text, LEAD_CHARS), " ".join(title.split())
    classify = embed_text(title, text)
    seen = classify[len(head) + 2 :] if head and classify.startswith(f"{head}. ") else ""
    if not head:
        seen = classify
    return lead[len(seen) :].strip() if lead.startswith(seen) else lead


def pair_vectors(pairs: list[StoryPair], cache: Path | None) -> dict[str, PairVectors]:
    """Per kind of ``VECTOR_KINDS`` ("story": the assigner's headline + lead 300); an empty
    input (no rest: the lead fitted into the classify input) is left out of the mean."""
    docs = [(t, x) for p in pairs for (_, t, x) in (p.first, p.second)]
    inputs = {
        "headline": [embed_text(t, "") for t, _ in docs],
        "lead": [embed_text("", x, LEAD_CHARS) for _, x in docs],
        "classify": [embed_text(t, x) for t, x in docs],
        "rest": [lead_rest(t, x) for t, x in docs],
    }
    flat = {k: vectors_of([[t] for t in v], cache, "pairs") for k, v in inputs.items()}
    out = {}
    for kind, parts in VECTOR_KINDS.items():
        used = [[p for p in parts if inputs[p][k].strip()] or [parts[0]] for k in range(len(docs))]
        rows = np.stack([flat[p][k] for k, u in enumerate(used) for p in u])
        v = mean_vectors(rows, [len(u) for u in used])
        out[kind] = {p.index: (v[2 * k], v[2 * k + 1]) for k, p in enumerate(pairs)}
    return out


def event_vectors(events: list[Event], cache: Path | None) -> dict[str, Matrix]:
    """An event summary is a one-sentence headline: its story vector is that sentence's."""
    story = vectors_of([story_texts(e.text, "") for e in events], cache, "events")
    plain = vectors_of([[embed_text("", e.text)] for e in events], cache, "events")
    return {"story": story, "classify": plain}


def event_desks(events: list[Event], vectors: Matrix) -> list[frozenset[str]]:
    """The desks the classify model gives each event (scores >= 0.5, else the best desk)."""
    clf = default_classifier()
    assert clf.model is not None
    texts = [e.text for e in events]
    rules = [clf.rules.score("", t, "en").scores for t in texts]
    _, scores = clf.model.scores([""] * len(texts), texts, rules, vectors)
    desks = [i for i, c in enumerate(clf.model.classes) if c in clf.taxonomy.topics]
    out = []
    for row in scores:
        chosen = {clf.model.classes[i] for i in desks if row[i] >= 0.5}
        out.append(frozenset(chosen or {clf.model.classes[max(desks, key=lambda i: row[i])]}))
    return out


@dataclass(frozen=True)
class Row:
    name: str
    weights: Weights
    vectors: str = "story"  # or "classify": the classify stage's title + lead embedding


def variants(weights: Weights, pairs: list[StoryPair], pvec: dict[str, PairVectors]) -> list[Row]:
    """The assigner, two embeddings-only baselines and one row per signal at another weight
    (``ABLATIONS``); every row but the assigner gets its centre re-chosen on half A by the
    same rule, so a row differs by its signal, not merely by its threshold."""
    only = weights.embeddings_only()  # no outlet or desk penalty either
    rows = [
        Row("assigner", weights),
        Row("embeddings only, story vector", recentre(only, pairs, pvec["story"])),
        Row("embeddings only, classify's vector (baseline)",
            recentre(only, pairs, pvec["classify"]), "classify"),
    ]  # fmt: skip
    for signal, value in ABLATIONS.items():
        w = recentre(weights.with_weight(signal, value), pairs, pvec["story"])
        rows.append(Row(f"  {signal} at {value:g}", w))
    return rows


def print_vectors(pairs: list[StoryPair], pvec: dict[str, PairVectors]) -> None:
    """The story vector's choice (half A) with half B for the record: cosine AUC, half A's
    same-story pairs above every different-story pair, half B at the centre half A's rule
    gives that vector (the most similar different pair of A at -MARGIN)."""
    print("\n## Story vector: encoder inputs averaged (choice on half A)\n")
    print("| vector | AUC A | AUC B | A linked, none apart lost | B linked / apart at A's centre "
          "|\n|---|---|---|---|---|")  # fmt: skip
    y = np.array([p.same for p in pairs])
    a = np.array([p.half == "A" for p in pairs])
    for kind, v in pvec.items():
        cos = np.array([float(np.dot(*v[p.index])) for p in pairs])
        auc = cos_auc(pairs, v)
        centre = cos[a & ~y].max() + MARGIN / Weights().cos_weight
        linked, apart = np.mean(cos[~a & y] >= centre), np.mean(cos[~a & ~y] < centre)
        print(f"| {kind} | {auc['A']:.3f} | {auc['B']:.3f} | "
              f"{linked_without_false_link(cos[a], y[a])}/{int(np.sum(a & y))} | "
              f"{linked:.2f} / {apart:.2f} |")  # fmt: skip


def print_evidence(pairs: list[StoryPair], pvec: dict[str, PairVectors]) -> None:
    """Text evidence beyond the cosine: logistic models chosen by leave-one-out on half A."""
    features = text_evidence(pairs)
    for name, kind in (("cos", "story"), ("headline_cos", "headline"), ("lead_cos", "lead")):
        features[name] = np.array([float(np.dot(*pvec[kind][p.index])) for p in pairs])
    print("\n## Text evidence: logistic model per feature set (leave-one-out on half A)\n")
    print("| features | LOO AUC A | LOO A linked, none apart lost | AUC B | B linked / apart at "
          "A's rule | coefficients |\n|---|---|---|---|---|---|")  # fmt: skip
    for r in compare_evidence(pairs, features):
        print(f"| {' + '.join(r.features)} | {r.loo_auc_a:.3f} | {r.loo_linked_a} | "
              f"{r.auc_b:.3f} | {r.linked_b:.2f} / {r.apart_b:.2f} | {r.coef} |")  # fmt: skip
    print(
        "\nthe centre's margin (log-odds below 0 for half A's most similar different pair): "
        "A different pairs linked leave-one-out, A same linked, B linked / apart"
    )
    for m, loo_false, linked_a, linked_b, apart_b in margin_rule(
        pairs, features["cos"], MARGIN_GRID
    ):
        print(f"  {m:g}: {loo_false}/33, {linked_a}/24, {linked_b:.2f} / {apart_b:.2f}")


def print_transfer(
    root: Path, events: list[Event], evec: dict[str, Matrix], pairs: list[StoryPair],
    pvec: dict[str, PairVectors],
) -> None:  # fmt: skip
    """Names weighed on a larger training set: Wikipedia event pairs of half A
    (``streams/stories/transfer.py``), judged on the events of half B and on the pairs."""
    idf = NameIdf(background(root))
    t = transfer(events, evec["story"], pairs, pvec["story"], idf)
    print(f"\n## Names learnt on Wikipedia event pairs ({t.train_pairs} pairs of half A <= 1 day "
          f"apart, {t.train_same} same path; IDF from {idf.n} background documents)\n")  # fmt: skip
    print(f"logistic model: cos {t.cos_weight:.1f}, IDF name overlap {t.names_weight:.2f}")
    print(f"events of half B, AUC: cosine {t.events_auc_b[0]:.3f}, "
          f"cosine + names {t.events_auc_b[1]:.3f}\n")  # fmt: skip
    print("| stories pairs | AUC A | AUC B | A linked / apart | B linked / apart at A's rule "
          "|\n|---|---|---|---|---|")  # fmt: skip
    for k, (name, rates) in enumerate((("cosine alone", t.cos_rates),
                                       ("cosine + names (the model)", t.names_rates))):  # fmt: skip
        print(f"| {name} | {t.pairs_auc['A'][k]:.3f} | {t.pairs_auc['B'][k]:.3f} | "
              f"{rates['A'][0]:.2f} / {rates['A'][1]:.2f} | "
              f"{rates['B'][0]:.2f} / {rates['B'][1]:.2f} |")  # fmt: skip


def print_pairs(pairs: list[StoryPair], pvec: dict[str, PairVectors], rows: list[Row]) -> None:
    print("\n## Pairs (tgcontest-pairs.jsonl): same-story linked / different-story kept apart\n")
    counts = pair_scores(pairs, pvec["story"], rows[0].weights)
    head = " | ".join(f"{h} ({counts[h].same} same, {counts[h].different} diff)" for h in "AB")
    print(f"| weights | {head} | all | centre |\n|---|---|---|---|---|")
    for row in rows:
        s = pair_scores(pairs, pvec[row.vectors], row.weights)
        cells = " | ".join(
            f"{s[h].linked_rate:.2f} / {s[h].apart_rate:.2f}" for h in ("A", "B", "all")
        )
        print(f"| {row.name} | {cells} | {row.weights.cos_centre:.3f} |")


def print_events(
    events: list[Event],
    evec: dict[str, Matrix],
    desks: list[frozenset[str]],
    rows: list[Row],
    days: float,
) -> None:
    halves = {h: [i for i, e in enumerate(events) if e.half == h] for h in "AB"}
    sizes = ", ".join(f"{h} {len(ix)} events" for h, ix in halves.items())
    print(
        f"\n## Storylines (wikipedia-current-events.jsonl, {sizes}; pairs <= {days:g} days apart)"
    )
    print(
        "per half: pairwise P / R on the same path (strict) and on paths sharing a storyline "
        "(lenient); BCubed P / R (strict); linked pairs\n"
    )
    print(
        "| weights | A strict | A lenient | A BCubed | A linked | B strict | B lenient "
        "| B BCubed | B linked |\n|---|---|---|---|---|---|---|---|---|"
    )
    for row in rows:
        cells = []
        for ix in halves.values():
            if not ix:
                cells += ["-"] * 4
                continue
            sub = [events[i] for i in ix]
            vectors = evec[row.vectors][ix]
            stories = assign_events(sub, vectors, row.weights, [desks[i] for i in ix])
            c = clustering(sub, stories, days)
            loose = clustering(sub, stories, days, strict=False)
            cells += [
                f"{c.pair_precision:.2f} / {c.pair_recall:.2f}",
                f"{loose.pair_precision:.2f} / {loose.pair_recall:.2f}",
                f"{c.bcubed_precision:.3f} / {c.bcubed_recall:.3f}",
                str(c.linked_pairs),
            ]
        print(f"| {row.name} | {' | '.join(cells)} |")


def print_time_grid(
    events: list[Event],
    vectors: Matrix,
    desks: list[frozenset[str]],
    weights: Weights,
    days: float,
) -> None:
    """The time penalty's search: storyline events of half A only."""
    ix = [i for i, e in enumerate(events) if e.half == "A"]
    sub = [events[i] for i in ix]
    print("\ntime weight on half A of the storylines (lenient pairwise P / R, linked pairs):")
    for value in TIME_GRID:
        w = weights.with_weight("time", value)
        stories = assign_events(sub, vectors[ix], w, [desks[i] for i in ix])
        c = clustering(sub, stories, days, strict=False)
        print(f"  {value:g}: {c.pair_precision:.2f} / {c.pair_recall:.3f}, {c.linked_pairs}")


def print_cross_language(root: Path, cache: Path | None, weights: Weights, n: int) -> None:
    """FLORES translations (SIB-200) not used for the calibration table: how many exact
    translations and how many unrelated sentences of two languages would link."""
    import orjson

    by_id: dict[str, dict[str, str]] = {}
    with (root / "topics" / "sib200.jsonl").open("rb") as f:
        for line in f:
            r = orjson.loads(line)
            by_id.setdefault(r["id"], {})[r["lang"]] = r["text"]
    ids = sorted(i for i, d in by_id.items() if {"uk", "ru", "en"} <= d.keys())[200 : 200 + n]
    langs = ("uk", "ru", "en")
    v = {
        lang: vectors_of([story_texts(by_id[i][lang], "") for i in ids], cache, f"sib {lang}")
        for lang in langs
    }
    rng = np.random.default_rng(1)
    print(f"\n## Across languages (SIB-200 translations, {len(ids)} sentence ids not used for the"
          " calibration table)\n")  # fmt: skip
    print("share at or above the assigner's cosine centre, raw / calibrated (`languages.py`)\n")
    print("| languages | translations | unrelated sentences |\n|---|---|---|")
    for a, b in (("uk", "ru"), ("uk", "en"), ("ru", "en")):
        same = np.sum(v[a] * v[b], axis=1)
        other = np.sum(v[a] * v[b][rng.permutation(len(ids))], axis=1)
        cells = []
        for cos in (same, other):
            raw = float(np.mean(cos >= weights.cos_centre))
            cal = float(np.mean([calibrated(float(c), a, b) >= weights.cos_centre for c in cos]))
            cells.append(f"{raw:.2f} / {cal:.2f}")
        print(f"| {a}-{b} | {cells[0]} | {cells[1]} |")


def print_cross_language_articles(root: Path, cache: Path | None, weights: Weights) -> None:
    """Real ru and en articles of the same days (``topics/tgcontest.jsonl``, no story labels):
    the links the assigner makes across the two languages, and the ru-en pairs of highest
    calibrated cosine, for reading (no labelled cross-language write-ups exist)."""
    stream = load_stream(root, "tgcontest.jsonl")
    v = vectors_of([story_texts(a.title, a.text) for a in stream], cache, "tgcontest")
    links = stream_links(stream, v, weights)
    crossed = [(m, a) for _, m, a in links if m.language != a.language]
    ru = [i for i, a in enumerate(stream) if a.language == "ru"]
    en = [i for i, a in enumerate(stream) if a.language == "en"]
    cal = np.array([[calibrated(float(v[i] @ v[j]), "ru", "en") for j in en] for i in ru])
    print(f"\n## Across languages, real articles (tgcontest.jsonl: {len(ru)} ru, {len(en)} en, "
          "no story labels)\n")  # fmt: skip
    print(f"links across languages: {len(crossed)}; ru-en pairs at or above the centre "
          f"{weights.cos_centre} (calibrated): {int(np.sum(cal >= weights.cos_centre))}; the "
          "ten most similar ru-en pairs (calibrated cosine):\n")  # fmt: skip
    for flat in np.argsort(-cal.ravel())[:10]:
        i, j = ru[flat // len(en)], en[flat % len(en)]
        print(f"- {cal.flat[flat]:.3f}: {stream[i].title[:60]} / {stream[j].title[:60]}")


def print_outlet_stream(root: Path, cache: Path | None, weights: Weights) -> None:
    stream = load_stream(root, "ria.jsonl")
    v = vectors_of([story_texts(a.title, a.text) for a in stream], cache, "ria")
    shipped = stream_links(stream, v, weights)
    without = stream_links(stream, v, weights.with_weight("outlet", 0.0))
    kept = {(m.article_id, a.article_id) for _, m, a in shipped}
    stopped = [(ans, m, a) for ans, m, a in without if (m.article_id, a.article_id) not in kept]
    print(f"\n## One outlet's stream (ria.ru, {len(stream)} timed articles, no story labels)\n")
    print(f"links at the shipped weights (outlet penalty {weights.outlet_penalty}): "
          f"{len(shipped)}; at outlet penalty 0: {len(without)}. The links the penalty "
          f"stops ({len(stopped)}), score without it, hours apart:\n")  # fmt: skip
    for ans, m, a in stopped:
        hours = (a.time - m.time) / 3600
        print(f"- {ans.score:+.2f}, {hours:4.1f} h: {m.title[:80]} / {a.title[:80]}")


def print_sharding(
    pairs: list[StoryPair], pvec: dict[str, PairVectors], events: list[Event],
    evec: dict[str, Matrix], desks: list[frozenset[str]], weights: Weights, days: float,
) -> None:  # fmt: skip
    """What key candidates miss against scoring the whole window, and what articles in flight
    (decided before the previous ones are filed, as across partitions) cost."""
    print("\n## Sharding: key candidates against a scan of the whole window\n")
    print(
        "| run | pairs linked / apart (all) | events linked pairs | lenient P |\n|---|---|---|---|"
    )
    runs = [("key candidates (shipped)", False, 0), ("scan of the whole window", True, 0)]
    runs += [(f"key candidates, {lag} articles in flight", False, lag) for lag in (4, 16)]
    for name, scan, lag in runs:
        p = pair_scores(pairs, pvec["story"], weights, scan_all=scan)["all"]
        stories = assign_events(events, evec["story"], weights, desks, scan_all=scan, lag=lag)
        c = clustering(events, stories, days, strict=False)
        print(f"| {name} | {p.linked_rate:.2f} / {p.apart_rate:.2f} | {c.linked_pairs} | "
              f"{c.pair_precision:.2f} |")  # fmt: skip


def cost(pairs: list[StoryPair], limit: int) -> None:
    """ms per article: classify stage, the embedding, assign alone (interleaved per article)."""
    docs = [d for p in pairs for d in (p.first, p.second)][:limit]
    now = datetime.now(UTC)
    values = [
        Article(
            article_id=f"{i:032x}",
            url=url,
            canonical_url=url,
            source_id="bench",
            title=title,
            text=text,
            language="ru",
            fetched_at=now,
            content_hash=f"{i:064x}",
        ).to_json()
        for i, (url, title, text) in enumerate(docs)
    ]
    clf = default_classifier()
    stage = ClassifyStage(desks=frozenset(clf.taxonomy.topic_names()), review_below=0.35)
    assigner = StoryAssigner()
    spent = {"classify": 0.0, "embed": 0.0, "assign": 0.0, "headline": 0.0, "apart": 0.0,
             "rest": 0.0}  # fmt: skip
    keys = candidates = 0
    for i, (url, title, text) in enumerate(docs):
        t0 = time.perf_counter()
        stage(None, values[i], ORIGIN)
        t1 = time.perf_counter()
        vector = story_vectors([title], [text])[0]
        t2 = time.perf_counter()
        answer = assigner.assign(
            StoryArticle(f"{i:032x}", url, title, text, "ru", 60.0 * i, vector)
        )
        t3 = time.perf_counter()
        Encoder.encode([embed_text(title, "")])
        t4 = time.perf_counter()
        Encoder.encode([embed_text("", text, LEAD_CHARS)])  # with the line above: two calls
        spent["headline"] += t4 - t3
        spent["apart"] += time.perf_counter() - t3
        t5 = time.perf_counter()
        Encoder.encode([embed_text(title, ""), lead_rest(title, text)])
        spent["rest"] += time.perf_counter() - t5
        member = assigner.state.members[f"{i:032x}"]
        keys += len(member.keys) + len(member.translation_keys)
        candidates += answer.candidates
        spent["classify"] += t1 - t0
        spent["embed"] += t2 - t1
        spent["assign"] += t3 - t2
    n = max(1, len(docs))
    ms = {k: 1000 * v / n for k, v in spent.items()}
    print(f"\n## Cost per article ({n} pair articles, interleaved, one process)\n")
    print(
        f"keys per article {keys / n:.1f} (names, figures, translation); candidates scored "
        f"per article {candidates / n:.1f} (all {n} articles in one window)\n"
    )
    print("| what | ms/article |\n|---|---|")
    print(
        "| classify stage (reference: one Article JSON per call, encoder included) | "
        f"{ms['classify']:.1f} |"
    )
    print(
        "| story stage, its story vector (headline and lead: two encoder inputs) | "
        f"{ms['embed']:.1f} |"
    )
    print(
        "| story stage, `assign` alone (features, candidates, scores, state) | "
        f"{ms['assign']:.2f} |"
    )
    print(
        "| the headline alone (all a story vector reusing classify's would encode; not "
        f"shipped: docs/stories.md) | {ms['headline']:.1f} |"
    )
    print(
        "| headline and lead in two encoder calls (the story vector makes one call of both) "
        f"| {ms['apart']:.1f} |"
    )
    print(
        "| headline and the rest of the lead (a vector recalling the classify input would "
        f"encode; not shipped: docs/stories.md) | {ms['rest']:.1f} |"
    )
    print(
        f"\nstory stage with its own embedding: {ms['embed'] + ms['assign']:.1f} ms "
        f"= {(ms['embed'] + ms['assign']) / ms['classify']:.2f}x classify; with the embedding "
        f"passed on from classify: {ms['assign']:.2f} ms = {ms['assign'] / ms['classify']:.3f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, default=0, help="events, first by date (0: all)")
    parser.add_argument(
        "--days", type=float, default=3.0, help="storyline pairs at most this far apart"
    )
    parser.add_argument("--cost-limit", type=int, default=40, help="articles timed for the cost")
    parser.add_argument("--tune", action="store_true", help="print the choice of weights on half A")
    parser.add_argument(
        "--sib", type=int, default=300, help="SIB-200 sentence ids for the cross-language check"
    )
    parser.add_argument("--no-cache", action="store_true", help="recompute every embedding")
    args = parser.parse_args()
    root = data_root(Path(__file__).resolve().parents[2] / "shared" / "data")
    if not (root / "stories").is_dir() or not (root / "topics").is_dir():
        print(f"no shared data at {root}: set NEWSSTREAM_SHARED_DATA", file=sys.stderr)
        return 2
    cache = None if args.no_cache else CACHE
    pairs = load_pairs(root)
    events = load_events(root, args.limit or None)
    started = time.perf_counter()
    pvec = pair_vectors(pairs, cache)
    evec = event_vectors(events, cache)
    print(
        f"embeddings: {time.perf_counter() - started:.1f} s "
        f"({len(pairs)} pairs, {len(events)} events)"
    )
    weights = Weights()
    if args.tune:
        tuned = tune_weights(pairs, pvec["story"], verbose=True)
        print(f"tuned on half A: {tuned}\nshipped defaults: {weights}")
        print_vectors(pairs, pvec)
        print_evidence(pairs, pvec)
    rows = variants(weights, pairs, pvec)
    print_pairs(pairs, pvec, rows)
    desks = event_desks(events, evec["classify"])
    if args.tune:
        print_time_grid(events, evec["story"], desks, weights, args.days)
        print_transfer(root, events, evec, pairs, pvec)
    print_events(events, evec, desks, rows, args.days)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(events), size=(2, 2000))
    story = evec["story"]
    mean_cos = float(np.mean(np.sum(story[i] * story[j], axis=1)))
    print(f"\nmean cosine of random event pairs: {mean_cos:.3f} (e5 vectors sit in a narrow cone)")
    print_sharding(pairs, pvec, events, evec, desks, weights, args.days)
    if args.sib:
        print_cross_language(root, cache, weights, args.sib)
    print_cross_language_articles(root, cache, weights)
    print_outlet_stream(root, cache, weights)
    cost(pairs, args.cost_limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
