"""The one way every provider turns a failure into a ProviderError (providers/base.py)."""

from __future__ import annotations

import pytest

from chatsphere_agent.providers.base import (
    RETRYABLE_STATUS_CODES,
    ChunkBatch,
    ProviderError,
    answer_text,
    check_upsert,
    check_vectors,
)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 500, 501, 502, 503, 504, 429, 408])
def test_an_http_failure_is_retryable_exactly_for_the_shared_retry_statuses(status: int) -> None:
    error = ProviderError.from_status(
        provider="pinecone", action="Pinecone query", status=status, reason="Nope"
    )

    assert error.retryable is (status in RETRYABLE_STATUS_CODES)
    assert str(error) == f"Pinecone query failed: HTTP {status} Nope"


def test_no_reply_is_retryable_and_an_unusable_one_is_not() -> None:
    assert ProviderError.unavailable(provider="gemini", action="Gemini chat", detail="ReadTimeout").retryable
    assert not ProviderError.unusable(
        provider="gemini", action="Gemini chat", detail="cut-off JSON"
    ).retryable


@pytest.mark.parametrize(
    ("given", "reported"),
    [("chroma:/var/agent/chroma", "chroma"), ("openai:llama3.2", "openai"), ("pinecone", "pinecone")],
)
def test_a_provider_is_reported_by_its_family_never_its_path_or_model(given: str, reported: str) -> None:
    assert ProviderError("down", provider=given).provider == reported


def test_an_answer_is_stripped_and_an_empty_one_is_not_retryable() -> None:
    assert answer_text("  It is 4.2 m wide. \n", provider="gemini") == "It is 4.2 m wide."

    with pytest.raises(ProviderError, match=r"no answer text \(finish reason SAFETY\)") as raised:
        answer_text(" \n ", provider="gemini", detail="finish reason SAFETY")

    assert raised.value.retryable is False


def test_vectors_must_pair_with_texts_and_have_the_models_dimension() -> None:
    check_vectors([[0.0, 1.0]], expected_count=1, dimension=2, provider="local")

    for vectors, count in (([[0.0, 1.0]], 2), ([[0.0, 1.0, 0.0]], 1)):
        with pytest.raises(ProviderError) as raised:
            check_vectors(vectors, expected_count=count, dimension=2, provider="local")
        assert raised.value.retryable is False


def test_chunks_and_vectors_that_do_not_pair_up_are_refused() -> None:
    with pytest.raises(ProviderError, match="2 chunks but 1 vectors") as raised:
        check_upsert(
            ChunkBatch(bot_id="b", document_id="d", chunks=["a", "b"], vectors=[[1.0]]), provider="pinecone"
        )

    assert (raised.value.provider, raised.value.retryable) == ("pinecone", False)
