"""Idempotent, batched PostgreSQL writes keyed by article id (asyncpg).

Why asyncpg: the sink lives on the same asyncio loop as its Kafka consumer, and asyncpg's
binary protocol and single-round-trip statements give the highest batch throughput
(bench/sink.py). A batch is one transaction of at most two statements, each taking the whole
batch as one JSON array.

A replay of a record changes nothing (the upsert's WHERE clause refuses it, so ``stored_at``
and ``revision_count`` stay put); a revision of a URL updates the row and bumps its
``revision_count``; an older revision arriving late never overwrites a newer one.

TLS: the DSN takes libpq's ``sslmode`` and ``sslrootcert`` (``?sslmode=verify-full&
sslrootcert=/etc/newsstream/pg/ca.crt``), which asyncpg reads itself. A connection that TLS
refuses (certificate not signed by that CA, a host name the certificate does not name, a server
without TLS, a missing CA file) raises :class:`PostgresAccessError` with one line naming the
cause and the setting to fix. It is not among ``TRANSIENT_ERRORS``: retrying cannot fix it, so
the sink stops with that line (and its orchestrator's restart back-off is the retry).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit

import asyncpg

from streams.errors import NewsstreamError
from streams.records import ClassifiedArticle, DuplicateEvent, StorySummary
from streams.sinks.migrate import migrate
from streams.sinks.rows import (
    article_row,
    as_json,
    duplicate_row,
    latest_per_article,
    latest_per_story,
    story_row,
)

Result = Literal["inserted", "updated", "unchanged"]

# Errors after which the same batch may well succeed later: the server is gone, restarting,
# out of connections or disk, or the transaction lost a race. Anything else is about the data.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
)

UPSERT_ARTICLES = """
INSERT INTO articles AS a (article_id, revision, url, canonical_url, source_id, title, body,
    author, published, language, ts_config, topics, iptc, scores, classifier_version,
    content_hash, extractor, fetched_at, classified_at, raw_origin, rubric, story_id,
    translation_of)
SELECT r.article_id, r.revision, r.url, r.canonical_url, r.source_id, r.title, r.body,
    r.author, r.published, r.language, r.ts_config::regconfig, r.topics, r.iptc, r.scores,
    r.classifier_version, r.content_hash, r.extractor, r.fetched_at, r.classified_at,
    r.raw_origin, r.rubric, r.story_id, r.translation_of
FROM jsonb_to_recordset($1::jsonb) AS r(article_id text, revision integer, url text,
    canonical_url text, source_id text, title text, body text, author text,
    published timestamptz, language text, ts_config text, topics text[], iptc text[],
    scores jsonb, classifier_version text, content_hash text, extractor text,
    fetched_at timestamptz, classified_at timestamptz, raw_origin jsonb, rubric text,
    story_id text, translation_of text)
-- Replays are filtered out before the INSERT builds their row (and its search vector): the
-- common case after a restart costs an index probe. ON CONFLICT's WHERE still decides races.
WHERE NOT EXISTS (
    SELECT 1 FROM articles x WHERE x.article_id = r.article_id
    AND (x.revision > r.revision OR (x.revision = r.revision
        AND (x.content_hash = r.content_hash OR x.fetched_at >= r.fetched_at))))
ON CONFLICT (article_id) DO UPDATE SET
    revision = EXCLUDED.revision, revision_count = a.revision_count + 1,
    url = EXCLUDED.url, canonical_url = EXCLUDED.canonical_url, source_id = EXCLUDED.source_id,
    title = EXCLUDED.title, body = EXCLUDED.body, author = EXCLUDED.author,
    published = EXCLUDED.published, language = EXCLUDED.language,
    ts_config = EXCLUDED.ts_config, topics = EXCLUDED.topics, iptc = EXCLUDED.iptc,
    scores = EXCLUDED.scores, classifier_version = EXCLUDED.classifier_version,
    content_hash = EXCLUDED.content_hash, extractor = EXCLUDED.extractor,
    fetched_at = EXCLUDED.fetched_at, classified_at = EXCLUDED.classified_at,
    raw_origin = EXCLUDED.raw_origin, rubric = EXCLUDED.rubric,
    story_id = coalesce(EXCLUDED.story_id, a.story_id),
    translation_of = coalesce(EXCLUDED.translation_of, a.translation_of), stored_at = now()
WHERE a.revision < EXCLUDED.revision
   OR (a.revision = EXCLUDED.revision AND a.content_hash <> EXCLUDED.content_hash
       AND a.fetched_at < EXCLUDED.fetched_at)
RETURNING a.article_id, (a.xmax = 0) AS inserted
"""

INSERT_DUPLICATES = """
INSERT INTO duplicates (article_id, duplicate_of, reason, similarity, url, source_id,
    fetched_at, detected_at)
SELECT r.article_id, r.duplicate_of, r.reason, r.similarity, r.url, r.source_id,
    r.fetched_at, r.detected_at
FROM jsonb_to_recordset($1::jsonb) AS r(article_id text, duplicate_of text, reason text,
    similarity real, url text, source_id text, fetched_at timestamptz, detected_at timestamptz)
ON CONFLICT DO NOTHING
RETURNING article_id, duplicate_of, fetched_at
"""


UPSERT_STORIES = """
INSERT INTO stories AS s (story_id, revision, headline, representative, first_seen, last_seen,
    article_count, languages, outlets, desks, updated_at)
SELECT r.story_id, r.revision, r.headline, r.representative, r.first_seen, r.last_seen,
    r.article_count, r.languages, r.outlets, r.desks, r.updated_at
FROM jsonb_to_recordset($1::jsonb) AS r(story_id text, revision integer, headline text,
    representative text, first_seen timestamptz, last_seen timestamptz, article_count integer,
    languages text[], outlets text[], desks text[], updated_at timestamptz)
ON CONFLICT (story_id) DO UPDATE SET
    revision = EXCLUDED.revision, headline = EXCLUDED.headline,
    representative = EXCLUDED.representative, first_seen = EXCLUDED.first_seen,
    last_seen = EXCLUDED.last_seen, article_count = EXCLUDED.article_count,
    languages = EXCLUDED.languages, outlets = EXCLUDED.outlets, desks = EXCLUDED.desks,
    updated_at = EXCLUDED.updated_at, stored_at = now()
-- A redelivered summary (same revision) or a late older one changes nothing.
WHERE s.revision < EXCLUDED.revision
RETURNING s.story_id, (s.xmax = 0) AS inserted
"""


@dataclass
class BatchResult:
    """What happened to each record of a batch, in input order."""

    articles: list[tuple[ClassifiedArticle, Result]] = field(default_factory=list)
    duplicates: list[tuple[DuplicateEvent, Result]] = field(default_factory=list)
    stories: list[tuple[StorySummary, Result]] = field(default_factory=list)


async def write_batch(
    conn: asyncpg.Connection,
    articles: Sequence[ClassifiedArticle],
    duplicates: Sequence[DuplicateEvent],
    stories: Sequence[StorySummary] = (),
) -> BatchResult:
    """Write a batch in one transaction; when this returns, the batch is durable."""
    winners = latest_per_article(articles)
    latest = latest_per_story(stories)
    story_rows = []
    async with conn.transaction():
        if latest:
            story_rows = await conn.fetch(UPSERT_STORIES, as_json([story_row(s) for s in latest]))
        art_rows = []
        if winners:
            art_rows = await conn.fetch(UPSERT_ARTICLES, as_json([article_row(a) for a in winners]))
        dup_rows = []
        if duplicates:
            dup_rows = await conn.fetch(
                INSERT_DUPLICATES, as_json([duplicate_row(d) for d in duplicates])
            )
    written: dict[str, Result] = {
        r["article_id"]: "inserted" if r["inserted"] else "updated" for r in art_rows
    }
    chosen = {id(a) for a in winners}
    result = BatchResult()
    for art in articles:
        outcome = written.get(art.article_id) if id(art) in chosen else None
        result.articles.append((art, outcome or "unchanged"))
    new_dups = {(r["article_id"], r["duplicate_of"], r["fetched_at"]) for r in dup_rows}
    for ev in duplicates:
        key = (ev.article_id, ev.duplicate_of, ev.fetched_at)
        result.duplicates.append((ev, "inserted" if key in new_dups else "unchanged"))
        new_dups.discard(key)  # the same event twice in a batch: only the first is new
    stored: dict[str, Result] = {
        r["story_id"]: "inserted" if r["inserted"] else "updated" for r in story_rows
    }
    kept = {id(s) for s in latest}
    for story in stories:
        done = stored.get(story.story_id) if id(story) in kept else None
        result.stories.append((story, done or "unchanged"))
    return result


class PostgresAccessError(NewsstreamError):
    """PostgreSQL cannot be reached as configured (TLS or DSN options); the message names the
    cause and the part of NEWSSTREAM_POSTGRES_DSN to fix. Retrying cannot help."""


_FIX_CA = (
    "set sslrootcert in NEWSSTREAM_POSTGRES_DSN to the CA that signed the server's certificate"
)


def access_problem(exc: BaseException) -> str | None:
    """The one-line cause of a connection failure that retrying cannot fix, or None."""
    return _tls_problem(exc) or _config_problem(exc)


def _tls_problem(exc: BaseException) -> str | None:
    if isinstance(exc, ssl.SSLCertVerificationError):
        # OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH.
        if exc.verify_code in (62, 64):
            return (
                f"PostgreSQL's TLS certificate does not name the DSN's host ({exc.verify_message});"
                " put a host name the certificate names in NEWSSTREAM_POSTGRES_DSN"
            )
        return f"PostgreSQL's TLS certificate is not trusted ({exc.verify_message}); {_FIX_CA}"
    # A handshake cut short (EOF, reset) may be a server restarting: that one stays transient.
    cut_short = ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, cut_short):
        return f"TLS handshake with PostgreSQL failed ({exc}); check sslmode and sslrootcert"
    if isinstance(exc, ConnectionError) and "rejected SSL upgrade" in str(exc):
        return (
            "PostgreSQL does not offer TLS but NEWSSTREAM_POSTGRES_DSN requires it (sslmode);"
            " enable ssl on the server, or use another server or sslmode"
        )
    return None


def _config_problem(exc: BaseException) -> str | None:
    if isinstance(exc, asyncpg.exceptions.ClientConfigurationError):
        return f"NEWSSTREAM_POSTGRES_DSN is invalid: {exc}"
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        if "no encryption" in str(exc):  # a hostnossl ... reject line in pg_hba.conf
            return (
                f"PostgreSQL accepts TLS connections only ({exc}); add sslmode=verify-full and"
                " sslrootcert to NEWSSTREAM_POSTGRES_DSN"
            )
        return (
            f"PostgreSQL refused the login ({exc}); check the user and password in"
            " NEWSSTREAM_POSTGRES_DSN"
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return f"{exc}; check the database name in NEWSSTREAM_POSTGRES_DSN"
    return None


def _check_tls_files(dsn: str) -> None:
    """A TLS file the DSN names must be readable (ssl's own error does not name the file)."""
    query = parse_qs(urlsplit(dsn).query) if "://" in dsn else {}
    for param in ("sslrootcert", "sslcert", "sslkey"):
        for name in query.get(param, []):
            path = Path(name).expanduser()
            if not (path.is_file() and os.access(path, os.R_OK)):
                raise PostgresAccessError(
                    f"cannot read {path}, the {param} of NEWSSTREAM_POSTGRES_DSN; mount the file"
                    f" there or fix {param}"
                )


async def open_connection(dsn: str, timeout_s: float = 10.0) -> asyncpg.Connection:
    """``asyncpg.connect``, with a TLS or DSN problem raised as :class:`PostgresAccessError`."""
    _check_tls_files(dsn)
    try:
        return await asyncpg.connect(dsn, timeout=timeout_s)
    except Exception as exc:
        problem = access_problem(exc)
        if problem is None:
            raise
        raise PostgresAccessError(problem) from exc


async def connect(dsn: str, timeout_s: float = 10.0) -> asyncpg.Connection:
    """Open a connection and bring the schema up to date (migrations are idempotent)."""
    conn = await open_connection(dsn, timeout_s)
    try:
        await migrate(conn)
    except BaseException:
        await conn.close()
        raise
    return conn
