"""Translations: the uk and the ru (or en) version of one article on one outlet.

Three kinds of evidence, strongest first, each a shardable key (``translation_keys``):

- ``alt:`` an hreflang/alternate link: the page names the other version's URL
  (``Article.alternates``), or the other version names this one;
- ``path:`` the same host and path once a language segment is removed (``/uk/``, ``/ru/``,
  ``/ua/``, ``/en/``, a ``uk.``/``ru.`` subdomain, ``?lang=``);
- ``id:`` the same host and the same long number in the path (a CMS id: ``/news/1274221-...``).

Content alone (same outlet, another language, a near-identical embedding, the same figures)
is checked by ``StoryAssigner`` on the candidates it already scores (``content_translation``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

from streams.identity import CanonicalURLError, canonicalize

LANG_SEGMENTS = frozenset({"uk", "ua", "ru", "en", "eng", "rus", "ukr"})
_LANG_QUERY = frozenset({"lang", "language", "hl", "locale"})
_CMS_ID = re.compile(r"\d{5,}")


def canonical(url: str) -> str:
    try:
        return canonicalize(url)
    except CanonicalURLError:
        return url.strip()


def outlet(url: str) -> str:
    """The outlet of a URL: its host without ``www.`` or a language subdomain."""
    host = (urlsplit(url.strip()).hostname or "").lower()
    first, _, rest = host.partition(".")
    if first in LANG_SEGMENTS | {"www", "m"} and "." in rest:
        host = rest
    return host


def _language_free_path(url: str) -> str | None:
    """``host|path?query`` with the language marks removed, or None when there were none."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    kept = [s for s in segments if s.lower() not in LANG_SEGMENTS]
    query = [(k, v) for k, v in parse_qsl(parts.query) if k.lower() not in _LANG_QUERY]
    host_first = (parts.hostname or "").split(".")[0]
    marked = len(kept) < len(segments) or len(query) < len(parse_qsl(parts.query))
    if not marked and host_first not in LANG_SEGMENTS:
        return None
    tail = "&".join(f"{k}={v}" for k, v in sorted(query))
    return f"{outlet(url)}|/{'/'.join(kept)}?{tail}"


def translation_keys(url: str, alternates: Mapping[str, str]) -> tuple[str, ...]:
    """Keys shared by the language versions of one article (none for an empty URL)."""
    if not url.strip():
        return ()
    own = canonical(url)
    keys = {f"alt:{own}"}
    keys.update(f"alt:{canonical(u)}" for u in alternates.values() if u.strip())
    path = _language_free_path(own)
    if path is not None:
        keys.add(f"path:{path}")
    ids = _CMS_ID.findall(urlsplit(own).path)
    if ids:
        keys.add(f"id:{outlet(own)}|{max(ids, key=len)}")
    return tuple(sorted(keys))


def linked_by_url(
    mine: Iterable[str], own_url: str, other_keys: Iterable[str], other_url: str
) -> bool:
    """Whether two articles' URL evidence says they are versions of one article: an alternate
    link either way, or a shared language-free path or CMS id."""
    other = set(other_keys)
    mine = set(mine)
    if f"alt:{canonical(other_url)}" in mine or f"alt:{canonical(own_url)}" in other:
        return True
    return any(k.startswith(("path:", "id:")) for k in mine & other)
