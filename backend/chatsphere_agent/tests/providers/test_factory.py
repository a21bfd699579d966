from __future__ import annotations

import pytest

from chatsphere_agent.config import AgentSettings
from chatsphere_agent.errors import StartupError
from chatsphere_agent.providers.base import ChunkBatch
from chatsphere_agent.providers.chroma_store import ChromaStore
from chatsphere_agent.providers.extractive import ExtractiveAnswerer
from chatsphere_agent.providers.factory import (
    build_chat_model,
    build_lexical_index,
    build_providers,
    build_vector_store,
)
from chatsphere_agent.providers.openai_compatible import OpenAICompatibleChatModel
from chatsphere_agent.providers.sqlite_lexical import SqliteLexicalIndex
from chatsphere_agent.tests.conftest import SettingsFactory
from chatsphere_agent.tests.fakes import FixedDimensionStore, RecordingEmbeddings


def test_a_store_of_another_dimension_refuses_to_start(make_settings: SettingsFactory) -> None:
    with pytest.raises(StartupError, match=r"produces 384-d vectors but fixed:768 holds 768-d"):
        build_providers(
            make_settings(),
            embeddings=RecordingEmbeddings(dimension=384),
            vector_store=FixedDimensionStore(dimension=768),
        )


def test_chroma_data_written_by_another_model_refuses_to_start(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    ChromaStore.from_settings(settings).upsert(
        ChunkBatch(
            bot_id="6f1c2a4e-0000-4000-8000-000000000001", document_id="d", chunks=["x"], vectors=[[1.0] * 8]
        )
    )

    with pytest.raises(StartupError, match="Embedding dimension mismatch"):
        build_providers(settings, embeddings=RecordingEmbeddings(dimension=4))


BOT = "6f1c2a4e-0000-4000-8000-000000000001"


def write_chroma(settings: AgentSettings, *, space: str | None) -> None:
    ChromaStore.from_settings(settings, space=space).upsert(
        ChunkBatch(bot_id=BOT, document_id="d", chunks=["x"], vectors=[[0.5] * 4])
    )


def test_chroma_data_written_in_another_embedding_space_refuses_to_start(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    write_chroma(settings, space="all-MiniLM-L6-v2+int8")

    with pytest.raises(
        StartupError,
        match=r"Embedding space mismatch: chroma:.* holds vectors of 'all-MiniLM-L6-v2\+int8' but "
        r"recording-embeddings writes 'all-MiniLM-L6-v2'.*LOCAL_EMBEDDING_BACKEND",
    ):
        build_providers(settings, embeddings=RecordingEmbeddings(space="all-MiniLM-L6-v2"))


def test_chroma_data_of_the_same_space_is_served_and_the_space_is_recorded(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    write_chroma(settings, space="all-MiniLM-L6-v2")

    providers = build_providers(settings, embeddings=RecordingEmbeddings(space="all-MiniLM-L6-v2"))

    assert providers.vector_store.index_space() == "all-MiniLM-L6-v2"


def test_data_written_before_spaces_were_recorded_is_refused_only_by_a_quantized_space(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings()
    write_chroma(settings, space=None)

    build_providers(settings, embeddings=RecordingEmbeddings(space="all-MiniLM-L6-v2"))
    with pytest.raises(StartupError, match="holds vectors of 'unrecorded, full precision'"):
        build_providers(settings, embeddings=RecordingEmbeddings(space="all-MiniLM-L6-v2+int8"))


def test_an_adaptive_store_accepts_any_dimension(make_settings: SettingsFactory) -> None:
    providers = build_providers(
        make_settings(),
        embeddings=RecordingEmbeddings(dimension=4),
        vector_store=FixedDimensionStore(dimension=None),
    )

    assert isinstance(providers.chat_model, ExtractiveAnswerer)


def test_without_keys_the_embedded_implementations_are_built(make_settings: SettingsFactory) -> None:
    settings = make_settings()

    assert isinstance(build_vector_store(settings), ChromaStore)
    assert isinstance(build_chat_model(settings), ExtractiveAnswerer)
    assert isinstance(build_lexical_index(settings), SqliteLexicalIndex)


def test_beside_pinecone_retrieval_is_dense_only(make_settings: SettingsFactory) -> None:
    settings = make_settings(pinecone_api_key="pc-test-key", pinecone_index="chatsphere")

    assert build_lexical_index(settings) is None


def test_an_llm_base_url_builds_the_openai_compatible_model(make_settings: SettingsFactory) -> None:
    chat_model = build_chat_model(make_settings(llm_base_url="http://127.0.0.1:9/v1", llm_model="qwen2.5"))

    assert isinstance(chat_model, OpenAICompatibleChatModel)
    assert chat_model.name == "openai:qwen2.5"
