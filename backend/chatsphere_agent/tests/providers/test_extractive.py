from __future__ import annotations

from pathlib import Path

from chatsphere_agent.providers.base import AnswerRequest, RetrievedChunk
from chatsphere_agent.providers.extractive import NOTHING_FOUND, ExtractiveAnswerer, whole_sentences
from chatsphere_agent.tests.fakes import answer_now, stream_now


def ask(question: str, *chunks: RetrievedChunk) -> str:
    answer = answer_now(ExtractiveAnswerer(), AnswerRequest(question=question, context=chunks))
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


FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_hard_wrapped_text_is_unwrapped_and_not_split_at_abbreviations_or_numbers() -> None:
    assert whole_sentences(fixture("hard_wrapped.txt"), starts_document=True) == [
        "The Juniper Hollow station opens at 8 a.m. on weekdays, e.g. Monday through Friday, and closes at "
        "5.30 p.m. sharp.",
        "Dr. Ellis Grant runs the morning shift; ask at desk No. 7 for keys.",
        "Visitors pay 3.50 euros for a day pass.",
        "Children under 12 enter free of charge, and groups of more than 20 must book ahead with J. R. "
        "Tolland, the bookings officer.",
    ]


def test_markdown_headings_are_left_out_and_list_items_stand_alone() -> None:
    assert whole_sentences(fixture("guide.md"), starts_document=True) == [
        "The observatory telescope is a 50 cm reflector.",
        "It was installed in 1998.",
        "Warm clothes",
        "A red torch, because white light ruins night vision.",
        "Your booking number",
        "Parking is free after 6 p.m. at the north gate.",
    ]


def test_pypdf_text_is_dehyphenated_and_its_headings_and_page_numbers_dropped() -> None:
    assert whole_sentences(fixture("pypdf_page.txt"), starts_document=True) == [
        "The survey covered 1,204 households in three districts.",
        "Response rates were high (approx. 81 per cent), see Fig. 2 for details.",
        "Interviews took 40 minutes on average.",
        "Each interviewer completed a two-day course before fieldwork began.",
    ]


def test_a_chunk_cut_out_of_its_document_never_yields_a_fragment() -> None:
    text = fixture("hard_wrapped.txt")
    window = text[text.index("runs the") : text.index("must book")]

    assert whole_sentences(window, starts_document=False) == ["Visitors pay 3.50 euros for a day pass."]


def test_answers_quote_whole_sentences_of_a_wrapped_document() -> None:
    answer = ask("How much is a day pass?", chunk(fixture("hard_wrapped.txt")))

    assert answer == "Visitors pay 3.50 euros for a day pass."


def test_a_lower_ranked_chunk_with_the_answer_is_still_quoted() -> None:
    preamble = chunk("Free software is about freedom. You may share copies with friends.", index=1)
    section = chunk("You may charge any price for each copy that you convey.", score=0.3, index=12)

    answer = ask("Can I charge money for copies?", preamble, section)

    assert "You may charge any price for each copy that you convey." in answer


def test_streams_the_same_answer_sentence_by_sentence() -> None:
    text = "The mirror is 4.2 meters wide. The mirror weighs 17 tons. Tours run monthly."
    request = AnswerRequest(question="What about the mirror?", context=[chunk(text)])

    deltas = [delta.text for delta in stream_now(ExtractiveAnswerer(), request)]

    assert deltas == ["The mirror is 4.2 meters wide.", " The mirror weighs 17 tons."]
    assert "".join(deltas) == answer_now(ExtractiveAnswerer(), request).text
