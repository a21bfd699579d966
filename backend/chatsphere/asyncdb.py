"""The one bridge from async code to the ORM: `in_db_thread`. Nothing else calls sync_to_async.

Its rule: a step of a request runs on the request's own thread (asgiref's thread-sensitive mode, so a test's
transaction is seen and steps of one request stay in order); work that outlives the request (a streamed
answer's relay, saved after the client may have gone) runs on the shared pool (`thread_sensitive=False`).

Django closes a request's connections only when the request finishes; an async chat view would hold one
across its whole LLM call (with 100 chats in flight, PostgreSQL's default limit of 100). `in_db_thread`
returns the connection after each step when it is due (always with a pool, whose CONN_MAX_AGE is 0; a
SQLite connection is kept for its age). A connection inside a transaction is left alone: that is a test's
own transaction, or a caller's atomic block.
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
