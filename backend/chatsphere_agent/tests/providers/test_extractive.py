from __future__ import annotations

from chatsphere_agent.providers.base import AnswerRequest, RetrievedChunk
from chatsphere_agent.providers.extractive import NOTHING_FOUND, ExtractiveAnswerer


def ask(question: str, *chunks: RetrievedChunk) -> str:
    answer = ExtractiveAnswerer().answer(request=AnswerRequest(question=question, context=chunks))
    assert answer.model == "extractive"
    return answer.text


def chunk(text: str, score: float = 0.6, index: int = 0) -> RetrievedChunk:
    return RetrievedChunk(document_id="doc", chunk_index=index, text=text, score=score)


def test_says_plainly_when_nothing_was_retrieved() -> None:
    assert ask("Where is the mirror?") == NOTHING_FOUND


def test_quotes_the_matching_sentences_not_the_rest() -> None:
    text = "The observatory is remote. The mirror is 4.2 meters wide. Tours run monthly."

    answer = ask("How wide is the mirror?", chunk(text))

    assert answer == "The mirror is 4.2 meters wide."


def test_keeps_at_most_three_sentences_in_reading_order() -> None:
    first = chunk("Mirror coatings use aluminium. Mirror cleaning happens yearly.", score=0.7, index=0)
    second = chunk("The mirror weighs 9 tonnes. The mirror cell has 120 actuators.", score=0.5, index=1)

    answer = ask("mirror", first, second)

    assert (
        answer == "Mirror coatings use aluminium. Mirror cleaning happens yearly. The mirror weighs 9 tonnes."
    )


def test_falls_back_to_the_best_chunk_when_no_word_is_shared() -> None:
    answer = ask("Who runs it?", chunk("Paris hosts the seat of government. It is large."), chunk("Other."))

    assert answer == "Paris hosts the seat of government. It is large."


def test_is_deterministic() -> None:
    chunks = [chunk(f"Sentence about mirrors number {i}.", index=i) for i in range(6)]

    assert len({ask("mirrors", *chunks) for _ in range(5)}) == 1


def test_never_quotes_a_markdown_heading_and_drops_list_markers() -> None:
    text = "# Juniper Hollow Observatory guide\n\n- The observatory telescope is a 50 cm reflector.\n"

    answer = ask("What telescope does the Juniper Hollow observatory have?", chunk(text))

    assert answer == "The observatory telescope is a 50 cm reflector."


def test_streams_the_same_answer_sentence_by_sentence() -> None:
    text = "The mirror is 4.2 meters wide. The mirror weighs 17 tons. Tours run monthly."
    request = AnswerRequest(question="How wide and heavy is the mirror?", context=[chunk(text)])

    deltas = [delta.text for delta in ExtractiveAnswerer().stream(request=request)]

    assert deltas == ["The mirror is 4.2 meters wide.", " The mirror weighs 17 tons."]
    assert "".join(deltas) == ExtractiveAnswerer().answer(request=request).text
