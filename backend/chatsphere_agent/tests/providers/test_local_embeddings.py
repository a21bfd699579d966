"""LocalEmbeddings on every backend: the same contract, and vectors that agree with torch's."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from chatsphere_agent.config import LocalEmbeddingBackend
from chatsphere_agent.providers import onnx_export
from chatsphere_agent.providers.local_embeddings import (
    SHORT_TEXT_TOKENS,
    LocalEmbeddings,
    OnnxEncoder,
    bundled_model_dir,
)
from chatsphere_agent.tests.conftest import SettingsFactory

BACKENDS: tuple[LocalEmbeddingBackend, ...] = ("torch", "onnx", "onnx-int8", "onnx-qint8")
QUANTIZED_SPACES = {"onnx-int8": "all-MiniLM-L6-v2+int8", "onnx-qint8": "all-MiniLM-L6-v2:qint8+int8"}
PASSAGES = [
    "The cat sat on the mat.",
    "Quarterly revenue grew by twelve percent, driven by subscriptions in Europe and Asia.",
    "Photosynthesis turns light into chemical energy. " * 60,  # past the model's 256 tokens: truncated
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


Loader = Callable[[LocalEmbeddingBackend], LocalEmbeddings]


@pytest.fixture(scope="session")
def load(local_embeddings: LocalEmbeddings, models_dir: Path) -> Loader:
    """Each backend loaded once per run; the default one is conftest's."""
    loaded = {local_embeddings.backend: local_embeddings}

    def get(backend: LocalEmbeddingBackend) -> LocalEmbeddings:
        if backend not in loaded:
            loaded[backend] = LocalEmbeddings(
                model_dir=bundled_model_dir(),
                slice_size=4,
                short_slice_size=4,
                quiet_slices=1,
                max_query_batch=32,
                backend=backend,
                cache_dir=models_dir,
            )
        return loaded[backend]

    return get


@pytest.fixture(scope="session", params=BACKENDS)
def backend_embeddings(request: pytest.FixtureRequest, load: Loader) -> LocalEmbeddings:
    return load(request.param)


def test_produces_normalized_384_d_vectors(backend_embeddings: LocalEmbeddings) -> None:
    vectors = backend_embeddings.embed_documents(PASSAGES)

    assert backend_embeddings.name.startswith("local:all-MiniLM-L6-v2")
    assert backend_embeddings.dimension == 384
    assert [len(v) for v in vectors] == [384] * len(PASSAGES)
    assert all(math.isclose(math.sqrt(cosine(v, v)), 1.0, abs_tol=1e-4) for v in vectors)


def test_a_question_is_closest_to_the_passage_that_answers_it(backend_embeddings: LocalEmbeddings) -> None:
    passages = backend_embeddings.embed_documents(
        ["Paris is the capital of France.", "Photosynthesis turns light into chemical energy."]
    )

    query = backend_embeddings.embed_query("What is the capital city of France?")

    assert cosine(query, passages[0]) > 0.6 > 0.2 > cosine(query, passages[1])


def test_an_empty_batch_is_empty(backend_embeddings: LocalEmbeddings) -> None:
    assert backend_embeddings.embed_documents([]) == []


def test_a_text_gets_the_same_vector_alone_or_in_a_padded_batch(backend_embeddings: LocalEmbeddings) -> None:
    # The int8 graphs scale each run's activations by that run's range: were the texts of a call run
    # together, a text's vector would depend on the others (cosine 0.993 measured); each runs alone.
    alone = backend_embeddings.embed_documents(PASSAGES[:1])[0]
    batched = backend_embeddings.embed_documents(PASSAGES)[0]

    assert cosine(alone, batched) > 0.9999


def test_a_query_gets_the_same_vector_on_the_short_texts_thread_as_beside_a_chunk(
    backend_embeddings: LocalEmbeddings,
) -> None:
    # A call of short texts runs on a one-thread session of the graph, a call with a chunk on the pooled one.
    chunk = " ".join(PASSAGES) * 4
    assert len(chunk.split()) > SHORT_TEXT_TOKENS
    alone = backend_embeddings.embed_documents(["What do penguins eat?"])[0]
    beside_a_chunk = backend_embeddings.embed_documents(["What do penguins eat?", chunk])[0]

    assert cosine(alone, beside_a_chunk) > 0.9999


def test_a_call_spread_over_lanes_gives_each_text_its_own_vector_in_order(models_dir: Path) -> None:
    # Lane i runs texts i, i + n, ... of a call; the rows must come back in the call's order.
    model_file = onnx_export.ensure_onnx_model(
        model_dir=bundled_model_dir(), cache_dir=models_dir, graph="qint8"
    )
    encoder = OnnxEncoder(
        model_dir=bundled_model_dir(), model_file=model_file, one_text_per_run=True, lanes=2
    )
    texts = [*PASSAGES, "Paris is the capital of France.", "What do penguins eat?"]

    together = encoder.encode(texts)
    alone = [encoder.encode([text])[0] for text in texts]

    assert together.shape == (len(texts), 384)
    assert [round(float(row @ vector), 4) for row, vector in zip(together, alone, strict=True)] == [1.0] * 5


def test_each_backend_agrees_with_torch_as_its_space_says(
    backend_embeddings: LocalEmbeddings, load: Loader
) -> None:
    torch = load("torch")
    reference = torch.embed_documents(PASSAGES)

    agreement = min(
        cosine(a, b) for a, b in zip(backend_embeddings.embed_documents(PASSAGES), reference, strict=True)
    )

    if backend_embeddings.space == torch.space:
        assert agreement > 0.99999  # interchangeable: one index serves both
    else:
        assert backend_embeddings.space == QUANTIZED_SPACES[backend_embeddings.backend]
        assert 0.97 < agreement < 0.99999  # close, yet not the same vectors: an index of its own


def test_the_int8_backends_have_spaces_of_their_own(load: Loader) -> None:
    # Their vectors differ from each other's as much as from torch's: an index of one must refuse the other.
    int8, qint8 = load("onnx-int8"), load("onnx-qint8")

    agreement = min(
        cosine(a, b)
        for a, b in zip(int8.embed_documents(PASSAGES), qint8.embed_documents(PASSAGES), strict=True)
    )

    assert agreement < 0.99999
    assert len({int8.space, qint8.space, load("torch").space}) == 3


@pytest.mark.parametrize("graph", ["fp32", "quint8", "qint8"])
def test_the_exported_file_is_reused_not_exported_again(
    graph: onnx_export.OnnxGraph, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = onnx_export.ensure_onnx_model(model_dir=bundled_model_dir(), cache_dir=models_dir, graph=graph)

    def no_export(*args: Path, **kwargs: Path) -> None:
        raise AssertionError("made again")

    for maker in ("_export", "_quantize_uint8", "_quantize_int8"):
        monkeypatch.setattr(onnx_export, maker, no_export)
    again = onnx_export.ensure_onnx_model(model_dir=bundled_model_dir(), cache_dir=models_dir, graph=graph)

    assert again == first
    assert first.name.startswith("model-")
    assert first.suffix == ".onnx"
    assert not list(models_dir.glob("*.tmp")), "a temporary file was left behind"


def test_each_graph_is_a_file_of_its_own(models_dir: Path) -> None:
    files = {
        onnx_export.ensure_onnx_model(model_dir=bundled_model_dir(), cache_dir=models_dir, graph=graph)
        for graph in ("fp32", "quint8", "qint8")
    }

    assert len(files) == 3


def test_a_changed_recipe_names_a_new_file(monkeypatch: pytest.MonkeyPatch) -> None:
    before = onnx_export.weights_digest(bundled_model_dir())
    monkeypatch.setattr(onnx_export, "RECIPE", onnx_export.RECIPE + "-changed")

    assert onnx_export.weights_digest(bundled_model_dir()) != before


def test_from_settings_runs_the_chosen_backend_from_the_cache_dir(
    make_settings: SettingsFactory, local_embeddings: LocalEmbeddings, models_dir: Path
) -> None:
    settings = make_settings(local_embedding_backend="onnx", local_model_cache_dir=models_dir)

    embeddings = LocalEmbeddings.from_settings(settings)

    assert (embeddings.name, embeddings.space) == ("local:all-MiniLM-L6-v2:onnx", "all-MiniLM-L6-v2")
    assert embeddings.embed_query("Paris") == local_embeddings.embed_query("Paris")
