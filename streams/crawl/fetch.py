"""Fetching one URL safely: every hop checked, every byte counted, every failure an outcome.

One request walks these steps:

1. ``check_url`` on the URL (scheme, userinfo, port, host shape, IP literals);
2. connect through :class:`SafeResolver`, which refuses blocked addresses at resolve time;
3. the peer address of the socket is checked once more when aiohttp still exposes it;
4. a redirect is not followed by aiohttp: its Location goes back to step 1 (max ``max_redirects``);
5. status, Content-Type and Content-Length are judged before the body is read;
6. the body is read in chunks under the wire and decompression caps (:mod:`streams.crawl.body`).

The whole walk runs under ``total_timeout_s``. ``fetch`` never raises for network trouble;
where a failure happens, the result says whether asking again may help (``transient``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver

from streams.crawl.body import CHUNK_SIZE, BodyError, read_capped, supported_encoding
from streams.crawl.resolver import SafeResolver, find_blocked
from streams.crawl.safety import check_address, check_url, parse_networks

if TYPE_CHECKING:
    from streams.settings import Settings

Kind = Literal["page", "feed", "robots"]
# robots_denied is never produced here; the polite layer (streams.crawl.polite) reports it in
# the same shape so that every fetch, attempted or refused, has one outcome vocabulary.
Outcome = Literal[
    "fetched", "not_modified", "blocked", "robots_denied", "too_large", "timeout", "http_error",
    "bad_content_type", "error",
]  # fmt: skip

_MIB = 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_KEPT_HEADERS = ("content-type", "etag", "last-modified", "date", "content-language", "retry-after")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_FEED_TYPES = _HTML_TYPES | {
    "application/xml", "text/xml", "application/rss+xml", "application/atom+xml",
    "application/rdf+xml",
}  # fmt: skip
_ACCEPT = {
    "page": "text/html,application/xhtml+xml;q=0.9",
    "feed": "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.8",
    "robots": "text/plain",
}


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and manners for one Fetcher; defaults are the production values."""

    max_body_bytes: int = 5 * _MIB
    max_decompressed_bytes: int = 5 * _MIB
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    total_timeout_s: float = 30.0
    max_redirects: int = 5
    allow_cidrs: tuple[str, ...] = ()
    user_agent: str = "newsstream/0.1 (+https://github.com/newsstream)"
    accept_language: str = "uk,ru;q=0.9,en;q=0.8"
    max_connections: int = 200
    max_connections_per_host: int = 4

    @classmethod
    def from_settings(cls, s: Settings, extra_allow: tuple[str, ...] = ()) -> FetchPolicy:
        """The policy the settings describe; ``extra_allow`` adds networks (the demo site)."""
        return cls(
            max_body_bytes=s.fetch_max_body_bytes,
            max_decompressed_bytes=s.fetch_max_body_bytes,
            connect_timeout_s=s.fetch_connect_timeout_s,
            read_timeout_s=s.fetch_read_timeout_s,
            total_timeout_s=s.fetch_total_timeout_s,
            max_redirects=s.fetch_max_redirects,
            allow_cidrs=(*s.fetch_allow_cidrs, *extra_allow),
            user_agent=s.fetch_user_agent,
            accept_language=s.fetch_accept_language,
            max_connections=s.fetch_max_connections,
            max_connections_per_host=s.fetch_max_connections_per_host,
        )


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    redirects: tuple[str, ...]
    status: int | None
    outcome: Outcome
    reason: str | None
    headers: dict[str, str]
    body: bytes
    fetched_at: datetime
    elapsed_s: float
    # May asking again give a different answer? Set where the failure happens: timeouts,
    # connection and payload errors, 5xx and 429. Refusals (4xx, blocked, caps) are final.
    transient: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome == "fetched"


@dataclass
class _Trail:
    """What one fetch has learnt so far; survives a timeout that interrupts the walk."""

    url: str
    started: float
    fetched_at: datetime
    hops: list[str] = field(default_factory=list)
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def result(
        self, outcome: Outcome, reason: str | None, body: bytes = b"", *, transient: bool = False
    ) -> FetchResult:
        return FetchResult(
            url=self.url,
            final_url=self.hops[-1] if self.hops else self.url,
            redirects=tuple(self.hops[1:]),
            status=self.status,
            outcome=outcome,
            reason=reason,
            headers=dict(self.headers),
            body=body,
            fetched_at=self.fetched_at,
            elapsed_s=time.monotonic() - self.started,
            transient=transient,
        )


class Fetcher:
    """Fetches pages, feeds and robots.txt under a :class:`FetchPolicy`.

    ``resolver`` is the seam for tests: wrap a fake resolver to map names to chosen addresses.
    Use as ``async with Fetcher(policy) as fetcher:`` or call :meth:`close`.
    """

    def __init__(
        self, policy: FetchPolicy | None = None, *, resolver: AbstractResolver | None = None
    ) -> None:
        self.policy = policy if policy is not None else FetchPolicy()
        self._allow = parse_networks(self.policy.allow_cidrs)
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            p = self.policy
            connector = aiohttp.TCPConnector(
                resolver=SafeResolver(self._allow, self._inner_resolver),
                limit=p.max_connections,
                limit_per_host=p.max_connections_per_host,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # The overall deadline is ours (asyncio.timeout over all hops); aiohttp keeps
                # the connect and per-read limits.
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=p.connect_timeout_s,
                    sock_connect=p.connect_timeout_s,
                    sock_read=p.read_timeout_s,
                ),
                auto_decompress=False,
                # A proxy from the environment would connect for us and bypass SafeResolver.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": p.user_agent, "Accept-Language": p.accept_language},
            )
        return self._session

    async def fetch(
        self,
        url: str,
        *,
        kind: Kind = "page",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """Fetch ``url``; ``etag``/``last_modified`` from an earlier fetch make it conditional."""
        trail = _Trail(url=url, started=time.monotonic(), fetched_at=datetime.now(UTC))
        headers = {"Accept": _ACCEPT[kind], "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with asyncio.timeout(self.policy.total_timeout_s):
                return await self._walk(trail, kind, headers)
        except TimeoutError as exc:
            return trail.result("timeout", _timeout_reason(exc), transient=True)
        except aiohttp.ClientError as exc:
            blocked = find_blocked(exc)
            if blocked is not None:
                return trail.result("blocked", blocked.reason)
            # The network or the server hiccupped (refused, reset, disconnected, truncated
            # body); other client errors (bad URL, bad headers) would fail the same way again.
            hiccup = isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError)
            return trail.result("error", f"{type(exc).__name__}: {exc}", transient=hiccup)
        except OSError as exc:  # a socket error aiohttp did not wrap: also the network's
            return trail.result("error", f"{type(exc).__name__}: {exc}", transient=True)
        except ValueError as exc:
            return trail.result("error", f"{type(exc).__name__}: {exc}")

    async def _walk(self, trail: _Trail, kind: Kind, headers: dict[str, str]) -> FetchResult:
        session = self._get_session()
        current = trail.url
        for _ in range(self.policy.max_redirects + 1):
            trail.hops.append(current)
            reason = check_url(current, self._allow)
            if reason is not None:
                return trail.result("blocked", reason)
            async with session.get(current, headers=headers, allow_redirects=False) as resp:
                trail.status = resp.status
                trail.headers = _kept_headers(resp)
                reason = self._check_peer(resp)
                if reason is not None:
                    return trail.result("blocked", reason)
                location = resp.headers.get("Location")
                if resp.status not in _REDIRECTS:
                    return await self._complete(trail, kind, resp)
                if not location:
                    return trail.result("http_error", "redirect_without_location")
                current = urljoin(current, location)
        return trail.result("error", "too_many_redirects")

    def _check_peer(self, resp: aiohttp.ClientResponse) -> str | None:
        """Defence in depth behind SafeResolver: judge the socket's actual peer address.

        aiohttp may already have released the connection for an empty body, in which case
        only the resolver's check applies.
        """
        conn = resp.connection
        transport = conn.transport if conn is not None else None
        peer = transport.get_extra_info("peername") if transport is not None else None
        if not peer:
            return None
        return check_address(ipaddress.ip_address(str(peer[0]).split("%")[0]), self._allow)

    async def _complete(
        self, trail: _Trail, kind: Kind, resp: aiohttp.ClientResponse
    ) -> FetchResult:
        refusal = self._judge_head(kind, resp)
        if refusal is not None:
            if refusal[0] == "too_large":
                resp.close()  # drop the connection rather than drain a body we will not read
            # 5xx and 429 ("slow down") may pass; any other status will not change by asking.
            retry = refusal[0] == "http_error" and (resp.status >= 500 or resp.status == 429)
            return trail.result(*refusal, transient=retry)
        try:
            body = await read_capped(
                resp.content.iter_chunked(CHUNK_SIZE),
                encoding=supported_encoding(resp.headers.get("Content-Encoding", "")) or "",
                max_wire=self.policy.max_body_bytes,
                max_decoded=self.policy.max_decompressed_bytes,
            )
        except BodyError as exc:
            resp.close()
            return trail.result(exc.outcome, exc.reason)
        return trail.result("fetched", None, body)

    def _judge_head(
        self, kind: Kind, resp: aiohttp.ClientResponse
    ) -> tuple[Outcome, str | None] | None:
        """Outcome decided by status and headers alone, or None when the body is wanted."""
        if resp.status == 304:
            return ("not_modified", None)
        if not 200 <= resp.status < 300:
            return ("http_error", f"status_{resp.status}")
        reason = _content_type_problem(kind, resp.headers.get("Content-Type", ""))
        if reason is not None:
            return ("bad_content_type", reason)
        if supported_encoding(resp.headers.get("Content-Encoding", "")) is None:
            return ("error", "unsupported_content_encoding")
        length = resp.content_length
        if length is not None and length > self.policy.max_body_bytes:
            return ("too_large", "content_length")
        return None


def _kept_headers(resp: aiohttp.ClientResponse) -> dict[str, str]:
    return {name: resp.headers[name] for name in _KEPT_HEADERS if name in resp.headers}


def _content_type_problem(kind: Kind, content_type: str) -> str | None:
    if kind == "robots":
        return None  # robots.txt is judged by its rules, whatever the server labels it
    media = content_type.split(";", 1)[0].strip().lower()
    allowed = _FEED_TYPES if kind == "feed" else _HTML_TYPES
    if not media:
        return "missing"
    return None if media in allowed else media


def _timeout_reason(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect"
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return "read"
    return "total"
