"""API-level errors that DRF does not define."""

from rest_framework import status
from rest_framework.exceptions import APIException, ParseError


class MalformedJSONError(ParseError):
    default_detail = "The request body is not valid JSON."
    default_code = "malformed_json"


class PayloadTooLargeError(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"
