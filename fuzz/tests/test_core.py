"""Property-based fuzzing of the Django API in-process (WSGI) on PostgreSQL: every default check, the stateful
phase over the schema's OpenAPI links, and authorization with two users.

Run with `-p testsupport.services` (tox -e fuzz does). Requests carry a real user's JWT through schemathesis'
auth hook, so `ignored_auth` can take it away and expect a 401; fuzz.checks.owner_only_access replays each
successful request on an object as a second user and expects a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from pytest_django.fixtures import Settings
from rest_framework_simplejwt.tokens import AccessToken

from chatsphere.models import Bot, Conversation
from chatsphere.services.agent_client import InMemoryAgent, set_agent
from chatsphere.services.web_fetch import SafeFetcher, StaticResolver, set_fetcher
from chatsphere.services.widgets import token_hash
from fuzz import checks
from fuzz.config import load_config

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=load_config())

# schemathesis asks for credentials while it collects the explicit examples, before any fixture runs, so
# the two users get fixed ids and their tokens are minted up front; the fixture creates the users.
OWNER = User(id=990_001, username="fuzz-owner")
PEER = User(id=990_002, username="fuzz-peer")


# Two bots with the widget on: the fuzzer's widget requests use the first one's key and a visitor token of
# it; fuzz.checks.widget_key_reaches_only_its_bot replays them with the second one's key.
WIDGET_KEY = "pk_fuzz-widget-key-of-the-owners-bot-1"
OTHER_WIDGET_KEY = "pk_fuzz-widget-key-of-the-owners-bot-2"
VISITOR_TOKEN = "fuzz-visitor-token-of-a-conversation-with-bot-1"
WIDGET_OPERATIONS = "/api/widget/{key}/"


def _access_token(user: User) -> str:
    # Not RefreshToken.for_user: with the blacklist app it records the token in the database, and this
    # runs at collection time, before any fixture opens the database.
    return str(AccessToken.for_user(user))


@schema.auth()
class OwnerJWT:
    def get(self, case: schemathesis.Case[Any], context: schemathesis.AuthContext) -> str:
        return _access_token(OWNER)

    def set(self, case: schemathesis.Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        # A widget visitor's operations take the visitor's token instead of a user's JWT.
        if checks.is_visitor_operation(case):
            case.headers[checks.VISITOR_HEADER] = VISITOR_TOKEN
        else:
            case.headers["Authorization"] = f"Bearer {data}"


@pytest.fixture(autouse=True)
def two_users_and_an_in_process_agent(
    transactional_db: None, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    # Committed (transactional_db): the chat views' database steps run on their own threads' connections.
    settings.MEDIA_ROOT = tmp_path / "media"
    # Like Django's test client: a request must not close the connection that holds the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    cache.clear()
    set_agent(InMemoryAgent())
    # The crawler runs in the request (no broker): a name resolves to nothing, so a fuzzed website source
    # fails at once, as with no network, and not even a DNS query leaves the machine.
    set_fetcher(SafeFetcher(resolver=StaticResolver({})))
    for user in (OWNER, PEER):
        User.objects.create_user(
            id=user.id,
            username=user.username,
            email=f"{user.username}@example.org",
            password="fuzz-password-8c2e41",
        )
    monkeypatch.setenv(checks.PEER_TOKEN_ENV, _access_token(PEER))
    widget_bots = [
        Bot.objects.create(owner_id=OWNER.id, name=key, widget_key=key, widget_origins=[])
        for key in (WIDGET_KEY, OTHER_WIDGET_KEY)
    ]
    Conversation.objects.create(bot=widget_bots[0], visitor_token_hash=token_hash(VISITOR_TOKEN))
    # The fuzzer sends far more than a visitor may; the limits have tests of their own.
    settings.WIDGET_VISITOR_THROTTLE_RATE = settings.WIDGET_START_THROTTLE_RATE = "1000000/min"
    settings.WIDGET_KEY_THROTTLE_RATE = "1000000/min"
    monkeypatch.setenv(checks.OTHER_WIDGET_KEY_ENV, OTHER_WIDGET_KEY)
    yield
    set_agent(None)
    set_fetcher(None)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    cache.clear()


def test_the_schema_links_created_objects_to_their_operations() -> None:
    links = schema.raw_schema["paths"]["/api/bots/"]["post"]["responses"]["201"]["links"]
    assert {"GetTheBot", "TrainTheBot", "StartAConversation"} <= set(links)


@schema.parametrize()
def test_every_operation_honours_the_schema(case: schemathesis.Case[Any]) -> None:
    if case.path.startswith(WIDGET_OPERATIONS):
        # A random key finds no bot (404) and would test nothing else: the fuzzer talks to a live widget.
        case.path_parameters["key"] = WIDGET_KEY
    case.call_and_validate()
    if case.path.startswith(WIDGET_OPERATIONS):
        # Visitors' conversations never leave the widget's bot.
        assert (
            not Conversation.objects.filter(owner__isnull=True).exclude(bot__widget_key=WIDGET_KEY).exists()
        )


def test_stateful_sequences_honour_the_schema_and_ownership() -> None:
    schema.as_state_machine().run()
