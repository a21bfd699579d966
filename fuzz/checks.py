"""Custom schemathesis checks: one user never reads, changes or deletes another user's objects, and a widget
key never reaches another bot's conversations.

schemathesis' own `object_level_authorization` needs a Web Fuzzing Commons auth document; this check is
the direct form of the rule instead. Whenever the owner's request on an object (`/{id}/` in the path)
succeeds, the same request is replayed as a second, unrelated user, who must get a 404; after a successful
read the peer also tries to delete the object, which must be a 404 and leave it readable by its owner.

The peer's JWT comes from the environment (FUZZ_PEER_TOKEN), so the same check serves the in-process
tests and the CLI run (fuzz/run_cli.py loads this module with SCHEMATHESIS_HOOKS=fuzz.checks).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from requests.structures import CaseInsensitiveDict

PEER_TOKEN_ENV = "FUZZ_PEER_TOKEN"  # noqa: S105 - the variable's name, not a secret


@schemathesis.check
def owner_only_access(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    peer_token = os.environ.get(PEER_TOKEN_ENV)
    if not peer_token or "{id}" not in case.path or not 200 <= response.status_code < 300:
        return None
    if case.method.upper() != case.operation.method.upper():  # an undeclared-method probe (OPTIONS, TRACE)
        return None
    if case.method.upper() == "DELETE":  # the object is gone; the reads below cover deletion
        return None
    replayed = _send_as(ctx, case, peer_token)
    if replayed.status_code != 404:
        raise AssertionError(
            f"Another user's {case.method.upper()} {case.formatted_path} got {replayed.status_code}, "
            f"expected 404: the object belongs to the user who created it"
        )
    # Only where the path can be deleted at all (a sub-resource such as /chunks/ is read-only: 405 for all).
    if case.method.upper() == "GET" and "delete" in case.operation.schema.raw_schema["paths"][case.path]:
        deleted = _send_as(ctx, case, peer_token, delete=True)
        if deleted.status_code != 404:
            raise AssertionError(
                f"Another user's DELETE {case.formatted_path} got {deleted.status_code}, expected 404"
            )
        still_there = _send_as(ctx, case, None)
        if still_there.status_code != response.status_code:
            raise AssertionError(
                f"The owner's GET {case.formatted_path} got {still_there.status_code} after another "
                f"user's DELETE, expected {response.status_code}"
            )
    return True


def _send_as(
    ctx: schemathesis.CheckContext, case: schemathesis.Case[Any], token: str | None, *, delete: bool = False
) -> schemathesis.Response:
    """Send `case` again as the user holding `token` (None: as the owner, with the run's credentials)."""
    kwargs: dict[str, Any] = dict(ctx.internals.transport_kwargs or {})
    if token is None:
        probe = case.derive(keep_auth=True)
    else:
        authorization = f"Bearer {token}"
        headers = CaseInsensitiveDict(case.headers)
        headers["Authorization"] = authorization
        probe = case.derive(headers=headers)
        kwargs["headers"] = {**(kwargs.get("headers") or {}), "Authorization": authorization}
    if delete:
        probe.method = "DELETE"
    return probe.call(**kwargs)


OTHER_WIDGET_KEY_ENV = "FUZZ_OTHER_WIDGET_KEY"
WIDGET_PREFIX = "/api/widget/{key}/"
VISITOR_HEADER = "X-Visitor-Token"
VISITOR_SCHEME = "visitorToken"


def is_visitor_operation(case: schemathesis.Case[Any]) -> bool:
    """The operation takes a widget visitor's token (its security names the visitorToken scheme)."""
    security = case.operation.definition.raw.get("security") or []
    return any(VISITOR_SCHEME in requirement for requirement in security)


@schemathesis.check
def widget_key_reaches_only_its_bot(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """A visitor's request that succeeded with bot X's key, replayed with bot Y's key, must fail.

    The visitor token opens a conversation of bot X only: with another bot's publishable key it must be
    refused (401), so no key ever reaches another bot's conversations.
    """
    other_key = os.environ.get(OTHER_WIDGET_KEY_ENV)
    headers = CaseInsensitiveDict(case.headers or {})
    if not other_key or not case.path.startswith(WIDGET_PREFIX) or not is_visitor_operation(case):
        return None
    if not 200 <= response.status_code < 300 or case.method.upper() != case.operation.method.upper():
        return None
    probe = case.derive(headers=headers)
    probe.path_parameters = {**(case.path_parameters or {}), "key": other_key}
    replayed = probe.call(**dict(ctx.internals.transport_kwargs or {}))
    if replayed.status_code != 401:
        raise AssertionError(
            f"{case.method.upper()} {case.path} with another bot's key and this visitor's token got "
            f"{replayed.status_code}, expected 401: a visitor token opens only its own bot's conversation"
        )
    return True
