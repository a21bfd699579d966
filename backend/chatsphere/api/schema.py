"""OpenAPI helpers: every error status an endpoint can return, documented with the one error shape."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse

from chatsphere.api.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input (validation_error with field details, or malformed_json).",
    401: "Missing, invalid or expired credentials.",
    403: "The page's origin is not one the bot's owner allowed to embed the widget.",
    404: "No such object, or it belongs to another user.",
    405: "This method does not apply here: `train_text` is not a document id but the path for pasted text.",
    409: "The object is in a state that forbids this action.",
    413: "The body or file is larger than the limit.",
    415: "Unsupported content type or file type.",
    429: "Too many requests; the Retry-After header says when to try again.",
    502: "The AI service failed to handle the request.",
    503: "A service this one depends on is unavailable; nothing was lost, try again later.",
}


def errors(*status_codes: int) -> dict[int, Any]:
    return {
        code: OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in status_codes
    }


def list_errors() -> dict[int, Any]:
    """A list's errors: 400 for an invalid page or filter, 404 for a page past the last one."""
    return {
        **errors(400, 401),
        404: OpenApiResponse(response=ErrorSerializer, description="A page past the last one."),
    }


def _link(operation_id: str, description: str, **values: str) -> dict[str, Any]:
    link: dict[str, Any] = {"operationId": operation_id, "description": description}
    body = {name.removeprefix("body."): value for name, value in values.items() if name.startswith("body.")}
    parameters = {name: value for name, value in values.items() if not name.startswith("body.")}
    if parameters:
        link["parameters"] = parameters
    if body:
        link["requestBody"] = body
    return link


_NEW_ID = "$response.body#/id"
_DOCUMENT_LINKS = {
    "GetTheDocument": _link("documents_retrieve", "Follow its processing status.", **{"path.id": _NEW_ID}),
    "RetryTheDocument": _link("documents_retry_create", "Process it again.", **{"path.id": _NEW_ID}),
    "DeleteTheDocument": _link("documents_destroy", "Delete it and its vectors.", **{"path.id": _NEW_ID}),
}
# OpenAPI links from each created object to what can be done with it next: documentation for clients and
# the paths the stateful fuzzer (schemathesis) walks.
LINKS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("/api/bots/", "post", "201"): {
        "GetTheBot": _link("bots_retrieve", "Read the bot.", **{"path.id": _NEW_ID}),
        "UpdateTheBot": _link("bots_partial_update", "Change some settings.", **{"path.id": _NEW_ID}),
        "ReplaceTheBot": _link("bots_update", "Replace its settings.", **{"path.id": _NEW_ID}),
        "DeleteTheBot": _link("bots_destroy", "Delete the bot and all it owns.", **{"path.id": _NEW_ID}),
        "TrainTheBot": _link("documents_train_text_create", "Add pasted text.", **{"body.bot": _NEW_ID}),
        "UploadToTheBot": _link("documents_create", "Upload a file.", **{"body.bot": _NEW_ID}),
        "ListItsDocuments": _link("documents_list", "Its documents.", **{"query.bot": _NEW_ID}),
        "StartAConversation": _link("conversations_create", "Talk to it.", **{"body.bot": _NEW_ID}),
        "ListItsConversations": _link("conversations_list", "Its conversations.", **{"query.bot": _NEW_ID}),
        "AddAWebsite": _link("sources_create", "Crawl a website into it.", **{"body.bot": _NEW_ID}),
        "ListItsWebsites": _link("sources_list", "Its website sources.", **{"query.bot": _NEW_ID}),
    },
    ("/api/sources/", "post", "202"): {
        "GetTheSource": _link("sources_retrieve", "Follow the crawl.", **{"path.id": _NEW_ID}),
        "ListItsPages": _link("documents_list", "Its pages and their status.", **{"query.source": _NEW_ID}),
        "CrawlItAgain": _link("sources_crawl_create", "Bring its pages up to date.", **{"path.id": _NEW_ID}),
        "DeleteTheSource": _link("sources_destroy", "Delete it and its pages.", **{"path.id": _NEW_ID}),
    },
    ("/api/documents/", "post", "202"): _DOCUMENT_LINKS,
    ("/api/documents/train_text/", "post", "202"): _DOCUMENT_LINKS,
    ("/api/conversations/", "post", "201"): {
        "GetTheConversation": _link(
            "conversations_retrieve", "Read it with its messages.", **{"path.id": _NEW_ID}
        ),
        "ChatInIt": _link("conversations_chat_create", "Send a message.", **{"path.id": _NEW_ID}),
        "DeleteTheConversation": _link("conversations_destroy", "Delete it.", **{"path.id": _NEW_ID}),
    },
}


def add_links(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: attach LINKS to the responses they start from."""
    for (path, method, status), links in LINKS.items():
        result["paths"][path][method]["responses"][status]["links"] = links
    return result
