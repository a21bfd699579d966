"""The agent's HTTP contract: every request and response body, as pydantic models.

Django's agent client (backend/chatsphere/services/agent_client/) is written against these shapes,
and the Pact in contracts/pacts/ records what it relies on.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from annotated_types import Interval
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints

from chatsphere_agent.config import RetrievalMode
from chatsphere_agent.providers.base import RetrievedChunk

# A batch the local MiniLM embeds in a few seconds on two cores, well inside a client's timeout; a longer
# document arrives as several requests (see EmbedRequest).
MAX_CHUNKS_PER_REQUEST = 256
# Far beyond any document Django accepts (10 MB at CHUNK_SIZE 1000 is about 12k chunks); it keeps chunk
# indexes ordinary 64-bit integers in every vector store's metadata.
MAX_CHUNK_INDEX = 9_999_999
MAX_CHUNK_CHARS = 20_000
MAX_MESSAGE_CHARS = 8_000
MAX_HISTORY_TURNS = 50
# Deep enough for recall@100 (`make eval`); a hybrid search ranks max(top_k, its candidates) of each list.
MAX_SEARCH_TOP_K = 100
MAX_DOCUMENT_NAME_CHARS = 255

# "Has a character that is not whitespace", spelled so that the schema's readers (ECMA-262 regexes, as JSON
# Schema says) and pydantic (Unicode White_Space) agree: ECMA's \s lacks U+0085 and has U+FEFF, Unicode's
# the reverse, so a bare \S let the fuzzer send a chunk of one U+0085 that the schema allowed and pydantic
# refused.
NOT_BLANK = r"[^\s\u0085\ufeff]"

ChunkText = Annotated[
    str,
    StringConstraints(strip_whitespace=False, min_length=1, max_length=MAX_CHUNK_CHARS, pattern=NOT_BLANK),
]


def _reject_non_numbers(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("Input should be a JSON number")
    return value


# A number as JSON Schema means it: 1.0 is an integer, but `true` and "0.5" are not numbers, though lax
# pydantic would read them as 1 and 0.5.
_only_json_numbers = BeforeValidator(_reject_non_numbers)

MessageText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS, pattern=NOT_BLANK)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderNames(BaseModel):
    embeddings: str = Field(examples=["local:all-MiniLM-L6-v2", "gemini:gemini-embedding-001"])
    vector_store: str = Field(examples=["chroma:/var/lib/chatsphere", "pinecone:chatsphere"])
    llm: str = Field(examples=["extractive", "gemini:gemini-2.5-flash"])
    lexical_index: str = Field(
        examples=["sqlite-fts5:/var/lib/chatsphere/lexical/lexical.sqlite3", "none"],
        description='"none" when retrieval is dense only (beside Pinecone).',
    )
    retrieval: RetrievalMode = Field(description="The default retrieval mode of /chat and /search.")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    providers: ProviderNames


class EmbedRequest(_Strict):
    """A document's chunks, whole or one batch of them.

    A document longer than MAX_CHUNKS_PER_REQUEST chunks is sent as consecutive batches: each names the
    document-wide index of its first chunk, and the one that holds the document's last chunks says so,
    which drops whatever a longer earlier version of the document left past them. With the defaults a
    request is the whole document and replaces everything stored for it.
    """

    bot_id: UUID
    document_id: UUID
    chunks: list[ChunkText] = Field(min_length=1, max_length=MAX_CHUNKS_PER_REQUEST)
    first_chunk_index: Annotated[int, Interval(ge=0, le=MAX_CHUNK_INDEX), _only_json_numbers] = Field(
        default=0,
        description='The document-wide index of chunks[0]: chunk i is stored as "{document_id}#{first + i}".',
    )
    last_batch: StrictBool = Field(
        default=True,
        description="These chunks end the document: its stored chunks past them (left by a longer earlier "
        "version) are removed once these are stored. False while more batches follow.",
    )
    document_name: str | None = Field(
        default=None,
        max_length=MAX_DOCUMENT_NAME_CHARS,
        description="The document's name or title: each chunk is embedded with it in front and indexed "
        "beside it (contextual chunk headers). The stored and cited text stays the chunk.",
    )


class EmbedResponse(BaseModel):
    status: Literal["success"]
    document_id: UUID
    stored_vector_count: int = Field(ge=0)
    error_message: str | None = None


class ChatTurn(_Strict):
    role: Literal["user", "assistant"]
    content: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS * 4)]


class ChatRequest(_Strict):
    bot_id: UUID
    user_id: str | None = Field(default=None, max_length=255)
    message: MessageText
    history: list[ChatTurn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS)
    system_prompt: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    model: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    temperature: Annotated[float, Interval(ge=0.0, le=2.0), _only_json_numbers] | None = None
    top_k: Annotated[int, Interval(ge=1, le=20), _only_json_numbers] | None = None
    # The bot's relevance floor; without it the agent's MIN_RELEVANCE_SCORE applies.
    min_score: Annotated[float, Interval(ge=0.0, le=1.0), _only_json_numbers] | None = None


class Source(BaseModel):
    document_id: UUID
    chunk_index: int = Field(ge=0)
    score: float
    text: str


def source_of(chunk: RetrievedChunk) -> Source:
    return Source(
        document_id=UUID(chunk.document_id), chunk_index=chunk.chunk_index, score=chunk.score, text=chunk.text
    )


class ChatResponse(BaseModel):
    response: str
    sources: list[Source]
    model: str
    error_message: str | None = None


class SearchRequest(_Strict):
    bot_id: UUID
    query: MessageText
    top_k: Annotated[int, Interval(ge=1, le=MAX_SEARCH_TOP_K), _only_json_numbers] = Field(
        default=10, description=f"How many chunks to return, best first: 1 to {MAX_SEARCH_TOP_K}."
    )
    mode: RetrievalMode | None = Field(
        default=None,
        description="dense, lexical (BM25) or hybrid (both, fused); omitted: the agent's default.",
    )


class SearchHit(BaseModel):
    document_id: UUID
    chunk_index: int = Field(ge=0)
    text: str
    score: float = Field(
        description="The ranking's score: cosine similarity (dense), BM25 (lexical) or the reciprocal rank "
        "fusion score scaled to (0, 1] (hybrid). Higher is better."
    )
    dense_score: float | None = Field(
        description="Cosine similarity, when the dense ranking holds the chunk."
    )
    lexical_score: float | None = Field(description="BM25 score, when the lexical ranking holds the chunk.")


class SearchResponse(BaseModel):
    mode: RetrievalMode = Field(
        description='The mode searched; "dense" when the deployment has no lexical index.'
    )
    results: list[SearchHit]


class DeleteDocumentResponse(BaseModel):
    document_id: UUID
    deleted_vector_count: int = Field(ge=0)


class DeleteBotResponse(BaseModel):
    bot_id: UUID
    deleted: bool


class IndexedBotsResponse(BaseModel):
    bot_ids: list[UUID] = Field(
        description="Every bot the vector store or the lexical index holds chunks of."
    )


class IndexedDocument(BaseModel):
    document_id: UUID
    chunk_count: int = Field(ge=0)
    last_chunk_index: int = Field(ge=-1, description="The highest chunk index stored; -1 when none.")


class BotIndexResponse(BaseModel):
    """What each index holds of a bot's documents: a document of n chunks is whole in an index exactly when
    it is listed there with chunk_count n and last_chunk_index n - 1."""

    bot_id: UUID
    vectors: list[IndexedDocument]
    lexical: list[IndexedDocument] | None = Field(
        description="null where there is no lexical index (Pinecone)."
    )


class ErrorDetail(BaseModel):
    code: str = Field(examples=["provider_unavailable", "unauthorized", "validation_error"])
    message: str
    details: list[dict[str, object]] | None = None


class ErrorResponse(BaseModel):
    """The one error shape of every non-2xx answer."""

    error: ErrorDetail
