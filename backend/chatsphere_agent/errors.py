"""The agent's error vocabulary and the handlers that give every non-2xx answer one shape.

{"error": {"code": "<snake_case>", "message": "<for a person>", "details": [...] | null}}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chatsphere_agent.providers.base import ProviderError
from chatsphere_agent.schemas import ErrorResponse

logger = logging.getLogger(__name__)

_CODE_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    502: "provider_error",
    503: "service_unavailable",
}
_DESCRIPTIONS = {
    400: "The body could not be read at all (e.g. it is not UTF-8 text).",
    401: "Missing or wrong `Authorization: Bearer <AGENT_SERVICE_TOKEN>`.",
    409: "The document, or its bot, was deleted: nothing of it is stored (code `document_deleted`).",
    422: "The request (body, path or query) is invalid, including a body that is not valid JSON.",
    502: "A provider (embeddings, vector store, LLM) rejected the request; retrying will not help.",
    503: "The service is starting, or a provider is unreachable or overloaded; retry later.",
}


class StartupError(RuntimeError):
    """The configured providers cannot work together; the service refuses to start."""


class AgentHTTPError(Exception):
    """An expected failure the routes report in the error shape."""

    def __init__(
        self, *, status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring each error status with the ErrorResponse model."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase)}
        for status in statuses
    }


def error_json(
    *,
    status_code: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(status_code=status_code, content=body, headers=dict(headers or {}))


def _safe_validation_details(errors: Any) -> list[dict[str, Any]]:
    # The submitted value ("input") may be a secret or a whole document; never echo it back.
    details = []
    for error in errors:
        entry = {key: value for key, value in dict(error).items() if key not in {"input", "url"}}
        if "ctx" in entry:
            entry["ctx"] = {key: str(value) for key, value in dict(entry["ctx"]).items()}
        details.append(jsonable_encoder(entry))
    return details


async def _handle_agent_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AgentHTTPError)
    return error_json(status_code=exc.status_code, code=exc.code, message=exc.message, headers=exc.headers)


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_json(
        status_code=422,
        code="validation_error",
        message="The request is invalid; see details.",
        details=_safe_validation_details(exc.errors()),
    )


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODE_BY_STATUS.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_json(status_code=exc.status_code, code=code, message=message, headers=exc.headers)


def provider_error_code(exc: ProviderError) -> tuple[str, str]:
    """(code, message) of a provider failure, in a JSON error answer or a stream's `error` event alike."""
    if exc.retryable:
        return (
            "provider_unavailable",
            f"The {exc.provider} provider is unavailable right now; retry later. ({exc})",
        )
    return "provider_error", f"The {exc.provider} provider failed: {exc}"


async def _handle_provider_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderError)
    logger.warning("provider %s failed (retryable=%s): %s", exc.provider, exc.retryable, exc)
    code, message = provider_error_code(exc)
    if exc.retryable:
        return error_json(status_code=503, code=code, message=message, headers={"Retry-After": "5"})
    return error_json(status_code=502, code=code, message=message)


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_json(status_code=500, code="internal_error", message="An unexpected error occurred.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgentHTTPError, _handle_agent_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(ProviderError, _handle_provider_error)
    app.add_exception_handler(Exception, _handle_unexpected)
