"""One partition's slice of a shared state table.

A worker's faust table holds the keys of every partition it owns in one dict, but each key's
changelog record lives in the partition of the event that wrote it. Deleting a key while
processing another partition's event would put the tombstone in the wrong changelog partition:
the key comes back on recovery and the state is not bounded after all. So every stage writes its
keys under its input partition's prefix and expires only that prefix, while handling an event of
that partition. It also keeps two partitions' entries apart if they ever share a worker.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

__all__ = ["PartitionView"]


class PartitionView(MutableMapping[str, Any]):
    """Keys of ``table`` that start with ``"<partition>|"``, seen without the prefix."""

    def __init__(self, table: MutableMapping[str, Any], partition: int) -> None:
        self._table = table
        self._prefix = f"{partition}|"

    def __getitem__(self, key: str) -> Any:
        return self._table[self._prefix + key]

    def get(self, key: str, default: Any = None) -> Any:
        # faust tables answer ``get`` without raising through ``__missing__``; keep that path.
        return self._table.get(self._prefix + key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._table[self._prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self._table[self._prefix + key]

    def __iter__(self) -> Iterator[str]:
        # A snapshot: callers delete while iterating (expiry). O(whole table), so run it rarely.
        n = len(self._prefix)
        return iter([k[n:] for k in list(self._table) if k.startswith(self._prefix)])

    def __len__(self) -> int:
        return sum(1 for _ in self)
