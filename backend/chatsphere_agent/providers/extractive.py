"""Offline answerer: quotes the retrieved sentences that best match the question. No model, no network.

Deterministic: sentences are ranked by the share of the question's content words they contain,
weighted by their chunk's retrieval score, ties broken by retrieval order then position.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from chatsphere_agent.providers.base import AnswerDelta, AnswerRequest, ModelAnswer

NOTHING_FOUND = "I couldn't find anything about that in this bot's documents."
MAX_SENTENCES = 3

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# Streaming cuts the finished answer before the whitespace that follows a sentence's end, so the deltas
# concatenate back to exactly the answer whatever segmentation produced it.
_STREAM_CUT = re.compile(r"(?<=[.!?])(?=\s)")
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s")
_LIST_MARKER = re.compile(r"^(?:[-*+>]|\d+[.)])\s+")
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "about",
        "tell",
        "please",
        "know",
    }
)


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    chunk_rank: int
    position: int
    text: str


def _content_words(text: str) -> set[str]:
    # A crude plural fold ("documents" ~ "document") helps recall without a stemmer dependency.
    words = {word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS and len(word) > 1}
    return {word[:-1] if len(word) > 3 and word.endswith("s") else word for word in words}


def _sentences(text: str) -> list[str]:
    # A Markdown heading names a topic but answers nothing, so it is never quoted; list markers are
    # layout, not words of the sentence.
    stripped = (_LIST_MARKER.sub("", part.strip()) for part in _SENTENCE_END.split(text))
    return [sentence for sentence in stripped if sentence and not _MARKDOWN_HEADING.match(sentence)]


class ExtractiveAnswerer:
    name = "extractive"

    def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        """History, the bot's prompt, model and temperature shape a generated answer; a quote ignores them."""
        question, context = request.question, request.context
        if not context:
            return ModelAnswer(text=NOTHING_FOUND, model=self.name)
        question_words = _content_words(question)
        candidates = [
            _Candidate(
                score=self._sentence_score(question_words, sentence) * (0.5 + 0.5 * chunk.score),
                chunk_rank=rank,
                position=position,
                text=sentence,
            )
            for rank, chunk in enumerate(context)
            for position, sentence in enumerate(_sentences(chunk.text))
        ]
        matching = [candidate for candidate in candidates if candidate.score > 0]
        if not matching:
            # Retrieval judged the chunks relevant by meaning though no word is shared (a paraphrase):
            # the opening of the best chunk is the honest quote.
            return ModelAnswer(text=" ".join(_sentences(context[0].text)[:2]), model=self.name)
        best = sorted(matching, key=lambda c: (-c.score, c.chunk_rank, c.position))[:MAX_SENTENCES]
        in_reading_order = sorted(best, key=lambda c: (c.chunk_rank, c.position))
        return ModelAnswer(text=" ".join(candidate.text for candidate in in_reading_order), model=self.name)

    def stream(self, *, request: AnswerRequest) -> Iterator[AnswerDelta]:
        """The answer sentence by sentence: a quote exists whole at once, so this only paces its delivery."""
        answer = self.answer(request=request)
        for piece in _STREAM_CUT.split(answer.text):
            yield AnswerDelta(text=piece, model=answer.model)

    @staticmethod
    def _sentence_score(question_words: set[str], sentence: str) -> float:
        if not question_words:
            return 0.0
        return len(question_words & _content_words(sentence)) / len(question_words)
