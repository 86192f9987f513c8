"""Schema migrations: numbered SQL files in ``streams/sinks/migrations`` applied in order.

Pending files run in one transaction (all or none), each once, and each is recorded in
``schema_migrations`` with a checksum, so an edited migration that was already applied is
refused rather than silently diverging. An advisory lock serialises sinks that start at the
same time. Forward only: a change is a new file, never an edit.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from streams.errors import ConfigError

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every sink (pg_advisory_xact_lock key).
_LOCK_KEY = 0x6E657773
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The migration files shipped in the package, by version; gaps or clashes are refused."""
    found = []
    for entry in resources.files("streams.sinks.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise ConfigError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Bring the schema up to date; return the names of the migrations applied now."""
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_BOOKKEEPING)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {r["version"]: (r["name"], r["checksum"]) for r in rows}
        for mig in load_migrations():
            if mig.version in done:
                if done[mig.version][1] != mig.checksum:
                    raise ConfigError(
                        f"migration {mig.name} was changed after it was applied; add a new"
                        " migration instead of editing an applied one"
                    )
                continue
            # A savepoint per file: the error names the file that failed.
            async with conn.transaction():
                await conn.execute(mig.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    mig.version, mig.name, mig.checksum,
                )  # fmt: skip
            applied_now.append(mig.name)
            log.info("applied migration %s", mig.name)
    return applied_now
