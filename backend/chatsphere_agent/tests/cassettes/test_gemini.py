from __future__ import annotations

import pytest
from vcr.errors import CannotOverwriteExistingCassetteException

from chatsphere_agent.providers.base import (
    AnswerRequest,
    ChatModelProvider,
    EmbeddingsProvider,
    ProviderError,
    RetrievedChunk,
)
from chatsphere_agent.providers.gemini import GeminiChatModel, GeminiEmbeddings
from chatsphere_agent.tests.cassettes import scenario
from chatsphere_agent.tests.cassettes.replay import causes, paths, request_json, response_json
from chatsphere_agent.tests.fakes import answer_now, stream_now

EMBED_PATH = "/v1beta/models/gemini-embedding-001:batchEmbedContents"
CONTEXT = [
    RetrievedChunk(scenario.DOCUMENT_ID, 1, scenario.CHUNKS[1], 0.8123),
    RetrievedChunk(scenario.DOCUMENT_ID, 2, scenario.CHUNKS[2], 0.4417),
]


def _ask(chat: GeminiChatModel, **overrides: object) -> object:
    arguments: dict[str, object] = {
        "question": scenario.QUESTION,
        "context": CONTEXT,
        "history": [],
        "system_prompt": None,
        "model": None,
        "temperature": None,
    }
    arguments.update(overrides)
    return answer_now(chat, AnswerRequest(**arguments))  # type: ignore[arg-type]


def test_embeddings_send_chunks_and_questions_with_their_task_types(settings, use_cassette):
    embeddings = GeminiEmbeddings.from_settings(settings)
    assert isinstance(embeddings, EmbeddingsProvider)
    assert (embeddings.name, embeddings.dimension) == ("gemini:gemini-embedding-001", 768)

    with use_cassette("gemini/embed_chunks_and_question.yaml") as cassette:
        chunk_vectors = embeddings.embed_documents(scenario.CHUNKS)
        question_vector = embeddings.embed_query(scenario.QUESTION)

    assert cassette.all_played
    assert paths(cassette) == [EMBED_PATH, EMBED_PATH]
    chunk_requests = request_json(cassette, 0)["requests"]
    assert [request["content"]["parts"][0]["text"] for request in chunk_requests] == scenario.CHUNKS
    assert {(r["model"], r["taskType"], r["outputDimensionality"]) for r in chunk_requests} == {
        ("models/gemini-embedding-001", "RETRIEVAL_DOCUMENT", 768)
    }
    [question_request] = request_json(cassette, 1)["requests"]
    assert (question_request["taskType"], question_request["outputDimensionality"]) == (
        "RETRIEVAL_QUERY",
        768,
    )
    assert chunk_vectors == [item["values"] for item in response_json(cassette, 0)["embeddings"]]
    assert question_vector == response_json(cassette, 1)["embeddings"][0]["values"]


def test_250_chunks_go_out_as_three_requests_of_at_most_100(make_settings, use_cassette):
    settings = make_settings(gemini_embedding_dimension=scenario.MANY_CHUNKS_DIMENSION)
    embeddings = GeminiEmbeddings.from_settings(settings)

    with use_cassette("gemini/embed_250_chunks.yaml") as cassette:
        vectors = embeddings.embed_documents(scenario.many_chunks())

    assert cassette.play_count == 3
    assert cassette.all_played
    assert [len(request_json(cassette, index)["requests"]) for index in range(3)] == [100, 100, 50]
    assert len(vectors) == scenario.MANY_CHUNK_COUNT
    assert vectors[100] == response_json(cassette, 1)["embeddings"][0]["values"]


def test_a_smaller_batch_size_no_longer_matches_the_recorded_requests(make_settings, use_cassette):
    settings = make_settings(
        gemini_embedding_dimension=scenario.MANY_CHUNKS_DIMENSION, embedding_batch_size=1
    )
    embeddings = GeminiEmbeddings.from_settings(settings)

    with use_cassette("gemini/embed_250_chunks.yaml"), pytest.raises(ProviderError) as raised:
        embeddings.embed_documents(scenario.many_chunks())

    assert any(isinstance(cause, CannotOverwriteExistingCassetteException) for cause in causes(raised.value))


def test_chat_sends_instructions_bot_prompt_context_and_history_and_returns_the_answer(
    settings, use_cassette
):
    chat = GeminiChatModel.from_settings(settings)
    assert isinstance(chat, ChatModelProvider)
    assert chat.name == "gemini:gemini-2.5-flash"

    with use_cassette("gemini/chat_context_history.yaml") as cassette:
        answer = _ask(chat, history=scenario.HISTORY, system_prompt=scenario.SYSTEM_PROMPT, temperature=0.2)
        override = _ask(chat, question="Are you open on Sundays?", context=[], model=scenario.OVERRIDE_MODEL)

    assert cassette.all_played
    assert paths(cassette) == [
        "/v1beta/models/gemini-2.5-flash:generateContent",
        f"/v1beta/models/{scenario.OVERRIDE_MODEL}:generateContent",
    ]
    sent = request_json(cassette, 0)
    instruction = sent["systemInstruction"]["parts"][0]["text"]
    assert scenario.SYSTEM_PROMPT in instruction
    assert all(chunk.text in instruction for chunk in CONTEXT)
    assert [(turn["role"], turn["parts"][0]["text"]) for turn in sent["contents"]] == [
        ("user", scenario.HISTORY[0].content),
        ("model", scenario.HISTORY[1].content),
        ("user", scenario.QUESTION),
    ]
    assert sent["generationConfig"]["temperature"] == 0.2
    reply = response_json(cassette, 0)
    assert answer.text == reply["candidates"][0]["content"]["parts"][0]["text"].strip()  # type: ignore[attr-defined]
    assert answer.model == reply["modelVersion"]  # type: ignore[attr-defined]
    assert override.model == response_json(cassette, 1)["modelVersion"]  # type: ignore[attr-defined]


def test_chat_retries_a_429_with_backoff_and_then_answers(settings, use_cassette):
    chat = GeminiChatModel.from_settings(settings)

    with use_cassette("gemini/chat_429_then_success.yaml") as cassette:
        answer = _ask(chat)

    assert [response["status"]["code"] for response in cassette.responses] == [429, 200]
    assert cassette.play_count == 2
    assert answer.text == response_json(cassette, 1)["candidates"][0]["content"]["parts"][0]["text"]  # type: ignore[attr-defined]


def test_chat_that_stays_unavailable_is_a_retryable_provider_error(settings, use_cassette):
    chat = GeminiChatModel.from_settings(settings)

    with use_cassette("gemini/chat_persistent_503.yaml") as cassette, pytest.raises(ProviderError) as raised:
        _ask(chat)

    assert cassette.play_count == settings.provider_max_retries + 1
    assert raised.value.retryable
    assert raised.value.provider == "gemini"
    assert "503" in str(raised.value)


def test_chat_reply_that_is_not_json_is_a_non_retryable_provider_error(settings, use_cassette):
    chat = GeminiChatModel.from_settings(settings)

    with use_cassette("gemini/chat_malformed_reply.yaml") as cassette, pytest.raises(ProviderError) as raised:
        _ask(chat)

    assert cassette.play_count == 1
    assert not raised.value.retryable
    assert "could not read" in str(raised.value)


def test_chat_streams_the_answer_chunk_by_chunk_from_one_streaming_request(settings, use_cassette):
    chat = GeminiChatModel.from_settings(settings)
    request = AnswerRequest(
        question=scenario.QUESTION,
        context=CONTEXT,
        history=scenario.HISTORY,
        system_prompt=scenario.SYSTEM_PROMPT,
        temperature=0.2,
    )

    with use_cassette("gemini/chat_stream.yaml") as cassette:
        deltas = stream_now(chat, request)

    assert cassette.all_played
    assert paths(cassette) == ["/v1beta/models/gemini-2.5-flash:streamGenerateContent"]
    assert [delta.text for delta in deltas] == [
        "You can ask for a refund within 30 days",
        " of purchase, as long as you have",
        " the original receipt.",
    ]
    assert {delta.model for delta in deltas} == {"gemini-2.5-flash"}
