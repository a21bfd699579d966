"""One error shape for every non-2xx answer: {"error": {"code", "message", "details"}}.

`api_exception_handler` is DRF's EXCEPTION_HANDLER; the `json_handler*` views replace Django's HTML
error pages, so an API client never receives HTML.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler, set_rollback

from chatsphere.services.agent_client import (
    PUBLIC_FAILED,
    PUBLIC_UNAVAILABLE,
    AgentError,
    AgentUnavailableError,
)
from chatsphere.services.exceptions import (
    BotInactiveError,
    CrawlInProgressError,
    DocumentContentError,
    DocumentNotRetryableError,
    FileTooLargeError,
    IdempotencyKeyReusedError,
    OriginNotAllowedError,
    ServiceError,
    UnsupportedFileTypeError,
    WidgetNotFoundError,
)

logger = logging.getLogger(__name__)

SERVICE_ERROR_STATUS: dict[type[ServiceError], int] = {
    UnsupportedFileTypeError: status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    FileTooLargeError: status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    DocumentContentError: status.HTTP_400_BAD_REQUEST,
    DocumentNotRetryableError: status.HTTP_409_CONFLICT,
    BotInactiveError: status.HTTP_409_CONFLICT,
    CrawlInProgressError: status.HTTP_409_CONFLICT,
    IdempotencyKeyReusedError: status.HTTP_409_CONFLICT,
    WidgetNotFoundError: status.HTTP_404_NOT_FOUND,
    OriginNotAllowedError: status.HTTP_403_FORBIDDEN,
}


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = PermissionDenied()
    if isinstance(exc, ServiceError):
        set_rollback()
        status_code = SERVICE_ERROR_STATUS.get(type(exc), status.HTTP_400_BAD_REQUEST)
        return Response(error_body(exc.code, exc.message), status=status_code)
    if isinstance(exc, AgentError):
        set_rollback()
        if isinstance(exc, AgentUnavailableError):
            message = f"{exc.message} Nothing was lost; try again in a moment."
            return Response(
                error_body(PUBLIC_UNAVAILABLE, message), status=status.HTTP_503_SERVICE_UNAVAILABLE
            )
        return Response(
            error_body(PUBLIC_FAILED, "The AI service failed to handle the request."),
            status=status.HTTP_502_BAD_GATEWAY,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is too large."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        return Response(
            error_body("bad_request", "The request was malformed."), status=status.HTTP_400_BAD_REQUEST
        )

    response = exception_handler(exc, context)  # keeps Retry-After, WWW-Authenticate, Allow headers
    if response is None or not isinstance(exc, APIException):
        logger.exception("unhandled error in %s", context.get("view"), exc_info=exc)
        set_rollback()
        return Response(
            error_body("internal_error", "Something went wrong on our side."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, ValidationError):
        response.data = error_body("validation_error", "The request is invalid.", _field_errors(exc.detail))
    else:
        response.data = error_body(*_code_and_message(exc))
    return response


def _code_and_message(exc: APIException) -> tuple[str, str]:
    detail = exc.detail
    if isinstance(detail, Mapping):  # simplejwt's {"detail", "code", "messages"}
        return str(detail.get("code", exc.default_code)), str(detail.get("detail", exc.default_detail))
    code = getattr(detail, "code", None) or exc.default_code
    return str(code), str(detail)


def _field_errors(detail: Any, path: str | None = None) -> list[dict[str, Any]]:
    """DRF's nested error dict/list flattened to [{"field": "a.b", "message", "code"}]."""
    if isinstance(detail, Mapping):
        errors: list[dict[str, Any]] = []
        for key, value in detail.items():
            name = None if key == "non_field_errors" else str(key)
            errors.extend(_field_errors(value, f"{path}.{name}" if path and name else path or name))
        return errors
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        errors = []
        for index, item in enumerate(detail):
            nested = isinstance(item, Mapping | list)
            errors.extend(_field_errors(item, f"{path}.{index}" if nested and path else path))
        return errors
    return [{"field": path, "message": str(detail), "code": str(getattr(detail, "code", "invalid"))}]


def _json_error(status_code: int, code: str, message: str) -> HttpResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def json_handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_error(400, "bad_request", "The request was malformed.")


def json_handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_error(403, "permission_denied", "You may not do this.")


def json_handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _json_error(404, "not_found", "Nothing lives at this address.")


def json_handler500(request: HttpRequest) -> HttpResponse:
    return _json_error(500, "internal_error", "Something went wrong on our side.")
