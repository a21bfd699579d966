"""The one bridge from async code to the ORM: `in_db_thread`. Nothing else calls sync_to_async.

Its rule: every step runs on the process's database threads, a pool of DATABASE_THREADS long-lived
threads that take steps in the order they arrive, each thread with its own connection. Not asgiref's
thread-sensitive mode: under ASGI that starts a thread for every request (on SQLite a new connection too),
and with a hundred chats arriving at once their steps share the GIL round-robin, so each finishes near the
end of the whole batch instead of in turn. Steps of one request still run in order (each is awaited), and a
step that outlives its request (a streamed answer's relay, saved after the client may have gone) is served
the same way. A test that calls an async view commits its data first (`django_db(transaction=True)`): the
step reads through its thread's connection, not the test's.

Django closes a request's connections only when the request finishes; an async chat view would hold one
across its whole LLM call (with 100 chats in flight, PostgreSQL's default limit of 100). `in_db_thread`
returns the connection after each step when it is due (always with a pool, whose CONN_MAX_AGE is 0; a
SQLite connection is kept for its age). A connection inside a transaction is left alone: that is a caller's
atomic block.
"""

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, wraps
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

P = ParamSpec("P")
R = TypeVar("R")


def in_db_thread(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    @wraps(function)
    def returning_its_connection(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                if not connection.in_atomic_block:
                    connection.close_if_unusable_or_obsolete()

    return sync_to_async(returning_its_connection, thread_sensitive=False, executor=_database_threads())


@cache
def _database_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.DATABASE_THREADS, thread_name_prefix="database")
