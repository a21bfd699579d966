from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from chatsphere.api.exceptions import MalformedJSONError, PayloadTooLargeError


class StrictJSONParser(JSONParser):
    """JSON bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE; anything unparseable is a 400 malformed_json."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        request = (parser_context or {}).get("request")
        if request is not None:
            ensure_body_fits(request.META, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        try:
            return super().parse(stream, media_type, parser_context)
        except MalformedJSONError:
            raise
        except Exception as exc:
            raise MalformedJSONError() from exc


def ensure_body_fits(meta: Mapping[str, Any], *, limit: int) -> None:
    """Refuse a body by its Content-Length header, before reading any of it."""
    try:
        length = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise PayloadTooLargeError(f"The request body is {length} bytes; the limit is {limit} bytes.")
