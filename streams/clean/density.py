"""Main-content selection over text blocks: the subtree with the most prose and least chrome.

Each block is judged on its own (length, link density, stop-word density, sentence punctuation,
as jusText does), then every element's subtree is scored as prose characters minus a penalty for
link lists and fragments inside it. The best subtree is the article; inside it, link lists are
dropped and short fragments are kept only between prose blocks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import justext

from streams.clean.blocks import Block, PageBlocks

__all__ = ["Selection", "select_main"]

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…:;»\"”)]\s*$")
_GOOD, _SHORT, _BAD = 2, 1, 0
# Penalty per character of link lists / fragments in a subtree; tuned on the English and Russian
# benchmark sets together (see bench/extraction.py), not per site.
_BAD_WEIGHT = 0.5
_SHORT_WEIGHT = 0.25
_MAX_LINK_DENSITY = 0.4
# A widget-named element (comments, related stories) may be the article only when it wins by far.
_JUNK_CANDIDATE = 0.3
_BEFORE_HEADLINE = 0.3
# Publisher markup naming the body (schema.org articleBody) is strong but not infallible
# evidence: some templates put it on a lead or on a whole column.
_MARKED_BODY = 2.0
# The winner's child holding this share of its prose is the body; the rest is the header
# (headline, standfirst, byline, date) or an author box. Measured: 0.85 / 0.9 / 0.95 / off gave
# English 0.980 / 0.977 / 0.972 / 0.969 and Russian 0.865 / 0.871 / 0.872 / 0.872 F1.
_BODY_SHARE = 0.9
# Teaser cards: at least this many siblings of one tag, most of them opening with a link of a
# headline's length and short enough to be an excerpt rather than an article section.
_MIN_CARDS = 3
_CARD_SHARE = 0.5
_MIN_HEADLINE_LINK = 15
_MAX_CARD_CHARS = 1000
# Site legal notices are long prose blocks that win against short news items.
_LEGAL = re.compile(
    r"©|\(c\)\s*\d{4}|all rights reserved|все права защищены|всі права захищені"
    r"|при (полном или частичном )?(использовании|копировании|цитировании)"
    r"|this (web)?site uses cookies|we use cookies|cookie policy|использует (файлы )?cookie",
    re.IGNORECASE,
)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_STOPLISTS = ("English", "Russian", "Ukrainian", "German", "French", "Spanish", "Portuguese")


@dataclass(frozen=True, slots=True)
class Selection:
    paragraphs: list[str]
    prose_chars: int
    root_tag: str


@cache
def _stopwords() -> frozenset[str]:
    # jusText's stop lists, merged: one page mixes languages and the selection needs no language.
    folder = Path(justext.__file__).parent / "stoplists"
    words: set[str] = set()
    for name in _STOPLISTS:
        path = folder / f"{name}.txt"
        if path.exists():
            words.update(w.strip().lower() for w in path.read_text("utf-8").split())
    return frozenset(words)


def classify(block: Block) -> int:
    text = block.text
    chars = len(text)
    if chars == 0 or block.link_chars / chars > _MAX_LINK_DENSITY or _LEGAL.search(text):
        return _BAD
    words = _WORD.findall(text)
    # Chinese/Japanese runs are one \w+ "word" each: judge those by characters alone.
    if chars < 60 or (len(words) < 8 and chars < 15 * len(words)):
        return _SHORT
    stop = _stopwords()
    density = sum(w.lower() in stop for w in words) / len(words)
    if density >= 0.2 or (chars > 200 and _SENTENCE_END.search(text)):
        return _GOOD
    return _SHORT if chars < 200 else _GOOD


def select_main(page: PageBlocks, title: str = "") -> Selection:
    if not page.blocks:
        return Selection([], 0, "")
    kinds = [classify(b) for b in page.blocks]
    best, junk = _best_subtree(page, kinds, _weights(page.blocks, title))
    inside = _Inside(page.parents, best, junk)
    chosen = [(b, k) for b, k in zip(page.blocks, kinds, strict=True) if inside(b.element)]
    paragraphs = _keep(chosen, page.parents)
    prose = sum(len(b.text) for b, k in chosen if k == _GOOD)
    return Selection(paragraphs, prose, page.tags.get(best, ""))


def _weights(blocks: list[Block], title: str) -> list[float]:
    """Prose before the headline is mostly teasers of other stories: weigh it down."""
    headline = _headline_index(blocks, title)
    if headline is None:
        return [1.0] * len(blocks)
    return [_BEFORE_HEADLINE if i < headline else 1.0 for i in range(len(blocks))]


def _headline_index(blocks: list[Block], title: str) -> int | None:
    wanted = set(_WORD.findall(title.lower()))
    first_h1 = None
    for i, block in enumerate(blocks):
        if block.tag not in _HEADINGS or len(block.text) > 300:
            continue
        if first_h1 is None and block.tag == "h1":
            first_h1 = i
        words = set(_WORD.findall(block.text.lower()))
        if wanted and len(words) >= 3 and len(words & wanted) >= 0.8 * len(words):
            return i
    return first_h1


def _best_subtree(
    page: PageBlocks, kinds: list[int], weights: list[float]
) -> tuple[int, frozenset[int]]:
    """The element whose subtree scores best, and the widgets (named or teaser cards) to cut."""
    size = _subtree_sizes(page)
    junk = page.junk | _teaser_cards(page, size)
    score: dict[int, float] = dict.fromkeys(page.parents, 0.0)
    for block, kind, weight in zip(page.blocks, kinds, weights, strict=True):
        chars = len(block.text)
        if kind == _GOOD:
            score[block.element] += chars * weight
        else:
            score[block.element] -= chars * (_BAD_WEIGHT if kind == _BAD else _SHORT_WEIGHT)
    # Reverse pre-order visits children before parents, so one pass sums every subtree.
    for element in reversed(page.parents):
        parent = page.parents[element]
        if parent not in score:
            continue
        # A widget-named element may itself be the article, but counts as chrome for its
        # ancestors.
        score[parent] += -_BAD_WEIGHT * size[element] if element in junk else score[element]
    # Anything inside a widget (a rules list in a comment modal) is as unlikely as the widget.
    inside_junk: set[int] = set()
    for element, parent in page.parents.items():
        if element in junk or parent in inside_junk:
            inside_junk.add(element)
            score[element] *= _JUNK_CANDIDATE
    for element in page.marked:
        if element in score and score[element] > 0:
            score[element] *= _MARKED_BODY
    best = max(score, key=lambda e: score[e])
    return _body_of(page, best, _prose_sizes(page, kinds, junk), junk), junk


def _body_of(page: PageBlocks, best: int, prose: dict[int, int], junk: frozenset[int]) -> int:
    """Descend into the child holding nearly all the prose: the body without its header."""
    children: dict[int, list[int]] = {}
    for element, parent in page.parents.items():
        children.setdefault(parent, []).append(element)
    while True:
        kids = [c for c in children.get(best, ()) if c not in junk]
        if not kids:
            return best
        top = max(kids, key=lambda c: prose[c])
        if prose[top] == 0 or prose[top] < _BODY_SHARE * prose[best]:
            return best
        best = top


def _prose_sizes(page: PageBlocks, kinds: list[int], junk: frozenset[int]) -> dict[int, int]:
    """Prose characters per subtree, leaving out widgets: teaser cards are prose-like, and a
    list of them must not look like the body of the element that holds the article."""
    prose: dict[int, int] = dict.fromkeys(page.parents, 0)
    for block, kind in zip(page.blocks, kinds, strict=True):
        if kind == _GOOD and block.element not in junk:
            prose[block.element] += len(block.text)
    for element in reversed(page.parents):
        parent = page.parents[element]
        if parent in prose and element not in junk:
            prose[parent] += prose[element]
    return prose


@dataclass(slots=True)
class _Sizes:
    chars: dict[int, int]
    links: dict[int, int]
    first: dict[int, int]  # element -> index of the first block in its subtree
    last: dict[int, int]

    def __getitem__(self, element: int) -> int:
        return self.chars[element]


def _subtree_sizes(page: PageBlocks) -> _Sizes:
    chars: dict[int, int] = dict.fromkeys(page.parents, 0)
    links: dict[int, int] = dict.fromkeys(page.parents, 0)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, block in enumerate(page.blocks):
        chars[block.element] += len(block.text)
        links[block.element] += block.link_chars
        first.setdefault(block.element, i)
        last[block.element] = i
    for element in reversed(page.parents):
        parent = page.parents[element]
        if parent not in chars:
            continue
        chars[parent] += chars[element]
        links[parent] += links[element]
        if element in first:
            first[parent] = min(first[element], first.get(parent, first[element]))
            last[parent] = max(last[element], last.get(parent, last[element]))
    return _Sizes(chars, links, first, last)


def _teaser_cards(page: PageBlocks, size: _Sizes) -> frozenset[int]:
    """Runs of sibling cards that each open with a headline link: lists of other stories."""
    seen: dict[tuple[int, str], int] = {}
    cards: dict[tuple[int, str], list[int]] = {}
    for element, parent in page.parents.items():
        # Spacer and divider siblings (a row holding "." or "|") are neither cards nor content.
        if element not in size.first or size.chars[element] < _MIN_HEADLINE_LINK:
            continue
        key = (parent, page.tags[element])
        seen[key] = seen.get(key, 0) + 1
        # The headline may follow a kicker ("LOVE IS LOVE", a section name): look at two blocks.
        start = size.first[element]
        opening = page.blocks[start : min(start + 2, size.last[element] + 1)]
        lead = max(b.lead_link_chars for b in opening)
        if _MIN_HEADLINE_LINK <= lead < size.chars[element] <= _MAX_CARD_CHARS:
            cards.setdefault(key, []).append(element)
    found: set[int] = set()
    for key, members in cards.items():
        if len(members) >= _MIN_CARDS and len(members) >= _CARD_SHARE * seen[key]:
            found.update(members)
    return frozenset(found)


class _Inside:
    """Membership in a subtree minus the widgets inside it, memoised: blocks share ancestors."""

    def __init__(self, parents: dict[int, int], root: int, junk: frozenset[int]) -> None:
        self._parents = parents
        self._junk = junk
        self._memo: dict[int, bool] = {root: True, 0: False}

    def __call__(self, element: int) -> bool:
        path: list[int] = []
        node = element
        while node not in self._memo:
            path.append(node)
            node = self._parents.get(node, 0)
        answer = self._memo[node]
        # Walk back down: everything at or below a widget inside the subtree is left out.
        for visited in reversed(path):
            if visited in self._junk:
                answer = False
            self._memo[visited] = answer
        return answer


def _keep(chosen: list[tuple[Block, int]], parents: dict[int, int]) -> list[str]:
    """Prose blocks, plus headings and short blocks that sit between prose blocks."""
    good = [i for i, (_, k) in enumerate(chosen) if k == _GOOD]
    if not good:
        return [b.text for b, k in chosen if k != _BAD]
    first, last = good[0], good[-1]
    # Short opening paragraphs of the body itself (same parent and tag as the first prose one).
    while first > 0 and _sibling_short(chosen[first - 1], chosen[first][0], parents):
        first -= 1
    while last < len(chosen) - 1 and _sibling_short(chosen[last + 1], chosen[last][0], parents):
        last += 1
    kept: list[str] = []
    for i, (block, kind) in enumerate(chosen):
        if kind == _BAD:
            continue
        if kind == _GOOD or first <= i <= last or (block.tag in _HEADINGS and i < first):
            kept.append(block.text)
    return kept


def _sibling_short(candidate: tuple[Block, int], prose: Block, parents: dict[int, int]) -> bool:
    block, kind = candidate
    return (
        kind == _SHORT
        and block.tag == prose.tag
        and parents.get(block.element) == parents.get(prose.element)
    )
