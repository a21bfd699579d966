"""Django's PostgreSQL backend with one change: how its connection pool checks a connection.

psycopg's pool checks one pooled connection at a time and, when it finds a dead one, sleeps 1, 2, 4... s
before trying the next. A database restart or failover kills every pooled connection at once, so a warm
pool of dead connections made the next request wait past the pool's timeout: a 500. One dead connection
says that the others died with it: the pool is drained (idle connections closed, fresh ones opened in the
background) before the check fails, so the pool's next try gets a new connection.

The check itself costs no round trip while the server has said nothing: a server that drops a connection
(a restart, a failover, `pg_terminate_backend`) sends its error and closes the socket, which then reads
as ready. psycopg's own check is a query, i.e. one more round trip on every checkout, and the chat view
checks a connection out for each of its database steps (three per chat).
"""

from __future__ import annotations

import select

import psycopg
from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


class DatabaseWrapper(base.DatabaseWrapper):
    # django-stubs leaves out the pool's private parts this subclass shares with Django's own class.
    _connection_pools: dict[str, ConnectionPool[psycopg.Connection[object]]]

    @property
    def pool(self) -> ConnectionPool[psycopg.Connection[object]] | None:
        options = self.settings_dict["OPTIONS"].get("pool")
        if options and self.alias != NO_DB_ALIAS and self.alias not in self._connection_pools:
            # Built as Django builds it (autocommit, its configure hook, not opened yet), but for the check.
            pool = ConnectionPool(
                kwargs=self.get_connection_params() | {"autocommit": True},
                open=False,
                configure=self._configure_connection,  # type: ignore[attr-defined]
                check=self._check_or_drain_pool,
                **({} if options is True else options),
            )
            self._connection_pools.setdefault(self.alias, pool)
        return super().pool  # type: ignore[no-any-return]

    def _check_or_drain_pool(self, connection: psycopg.Connection[object]) -> None:
        if not server_has_spoken(connection):
            return
        try:
            ConnectionPool.check_connection(connection)
        except Exception:
            self._connection_pools[self.alias].drain()
            raise


def server_has_spoken(connection: psycopg.Connection[object]) -> bool:
    """Whether an idle connection's socket holds anything to read (a pooled connection waits for nothing: what
    arrives is the server's goodbye), or the connection is closed already; no round trip."""
    if connection.closed:
        return True
    readable, _, _ = select.select([connection.fileno()], [], [], 0)
    return bool(readable)
