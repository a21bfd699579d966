"""Pinecone vector store (REST client, serverless index) through LangChain's PineconeVectorStore.

One namespace per bot (namespace = bot_id); chunk i of a document is stored under the id
"{document_id}#{i}" with its text, document id and index as metadata; a document's ids are listed by
the prefix "{document_id}#". The index host comes from one describe-index call per process, cached.
Requests run under the client's own urllib3 retry policy, configured with the agent's attempts and
backoff for 429/5xx; what still fails becomes a ProviderError (retryable → HTTP 503, anything else
→ 502).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.embeddings import Embeddings
from langchain_pinecone import PineconeVectorStore
from pinecone import Pinecone
from pinecone.exceptions import NotFoundException, PineconeApiException, PineconeException
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util.retry import Retry

from chatsphere_agent.providers.base import (
    MAX_BACKOFF_FACTOR,
    RETRYABLE_STATUS_CODES,
    ChunkBatch,
    DocumentChunks,
    ProviderError,
    RetrievedChunk,
    check_upsert,
    chunks_by_document,
)

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

PROVIDER = "pinecone"
REQUIRED_METRIC = "cosine"
TEXT_KEY = "text"
DELETE_BATCH_SIZE = 1000  # Pinecone's limit of ids per delete request

T = TypeVar("T")


def vector_id(document_id: str, chunk_index: int) -> str:
    return f"{document_id}#{chunk_index}"


def _chunk_index(record_id: str) -> int:
    """The chunk index in an id of `vector_id`'s form; -1 (never stale) for an id the agent did not write."""
    suffix = record_id.rpartition("#")[2]
    return int(suffix) if suffix.isdecimal() else -1


def pinecone_retry(*, max_retries: int, backoff_seconds: float) -> Retry:
    """Bounded exponential backoff for throttling, outages and dropped connections."""
    return Retry(
        total=max_retries,
        backoff_factor=backoff_seconds,
        backoff_max=backoff_seconds * MAX_BACKOFF_FACTOR,
        backoff_jitter=backoff_seconds,
        status_forcelist=RETRYABLE_STATUS_CODES,
        allowed_methods=None,  # upsert, query and delete are idempotent: POSTs may be retried too
        # A Retry-After of minutes would hold the request past any client's patience.
        respect_retry_after_header=False,
        # After the last attempt hand the response back, so the error carries its status code.
        raise_on_status=False,
    )


class _AgentSuppliesVectors(Embeddings):
    """PineconeVectorStore requires an Embeddings; the agent embeds before it stores or searches."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError("PineconeStore is given vectors; it never embeds text itself")

    def embed_query(self, text: str) -> list[float]:
        raise NotImplementedError("PineconeStore is given vectors; it never embeds text itself")


@dataclass(frozen=True, slots=True)
class _ResolvedIndex:
    store: PineconeVectorStore
    dimension: int | None


class PineconeStore:
    def __init__(
        self,
        *,
        api_key: str,
        index_name: str,
        upsert_batch_size: int,
        timeout_seconds: float,
        max_retries: int,
        backoff_seconds: float,
    ) -> None:
        self.name = f"{PROVIDER}:{index_name}"
        self._index_name = index_name
        self._upsert_batch_size = upsert_batch_size
        self._timeout_seconds = timeout_seconds
        self._client = Pinecone(api_key=api_key, source_tag="chatsphere")
        # Since pinecone 6 the constructor refuses an openapi_config, so the retry policy is set on the
        # configuration it built; every control- and data-plane client copies it when first created.
        self._client._openapi_config.retries = pinecone_retry(
            max_retries=max_retries, backoff_seconds=backoff_seconds
        )
        self._resolved: _ResolvedIndex | None = None
        self._resolve_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> PineconeStore:
        if settings.pinecone_api_key is None or settings.pinecone_index is None:
            raise ValueError("The Pinecone store needs PINECONE_API_KEY and PINECONE_INDEX")
        return cls(
            api_key=settings.pinecone_api_key.get_secret_value(),
            index_name=settings.pinecone_index,
            upsert_batch_size=settings.pinecone_upsert_batch_size,
            timeout_seconds=settings.provider_timeout_seconds,
            max_retries=settings.provider_max_retries,
            backoff_seconds=settings.provider_retry_backoff_seconds,
        )

    def index_dimension(self) -> int | None:
        return self._index().dimension

    def index_space(self) -> str | None:
        # A Pinecone index has no metadata of its own to record the space in; the index's dimension (checked)
        # and one index per embedding model (PINECONE_INDEX) are the guard there.
        return None

    def upsert(self, batch: ChunkBatch) -> int:
        check_upsert(batch, provider=PROVIDER)
        records = [
            {
                "id": vector_id(batch.document_id, index),
                "values": list(vector),
                "metadata": {TEXT_KEY: chunk, "document_id": batch.document_id, "chunk_index": index},
            }
            for index, chunk, vector in zip(batch.chunk_indexes, batch.chunks, batch.vectors, strict=True)
        ]
        index = self._index().store.index
        response = self._call(
            "upsert",
            lambda: index.upsert(
                vectors=records,
                namespace=batch.bot_id,
                batch_size=self._upsert_batch_size,
                show_progress=False,
                _request_timeout=self._timeout_seconds,
            ),
        )
        if batch.last_batch:
            # Upsert first, then drop what an earlier, longer version of the document left behind, so a
            # failure half-way never leaves the document with fewer vectors than before. Only the last
            # batch lists the document's ids: listing on every batch would cost a long document
            # quadratically many list pages.
            stale_ids = [
                id_
                for id_ in self._document_vector_ids(batch.bot_id, batch.document_id)
                if _chunk_index(id_) >= batch.chunk_indexes.stop
            ]
            self._delete_ids(batch.bot_id, stale_ids)
        return int(response.upserted_count)

    def query(self, *, bot_id: str, vector: Sequence[float], top_k: int) -> list[RetrievedChunk]:
        store = self._index().store
        matches = self._call(
            "query",
            lambda: store.similarity_search_by_vector_with_score(list(vector), k=top_k, namespace=bot_id),
        )
        try:
            return [
                RetrievedChunk(
                    document_id=str(document.metadata["document_id"]),
                    chunk_index=int(document.metadata["chunk_index"]),
                    text=document.page_content,
                    # Cosine similarity is in [-1, 1]; anything below 0 is simply unrelated.
                    score=min(max(float(score), 0.0), 1.0),
                )
                for document, score in matches
            ]
        except (KeyError, TypeError, ValueError) as error:
            raise ProviderError.unusable(
                provider=PROVIDER,
                action="Pinecone query",
                detail="a match without the agent's metadata (document_id, chunk_index)",
            ) from error

    def delete_document(self, *, bot_id: str, document_id: str) -> int:
        ids = self._document_vector_ids(bot_id, document_id)
        self._delete_ids(bot_id, ids)
        return len(ids)

    def delete_bot(self, *, bot_id: str) -> bool:
        store = self._index().store
        try:
            self._call(
                "delete namespace",
                lambda: store.delete(
                    delete_all=True, namespace=bot_id, _request_timeout=self._timeout_seconds
                ),
            )
        except ProviderError as error:
            if isinstance(error.__cause__, NotFoundException):
                return False  # the bot never stored anything
            raise
        return True

    def bot_ids(self) -> list[str]:
        index = self._index().store.index
        stats: Any = self._call(
            "describe index stats", lambda: index.describe_index_stats(_request_timeout=self._timeout_seconds)
        )
        return [str(namespace) for namespace in stats.namespaces]

    def document_chunks(self, *, bot_id: str) -> list[DocumentChunks]:
        index = self._index().store.index
        pages = self._call("list", lambda: list(index.list(namespace=bot_id)))
        return chunks_by_document(id_ for page in pages for id_ in page)

    def _document_vector_ids(self, bot_id: str, document_id: str) -> list[str]:
        index = self._index().store.index
        pages = self._call("list", lambda: list(index.list(prefix=f"{document_id}#", namespace=bot_id)))
        return [id_ for page in pages for id_ in page]

    def _delete_ids(self, bot_id: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        store = self._index().store
        for start in range(0, len(ids), DELETE_BATCH_SIZE):
            delete_batch = partial(
                store.delete,
                ids=list(ids[start : start + DELETE_BATCH_SIZE]),
                namespace=bot_id,
                _request_timeout=self._timeout_seconds,
            )
            self._call("delete", delete_batch)

    def _index(self) -> _ResolvedIndex:
        """Describe the index once per process: its host for the data plane, its dimension and metric."""
        with self._resolve_lock:
            if self._resolved is None:
                description: Any = self._call(
                    "describe index", lambda: self._client.describe_index(self._index_name)
                )
                if description.metric != REQUIRED_METRIC:
                    raise ProviderError.unusable(
                        provider=PROVIDER,
                        action=f"Pinecone index {self._index_name!r}",
                        detail=f"uses the {description.metric} metric; the agent needs {REQUIRED_METRIC}",
                    )
                store = PineconeVectorStore(
                    index=self._client.Index(host=description.host),
                    embedding=_AgentSuppliesVectors(),
                    text_key=TEXT_KEY,
                )
                dimension = description.dimension
                self._resolved = _ResolvedIndex(
                    store=store, dimension=int(dimension) if dimension is not None else None
                )
            return self._resolved

    def _call(self, action: str, operation: Callable[[], T]) -> T:
        try:
            return operation()
        except PineconeApiException as error:
            raise ProviderError.from_status(
                provider=PROVIDER, action=f"Pinecone {action}", status=error.status, reason=error.reason
            ) from error
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # The client's model validation and JSON decoding raise these (pinecone's own subclasses
            # included) for a reply that does not have the documented shape.
            raise ProviderError.unusable(
                provider=PROVIDER,
                action=f"Pinecone {action}",
                detail=f"a reply the agent could not read ({type(error).__name__})",
            ) from error
        except (Urllib3Error, PineconeException, OSError) as error:
            raise ProviderError.unavailable(
                provider=PROVIDER, action=f"Pinecone {action}", detail=type(error).__name__
            ) from error
