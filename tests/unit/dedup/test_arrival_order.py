"""Copies fetched close together whose probes reach the bands in either order, band by band
(streams/dedup/README.md, "Arrival order"): of two copies exactly one is named the other's
copy, whichever order each band saw them in; of several, every chain of names ends at a kept
article (no ring); also with queries before the match is decided, redelivery and timeouts."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import timedelta

import pytest

from streams.dedup.band_step import DedupBandStage
from streams.dedup.fingerprint import BANDS, ROWS_PER_BAND
from streams.dedup.pipeline import DedupSteps
from streams.dedup.stage import article_signature
from streams.records import (
    Article,
    BandProbe,
    BandVerdict,
    DuplicateEvent,
    OriginalQuery,
    OriginalReply,
    PendingArticle,
)
from streams.stage import Emit
from streams.topology import DEDUP_GATHER, DUPLICATES
from tests.conftest import make_article
from tests.unit.dedup.test_dedup_detector import UNRELATED, WIRE, reprint
from tests.unit.dedup.test_sharded import T0, at, deliver, gather_stage, probes, verdicts

# The original on the wire and a copy on another site, fetched 3 ms apart: X before Y.
X = make_article(WIRE, article_id="e5" * 16, fetched_at=T0)
Y = make_article(reprint(), article_id="a1" * 16, fetched_at=T0 + timedelta(milliseconds=3))


def shared(a: Article, b: Article) -> list[int]:
    """The bands whose keys two articles share: where their probes meet."""
    keys = zip(article_signature(a).band_keys(), article_signature(b).band_keys(), strict=True)
    return [i for i, (x, y) in enumerate(keys) if x == y]


SHARED = shared(X, Y)
Named = dict[str, str | None]  # article id -> the article it was named a copy of, or None


def by_band(article: Article) -> dict[int, Emit]:
    return {BandProbe.from_json(p.value).band: p for p in probes(article)}


def run_bands(
    band: DedupBandStage, order: dict[int, list[Article]], articles: Iterable[Article]
) -> dict[str, list[Emit]]:
    """Each band's probes in the order given for it (default: ``articles`` in order); the
    verdicts per article."""
    articles = list(articles)
    answers: dict[str, list[Emit]] = {a.article_id: [] for a in articles}
    probe = {a.article_id: by_band(a) for a in articles}
    for b in range(BANDS):
        for a in order.get(b, articles):
            answers[a.article_id] += verdicts(band, [probe[a.article_id][b]])
    return answers


def pending(article: Article) -> Emit:
    return Emit.record(DEDUP_GATHER, article.article_id, PendingArticle(article=article, bands=32))


def named_in(decisions: Iterable[Emit]) -> Named:
    named: Named = {}
    for e in decisions:
        if e.topic == DUPLICATES:
            event = DuplicateEvent.from_json(e.value)
            named[event.article_id] = event.duplicate_of
        else:
            named[Article.from_json(e.value).article_id] = None
    return named


def decide(articles: Iterable[Article], answers: dict[str, list[Emit]]) -> Named:
    """The pending records (the hash step sends each before its probes), then each article's
    verdicts, article by article, to one gather step."""
    articles = list(articles)
    gather = gather_stage()
    named = named_in(deliver(gather, [pending(a) for a in articles]))
    for a in articles:
        named |= named_in(deliver(gather, answers[a.article_id]))
    return named


def run(order: dict[int, list[Article]], articles: Iterable[Article]) -> Named:
    articles = list(articles)
    return decide(articles, run_bands(DedupBandStage({}, window_s=86400), order, articles))


def pair(y_first: Iterable[int]) -> Named:
    """X and Y through fresh steps: ``y_first`` are the bands where Y's probe comes first."""
    y_first = set(y_first)
    return run({b: [Y, X] if b in y_first else [X, Y] for b in range(BANDS)}, (X, Y))


def chains_end_at_kept(named: Named) -> bool:
    for start in named:
        seen, at_ = {start}, named[start]
        while at_ is not None:
            if at_ in seen:
                return False  # a ring: every article in it named, none kept
            seen.add(at_)
            at_ = named.get(at_)
    return True


def test_the_two_texts_are_copies_either_way_and_share_most_bands() -> None:
    # What the tests below rest on: each text is a copy of the other by the rules.
    band = DedupBandStage({}, window_s=86400)
    sx, sy = article_signature(X), article_signature(Y)
    assert band._score(sx, sy) is not None
    assert band._score(sy, sx) is not None
    assert 8 <= len(SHARED) < BANDS  # some bands differ: those never see the other article


def test_fetch_order_arrival_the_later_fetched_copy_names_the_original() -> None:
    assert pair(()) == {X.article_id: None, Y.article_id: X.article_id}


def test_reversed_arrival_in_every_band_the_original_names_the_copy_kept_before_it() -> None:
    # The race: the copy fetched 3 ms later reached every band first and was kept as new
    # without meeting X. X, answered after it, asks what became of it and names it (before:
    # both were kept).
    assert pair(range(BANDS)) == {X.article_id: Y.article_id, Y.article_id: None}
    assert pair(SHARED) == {X.article_id: Y.article_id, Y.article_id: None}


@pytest.mark.parametrize("k", [1, 2, len(SHARED) // 2, len(SHARED) - 1])
def test_mixed_orders_the_copy_names_the_original_met_in_one_band_and_x_stays(k: int) -> None:
    for seed in range(4):
        y_first = random.Random(seed).sample(SHARED, k)
        # Y met X in a band where X came first and names it; X, which found Y first in other
        # bands, hears that Y named X and keeps itself.
        assert pair(y_first) == {X.article_id: None, Y.article_id: X.article_id}


def test_any_split_of_the_shared_bands_names_exactly_one() -> None:
    named_copy = set()
    for seed in range(30):
        rng = random.Random(seed)
        y_first = {b for b in SHARED if rng.random() < 0.9}  # all of them happens, too
        named = pair(y_first)
        kept = [aid for aid, original in named.items() if original is None]
        assert len(kept) == 1, named
        (dup,) = [aid for aid in named if aid not in kept]
        assert named[dup] == kept[0]
        named_copy.add(dup)
    assert named_copy == {X.article_id, Y.article_id}  # both cases were met


def test_three_copies_the_bands_saw_in_contradicting_orders_never_form_a_ring() -> None:
    # X, then Z, then Y fetched; Y and Z share every band, X about half of them. Bands shared
    # by all three saw Y, X, Z; bands only Y and Z share saw Z, then Y. So Z names X (met in
    # a band after it), Y names Z (likewise), and X found Y before it in every band they
    # share: a rule on band order alone made X name Y, and all three were named (a ring).
    z = make_article(
        reprint().replace("By our reporter.", "From the wire desk today."),
        article_id="c3" * 16,
        fetched_at=T0 + timedelta(milliseconds=1),
    )
    y = Y.model_copy(update={"fetched_at": T0 + timedelta(milliseconds=2)})
    only_yz = set(shared(y, z)) - set(shared(X, y))
    assert only_yz  # the texts give such bands
    order = {b: [z, y, X] if b in only_yz else [y, X, z] for b in range(BANDS)}
    named = run(order, (X, y, z))
    assert named[z.article_id] == X.article_id
    assert named[y.article_id] == z.article_id
    assert named[X.article_id] is None  # Y's chain leads back to X: X is kept
    assert chains_end_at_kept(named)


def test_three_copies_in_reverse_order_chain_to_the_first_filed() -> None:
    # Fetched X, then V, then Y; every band sees Y, then V, then X. Y is kept; V names Y; X
    # finds V in every band it shares with it (V took them from Y) and names V, once V's
    # chain is known to end at Y.
    v = make_article(
        reprint().replace("By our reporter.", "From the wire."),
        article_id="c3" * 16,
        fetched_at=T0 + timedelta(milliseconds=1),
    )
    named = run({b: [Y, v, X] for b in range(BANDS)}, (Y, v, X))
    assert named[Y.article_id] is None
    assert named[v.article_id] == Y.article_id
    assert named[X.article_id] in (v.article_id, Y.article_id)
    assert chains_end_at_kept(named)


def test_random_orders_of_four_copies_keep_at_least_one_and_every_chain_ends_there() -> None:
    texts = [
        WIRE,
        reprint(),
        reprint().replace("By our reporter.", "From the wire."),
        WIRE.replace("Tuesday", "Tuesday night") + " Follow us for more.",
    ]
    copies = [
        make_article(t, article_id=f"{i + 1:x}0" * 16, fetched_at=T0 + timedelta(milliseconds=i))
        for i, t in enumerate(texts)
    ]
    for seed in range(25):
        rng = random.Random(seed)
        order = {b: rng.sample(copies, len(copies)) for b in range(BANDS)}
        named = run(order, rng.sample(copies, len(copies)))
        assert len(named) == len(copies)
        assert any(original is None for original in named.values()), named
        assert chains_end_at_kept(named), named


SPORT = (
    "The home side won the cup final by two goals to one after extra time, with the winner "
    "scored by a substitute who had come on only four minutes earlier. The visiting coach "
    "complained about the referee, while supporters celebrated in the town square until late."
)


def unrelated_sharing(
    article: Article, band_no: int, article_id: str, ms: float, text: str = UNRELATED
) -> Article:
    """An unrelated text, fetched ``ms`` after ``article``, whose signature shares exactly one
    band key with ``article``'s (as a boilerplate shingle can make it)."""
    mine = article_signature(article).to_hex()
    other = make_article(text, article_id=article_id).fingerprint
    lo, hi = 6 + 4 * ROWS_PER_BAND * band_no, 6 + 4 * ROWS_PER_BAND * (band_no + 1)
    fp = other[:lo] + mine[lo:hi] + other[hi:]
    when = article.fetched_at + timedelta(milliseconds=ms)
    made = make_article(text, article_id=article_id, fetched_at=when, fingerprint=fp)
    assert shared(made, article) == [band_no]
    return made


def test_unrelated_articles_holding_a_shared_band_do_not_block_it() -> None:
    # W (fetched before X) holds one shared band; Z (between X and Y) reached another after Y
    # and before X. X finds Y in the other shared bands, asks, and names it.
    w = unrelated_sharing(X, SHARED[0], "0f" * 16, -60_000)
    z = unrelated_sharing(X, SHARED[1], "0e" * 16, 1, SPORT)
    order = {b: [w, z, Y, X] for b in range(BANDS)}
    order[SHARED[1]] = [w, Y, z, X]
    named = run(order, (w, z, X, Y))
    assert named == {w.article_id: None, z.article_id: None, X.article_id: Y.article_id} | {
        Y.article_id: None
    }


def test_a_query_before_the_match_is_decided_is_answered_when_it_is() -> None:
    band, gather = DedupBandStage({}, window_s=86400), gather_stage()
    answers = run_bands(band, {b: [Y, X] for b in range(BANDS)}, (X, Y))
    # Y's pending record and 10 of its verdicts are in; X has all of its own: X asks.
    assert deliver(gather, [pending(Y), *answers[Y.article_id][:10]]) == []
    assert deliver(gather, [pending(X), *answers[X.article_id]]) == []
    assert gather.articles[f"0|{Y.article_id}"]["q"] == [X.article_id]
    # Y's last verdicts: Y is decided, and X with it.
    named = named_in(deliver(gather, answers[Y.article_id][10:]))
    assert named == {Y.article_id: None, X.article_id: Y.article_id}


def test_an_unknown_match_keeps_the_asker() -> None:
    # The later match is not known to the gather step (a revision: filed under its bands,
    # no verdict wanted, never gathered): the asker keeps itself.
    band = DedupBandStage({}, window_s=86400)
    for p in probes(Y):
        revision = BandProbe.from_json(p.value).model_copy(update={"answer": False})
        assert band(p.key, revision.to_json(), at("news.dedup.bands")).emits == []
    gather = gather_stage()
    out = deliver(gather, [pending(X), *verdicts(band, probes(X))])
    assert named_in(out) == {X.article_id: None}


def test_redelivered_records_while_asking_and_after() -> None:
    band, gather = DedupBandStage({}, window_s=86400), gather_stage()
    answers = run_bands(band, {b: [Y, X] for b in range(BANDS)}, (X, Y))
    deliver(gather, [pending(Y), *answers[Y.article_id]])
    # X's records without delivering the query: it is emitted, then its last verdict again
    # (the query may not have left): the same query again, nothing decided twice.
    emits = [pending(X), *answers[X.article_id]]
    results = [gather(e.key, e.value, at(DEDUP_GATHER)) for e in emits]
    (query,) = results[-1].emits
    again = gather(emits[-1].key, emits[-1].value, at(DEDUP_GATHER))
    assert [e.value for e in again.emits] == [query.value]
    assert OriginalQuery.from_json(query.value).article_id == Y.article_id
    (reply,) = gather(query.key, query.value, at(DEDUP_GATHER)).emits
    assert gather(query.key, query.value, at(DEDUP_GATHER)).emits == [reply]  # asked twice
    assert OriginalReply.from_json(reply.value).original is None  # Y was kept
    first = gather(reply.key, reply.value, at(DEDUP_GATHER))
    assert named_in(e for e in first.emits if e.topic == DUPLICATES) == {X.article_id: Y.article_id}
    assert gather(reply.key, reply.value, at(DEDUP_GATHER)).outcome == "late"
    # The pending record after the decision gets it again.
    again_x = gather(pending(X).key, pending(X).value, at(DEDUP_GATHER))
    assert named_in(again_x.emits[:1]) == named_in(first.emits[:1])


def test_a_crash_before_the_match_closed_its_decision_still_answers_the_asker() -> None:
    band, gather = DedupBandStage({}, window_s=86400), gather_stage()
    answers = run_bands(band, {b: [Y, X] for b in range(BANDS)}, (X, Y))
    deliver(gather, [pending(Y), *answers[Y.article_id]])
    gather.forget_partitions()  # Y's decision was only in memory: its entry is the full one
    assert deliver(gather, [pending(X), *answers[X.article_id]]) == []  # X waits for Y
    # Y's last verdict again (redelivered after the crash): Y decided again, X with it.
    named = named_in(deliver(gather, answers[Y.article_id][-1:]))
    assert named == {Y.article_id: None, X.article_id: Y.article_id}


def test_a_timeout_while_asking_keeps_the_asker_and_the_late_reply_changes_nothing() -> None:
    clock = [100.0]
    band, gather = DedupBandStage({}, window_s=86400), gather_stage(clock)
    answers = run_bands(band, {b: [Y, X] for b in range(BANDS)}, (X, Y))
    out = [gather(e.key, e.value, at(DEDUP_GATHER)) for e in [pending(X), *answers[X.article_id]]]
    (query,) = out[-1].emits  # Y's gather step is down: no answer
    clock[0] += 31
    (timeout,) = [t for t in gather.due() if t.key == X.article_id.encode()]
    decided = gather(timeout.key, timeout.value, at(DEDUP_GATHER))
    assert decided.outcome == "new"
    late = deliver(gather, [pending(Y), *answers[Y.article_id], query])
    assert named_in(late) == {Y.article_id: None}  # the reply to X comes and is ignored


def test_the_steps_in_one_process_copy_first_in_the_input() -> None:
    # The whole flow (URL, hash, band and gather steps, 4 partitions), the copy's record first
    # although fetched later: the original names the copy, the copy is kept.
    steps = DedupSteps(window_s=86400, partitions=4)
    y = steps(None, Y.to_json(), at("news.clean"))
    x = steps(None, X.to_json(), at("news.clean"))
    assert y.outcome == "new"
    assert x.outcome == "duplicate"
    assert DuplicateEvent.from_json(x.emits[0].value).duplicate_of == Y.article_id


def test_a_short_text_inside_a_longer_one_both_orders() -> None:
    # The rule is directional (matching.copy_score): the later-answered text is scored as the
    # copy. A short wire item fetched first and a page twice its size holding it: in fetch
    # order both are kept (the page adds text); page first in every band: the item names it.
    short = make_article(WIRE, article_id="e5" * 16, fetched_at=T0)
    page = make_article(
        WIRE + " " + UNRELATED + " " + UNRELATED.replace("winter", "summer"),
        article_id="a1" * 16,
        fetched_at=T0 + timedelta(milliseconds=3),
    )
    assert run({}, (short, page)) == {short.article_id: None, page.article_id: None}
    reverse = {b: [page, short] for b in range(BANDS)}
    assert run(reverse, (short, page)) == {short.article_id: page.article_id, page.article_id: None}
    # The long text fetched first, a short copy of it after: in fetch order the short one
    # names the long one; the short one first in every band, the long one is not its copy (it
    # adds text): both kept, the race is still a miss here.
    long_ = page.model_copy(update={"fetched_at": T0, "article_id": "e5" * 16})
    later = T0 + timedelta(milliseconds=3)
    short2 = short.model_copy(update={"fetched_at": later, "article_id": "a1" * 16})
    assert run({}, (long_, short2)) == {long_.article_id: None, short2.article_id: long_.article_id}
    reverse = {b: [short2, long_] for b in range(BANDS)}
    assert run(reverse, (long_, short2)) == {long_.article_id: None, short2.article_id: None}


def test_a_verdict_names_a_later_match_only_when_the_article_takes_its_band() -> None:
    band = DedupBandStage({}, window_s=86400)
    b = SHARED[0]
    verdicts(band, [by_band(Y)[b]])
    (v,) = [BandVerdict.from_json(e.value) for e in verdicts(band, [by_band(X)[b]])]
    assert (v.match_id, v.later_id) == (None, Y.article_id)
    # Y's probe again (X holds the band now): the earlier-fetched X, as before this change.
    (w,) = [BandVerdict.from_json(e.value) for e in verdicts(band, [by_band(Y)[b]])]
    assert (w.match_id, w.later_id) == (X.article_id, None)


def test_two_articles_waiting_on_each_other_are_freed_by_a_timeout() -> None:
    # V (fetched first) found X as a later match; X found Y; Y names V. X asks Y, hears "V",
    # asks V; V is waiting for X's answer: each waits for the other until a timeout keeps one,
    # and the other follows. No ring either way: every chain ends at a kept article.
    for first_timeout in ("v", "x"):
        clock = [100.0]
        gather = gather_stage(clock)
        v, x, y = (
            make_article(t, article_id=i * 16, fetched_at=T0 + timedelta(milliseconds=ms))
            for t, i, ms in ((UNRELATED, "0a", 0), (SPORT, "0b", 1), (WIRE, "0c", 2))
        )

        def verdicts_of(a: Article, **one: object) -> list[Emit]:
            made = [BandVerdict(article_id=a.article_id, band=b) for b in range(1, BANDS)]
            first = BandVerdict.model_validate({"article_id": a.article_id, "band": 0} | one)
            return [Emit.record(DEDUP_GATHER, a.article_id, r) for r in [first, *made]]

        out = deliver(gather, [pending(v), pending(x), pending(y)])
        later = {"later_similarity": 0.9}
        out += deliver(
            gather, verdicts_of(v, later_id=x.article_id, later_fetched_at=x.fetched_at, **later)
        )
        out += deliver(
            gather, verdicts_of(x, later_id=y.article_id, later_fetched_at=y.fetched_at, **later)
        )
        out += deliver(
            gather,
            verdicts_of(y, match_id=v.article_id, match_fetched_at=v.fetched_at, similarity=0.9),
        )
        assert named_in(out) == {y.article_id: v.article_id}  # V and X wait on each other
        clock[0] += 31
        due = {t.key: t for t in gather.due()}
        stuck = v if first_timeout == "v" else x
        named = named_in(out) | named_in(deliver(gather, [due[stuck.article_id.encode()]]))
        assert len(named) == 3
        assert named[stuck.article_id] is None
        assert chains_end_at_kept(named)


def test_a_verdict_without_a_later_match_leaves_the_later_fields_out() -> None:
    plain = BandVerdict(article_id=X.article_id, band=3)
    assert b"later" not in plain.to_json()
    assert BandVerdict.from_json(plain.to_json()) == plain
    later = plain.model_copy(
        update={"later_id": Y.article_id, "later_fetched_at": Y.fetched_at, "later_similarity": 0.9}
    )
    assert BandVerdict.from_json(later.to_json()) == later
