from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from chatsphere_agent.config import REPO_ROOT, AgentSettings
from chatsphere_agent.tests.conftest import SERVICE_TOKEN, SettingsFactory


class TestServiceToken:
    @pytest.mark.parametrize(
        "token",
        [
            "short",
            "changeme-changeme-changeme",
            "CHANGE_ME_please_0123456789",
            "your-token-here-123456",
            "a" * 32,
        ],
    )
    def test_unsafe_tokens_fail_fast(self, make_settings: SettingsFactory, token: str) -> None:
        with pytest.raises(ValidationError, match="AGENT_SERVICE_TOKEN") as raised:
            make_settings(agent_service_token=token)

        assert token not in str(raised.value)

    def test_a_missing_token_fails_fast(self, agent_env: pytest.MonkeyPatch) -> None:
        with pytest.raises(ValidationError, match="agent_service_token"):
            AgentSettings(_env_file=None)

    def test_is_read_from_the_environment_and_kept_secret(self, agent_env: pytest.MonkeyPatch) -> None:
        agent_env.setenv("AGENT_SERVICE_TOKEN", SERVICE_TOKEN)

        settings = AgentSettings(_env_file=None)

        assert settings.agent_service_token.get_secret_value() == SERVICE_TOKEN
        assert SERVICE_TOKEN not in repr(settings)


class TestEnvFile:
    def test_the_repo_root_env_file_is_the_default(self) -> None:
        assert AgentSettings.model_config["env_file"] == REPO_ROOT / ".env"
        assert (REPO_ROOT / "backend" / "chatsphere_agent" / "config.py").is_file()

    def test_values_come_from_an_env_file_and_blank_keys_mean_unset(
        self, agent_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        env_file = tmp_path / ".env"
        env_file.write_text(
            f"AGENT_SERVICE_TOKEN={SERVICE_TOKEN}\nGOOGLE_API_KEY=\nLLM_PROVIDER=\nRETRIEVAL_TOP_K=7\nDJANGO_DEBUG=1\n"
        )

        settings = AgentSettings(_env_file=env_file)

        assert settings.retrieval_top_k == 7
        assert settings.google_api_key is None
        assert settings.resolved_embeddings_provider() == "local"


class TestProviderResolution:
    def test_no_keys_means_the_embedded_stack(self, make_settings: SettingsFactory) -> None:
        settings = make_settings()

        assert settings.resolved_embeddings_provider() == "local"
        assert settings.resolved_vector_store() == "chroma"
        assert settings.resolved_llm_provider() == "extractive"

    def test_a_google_key_selects_gemini_for_embeddings_and_chat(
        self, make_settings: SettingsFactory
    ) -> None:
        settings = make_settings(google_api_key="g-key")

        assert settings.resolved_embeddings_provider() == "gemini"
        assert settings.resolved_llm_provider() == "gemini"
        assert settings.resolved_vector_store() == "chroma"

    def test_pinecone_needs_both_key_and_index(self, make_settings: SettingsFactory) -> None:
        assert make_settings(pinecone_api_key="p-key").resolved_vector_store() == "chroma"
        assert (
            make_settings(pinecone_api_key="p-key", pinecone_index="ix").resolved_vector_store() == "pinecone"
        )

    def test_an_llm_base_url_selects_the_openai_compatible_server(
        self, make_settings: SettingsFactory
    ) -> None:
        settings = make_settings(google_api_key="g-key", llm_base_url="http://127.0.0.1:11434/v1")

        assert settings.resolved_llm_provider() == "openai"
        assert settings.resolved_embeddings_provider() == "gemini"

    def test_explicit_choices_override_the_keys(self, make_settings: SettingsFactory) -> None:
        settings = make_settings(
            google_api_key="g-key",
            pinecone_api_key="p-key",
            pinecone_index="ix",
            embeddings_provider="local",
            vector_store="chroma",
            llm_provider="extractive",
        )

        assert settings.resolved_embeddings_provider() == "local"
        assert settings.resolved_vector_store() == "chroma"
        assert settings.resolved_llm_provider() == "extractive"

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"embeddings_provider": "gemini"}, "EMBEDDINGS_PROVIDER=gemini needs GOOGLE_API_KEY"),
            ({"llm_provider": "gemini"}, "LLM_PROVIDER=gemini needs GOOGLE_API_KEY"),
            ({"llm_provider": "openai"}, "LLM_PROVIDER=openai needs LLM_BASE_URL"),
            (
                {"vector_store": "pinecone", "pinecone_api_key": "p"},
                "needs PINECONE_API_KEY and PINECONE_INDEX",
            ),
        ],
    )
    def test_an_explicit_choice_without_its_keys_fails_fast(
        self, make_settings: SettingsFactory, overrides: dict[str, str], message: str
    ) -> None:
        with pytest.raises(ValidationError, match=message):
            make_settings(**overrides)

    def test_an_explicit_choice_is_read_from_the_environment(
        self, agent_env: pytest.MonkeyPatch, make_settings: SettingsFactory
    ) -> None:
        agent_env.setenv("LLM_PROVIDER", "openai")
        agent_env.setenv("LLM_BASE_URL", "http://127.0.0.1:8080/v1")

        assert make_settings().resolved_llm_provider() == "openai"


@pytest.mark.parametrize("size", [0, 101])
def test_embedding_batch_size_stays_within_the_gemini_limit(
    make_settings: SettingsFactory, size: int
) -> None:
    with pytest.raises(ValidationError, match="embedding_batch_size"):
        make_settings(embedding_batch_size=size)


def test_a_short_embedding_batch_longer_than_the_full_one_fails_fast(make_settings: SettingsFactory) -> None:
    make_settings(local_embedding_batch_size=4, local_embedding_short_batch_size=4)

    with pytest.raises(ValidationError, match="LOCAL_EMBEDDING_SHORT_BATCH_SIZE must not exceed"):
        make_settings(local_embedding_batch_size=4, local_embedding_short_batch_size=5)


class TestLocalEmbeddingBackend:
    def test_onnx_by_default_exported_under_the_data_dir(self, make_settings: SettingsFactory) -> None:
        settings = make_settings()

        assert settings.local_embedding_backend == "onnx"
        assert settings.models_dir == settings.agent_data_dir / "models"

    def test_backend_and_cache_dir_are_read_from_the_environment(
        self, agent_env: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        agent_env.setenv("AGENT_SERVICE_TOKEN", SERVICE_TOKEN)
        agent_env.setenv("LOCAL_EMBEDDING_BACKEND", "onnx-int8")
        agent_env.setenv("LOCAL_MODEL_CACHE_DIR", str(tmp_path / "shared-models"))

        settings = AgentSettings(_env_file=None)

        assert settings.local_embedding_backend == "onnx-int8"
        assert settings.models_dir == tmp_path / "shared-models"

    def test_an_unknown_backend_fails_fast(self, make_settings: SettingsFactory) -> None:
        with pytest.raises(ValidationError, match="local_embedding_backend"):
            make_settings(local_embedding_backend="openvino")
