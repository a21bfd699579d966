"""The agent's one settings object, read from the environment and the repo-root `.env`.

Every variable is the upper-case field name (AGENT_SERVICE_TOKEN, GOOGLE_API_KEY, ...). Unsafe or
contradictory values fail at construction, i.e. at start-up, never on the first request.

Provider resolution (each can be forced with EMBEDDINGS_PROVIDER / VECTOR_STORE / LLM_PROVIDER; a forced
choice whose keys are missing is an error):
  embeddings    gemini when GOOGLE_API_KEY is set, else local (all-MiniLM-L6-v2)
  vector store  pinecone when PINECONE_API_KEY and PINECONE_INDEX are set, else chroma on disk
  llm           openai-compatible when LLM_BASE_URL is set (it names a server only for this purpose),
                else gemini when GOOGLE_API_KEY is set, else the offline extractive answerer
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

EmbeddingsProviderName = Literal["gemini", "local"]
VectorStoreName = Literal["pinecone", "chroma"]
LlmProviderName = Literal["gemini", "openai", "extractive"]
RetrievalMode = Literal["dense", "lexical", "hybrid"]
LocalEmbeddingBackend = Literal["torch", "onnx", "onnx-int8", "onnx-qint8"]
# Chosen by speed and SciFact nDCG@10 (scripts/bench_embedding_backends.py, docs/benchmarks.md).
DEFAULT_LOCAL_EMBEDDING_BACKEND: LocalEmbeddingBackend = "onnx"

MIN_TOKEN_LENGTH = 16
_PLACEHOLDER_MARKERS = ("changeme", "replaceme", "placeholder", "yourtoken", "example", "insecure")


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=REPO_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",  # the shared .env also holds Django's variables
        case_sensitive=False,
        env_ignore_empty=True,  # `GOOGLE_API_KEY=` in a .env means "not configured", not an empty key
        hide_input_in_errors=True,  # a rejected AGENT_SERVICE_TOKEN must not reach the start-up log
    )

    agent_service_token: SecretStr
    google_api_key: SecretStr | None = None
    pinecone_api_key: SecretStr | None = None
    pinecone_index: str | None = None

    embeddings_provider: EmbeddingsProviderName | None = None
    vector_store: VectorStoreName | None = None
    llm_provider: LlmProviderName | None = None

    gemini_chat_model: str = "gemini-2.5-flash"
    gemini_embedding_model: str = "gemini-embedding-001"
    gemini_embedding_dimension: int = Field(default=768, ge=1)
    embedding_batch_size: int = Field(default=100, ge=1, le=100)
    pinecone_upsert_batch_size: int = Field(default=100, ge=1, le=1000)

    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str = "llama3.2"

    agent_data_dir: Path = REPO_ROOT / "var" / "agent"
    # Below this much free space on the data directory's disk, storing is refused (503, "disk is full") before
    # anything is written: Chroma's core was seen to wedge after meeting ENOSPC mid-write. Reads go on.
    min_free_disk_mb: int = Field(default=64, ge=0)
    retrieval_top_k: int = Field(default=4, ge=1, le=20)
    # Cosine similarity below which a chunk is not shown to the model nor cited. all-MiniLM-L6-v2 scores
    # unrelated passages around 0.0-0.2 and on-topic ones from about 0.3 up.
    min_relevance_score: float = Field(default=0.25, ge=0.0, le=1.0)
    # Hybrid retrieval: the dense and the lexical (BM25) rankings, each `retrieval_candidates` deep, fused by
    # weighted reciprocal rank fusion, score = sum of weight / (rrf_k + rank). Tuned on BEIR SciFact
    # (`make eval`, docs/benchmarks.md).
    retrieval_mode: RetrievalMode = "hybrid"
    retrieval_candidates: int = Field(default=50, ge=1, le=200)
    rrf_k: int = Field(default=60, ge=1, le=1000)
    rrf_dense_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    rrf_lexical_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    # BM25 weight of a match in the document's name relative to one in the chunk's text.
    lexical_title_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    provider_max_retries: int = Field(default=3, ge=0, le=10)
    provider_timeout_seconds: float = Field(default=30.0, gt=0)
    # First retry delay of provider calls (429/5xx/timeouts); doubles per attempt, capped at 8x.
    provider_retry_backoff_seconds: float = Field(default=0.5, gt=0, le=10)
    # The local model encodes a document this many chunks per call (its best throughput), and only the
    # short batch per call while chats are being served, i.e. until LOCAL_EMBEDDING_QUIET_SLICES calls in a
    # row ran without a query: a chat's query waits for one short call (providers/embedding_scheduler.py).
    # Concurrent queries share one call, up to LOCAL_QUERY_BATCH_SIZE.
    local_embedding_batch_size: int = Field(default=4, ge=1, le=1024)
    local_embedding_short_batch_size: int = Field(default=1, ge=1, le=1024)
    local_embedding_quiet_slices: int = Field(default=8, ge=1, le=1024)
    local_query_batch_size: int = Field(default=32, ge=1, le=1024)
    # How the local model runs (providers/local_embeddings.py; measured in docs/benchmarks.md). The ONNX files
    # are exported from the package's weights at the first start into LOCAL_MODEL_CACHE_DIR (default
    # AGENT_DATA_DIR/models); the test stacks share one, so a fresh data directory does not export again.
    local_embedding_backend: LocalEmbeddingBackend = DEFAULT_LOCAL_EMBEDDING_BACKEND
    local_model_cache_dir: Path | None = None
    # A blocking route (retrieval, a synchronous LLM call) holds a worker thread for the whole LLM call;
    # AnyIO's default of 40 threads would queue the 41st concurrent chat behind a 2-second answer.
    agent_worker_threads: int = Field(default=200, ge=1, le=2000)
    # A `: heartbeat` comment after this many seconds without an event keeps proxies from closing a stream.
    stream_heartbeat_seconds: float = Field(default=10.0, gt=0, le=300)
    # Test-only: where fault tests hold the agent at named points of storing a batch (checkpoints.py).
    agent_test_checkpoint_dir: Path | None = None

    @field_validator("agent_service_token")
    @classmethod
    def _token_is_safe(cls, token: SecretStr) -> SecretStr:
        value = token.get_secret_value()
        if len(value) < MIN_TOKEN_LENGTH:
            raise ValueError(f"AGENT_SERVICE_TOKEN must be at least {MIN_TOKEN_LENGTH} characters long")
        normalized = re.sub(r"[^a-z0-9]", "", value.lower())
        if len(set(value)) < 4 or any(marker in normalized for marker in _PLACEHOLDER_MARKERS):
            raise ValueError(
                "AGENT_SERVICE_TOKEN looks like a placeholder; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return token

    @model_validator(mode="after")
    def _short_batch_is_shorter(self) -> AgentSettings:
        if self.local_embedding_short_batch_size > self.local_embedding_batch_size:
            raise ValueError("LOCAL_EMBEDDING_SHORT_BATCH_SIZE must not exceed LOCAL_EMBEDDING_BATCH_SIZE")
        return self

    @model_validator(mode="after")
    def _explicit_choices_have_their_keys(self) -> AgentSettings:
        self.resolved_embeddings_provider()
        self.resolved_vector_store()
        self.resolved_llm_provider()
        return self

    def resolved_embeddings_provider(self) -> EmbeddingsProviderName:
        if self.embeddings_provider == "gemini" and self.google_api_key is None:
            raise ValueError("EMBEDDINGS_PROVIDER=gemini needs GOOGLE_API_KEY")
        if self.embeddings_provider is not None:
            return self.embeddings_provider
        return "gemini" if self.google_api_key is not None else "local"

    def resolved_vector_store(self) -> VectorStoreName:
        has_pinecone = self.pinecone_api_key is not None and self.pinecone_index is not None
        if self.vector_store == "pinecone" and not has_pinecone:
            raise ValueError("VECTOR_STORE=pinecone needs PINECONE_API_KEY and PINECONE_INDEX")
        if self.vector_store is not None:
            return self.vector_store
        return "pinecone" if has_pinecone else "chroma"

    def resolved_llm_provider(self) -> LlmProviderName:
        if self.llm_provider == "gemini" and self.google_api_key is None:
            raise ValueError("LLM_PROVIDER=gemini needs GOOGLE_API_KEY")
        if self.llm_provider == "openai" and self.llm_base_url is None:
            raise ValueError("LLM_PROVIDER=openai needs LLM_BASE_URL")
        if self.llm_provider is not None:
            return self.llm_provider
        if self.llm_base_url is not None:
            return "openai"
        return "gemini" if self.google_api_key is not None else "extractive"

    @property
    def min_free_disk_bytes(self) -> int:
        return self.min_free_disk_mb * 1024 * 1024

    @property
    def chroma_dir(self) -> Path:
        return self.agent_data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.agent_data_dir / "lexical"

    @property
    def models_dir(self) -> Path:
        return self.local_model_cache_dir or self.agent_data_dir / "models"
