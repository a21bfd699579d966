"""ORM work from async code: run it on a thread, and give its connection back when it is done.

Django closes a request's connections only when the request finishes; an async chat view would hold one
across its whole LLM call (with 100 chats in flight, PostgreSQL's default limit of 100). `in_db_thread`
returns the connection (to the pool) after each step instead. A connection inside a transaction is left
alone: that is a test's own transaction, or a caller's atomic block.
"""

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def in_db_thread(function: Callable[P, R], *, thread_sensitive: bool = True) -> Callable[P, Awaitable[R]]:
    """`thread_sensitive=False` for work outside a request: asgiref would otherwise run it all on one
    process-wide thread, one step after another."""

    @wraps(function)
    def returning_its_connection(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                if not connection.in_atomic_block:
                    connection.close_if_unusable_or_obsolete()

    return sync_to_async(returning_its_connection, thread_sensitive=thread_sensitive)
