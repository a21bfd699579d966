"""The `Idempotency-Key` header of the chat endpoints (the owner's and the widget's)."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Any unique string of 1-100 printable ASCII characters per message: sending again with the "
    "same key (after a 503 or a lost connection) reuses the stored message, or returns its answer.",
)
IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,100}")


def idempotency_key(request: Request) -> str:
    """The request's key, "" without one; a 400 for a malformed one."""
    key = request.headers.get(IDEMPOTENCY_HEADER, "")
    if key and not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise ValidationError({IDEMPOTENCY_HEADER: "Use 1-100 printable ASCII characters without spaces."})
    return key
