"""Offline answerer: quotes the whole sentences of the retrieved chunks that best answer the question.

No model, no network, deterministic. Each chunk is read the way a person reads the page: hard-wrapped
lines are joined again (and words hyphenated across a line break), while paragraphs, headings and list
items stay apart; blocks are then cut into sentences at . ! ? followed by a capital, never after a known
abbreviation, an initial or inside a number. A chunk is a window of its document, so its first sentence
may have begun in the previous chunk and its last may go on in the next: such fragments are never quoted.
The sentences are ranked by BM25 against the question's content words (SQLite FTS5 with the Porter
stemmer, in memory), a little weighted by their chunk's retrieval rank; the best few are quoted in
reading order.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import closing
from dataclasses import dataclass

from chatsphere_agent.providers.base import AnswerDelta, AnswerRequest, ModelAnswer, RetrievedChunk

NOTHING_FOUND = "I couldn't find anything about that in this bot's documents."
MAX_SENTENCES = 3
# A sentence is quoted beside the best one only if it scores at least this share of it: an answer is the
# few sentences that answer, not the best sentence padded with loosely related ones.
RELATIVE_SCORE_FLOOR = 0.5
# Each retrieval rank further down costs a sentence this share of its score.
CHUNK_RANK_DISCOUNT = 0.05

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+")
_LIST_ITEM = re.compile(r"^(?:[-*+\u2022]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+(?=\S)")
_SECTION_NUMBER = re.compile(r"^\d{1,3}(?:\.\d{1,3})*\.?\s+")
_HYPHENATED_BREAK = re.compile(r"([a-z])-\n([a-z])")
_TERMINAL = re.compile(r"""[.!?]["'\u201d\u2019)\]]*$""")
# A boundary candidate: terminal punctuation (with closing quotes/brackets), space, then what can start a
# sentence. Decimal points ("4.2") never match: no space follows them.
_BOUNDARY = re.compile(r"""(?<=[.!?])["'\u201d\u2019)\]]*\s+(?=["'\u201c\u2018(\[]?[A-Z0-9])""")
_LAST_WORD = re.compile(r"""(\S+?)[.!?]["'\u201d\u2019)\]]*$""")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "no",
        "nos",
        "fig",
        "figs",
        "eq",
        "eqs",
        "ref",
        "refs",
        "vol",
        "pp",
        "p",
        "ch",
        "sec",
        "art",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "approx",
        "al",
        "e.g",
        "i.e",
        "cf",
        "viz",
        "u.s",
        "u.k",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
    ]
)
_WORD = re.compile(r"\w+")
# Streaming cuts the finished answer before the whitespace that follows a sentence's end, so the deltas
# concatenate back to exactly the answer.
_STREAM_CUT = re.compile(r"(?<=[.!?])(?=\s)")
_STOPWORDS = frozenset(
    [
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
    ]
)


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str
    chunk_rank: int  # the chunk's place in the retrieval ranking
    reading_order: tuple[int, int, int]  # (document's first rank, chunk index, position in the chunk)


def whole_sentences(text: str, *, starts_document: bool) -> list[str]:
    """The complete sentences and list items of a chunk, in order; headings and cut-off ends left out."""
    blocks = _blocks(text)
    sentences: list[str] = []
    for number, (block, is_heading) in enumerate(blocks):
        if is_heading:
            continue
        pieces = _split_sentences(block)
        if number == 0 and not starts_document and not _starts_a_sentence(pieces[0]):
            pieces = pieces[1:]  # the chunk begins inside a sentence of the previous one
        if number == len(blocks) - 1 and pieces and not _TERMINAL.search(pieces[-1]):
            pieces = pieces[:-1]  # the chunk ends inside a sentence that the next one finishes
        sentences.extend(pieces)
    return sentences


def _blocks(text: str) -> list[tuple[str, bool]]:
    """(unwrapped block, is it a heading) for each paragraph, heading or list item of the text."""
    text = _HYPHENATED_BREAK.sub(r"\1\2", text.replace("\r\n", "\n"))
    blocks: list[tuple[str, bool]] = []
    lines: list[str] = []

    def close() -> None:
        if lines:
            blocks.append((" ".join(lines), False))
            lines.clear()

    raw_lines = [line.strip() for line in text.split("\n")]
    for number, line in enumerate(raw_lines):
        following = raw_lines[number + 1] if number + 1 < len(raw_lines) else ""
        if not line:
            close()
        elif _MARKDOWN_HEADING.match(line) or _is_numbered_title(line, following):
            close()
            blocks.append((line, True))
        elif _LIST_ITEM.match(line):
            close()
            lines.append(_LIST_ITEM.sub("", line))
        elif _is_title_line(line, following, after_break=not lines or bool(_TERMINAL.search(lines[-1]))):
            close()
            blocks.append((line, True))
        else:
            lines.append(line)
    close()
    return blocks


def _is_numbered_title(line: str, following: str) -> bool:
    """A numbered line standing alone as a paragraph: "4. Conveying Verbatim Copies.", "2.1 Scope"."""
    return bool(_SECTION_NUMBER.match(line)) and len(line.split()) <= 6 and not following


def _is_title_line(line: str, following: str, *, after_break: bool) -> bool:
    """A short unpunctuated line after a sentence's end, before a capital ("Introduction", a page number)."""
    return (
        after_break
        and len(line.split()) <= 8
        and not re.search(r"[.!?:;,]$", line)
        and (not following or following[:1].isupper())
    )


def _split_sentences(block: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for boundary in _BOUNDARY.finditer(block):
        candidate = block[start : boundary.start()].strip()
        if _ends_in_abbreviation(candidate):
            continue
        sentences.append(candidate)
        start = boundary.end()
    tail = block[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _ends_in_abbreviation(candidate: str) -> bool:
    if not candidate.endswith("."):
        return False
    last = _LAST_WORD.search(candidate)
    if last is None:
        return False
    word = last.group(1).lstrip("(\"'").lower()
    # "J." (an initial) and "No." / "e.g." (abbreviations) do not end a sentence; "4." alone ends nothing.
    return len(word) == 1 or word in _ABBREVIATIONS or (word.isdigit() and candidate == last.group(0))


def _starts_a_sentence(piece: str) -> bool:
    return piece[:1].isupper() or piece[:1].isdigit() or piece[:1] in "\"'(\u201c"


def _content_words(text: str) -> list[str]:
    words = (word.lower() for word in _WORD.findall(text))
    return list(dict.fromkeys(word for word in words if word not in _STOPWORDS and len(word) > 1))


def _bm25_scores(question_words: Sequence[str], sentences: Sequence[str]) -> list[float]:
    """BM25 of each sentence for the words (0 when none matches), by the same engine as the lexical index."""
    if not question_words:
        return [0.0] * len(sentences)
    match = " OR ".join(f'"{word}"' for word in question_words)
    with closing(sqlite3.connect(":memory:")) as connection:
        connection.execute("CREATE VIRTUAL TABLE sentence USING fts5(body, tokenize='porter unicode61')")
        connection.executemany("INSERT INTO sentence (rowid, body) VALUES (?, ?)", enumerate(sentences))
        found = connection.execute(
            "SELECT rowid, -bm25(sentence) FROM sentence WHERE sentence MATCH ?", (match,)
        ).fetchall()
    scores = [0.0] * len(sentences)
    for rowid, score in found:
        scores[int(rowid)] = float(score)
    return scores


def _candidates(context: Sequence[RetrievedChunk]) -> list[_Sentence]:
    first_rank: dict[str, int] = {}
    seen: set[str] = set()
    candidates: list[_Sentence] = []
    for rank, chunk in enumerate(context):
        document_rank = first_rank.setdefault(chunk.document_id, rank)
        for position, text in enumerate(whole_sentences(chunk.text, starts_document=chunk.chunk_index == 0)):
            if text in seen:  # neighbouring chunks overlap: a sentence is quoted once
                continue
            seen.add(text)
            candidates.append(_Sentence(text, rank, (document_rank, chunk.chunk_index, position)))
    return candidates


def best_sentences(question: str, context: Sequence[RetrievedChunk]) -> list[str]:
    """The sentences that answer best, in reading order; the best chunk's opening when no word matches."""
    candidates = _candidates(context)
    raw = _bm25_scores(_content_words(question), [candidate.text for candidate in candidates])
    scores = [
        score / (1 + CHUNK_RANK_DISCOUNT * c.chunk_rank) for score, c in zip(raw, candidates, strict=True)
    ]
    ranked = sorted(
        (i for i, score in enumerate(scores) if score > 0),
        key=lambda i: (-scores[i], candidates[i].reading_order),
    )
    if not ranked:
        # Retrieval judged the chunks relevant by meaning though no word is shared (a paraphrase): the
        # opening of the best chunk is the honest quote.
        return (
            [c.text for c in candidates if c.chunk_rank == candidates[0].chunk_rank][:2] if candidates else []
        )
    floor = scores[ranked[0]] * RELATIVE_SCORE_FLOOR
    chosen = [i for i in ranked[:MAX_SENTENCES] if scores[i] >= floor]
    return [candidates[i].text for i in sorted(chosen, key=lambda i: candidates[i].reading_order)]


class ExtractiveAnswerer:
    name = "extractive"

    async def answer(self, *, request: AnswerRequest) -> ModelAnswer:
        """History, the bot's prompt, model and temperature shape a generated answer; a quote ignores them.

        Scoring a handful of retrieved chunks' sentences takes about a millisecond: on the event loop, not
        worth a thread hop."""
        return self.quote(request=request)

    async def stream(self, *, request: AnswerRequest) -> AsyncIterator[AnswerDelta]:
        """The answer sentence by sentence: a quote exists whole at once, so this only paces its delivery."""
        answer = self.quote(request=request)
        for piece in _STREAM_CUT.split(answer.text):
            yield AnswerDelta(text=piece, model=answer.model)

    def quote(self, *, request: AnswerRequest) -> ModelAnswer:
        sentences = best_sentences(request.question, request.context)
        return ModelAnswer(text=" ".join(sentences) if sentences else NOTHING_FOUND, model=self.name)
