"""A parsed page as a flat list of text blocks, each knowing the elements that contain it.

One pre-order pass over the selectolax (lexbor) tree groups text by its nearest block-level
element and records each element's parent, so later stages can score whole subtrees without
walking the tree again. Python only touches each node once; parsing and pruning run in C.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = ["Block", "PageBlocks", "page_blocks", "prune"]

# Never article text: code, embedded media, form controls and page furniture. Not <form>:
# ASP.NET pages wrap the whole page in one.
_JUNK_TAGS = [
    "script", "style", "noscript", "svg", "iframe", "template", "canvas", "object", "embed",
    "button", "select", "textarea", "input", "nav", "aside", "footer", "head", "menu",
    "dialog", "video", "audio", "map", "figcaption",
]  # fmt: skip
# Class/id words of widgets around an article. Matched as CSS substrings, so each is specific
# enough not to hit ordinary article containers.
_JUNK_WORDS = (
    "comment", "share", "social", "sidebar", "related", "breadcrumb", "subscribe", "newsletter",
    "advert", "banner", "promo", "cookie", "popup", "modal", "widget", "footer", "navbar",
    "menu", "recommend", "sharing", "byline", "author-bio", "tags", "toolbar", "rating",
    "gallery", "credit",
)  # fmt: skip
_JUNK_SELECTOR = ", ".join(f'[class*="{w}" i], [id*="{w}" i]' for w in _JUNK_WORDS)
# Caption containers are short; some CMSs also call a lead or a whole article a "caption".
_CAPTION_SELECTOR = '[class*="caption" i], [id*="caption" i]'
_MAX_CAPTION_CHARS = 600
_HIDDEN_SELECTOR = '[hidden], [style*="display:none"], [style*="display: none"]'
# A hidden element holding this share of the page's text is content revealed by a script: keep it.
_MAX_HIDDEN_SHARE = 0.4
BLOCK_TAGS = frozenset({
    "p", "div", "td", "th", "li", "dd", "dt", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5",
    "h6", "article", "section", "main", "body", "table", "tr", "ul", "ol", "dl", "header",
    "center", "address", "caption", "figure", "details", "summary",
})  # fmt: skip
_SPACE = re.compile(r"\s+")


@dataclass(slots=True)
class Block:
    """Text of one block-level element (inline descendants included, nested blocks excluded)."""

    element: int
    tag: str
    parts: list[str] = field(default_factory=list)
    link_chars: int = 0
    # Linked characters before the first unlinked text: a headline link opening a teaser.
    lead_link_chars: int = 0
    lead_open: bool = True
    text: str = ""


@dataclass(slots=True)
class PageBlocks:
    blocks: list[Block]
    # Element id -> parent element id, in document (pre-)order: reversed, children come first.
    parents: dict[int, int]
    tags: dict[int, str]
    # Elements whose class/id names a widget; a soft signal, since templates also wrap whole
    # articles in e.g. "widget Blog" or "reachbanner" containers.
    junk: frozenset[int]
    # Elements marked up as the article body (schema.org ``itemprop="articleBody"``).
    marked: frozenset[int] = frozenset()


def prune(tree: LexborHTMLParser) -> None:
    """Remove page furniture and hidden elements in place."""
    tree.strip_tags(_JUNK_TAGS)
    body = tree.body
    if body is None:
        return
    total = len(body.text(deep=True)) or 1
    for node in tree.css(_HIDDEN_SELECTOR):
        if node.tag not in ("html", "body") and len(node.text()) < _MAX_HIDDEN_SHARE * total:
            node.decompose()


def page_blocks(root: LexborHTMLParser | LexborNode) -> PageBlocks:
    """Blocks of the tree's body (or of one node) in document order."""
    junk = _junk(root)
    marked = frozenset(n.mem_id for n in root.css('[itemprop="articleBody" i]'))
    if isinstance(root, LexborHTMLParser):
        if root.body is None:
            return PageBlocks([], {}, {}, junk, marked)
        return replace(_walk(root.body, junk), marked=marked)
    return replace(_walk(root, junk), marked=marked)


def _junk(root: LexborHTMLParser | LexborNode) -> frozenset[int]:
    named = {n.mem_id for n in root.css(_JUNK_SELECTOR)}
    for node in root.css(_CAPTION_SELECTOR):
        if len(node.text()) < _MAX_CAPTION_CHARS:
            named.add(node.mem_id)
    return frozenset(named)


def _walk(root: LexborNode, junk: frozenset[int]) -> PageBlocks:
    parents: dict[int, int] = {}
    tags: dict[int, str] = {}
    owner: dict[int, int] = {}  # element -> nearest block element (itself if it is one)
    in_link: set[int] = set()
    muted: set[int] = set()
    blocks: dict[int, Block] = {}
    root_id = root.mem_id
    parents[root_id], tags[root_id], owner[root_id] = 0, root.tag or "", root_id
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-comment" or node.mem_id == root_id:
            continue
        parent = node.parent
        pid = parent.mem_id if parent is not None else root_id
        if tag == "-text":
            if pid not in muted:
                _add_text(node.text_content or "", owner.get(pid, root_id), pid in in_link, blocks)
            continue
        nid = node.mem_id
        parents[nid], tags[nid] = pid, tag or ""
        # An inline widget (a comment counter, a share link) inside a paragraph is dropped here:
        # selection works on whole blocks and could not cut it out later.
        if tag not in BLOCK_TAGS and (nid in junk or pid in muted):
            muted.add(nid)
        owner[nid] = nid if tag in BLOCK_TAGS else owner.get(pid, root_id)
        if tag == "a" or pid in in_link:
            in_link.add(nid)
        if tag == "br" and owner[nid] in blocks:
            blocks[owner[nid]].parts.append("\n")
    ordered = [b for b in blocks.values() if _finish(b, tags)]
    return PageBlocks(ordered, parents, tags, junk)


def _add_text(text: str, block_id: int, linked: bool, blocks: dict[int, Block]) -> None:
    if not text:
        return
    block = blocks.get(block_id)
    if block is None:
        if text.isspace():  # blocks are ordered by their first visible text
            return
        block = blocks[block_id] = Block(block_id, "")
    block.parts.append(text)
    chars = len(text.strip())
    if linked:
        block.link_chars += chars
        if block.lead_open:
            block.lead_link_chars += chars
    elif chars:
        block.lead_open = False


def _finish(block: Block, tags: dict[int, str]) -> bool:
    block.tag = tags.get(block.element, "")
    lines = (_SPACE.sub(" ", line).strip() for line in "".join(block.parts).split("\n"))
    block.text = "\n".join(line for line in lines if line)
    block.parts = []
    return bool(block.text)
