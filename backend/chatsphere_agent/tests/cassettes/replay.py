"""Reading what a replayed cassette held: the requests the agent sent and the replies it got."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from vcr.cassette import Cassette


def request_json(cassette: Cassette, index: int) -> Any:
    body = cassette.requests[index].body
    return json.loads(body.decode() if isinstance(body, bytes) else body)


def response_json(cassette: Cassette, index: int) -> Any:
    body = cassette.responses[index]["body"]["string"]
    return json.loads(body.decode() if isinstance(body, bytes) else body)


def paths(cassette: Cassette) -> list[str]:
    return [request.path for request in cassette.requests]


def causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
