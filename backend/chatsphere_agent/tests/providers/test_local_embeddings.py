from __future__ import annotations

import math

from chatsphere_agent.providers.local_embeddings import LocalEmbeddings


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_produces_normalized_384_d_vectors(local_embeddings: LocalEmbeddings) -> None:
    vectors = local_embeddings.embed_documents(["The cat sat on the mat.", "Quarterly revenue grew."])

    assert local_embeddings.name == "local:all-MiniLM-L6-v2"
    assert local_embeddings.dimension == 384
    assert [len(v) for v in vectors] == [384, 384]
    assert all(math.isclose(math.sqrt(cosine(v, v)), 1.0, abs_tol=1e-4) for v in vectors)


def test_a_question_is_closest_to_the_passage_that_answers_it(local_embeddings: LocalEmbeddings) -> None:
    passages = local_embeddings.embed_documents(
        ["Paris is the capital of France.", "Photosynthesis turns light into chemical energy."]
    )

    query = local_embeddings.embed_query("What is the capital city of France?")

    assert cosine(query, passages[0]) > 0.6 > 0.2 > cosine(query, passages[1])


def test_an_empty_batch_is_empty(local_embeddings: LocalEmbeddings) -> None:
    assert local_embeddings.embed_documents([]) == []
