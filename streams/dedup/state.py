"""What the dedup steps keep, and one partition's slice of a shared state table.

The steps' tables (faust tables in the worker; dicts in tests, the CLI and the bench) have
text keys and plain JSON-compatible dict values: faust's table codec writes them to the
changelog as JSON. The keys below are those the changelogs already hold (they were only
described in prose before they were typed here), so recovery reads old state as is. Values are
always re-assigned, never mutated, so that a table writes a changelog record for every change.

- ``by_id``: article id -> ``UrlEntry``, the last version seen of that URL;
- ``by_hash``: content hash -> ``HashEntry``, the first article with exactly that text.

The LSH band index (``bands.py``) is derived from ``by_id`` and kept in memory.

A worker's faust table holds the keys of every partition it owns in one dict, but each key's
changelog record lives in the partition of the event that wrote it. Deleting a key while
processing another partition's event would put the tombstone in the wrong changelog partition:
the key comes back on recovery and the state is not bounded after all. So every stage writes its
keys under its input partition's prefix and expires only that prefix, while handling an event of
that partition (``PartitionView``). It also keeps two partitions' entries apart if they ever
share a worker.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, NotRequired, TypedDict, TypeVar

__all__ = ["BandSlot", "HashEntry", "PartitionView", "SeenVersion", "UrlEntry"]

# ``[fetch time, first 16 characters of the content hash, revision]`` of an earlier version:
# a JSON array, so a list (not a tuple) whether written here or read back from a changelog.
SeenVersion = list[float | str | int]


class UrlEntry(TypedDict):
    """``by_id`` value: the last version seen of one URL (article id)."""

    hash: str  # content hash of its text
    fp: str  # its fingerprint (``Signature.to_hex``), "" when it had none
    rev: int  # revision number, 0 for the first version
    t: float  # fetch time, seconds since the epoch (the stream's event time)
    # Once revised: the first version's fingerprint, so a late copy of it still finds the URL.
    fp0: NotRequired[str]
    # Once revised: the last ``MAX_VERSIONS`` earlier versions, newest first, to recognise
    # their redelivery (``Deduplicator.redelivered``).
    seen: NotRequired[list[SeenVersion]]


# ``dedup-band-earliest`` value item: ``[fetch time, article id, fingerprint]`` of one of the
# earliest articles filed under a band key (``band_step.py``), a JSON array.
BandSlot = list[Any]


class HashEntry(TypedDict):
    """``by_hash`` value: the first kept article with exactly this text."""

    id: str  # article id
    t: float  # its fetch time, seconds since the epoch
    # Once that article was found a near-duplicate (the sharded steps): ``id`` is its original
    # and this the copy score, which any exact copy of it shares.
    near: NotRequired[float]


V = TypeVar("V")


class PartitionView(MutableMapping[str, V]):
    """Keys of ``table`` that start with ``"<partition>|"``, seen without the prefix."""

    def __init__(self, table: MutableMapping[str, V], partition: int) -> None:
        self._table = table
        self._prefix = f"{partition}|"

    def __getitem__(self, key: str) -> V:
        return self._table[self._prefix + key]

    def get(self, key: str, default: Any = None) -> Any:
        # faust tables answer ``get`` without raising through ``__missing__``; keep that path.
        return self._table.get(self._prefix + key, default)

    def __setitem__(self, key: str, value: V) -> None:
        self._table[self._prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self._table[self._prefix + key]

    def __iter__(self) -> Iterator[str]:
        # A snapshot: callers delete while iterating (expiry). O(whole table), so run it rarely.
        n = len(self._prefix)
        return iter([k[n:] for k in list(self._table) if k.startswith(self._prefix)])

    def __len__(self) -> int:
        return sum(1 for _ in self)
