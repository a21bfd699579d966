# factory_boy declares its declaration classes (Faker, LazyFunction) without annotations.
# mypy: disallow-untyped-calls=False
"""factory_boy factories for the agent's request bodies."""

from __future__ import annotations

from typing import Any

from factory.base import DictFactory
from factory.declarations import LazyFunction
from factory.faker import Faker


class EmbedPayloadFactory(DictFactory):
    bot_id = Faker("uuid4")
    document_id = Faker("uuid4")
    chunks = LazyFunction(lambda: ["ChatSphere bots answer from their own documents."])


class ChatPayloadFactory(DictFactory):
    bot_id = Faker("uuid4")
    message = "What do the documents say?"
    history = LazyFunction(list)


def embed_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = EmbedPayloadFactory.build(**overrides)
    return payload


def chat_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = ChatPayloadFactory.build(**overrides)
    return payload
