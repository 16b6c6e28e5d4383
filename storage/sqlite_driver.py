"""SQLAlchemy's aiosqlite adapter, with each statement in one trip to aiosqlite's thread, BEGIN
sent with a transaction's first statement, and no COMMIT or ROLLBACK for what never began.

The stock adapter makes four trips per statement (open a cursor, execute, fetch, close), and each
trip hands work to the thread and wakes the event loop again: about 70 µs of CPU each here, most
of a statement's cost. Intake runs some twenty statements per batch, a Slack click half a dozen.
This cursor runs execute, fetch and close as one function in the thread and keeps what SQLAlchemy
reads afterwards (rows, description, rowcount, lastrowid). Server-side cursors (streamed
results) are the stock ones. It relies on aiosqlite's `Connection._execute` (run a function in
the connection's thread) and `_conn` (the sqlite3 connection); tests/test_sqlite_driver.py checks
both are still there and work."""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor, AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_


def _null(_: None) -> None:
    return None


# sqlite3 binds str, int, float and bytes directly, but looks every other parameter up as an
# adaptable object; for None that search raises and discards an AttributeError per parameter, a
# sixth of an intake row's binding cost (a customer row has a dozen empty fields). A registered
# adapter is found at once. Process-wide, and the same NULL as before for any sqlite3 user.
sqlite3.register_adapter(type(None), _null)


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_rowcount", "_lastrowid")

    _awaitable_cursor_close = False  # nothing stays open after a statement

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:  # type: ignore[override]
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._trip(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapt: _Connection = self._adapt_connection  # type: ignore[assignment]
        adapt.idle = False
        begin, adapt.begin_sql = adapt.begin_sql, None  # the transaction's BEGIN, if still to send

        def run() -> tuple[list[Any] | None, Any, int, int | None]:
            if begin:
                connection._conn.execute(begin)
            cursor: sqlite3.Cursor = connection._conn.cursor()
            try:
                if many:
                    cursor.executemany(operation, parameters)
                elif parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                rows = cursor.fetchall() if cursor.description else None
                return rows, cursor.description, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            rows, self._description, self._rowcount, self._lastrowid = await connection._execute(run)
        self._rows = collections.deque(rows) if rows is not None else collections.deque()


class _Connection(AsyncAdapt_aiosqlite_connection):
    """Begins transactions lazily and ends only those that began. `begin_sql` (set by the
    engine's "begin" event) runs in the same trip as the transaction's first statement instead of
    a trip of its own; a transaction that ran nothing costs no trip; and the pool's rollback of
    a connection just committed (or rolled back) is skipped, as nothing can be open then."""

    __slots__ = ("begin_sql", "idle")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin_sql: str | None = None
        self.idle = True  # no statement ran since the last commit or rollback (or connect)

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:  # a streamed result runs on the stock cursor: begin first
            if self.begin_sql:
                sql, self.begin_sql = self.begin_sql, None
                self._cursor_cls(self).execute(sql)
            self.idle = False
        return super().cursor(server_side)

    def commit(self) -> None:
        self.begin_sql = None
        if not self.idle:
            super().commit()
            self.idle = True

    def rollback(self) -> None:
        self.begin_sql = None
        if not self.idle:
            super().rollback()
            self.idle = True


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """Pass to create_async_engine(url, module=OneTripDBAPI()) for sqlite+aiosqlite URLs."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        stock = super().connect(*arg, **kw)
        return _Connection(self, stock._connection)
