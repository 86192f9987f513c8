"""Replay sources for backfill: saved pages in a directory and WARC files, as RawPages.

Pages go to ``news.backfill.raw`` (topology ``BACKFILL_RAW``), never to the live raw topic, so a
million-page backfill does not sit in front of today's news.

Directories: every ``*.html``, ``*.htm`` and ``*.html.gz`` below the path. The page's URL is, in
order: a sidecar ``<file>.url`` (one line) or ``<file>.json`` (``{"url": ..., "fetched_at":
...}``), then ``<link rel="canonical">`` or ``<meta property="og:url">`` in the first 64 KiB,
else the synthetic ``https://replay.invalid/<directory name>/<path inside it>``: the reserved
``.invalid`` top-level domain (RFC 2606) can never collide with a real site, and the path keeps
the id stable across runs. ``fetched_at`` is the sidecar's value, else the file's mtime.

WARC files (``*.warc``, ``*.warc.gz``; read with warcio): ``response`` records of HTTP responses
with status 200 and an HTML content type; the URL is ``WARC-Target-URI``, ``fetched_at`` the
``WARC-Date``, and the body is the HTTP payload with transfer and content encodings removed.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import orjson
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from streams.identity import CanonicalURLError, article_id, canonicalize
from streams.records import RawPage

SYNTHETIC_HOST = "replay.invalid"
_HEAD_WINDOW = 65536
_HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
_WARC_SUFFIXES = (".warc", ".warc.gz")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CANONICAL = re.compile(
    rb"""<link\b[^>]*?\brel\s*=\s*["']?canonical["']?[^>]*?>""", re.IGNORECASE | re.DOTALL
)
_OG_URL = re.compile(
    rb"""<meta\b[^>]*?\bproperty\s*=\s*["']og:url["'][^>]*?>""", re.IGNORECASE | re.DOTALL
)
_HREF = re.compile(rb"""\b(?:href|content)\s*=\s*["']([^"'<>\s]+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class Saved:
    """One saved page, before it becomes a RawPage."""

    url: str
    body: bytes
    fetched_at: datetime
    origin: str  # file (and record offset) it came from, for error messages
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200


class ReplaySkip(Exception):
    """A saved page or record left out, with a countable ``reason`` (not an error)."""

    def __init__(self, reason: str, origin: str) -> None:
        super().__init__(f"{origin}: {reason}")
        self.reason = reason


def find_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files to replay under ``paths`` (files given directly are taken as they are), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and _wanted(p))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(path)
    return found


def _wanted(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(_HTML_SUFFIXES + _WARC_SUFFIXES)


def is_warc(path: Path) -> bool:
    return path.name.lower().endswith(_WARC_SUFFIXES)


def url_in_html(body: bytes, base: str | None = None) -> str | None:
    """The page's own URL from ``<link rel=canonical>`` or ``og:url``, if absolute http(s)."""
    head = body[:_HEAD_WINDOW]
    for pattern in (_CANONICAL, _OG_URL):
        tag = pattern.search(head)
        href = _HREF.search(tag.group(0)) if tag else None
        if href is None:
            continue
        url = href.group(1).decode("utf-8", "replace").strip()
        url = urljoin(base, url) if base else url
        if url.startswith(("http://", "https://")):
            return url
    return None


def synthetic_url(root: Path, path: Path) -> str:
    rel = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
    return f"https://{SYNTHETIC_HOST}/{quote(root.name or 'pages')}/{quote(rel.as_posix())}"


def read_saved_page(path: Path, root: Path, max_bytes: int) -> Saved:
    """One saved page file (and its sidecar) as a Saved page; raises ReplaySkip."""
    raw = path.read_bytes()
    body = _gunzip_capped(raw, max_bytes, str(path)) if path.name.endswith(".gz") else raw
    if len(body) > max_bytes:
        raise ReplaySkip("too_large", str(path))
    side = _sidecar(path)
    url = side.get("url") or url_in_html(body) or synthetic_url(root, path)
    fetched = _parse_time(side.get("fetched_at")) or datetime.fromtimestamp(
        path.stat().st_mtime, UTC
    )
    return Saved(url, body, fetched, str(path), {"content-type": "text/html"})


def _gunzip_capped(data: bytes, max_bytes: int, origin: str) -> bytes:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(max_bytes + 1)
    except (OSError, EOFError) as exc:
        raise ReplaySkip("bad_gzip", origin) from exc
    if len(out) > max_bytes:
        raise ReplaySkip("too_large", origin)  # a gzip bomb stops at the cap
    return out


def _sidecar(path: Path) -> dict[str, str]:
    base = path.with_name(path.name.removesuffix(".gz"))
    url_file, json_file = Path(f"{base}.url"), Path(f"{base}.json")
    if url_file.is_file():
        return {"url": url_file.read_text(encoding="utf-8").strip()}
    if json_file.is_file():
        try:
            data = orjson.loads(json_file.read_bytes())
        except orjson.JSONDecodeError:
            return {}
        if isinstance(data, dict):
            return {k: str(v) for k, v in data.items() if k in ("url", "fetched_at") and v}
    return {}


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_warc(path: Path, max_bytes: int) -> Iterator[Saved | ReplaySkip]:
    """HTML responses of a WARC file; records that are skipped come out as ReplaySkip."""
    with path.open("rb") as stream:
        # Records are named by their position: warcio's get_record_offset() consumes the
        # payload when called before it is read.
        for number, record in enumerate(ArchiveIterator(stream)):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            yield _warc_page(record, f"{path}#record{number}", max_bytes)


def _warc_page(record: Any, origin: str, max_bytes: int) -> Saved | ReplaySkip:
    http = record.http_headers
    ctype = str(http.get_header("Content-Type") or "")
    if ctype.split(";", 1)[0].strip().lower() not in _HTML_TYPES:
        return ReplaySkip("not_html", origin)
    status = int(http.get_statuscode() or 0)
    if status != 200:
        return ReplaySkip("not_ok_status", origin)
    body: bytes = record.content_stream().read(max_bytes + 1)
    if len(body) > max_bytes:
        return ReplaySkip("too_large", origin)
    url = str(record.rec_headers.get_header("WARC-Target-URI") or "")
    when = _parse_time(str(record.rec_headers.get_header("WARC-Date") or "").replace("Z", "+00:00"))
    kept = {"content-type": ctype}
    for name in ("etag", "last-modified", "content-language", "date"):
        value = http.get_header(name)
        if value:
            kept[name] = value
    return Saved(url, body, when or datetime.now(UTC), origin, kept, status)


def to_raw_page(saved: Saved, source_id: str) -> RawPage:
    """The RawPage for a saved page; raises ReplaySkip when its URL is unusable."""
    try:
        aid = article_id(canonicalize(saved.url))
    except CanonicalURLError as exc:
        raise ReplaySkip("bad_url", saved.origin) from exc
    return RawPage(
        article_id=aid,
        url=saved.url,
        final_url=saved.url,
        status=saved.status,
        fetched_at=saved.fetched_at,
        source_id=source_id,
        discovered_via="replay",
        content_type=saved.headers.get("content-type"),
        headers=saved.headers,
        body_b64=RawPage.encode_body(saved.body),
    )
