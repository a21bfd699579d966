"""Builds the process's one embeddings provider, vector store and chat model from the settings.

Implementations are imported only when chosen, so an embedded deployment never imports the Google or
Pinecone SDKs and a cloud deployment never loads torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatsphere_agent.checkpoints import NO_CHECKPOINTS, FileCheckpoints
from chatsphere_agent.config import AgentSettings
from chatsphere_agent.errors import StartupError
from chatsphere_agent.providers.base import (
    QUANTIZED_SPACE_SUFFIX,
    ChatModelProvider,
    Checkpoints,
    DeletionRegistry,
    EmbeddingsProvider,
    LexicalIndexProvider,
    VectorStoreProvider,
)
from chatsphere_agent.providers.sqlite_tombstones import MemoryDeletionRegistry, SqliteDeletionRegistry


@dataclass(frozen=True, slots=True)
class Providers:
    embeddings: EmbeddingsProvider
    vector_store: VectorStoreProvider
    chat_model: ChatModelProvider
    # None: retrieval is dense only (the Pinecone deployment, see build_lexical_index).
    lexical_index: LexicalIndexProvider | None = None
    deletions: DeletionRegistry = field(default_factory=MemoryDeletionRegistry)
    checkpoints: Checkpoints = NO_CHECKPOINTS


def build_embeddings(settings: AgentSettings) -> EmbeddingsProvider:
    if settings.resolved_embeddings_provider() == "gemini":
        from chatsphere_agent.providers.gemini import GeminiEmbeddings

        return GeminiEmbeddings.from_settings(settings)
    from chatsphere_agent.providers.local_embeddings import LocalEmbeddings

    return LocalEmbeddings.from_settings(settings)


def build_vector_store(settings: AgentSettings, *, space: str | None = None) -> VectorStoreProvider:
    """`space`: the embeddings' space, which the store records beside what it writes (Chroma does)."""
    if settings.resolved_vector_store() == "pinecone":
        from chatsphere_agent.providers.pinecone_store import PineconeStore

        return PineconeStore.from_settings(settings)
    from chatsphere_agent.providers.chroma_store import ChromaStore

    return ChromaStore.from_settings(settings, space=space)


def build_lexical_index(settings: AgentSettings) -> LexicalIndexProvider | None:
    """SQLite FTS5 beside Chroma; none beside Pinecone.

    Pinecone's index is shared by every agent replica, while an SQLite file lives on one host's disk:
    beside Pinecone it would be in step with the vectors on one host only, so retrieval stays dense.
    """
    if settings.resolved_vector_store() == "pinecone":
        return None
    from chatsphere_agent.providers.sqlite_lexical import SqliteLexicalIndex

    return SqliteLexicalIndex.from_settings(settings)


def build_checkpoints(settings: AgentSettings) -> Checkpoints:
    directory = settings.agent_test_checkpoint_dir
    return NO_CHECKPOINTS if directory is None else FileCheckpoints(directory)


def build_chat_model(settings: AgentSettings) -> ChatModelProvider:
    llm = settings.resolved_llm_provider()
    if llm == "gemini":
        from chatsphere_agent.providers.gemini import GeminiChatModel

        return GeminiChatModel.from_settings(settings)
    if llm == "openai":
        from chatsphere_agent.providers.openai_compatible import OpenAICompatibleChatModel

        return OpenAICompatibleChatModel.from_settings(settings)
    from chatsphere_agent.providers.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer()


def check_compatible(providers: Providers) -> None:
    """Refuse to start when stored vectors and new embeddings could never be compared."""
    store_dimension = providers.vector_store.index_dimension()
    embedding_dimension = providers.embeddings.dimension
    if store_dimension is not None and store_dimension != embedding_dimension:
        raise StartupError(
            f"Embedding dimension mismatch: {providers.embeddings.name} produces {embedding_dimension}-d "
            f"vectors but {providers.vector_store.name} holds {store_dimension}-d vectors. Use an index "
            "(PINECONE_INDEX) or data directory (AGENT_DATA_DIR) made for this embedding model, or set "
            "GEMINI_EMBEDDING_DIMENSION to the index's dimension."
        )
    store_space = providers.vector_store.index_space()
    space = providers.embeddings.space
    if store_space is None and store_dimension is not None and space.endswith(QUANTIZED_SPACE_SUFFIX):
        # Written before spaces were recorded, i.e. by a full-precision model (torch or Gemini).
        store_space = "unrecorded, full precision"
    if store_space is not None and store_space != space:
        raise StartupError(
            f"Embedding space mismatch: {providers.vector_store.name} holds vectors of {store_space!r} but "
            f"{providers.embeddings.name} writes {space!r}; mixing them would rank passages by vectors "
            "that do not compare. Set LOCAL_EMBEDDING_BACKEND (or the embeddings provider) back to what "
            "wrote the index, or use a new AGENT_DATA_DIR and upload the documents again."
        )


def build_providers(
    settings: AgentSettings,
    *,
    embeddings: EmbeddingsProvider | None = None,
    vector_store: VectorStoreProvider | None = None,
    chat_model: ChatModelProvider | None = None,
    lexical_index: LexicalIndexProvider | None = None,
) -> Providers:
    """Build what is not given from the settings, then check the set can work together.

    Passing one implementation in (a test's or a Pact provider state's) keeps the rest real.
    """
    embeddings = build_embeddings(settings) if embeddings is None else embeddings
    providers = Providers(
        embeddings=embeddings,
        vector_store=build_vector_store(settings, space=embeddings.space)
        if vector_store is None
        else vector_store,
        chat_model=build_chat_model(settings) if chat_model is None else chat_model,
        lexical_index=build_lexical_index(settings) if lexical_index is None else lexical_index,
        deletions=SqliteDeletionRegistry.from_settings(settings),
        checkpoints=build_checkpoints(settings),
    )
    check_compatible(providers)
    return providers
