"""The agent's HTTP edge: authenticate, validate, call one service function, shape the answer.

Providers are built once per process in the lifespan (or injected by tests and Pact provider states)
and live on `app.state.providers`. Routes that embed, store or search are plain `def`: FastAPI runs them in
its threadpool, so the blocking model and index calls never stall the event loop. The chat routes are
`async`: their retrieval takes one thread step, then the LLM call is awaited, holding no thread while the
model thinks. The pool is sized by AGENT_WORKER_THREADS (the lifespan sets AnyIO's limiter).

    cd backend && AGENT_SERVICE_TOKEN=... ../.venv/bin/uvicorn chatsphere_agent.main:app --port 8001
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from uuid import UUID

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from chatsphere_agent.agent import BotQuery, bot_chat, bot_chat_stream
from chatsphere_agent.config import AgentSettings
from chatsphere_agent.errors import AgentHTTPError, error_responses, install_error_handlers
from chatsphere_agent.providers.base import ChunkBatch, DocumentChunks, HistoryTurn
from chatsphere_agent.providers.factory import Providers, build_providers
from chatsphere_agent.retrieval import Fusion, chunks_search
from chatsphere_agent.schemas import (
    BotIndexResponse,
    ChatRequest,
    ChatResponse,
    DeleteBotResponse,
    DeleteDocumentResponse,
    EmbedRequest,
    EmbedResponse,
    HealthResponse,
    IndexedBotsResponse,
    IndexedDocument,
    ProviderNames,
    SearchHit,
    SearchRequest,
    SearchResponse,
    source_of,
)
from chatsphere_agent.streaming import chat_events
from chatsphere_agent.vector_store import (
    DocumentDeletedError,
    bot_delete,
    bot_inventory,
    document_delete,
    document_purge,
    embed_and_store_chunks,
    indexed_bot_ids,
)

logger = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="The shared AGENT_SERVICE_TOKEN.")
_PROTECTED_ERRORS = error_responses(401, 422, 502, 503)
# Starlette answers 400 itself when a JSON body cannot even be decoded (not UTF-8).
_UNREADABLE_BODY = error_responses(400)
# OpenAPI links: what a client (and the stateful fuzzer) can do with a document it just stored.
_STORED_DOCUMENT_LINKS = {
    "ChatWithTheBot": {
        "operationId": "chat",
        "requestBody": {"bot_id": "$request.body#/bot_id"},
        "description": "Ask the bot whose namespace now holds the document.",
    },
    "SearchTheBot": {
        "operationId": "search",
        "requestBody": {"bot_id": "$request.body#/bot_id"},
        "description": "Rank the chunks of the bot whose indexes now hold the document.",
    },
    "DeleteTheDocument": {
        "operationId": "delete_document",
        "parameters": {
            "path.document_id": "$response.body#/document_id",
            "query.bot_id": "$request.body#/bot_id",
        },
        "description": "Drop the vectors just stored.",
    },
    "DeleteTheBot": {
        "operationId": "delete_bot",
        "parameters": {"path.bot_id": "$request.body#/bot_id"},
        "description": "Drop the bot's whole namespace.",
    },
}


def _not_ready() -> AgentHTTPError:
    return AgentHTTPError(
        status_code=503,
        code="service_not_ready",
        message="The agent is still starting up; retry shortly.",
        headers={"Retry-After": "5"},
    )


async def _settings(request: Request) -> AgentSettings:
    settings: AgentSettings | None = request.app.state.settings
    if settings is None:
        raise _not_ready()
    return settings


async def _providers(request: Request) -> Providers:
    providers: Providers | None = request.app.state.providers
    if providers is None:
        raise _not_ready()
    return providers


SettingsDep = Annotated[AgentSettings, Depends(_settings)]
ProvidersDep = Annotated[Providers, Depends(_providers)]


async def require_service_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    expected = settings.agent_service_token.get_secret_value().encode()
    presented = credentials.credentials.encode() if credentials is not None else b""
    if not hmac.compare_digest(presented, expected):
        raise AgentHTTPError(
            status_code=401,
            code="unauthorized",
            message="Send `Authorization: Bearer <AGENT_SERVICE_TOKEN>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter()
protected = APIRouter(dependencies=[Depends(require_service_token)], responses=_PROTECTED_ERRORS)


@router.get(
    "/health",
    response_model=HealthResponse,
    responses=error_responses(503),
    summary="Readiness, naming the live provider of each kind",
)
async def health(providers: ProvidersDep, settings: SettingsDep) -> HealthResponse:
    return HealthResponse(status="ok", providers=_provider_names(providers, settings))


@protected.post(
    "/embed_and_store",
    response_model=EmbedResponse,
    summary="Embed and store a document's chunks (the whole document, or one batch of it)",
    operation_id="embed_and_store",
    responses={200: {"links": _STORED_DOCUMENT_LINKS}, **_UNREADABLE_BODY, **error_responses(409)},
)
def embed_and_store(body: EmbedRequest, providers: ProvidersDep, settings: SettingsDep) -> EmbedResponse:
    try:
        stored = embed_and_store_chunks(
            embeddings=providers.embeddings,
            vector_store=providers.vector_store,
            lexical_index=providers.lexical_index,
            deletions=providers.deletions,
            checkpoints=providers.checkpoints,
            batch_size=settings.embedding_batch_size,
            batch=ChunkBatch(
                bot_id=str(body.bot_id),
                document_id=str(body.document_id),
                chunks=body.chunks,
                document_name=body.document_name,
                first_chunk_index=body.first_chunk_index,
                last_batch=body.last_batch,
            ),
        )
    except DocumentDeletedError as exc:
        raise AgentHTTPError(status_code=409, code="document_deleted", message=str(exc)) from exc
    return EmbedResponse(status="success", document_id=body.document_id, stored_vector_count=stored)


@protected.post(
    "/chat",
    response_model=ChatResponse,
    summary="Answer from the bot's documents",
    operation_id="chat",
    responses=_UNREADABLE_BODY,
)
async def chat(body: ChatRequest, providers: ProvidersDep, settings: SettingsDep) -> ChatResponse:
    result = await bot_chat(providers=providers, query=_bot_query(body, settings))
    return ChatResponse(
        response=result.text, model=result.model, sources=[source_of(chunk) for chunk in result.sources]
    )


# One server-sent event of the stream (schemathesis checks every event against it); `data` is JSON text.
_SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["sources", "token", "done", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
    "required": ["event", "data"],
}
_EVENT_STREAM_DOC = (
    "`text/event-stream`. Events, in order: `sources` (`{sources: [Source]}`, sent before the model is "
    "called), `token` (`{text}`) once per piece of the answer, then exactly one of `done` "
    "(`{response, model}`) or `error` (`{error: {code, message, retryable}}`) when the model fails after the "
    "stream began. Lines starting with `:` are heartbeats. A failure before the stream starts (auth, "
    "validation, retrieval) is the usual JSON error."
)


@protected.post(
    "/chat/stream",
    summary="Answer from the bot's documents as server-sent events",
    description=_EVENT_STREAM_DOC,
    operation_id="chat_stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": _EVENT_STREAM_DOC,
            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
        },
        **_UNREADABLE_BODY,
    },
)
async def chat_stream(body: ChatRequest, providers: ProvidersDep, settings: SettingsDep) -> StreamingResponse:
    stream = await bot_chat_stream(providers=providers, query=_bot_query(body, settings))
    return StreamingResponse(
        chat_events(stream, heartbeat_seconds=settings.stream_heartbeat_seconds),
        media_type="text/event-stream",
        # Proxies (nginx) buffer responses unless told not to; a buffered stream arrives all at once.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _bot_query(body: ChatRequest, settings: AgentSettings) -> BotQuery:
    return BotQuery(
        bot_id=str(body.bot_id),
        message=body.message,
        history=[HistoryTurn(role=turn.role, content=turn.content) for turn in body.history],
        system_prompt=body.system_prompt,
        model=body.model,
        temperature=body.temperature,
        top_k=body.top_k or settings.retrieval_top_k,
        min_score=settings.min_relevance_score if body.min_score is None else body.min_score,
        mode=settings.retrieval_mode,
        fusion=Fusion.from_settings(settings),
    )


@protected.post(
    "/search",
    response_model=SearchResponse,
    summary="Rank the bot's chunks for a query (retrieval testing); no language model is called",
    operation_id="search",
    responses=_UNREADABLE_BODY,
)
def search(body: SearchRequest, providers: ProvidersDep, settings: SettingsDep) -> SearchResponse:
    result = chunks_search(
        embeddings=providers.embeddings,
        vector_store=providers.vector_store,
        lexical_index=providers.lexical_index,
        bot_id=str(body.bot_id),
        query=body.query,
        top_k=body.top_k,
        mode=body.mode or settings.retrieval_mode,
        fusion=Fusion.from_settings(settings),
    )
    return SearchResponse(
        mode=result.mode,
        results=[
            SearchHit(
                document_id=UUID(hit.chunk.document_id),
                chunk_index=hit.chunk.chunk_index,
                text=hit.chunk.text,
                score=hit.chunk.score,
                dense_score=hit.dense_score,
                lexical_score=hit.lexical_score,
            )
            for hit in result.hits
        ],
    )


@protected.delete(
    "/documents/{document_id}",
    response_model=DeleteDocumentResponse,
    summary="Delete a document's vectors",
    operation_id="delete_document",
)
def delete_document(
    document_id: UUID,
    bot_id: Annotated[UUID, Query(description="The bot that owns the document.")],
    providers: ProvidersDep,
) -> DeleteDocumentResponse:
    deleted = document_delete(
        vector_store=providers.vector_store,
        lexical_index=providers.lexical_index,
        deletions=providers.deletions,
        bot_id=str(bot_id),
        document_id=str(document_id),
    )
    return DeleteDocumentResponse(document_id=document_id, deleted_vector_count=deleted)


@protected.delete(
    "/documents/{document_id}/chunks",
    response_model=DeleteDocumentResponse,
    summary="Drop a document's chunks from both indexes, leaving it writable (its ingestion failed)",
    operation_id="purge_document",
)
def purge_document(
    document_id: UUID,
    bot_id: Annotated[UUID, Query(description="The bot that owns the document.")],
    providers: ProvidersDep,
) -> DeleteDocumentResponse:
    purged = document_purge(
        vector_store=providers.vector_store,
        lexical_index=providers.lexical_index,
        bot_id=str(bot_id),
        document_id=str(document_id),
    )
    return DeleteDocumentResponse(document_id=document_id, deleted_vector_count=purged)


@protected.delete(
    "/bots/{bot_id}",
    response_model=DeleteBotResponse,
    summary="Drop a bot's vectors",
    operation_id="delete_bot",
)
def delete_bot(bot_id: UUID, providers: ProvidersDep) -> DeleteBotResponse:
    deleted = bot_delete(
        vector_store=providers.vector_store,
        lexical_index=providers.lexical_index,
        deletions=providers.deletions,
        bot_id=str(bot_id),
    )
    return DeleteBotResponse(bot_id=bot_id, deleted=deleted)


@protected.get(
    "/index/bots",
    response_model=IndexedBotsResponse,
    summary="Every bot either index holds chunks of (the consistency check's sweep for orphans)",
    operation_id="indexed_bots",
)
def indexed_bots(providers: ProvidersDep) -> IndexedBotsResponse:
    bot_ids = indexed_bot_ids(vector_store=providers.vector_store, lexical_index=providers.lexical_index)
    return IndexedBotsResponse(bot_ids=[UUID(bot_id) for bot_id in bot_ids])


@protected.get(
    "/bots/{bot_id}/index",
    response_model=BotIndexResponse,
    summary="How many chunks of each of a bot's documents the vector store and the lexical index hold",
    operation_id="bot_index",
)
def bot_index(bot_id: UUID, providers: ProvidersDep) -> BotIndexResponse:
    inventory = bot_inventory(
        vector_store=providers.vector_store, lexical_index=providers.lexical_index, bot_id=str(bot_id)
    )
    return BotIndexResponse(
        bot_id=bot_id,
        vectors=_indexed_documents(inventory.vectors),
        lexical=None if inventory.lexical is None else _indexed_documents(inventory.lexical),
    )


def _indexed_documents(documents: list[DocumentChunks]) -> list[IndexedDocument]:
    return [
        IndexedDocument(
            document_id=UUID(document.document_id),
            chunk_count=document.count,
            last_chunk_index=document.last_index,
        )
        for document in sorted(documents, key=lambda document: document.document_id)
    ]


def _provider_names(providers: Providers, settings: AgentSettings) -> ProviderNames:
    lexical = providers.lexical_index
    return ProviderNames(
        embeddings=providers.embeddings.name,
        vector_store=providers.vector_store.name,
        llm=providers.chat_model.name,
        lexical_index="none" if lexical is None else lexical.name,
        retrieval="dense" if lexical is None else settings.retrieval_mode,
    )


def _configure_logging() -> None:
    # Under uvicorn only uvicorn's own loggers have handlers; give ours one unless the host configured
    # logging itself (tests, a gunicorn config, ...).
    package_logger = logging.getLogger("chatsphere_agent")
    if package_logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    _configure_logging()
    if app.state.settings is None:
        app.state.settings = AgentSettings()
    anyio.to_thread.current_default_thread_limiter().total_tokens = app.state.settings.agent_worker_threads
    if app.state.providers is None:
        # Loading a model takes seconds; keep the loop free while it does.
        app.state.providers = await run_in_threadpool(build_providers, app.state.settings)
    names = _provider_names(app.state.providers, app.state.settings)
    logger.info(
        "agent ready: embeddings=%s vector_store=%s lexical_index=%s retrieval=%s llm=%s",
        names.embeddings,
        names.vector_store,
        names.lexical_index,
        names.retrieval,
        names.llm,
    )
    yield


def create_app(providers: Providers | None = None, settings: AgentSettings | None = None) -> FastAPI:
    """Build the app; anything not injected is built from the environment when the app starts."""
    app = FastAPI(
        title="ChatSphere agent",
        version="1.0.0",
        description="Embeddings, vector search and chat for ChatSphere bots. Errors: "
        '`{"error": {"code", "message", "details"}}`; a malformed JSON body is a 422.',
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.providers = providers
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(protected)
    return app


app = create_app()
