"""The query-first scheduler, with a deterministic fake model that runs one call at a time on command.

No timing: the fake blocks inside each call until the test lets it finish, so the order of calls is fixed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from chatsphere_agent.providers.embedding_scheduler import QueryFirstScheduler

WAIT_S = 10.0  # only a bound on a hang; every wait returns as soon as the awaited step happened


class SteppedModel:
    """Encodes text t as [len(t), i] (i its place in the call); each call waits for the test's go-ahead."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self._entered = threading.Semaphore(0)
        self._proceed = threading.Semaphore(0)
        self.failing: set[str] = set()

    def encode(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        self._entered.release()
        assert self._proceed.acquire(timeout=WAIT_S), "the test never let the call finish"
        if self.failing & set(texts):
            raise RuntimeError("the model broke")
        return [[float(len(text)), float(index)] for index, text in enumerate(texts)]

    def wait_for_call(self) -> list[str]:
        """Until the worker is inside its next call; returns that call's texts."""
        assert self._entered.acquire(timeout=WAIT_S), "the worker never called the model"
        return self.calls[-1]

    def finish_call(self) -> None:
        self._proceed.release()


@pytest.fixture
def model() -> Iterator[SteppedModel]:
    stepped = SteppedModel()
    yield stepped
    for _ in range(100):  # let a worker still waiting inside a call run dry
        stepped.finish_call()


def scheduler(
    model: SteppedModel,
    *,
    slice_size: int = 2,
    short_slice_size: int | None = None,
    quiet_slices: int = 1,
    max_query_batch: int = 8,
) -> QueryFirstScheduler:
    """A fixed slice size unless the test gives a short one."""
    return QueryFirstScheduler(
        encode=model.encode,
        slice_size=slice_size,
        short_slice_size=slice_size if short_slice_size is None else short_slice_size,
        quiet_slices=quiet_slices,
        max_query_batch=max_query_batch,
        name="fake",
    )


def result(future: Future[list[float]] | Future[list[list[float]]]) -> object:
    return future.result(timeout=WAIT_S)


def test_a_query_sent_during_a_long_ingestion_is_served_before_the_ingestion_finishes(
    model: SteppedModel,
) -> None:
    under_test = scheduler(model, slice_size=2)
    document = under_test.submit_documents([f"chunk {n}" for n in range(10)])
    assert model.wait_for_call() == ["chunk 0", "chunk 1"]

    query = under_test.submit_query("when?")
    model.finish_call()

    assert model.wait_for_call() == ["when?"]
    model.finish_call()
    assert result(query) == [5.0, 0.0]
    assert not document.done()

    for expected in (
        ["chunk 2", "chunk 3"],
        ["chunk 4", "chunk 5"],
        ["chunk 6", "chunk 7"],
        ["chunk 8", "chunk 9"],
    ):
        assert model.wait_for_call() == expected
        model.finish_call()
    assert result(document) == [[7.0, float(n % 2)] for n in range(10)]


def test_while_queries_come_a_document_is_sliced_short_and_goes_back_to_full_slices_when_they_stop(
    model: SteppedModel,
) -> None:
    under_test = scheduler(model, slice_size=4, short_slice_size=1, quiet_slices=2)
    document = under_test.submit_documents([f"c{n}" for n in range(12)])
    # No chat yet: the document goes at the model's best throughput.
    assert model.wait_for_call() == ["c0", "c1", "c2", "c3"]
    first = under_test.submit_query("q1")
    model.finish_call()
    assert model.wait_for_call() == ["q1"]
    model.finish_call()

    # A chat is being served: the next query waits for one 1-chunk call, not for four chunks.
    assert model.wait_for_call() == ["c4"]
    second = under_test.submit_query("q2")
    model.finish_call()
    assert model.wait_for_call() == ["q2"]
    model.finish_call()

    # Two slices in a row without a query: quiet again, full slices.
    for expected in (["c5"], ["c6"], ["c7", "c8", "c9", "c10"], ["c11"]):
        assert model.wait_for_call() == expected
        model.finish_call()
    assert result(first) == [2.0, 0.0]
    assert result(second) == [2.0, 0.0]
    assert result(document) == [
        *([2.0, float(place)] for place in range(4)),
        [2.0, 0.0],
        [2.0, 0.0],
        [2.0, 0.0],
        *([2.0, float(place)] for place in range(3)),
        [3.0, 3.0],
        [3.0, 0.0],
    ]


def test_a_short_slice_longer_than_the_full_slice_is_refused(model: SteppedModel) -> None:
    with pytest.raises(ValueError, match="short_slice_size must not exceed slice_size"):
        scheduler(model, slice_size=2, short_slice_size=4)


def test_queries_waiting_together_share_one_model_call(model: SteppedModel) -> None:
    under_test = scheduler(model, max_query_batch=3)
    first = under_test.submit_query("a")
    model.wait_for_call()
    waiting = [under_test.submit_query(text) for text in ("bb", "ccc", "dddd", "eeeee")]
    model.finish_call()

    assert model.wait_for_call() == ["bb", "ccc", "dddd"]
    model.finish_call()
    assert model.wait_for_call() == ["eeeee"]
    model.finish_call()

    assert result(first) == [1.0, 0.0]
    assert [result(future) for future in waiting] == [[2.0, 0.0], [3.0, 1.0], [4.0, 2.0], [5.0, 0.0]]


def test_documents_take_turns_slice_by_slice(model: SteppedModel) -> None:
    under_test = scheduler(model, slice_size=2)
    long = under_test.submit_documents(["l0", "l1", "l2", "l3", "l4", "l5"])
    assert model.wait_for_call() == ["l0", "l1"]
    short = under_test.submit_documents(["s0"])
    model.finish_call()

    # The short document's turn first; the slice's room left is filled from the long one.
    assert model.wait_for_call() == ["s0", "l2"]
    model.finish_call()
    assert result(short) == [[2.0, 0.0]]
    assert not long.done()
    for expected in (["l3", "l4"], ["l5"]):
        assert model.wait_for_call() == expected
        model.finish_call()
    assert result(long) == [[2.0, 0.0], [2.0, 1.0], [2.0, 1.0], [2.0, 0.0], [2.0, 1.0], [2.0, 0.0]]


def test_small_documents_waiting_together_share_one_model_call_each_getting_its_own_vectors(
    model: SteppedModel,
) -> None:
    under_test = scheduler(model, slice_size=4)
    first = under_test.submit_documents(["a0"])
    assert model.wait_for_call() == ["a0"]
    waiting = [
        under_test.submit_documents(texts) for texts in (["b0", "bb1"], ["ccc0"], ["dddd0", "d1"], ["e0"])
    ]
    model.finish_call()

    # In queue order, up to the slice size: the third document is cut after its first chunk.
    assert model.wait_for_call() == ["b0", "bb1", "ccc0", "dddd0"]
    model.finish_call()
    # What is left of it goes behind the document still waiting, and they share the next call.
    assert model.wait_for_call() == ["e0", "d1"]
    model.finish_call()

    assert result(first) == [[2.0, 0.0]]
    assert [result(future) for future in waiting] == [
        [[2.0, 0.0], [3.0, 1.0]],
        [[4.0, 2.0]],
        [[5.0, 3.0], [2.0, 1.0]],
        [[2.0, 0.0]],
    ]
    assert len(model.calls) == 3


def test_a_shared_call_that_fails_fails_only_the_document_that_breaks_the_model(model: SteppedModel) -> None:
    under_test = scheduler(model, slice_size=4)
    first = under_test.submit_documents(["a0"])
    model.wait_for_call()
    model.failing = {"bad"}
    fine, broken, also_fine = (under_test.submit_documents(texts) for texts in (["b0"], ["bad"], ["d0"]))
    model.finish_call()

    assert model.wait_for_call() == ["b0", "bad", "d0"]
    model.finish_call()
    for alone in (["b0"], ["bad"], ["d0"]):  # each document's part again, alone
        assert model.wait_for_call() == alone
        model.finish_call()

    assert result(first) == [[2.0, 0.0]]
    assert result(fine) == [[2.0, 0.0]]
    assert result(also_fine) == [[2.0, 0.0]]
    with pytest.raises(RuntimeError, match="the model broke"):
        result(broken)


def test_a_failed_call_fails_its_callers_and_the_worker_serves_the_next(model: SteppedModel) -> None:
    under_test = scheduler(model, slice_size=2)
    model.failing = {"bad"}
    document = under_test.submit_documents(["ok", "bad", "never sent"])
    model.wait_for_call()
    model.finish_call()

    with pytest.raises(RuntimeError, match="the model broke"):
        result(document)
    query = under_test.submit_query("fine")
    assert model.wait_for_call() == ["fine"]
    model.finish_call()
    assert result(query) == [4.0, 0.0]
    assert ["never sent"] not in model.calls


def test_a_model_that_returns_too_few_vectors_is_an_error_not_a_hang() -> None:
    under_test = QueryFirstScheduler(
        encode=lambda texts: [],
        slice_size=4,
        short_slice_size=4,
        quiet_slices=1,
        max_query_batch=4,
        name="short",
    )

    with pytest.raises(ValueError, match="0 vectors for 2 texts"):
        result(under_test.submit_documents(["a", "b"]))


def test_an_empty_document_needs_no_model_call(model: SteppedModel) -> None:
    assert result(scheduler(model).submit_documents([])) == []
    assert model.calls == []
