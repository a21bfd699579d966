"""Domain errors the services raise; chatsphere/api/errors.py maps each to an HTTP status."""


class ServiceError(Exception):
    """A request the domain refuses. `code` is snake_case and stable; the message is for a person."""

    code = "service_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFileTypeError(ServiceError):
    code = "unsupported_file_type"


class FileTooLargeError(ServiceError):
    code = "file_too_large"


class DocumentContentError(ServiceError):
    """The document's bytes cannot become text (empty, not UTF-8, a broken PDF...)."""

    code = "unreadable_document"


class DocumentNotRetryableError(ServiceError):
    code = "document_not_retryable"


class BotInactiveError(ServiceError):
    code = "bot_inactive"


class IdempotencyKeyReusedError(ServiceError):
    code = "idempotency_key_reused"


class WidgetNotFoundError(ServiceError):
    """No bot has this publishable key: it never existed, or its owner revoked it."""

    code = "widget_not_found"


class OriginNotAllowedError(ServiceError):
    code = "origin_not_allowed"


class CrawlInProgressError(ServiceError):
    code = "crawl_in_progress"
