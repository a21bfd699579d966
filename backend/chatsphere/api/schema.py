"""OpenAPI helpers: every error status an endpoint can return, documented with the one error shape."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse

from chatsphere.api.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input (validation_error with field details, or malformed_json).",
    401: "Missing, invalid or expired credentials.",
    404: "No such object, or it belongs to another user.",
    409: "The object is in a state that forbids this action.",
    413: "The body or file is larger than the limit.",
    415: "Unsupported content type or file type.",
    429: "Too many requests; the Retry-After header says when to try again.",
    502: "The AI service failed to handle the request.",
    503: "The AI service is unavailable; nothing was lost, try again later.",
}


def errors(*status_codes: int) -> dict[int, Any]:
    return {
        code: OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in status_codes
    }
