"""Group commit: batches submitted while a write is in progress share the next write, one per key."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from chatsphere_agent.providers.group_commit import GroupCommit

WAIT_S = 10.0


class HeldWrites:
    """Records each write's items; the first write waits until the test lets it finish."""

    def __init__(self) -> None:
        self.writes: list[list[str]] = []
        self.first_entered = threading.Event()
        self.release_first = threading.Event()
        self.failing: set[str] = set()

    def write_many(self, items: list[str]) -> list[str]:
        self.writes.append(list(items))
        if len(self.writes) == 1:
            self.first_entered.set()
            assert self.release_first.wait(WAIT_S)
        if self.failing & set(items):
            raise RuntimeError("the store broke")
        return [f"stored {item}" for item in items]


def _while_first_write_is_held(
    store: HeldWrites, groups: GroupCommit[str, str], later: list[str]
) -> list[Future[str]]:
    pool = ThreadPoolExecutor(max_workers=len(later) + 1)
    futures = [pool.submit(groups.submit, "first")]
    assert store.first_entered.wait(WAIT_S)
    for item in later:
        futures.append(pool.submit(groups.submit, item))
        deadline = time.monotonic() + WAIT_S
        while len(groups._waiting) < len(futures) - 1:  # until it queued, in this order
            assert time.monotonic() < deadline
            time.sleep(0.001)
    store.release_first.set()
    pool.shutdown(wait=True)
    return futures


def test_batches_waiting_during_a_write_share_the_next_one_at_most_one_per_key() -> None:
    store = HeldWrites()
    groups: GroupCommit[str, str] = GroupCommit(write_many=store.write_many, key=lambda item: item[0])

    futures = _while_first_write_is_held(store, groups, ["a1", "b1", "a2", "c1"])

    assert store.writes == [["first"], ["a1", "b1", "c1"], ["a2"]]
    assert [future.result(WAIT_S) for future in futures] == [
        "stored first",
        "stored a1",
        "stored b1",
        "stored a2",
        "stored c1",
    ]


def test_a_shared_write_that_fails_is_retried_alone_and_fails_only_the_batch_that_breaks_it() -> None:
    store = HeldWrites()
    store.failing = {"bad"}
    groups: GroupCommit[str, str] = GroupCommit(write_many=store.write_many, key=lambda item: item)

    futures = _while_first_write_is_held(store, groups, ["ok", "bad", "fine"])

    assert store.writes == [["first"], ["ok", "bad", "fine"], ["ok"], ["bad"], ["fine"]]
    assert futures[1].result(WAIT_S) == "stored ok"
    assert futures[3].result(WAIT_S) == "stored fine"
    with pytest.raises(RuntimeError, match="the store broke"):
        futures[2].result(WAIT_S)


def test_a_write_returning_too_few_results_fails_its_callers_instead_of_hanging() -> None:
    groups: GroupCommit[str, str] = GroupCommit(write_many=lambda items: [], key=lambda item: item)
    with pytest.raises(ValueError, match="0 results for a group of 1"):
        groups.submit("x")
