"""Group commit: concurrent writers share one store write instead of each paying its own.

Every /embed_and_store request writes its batch to Chroma and to the FTS5 index. Each write has a fixed cost
that barely depends on its size (Chroma ~35 ms for a 2-chunk upsert plus ~9 ms to look for stale chunks,
~60 ms for 16 chunks in one upsert; an FTS5 commit's fsync), so small documents uploaded at once spent
most of the stores' time on those fixed costs, one document after another behind the store's write lock.

Here the first caller to find no write in progress becomes the leader: it takes every batch waiting (in
arrival order, at most one per key, so two batches of one document never meet in one write), writes them
with one call of `write_many`, and wakes their callers; callers that arrived meanwhile wait for the next
group. No thread of its own: a write happens on a caller's thread, as before. A caller returns only once
its own batch is written (or raises its own error): if a shared write fails, each batch of the group is
written again alone, so only a batch that breaks the write fails.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(eq=False)
class _Entry(Generic[_T, _R]):
    item: _T
    done: bool = False
    result: _R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[_T, _R]):
    """`submit(item)` writes `item` through `write_many` together with the items submitted meanwhile."""

    def __init__(
        self,
        *,
        write_many: Callable[[list[_T]], list[_R]],
        key: Callable[[_T], Hashable],
        max_group: int = 64,
    ) -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._write_many = write_many
        self._key = key
        self._max_group = max_group
        self._changed = threading.Condition()
        self._waiting: list[_Entry[_T, _R]] = []
        self._writing = False

    def submit(self, item: _T) -> _R:
        entry: _Entry[_T, _R] = _Entry(item)
        with self._changed:
            self._waiting.append(entry)
        while True:
            with self._changed:
                while not entry.done and self._writing:
                    self._changed.wait()
                if entry.done:
                    break
                self._writing = True
                group = self._take_group()
            try:
                self._write(group)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]  # set with done, unless error is

    def _take_group(self) -> list[_Entry[_T, _R]]:
        group: list[_Entry[_T, _R]] = []
        keys: set[Hashable] = set()
        for entry in self._waiting:
            key = self._key(entry.item)
            if key in keys:
                continue
            keys.add(key)
            group.append(entry)
            if len(group) == self._max_group:
                break
        taken = set(map(id, group))
        self._waiting = [entry for entry in self._waiting if id(entry) not in taken]
        return group

    def _write(self, group: list[_Entry[_T, _R]]) -> None:
        try:
            results = self._write_many([entry.item for entry in group])
            if len(results) != len(group):
                raise ValueError(f"{len(results)} results for a group of {len(group)}")
        except BaseException as exc:
            if len(group) == 1 or not isinstance(exc, Exception):
                for entry in group:
                    entry.error = exc
            else:
                for entry in group:  # alone, so that only a batch that breaks the write fails
                    try:
                        (entry.result,) = self._write_many([entry.item])
                    except Exception as alone_exc:  # this batch's caller gets it
                        entry.error = alone_exc
        else:
            for entry, result in zip(group, results, strict=True):  # lengths checked above
                entry.result = result
        with self._changed:
            for entry in group:
                entry.done = True
