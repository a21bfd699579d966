"""Query-first scheduling of one in-process embedding model.

The agent has one model object per process and it runs one encode call at a time (a HF fast tokenizer is
not re-entrant). Served first-come first-served, a chat's one-line query waited behind a whole ingestion
batch: seconds while a long document was embedded. Here one worker thread owns the model and picks its
next call by priority:

  1. every query waiting (up to `max_query_batch`), encoded together in one call: concurrent chats share
     a forward pass instead of queueing behind each other;
  2. otherwise the next slice of documents, documents taking turns slice by slice.

A query therefore waits at most for the one slice in progress; a document is never starved, because the
queries of the moment are drained in a single call.

A slice is filled from the documents waiting, in queue order: the first document's next chunks, then, if
it has fewer left than the slice holds, the next document's, and so on. Small documents uploaded at once
(a page, an abstract: one or two chunks each) share a forward pass instead of each paying a call of its own;
each document's Future still gets exactly its own vectors, in order. A document that took part in a slice
and has chunks left goes behind the others waiting. If a shared call fails, each document's part is run
again alone, so only the document whose chunk breaks the model fails.

How long a slice is adapts to the chats: a slice of `slice_size` chunks runs the model at its best
throughput, but a query arriving meanwhile waits for all of it, and one-chunk calls cost ingestion about a
third of its speed (docs/benchmarks.md). So a document is sliced `short_slice_size` chunks at a time
while chats are being served, i.e. until `quiet_slices` slices in a row ran without a query, and
`slice_size` at a time otherwise: an ingestion alone runs at the model's speed, and a chat arriving
during a busy spell waits for one short call. Measured options (small slices behind a plain lock, this
queue, ingestion in a process of its own) are in docs/benchmarks.md.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

Encode = Callable[[list[str]], list[list[float]]]


@dataclass(eq=False)
class _DocumentJob:
    texts: list[str]
    result: Future[list[list[float]]]
    vectors: list[list[float]] = field(default_factory=list)

    def next_slice(self, size: int) -> list[str]:
        start = len(self.vectors)
        return self.texts[start : start + size]


@dataclass(eq=False)
class _QueryJob:
    text: str
    result: Future[list[float]]


class QueryFirstScheduler:
    """Runs `encode` on one worker thread, queries before document slices (see the module docstring)."""

    def __init__(
        self,
        *,
        encode: Encode,
        slice_size: int,
        short_slice_size: int,
        quiet_slices: int,
        max_query_batch: int,
        name: str,
    ) -> None:
        if min(slice_size, short_slice_size, quiet_slices, max_query_batch) < 1:
            raise ValueError("slice sizes, quiet_slices and max_query_batch must be at least 1")
        if short_slice_size > slice_size:
            raise ValueError("short_slice_size must not exceed slice_size")
        self._encode = encode
        self._slice_size = slice_size
        self._short_slice_size = short_slice_size
        self._quiet_slices = quiet_slices
        # Read and written by the worker thread only. Starts quiet: no chat has been served yet.
        self._slices_since_query = quiet_slices
        self._max_query_batch = max_query_batch
        self._queries: deque[_QueryJob] = deque()
        self._documents: deque[_DocumentJob] = deque()
        self._wakeup = threading.Condition()
        self._worker = threading.Thread(target=self._run, name=f"{name} encoder", daemon=True)
        self._worker.start()

    def submit_query(self, text: str) -> Future[list[float]]:
        job = _QueryJob(text=text, result=Future())
        with self._wakeup:
            self._queries.append(job)
            self._wakeup.notify()
        return job.result

    def submit_documents(self, texts: Sequence[str]) -> Future[list[list[float]]]:
        job = _DocumentJob(texts=list(texts), result=Future())
        if not job.texts:
            job.result.set_result([])
            return job.result
        with self._wakeup:
            self._documents.append(job)
            self._wakeup.notify()
        return job.result

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._queries and not self._documents:
                    self._wakeup.wait()
                if self._queries:
                    count = min(len(self._queries), self._max_query_batch)
                    queries = [self._queries.popleft() for _ in range(count)]
                    document = None
                else:
                    queries = []
                    document = self._documents.popleft()
            if document is None:
                self._encode_queries(queries)
            else:
                self._encode_slice(document)

    def _encode_queries(self, queries: list[_QueryJob]) -> None:
        self._slices_since_query = 0
        try:
            vectors = self._encode_exactly([job.text for job in queries])
        except Exception as exc:  # handed to every caller waiting on this call
            for job in queries:
                job.result.set_exception(exc)
            return
        for job, vector in zip(queries, vectors, strict=True):
            job.result.set_result(vector)

    def _next_slice_size(self) -> int:
        if self._slices_since_query < self._quiet_slices:
            return self._short_slice_size
        return self._slice_size

    def _encode_slice(self, first: _DocumentJob) -> None:
        size = self._next_slice_size()
        self._slices_since_query += 1
        parts = [(first, first.next_slice(size))]
        room = size - len(parts[0][1])
        with self._wakeup:
            while room > 0 and self._documents:
                document = self._documents.popleft()
                part = document.next_slice(room)
                parts.append((document, part))
                room -= len(part)
        try:
            vectors = self._encode_exactly([text for _, part in parts for text in part])
        except Exception as exc:
            if len(parts) == 1:  # the document's caller gets it; the worker lives on
                parts[0][0].result.set_exception(exc)
                unfinished: list[_DocumentJob] = []
            else:
                unfinished = self._encode_parts_alone(parts)
        else:
            unfinished = []
            start = 0
            for document, part in parts:
                document.vectors.extend(vectors[start : start + len(part)])
                start += len(part)
                if not self._finish_if_done(document):
                    unfinished.append(document)
        if unfinished:
            with self._wakeup:
                # Behind the other documents waiting: a short upload is not stuck behind a long one.
                self._documents.extend(unfinished)

    def _encode_parts_alone(self, parts: list[tuple[_DocumentJob, list[str]]]) -> list[_DocumentJob]:
        """After a shared call failed: each document's part alone, so only a document that breaks it fails."""
        unfinished: list[_DocumentJob] = []
        for document, part in parts:
            try:
                document.vectors.extend(self._encode_exactly(part))
            except Exception as exc:  # this document's caller gets it
                document.result.set_exception(exc)
                continue
            if not self._finish_if_done(document):
                unfinished.append(document)
        return unfinished

    @staticmethod
    def _finish_if_done(document: _DocumentJob) -> bool:
        if len(document.vectors) < len(document.texts):
            return False
        document.result.set_result(document.vectors)
        return True

    def _encode_exactly(self, texts: list[str]) -> list[list[float]]:
        vectors = self._encode(texts)
        if len(vectors) != len(texts):
            raise ValueError(f"the model returned {len(vectors)} vectors for {len(texts)} texts")
        return vectors
