"""SQLAlchemy's aiosqlite adapter, with each statement in one trip to aiosqlite's thread, BEGIN
sent with a transaction's first statement, no COMMIT or ROLLBACK for what never began, and the
statements of a write transaction run on the event loop's own thread.

The stock adapter makes four trips per statement (open a cursor, execute, fetch, close), and each
trip hands work to the thread and wakes the event loop again: about 70 µs of CPU each here, most
of a statement's cost. Intake runs some fifteen statements per batch, a Slack click half a dozen.
This cursor runs execute, fetch and close as one function in the thread and keeps what SQLAlchemy
reads afterwards (rows, description, rowcount, lastrowid). Server-side cursors (streamed
results) are the stock ones.

A write transaction (BEGIN IMMEDIATE, the writer engine's) goes further. Its BEGIN is the only
statement that can wait, for another process's write lock, and it waits in the thread. Once it
holds the lock, nothing in the transaction waits on anyone, and a statement's own work is a
fraction of a millisecond: less than a trip's hand-over. Worse, each trip's continuation queues
behind whatever the loop runs meanwhile (another request's parsing), all while the write lock is
held. So later statements run inline, and only the COMMIT (its fsync) goes back to the thread.
That took intake from 4,000 to 5,100 responses/s here. Reads on the reader engine stay in the
thread, as a long report must not stall the loop.

It relies on aiosqlite's `Connection._execute` (run a function in the connection's thread) and
`_conn` (the sqlite3 connection, opened with check_same_thread=False by SQLAlchemy's dialect);
tests/test_sqlite_driver.py checks both are still there and work."""

from __future__ import annotations

import collections
import functools
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

IMMEDIATE = "BEGIN IMMEDIATE"  # a write transaction: takes SQLite's write lock at once, or waits for it


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
        return self._statement(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        return self._statement(operation, seq_of_parameters, True)

    def _statement(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt: _Connection = self._adapt_connection  # type: ignore[assignment]
        try:
            if adapt.locked:  # holds the write lock: nothing can make it wait (module docstring)
                await_(_NO_WAIT)  # SQLAlchemy's async layer refuses a statement that awaited nothing
                out = _run(self._connection._conn, None, operation, parameters, many)
            else:
                out = await_(self._trip(operation, parameters, many))
        except Exception as error:
            adapt._handle_exception(error)
        rows, self._description, self._rowcount, self._lastrowid = out
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    async def _trip(self, operation: Any, parameters: Any, many: bool) -> _Result:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapt: _Connection = self._adapt_connection  # type: ignore[assignment]
        adapt.idle = False
        begin, adapt.begin_sql = adapt.begin_sql, None  # the transaction's BEGIN, if still to send
        async with adapt._execute_mutex:
            out = await connection._execute(functools.partial(_run, connection._conn, begin, operation, parameters, many))
        if begin == IMMEDIATE:
            adapt.locked = True
        return out


class _NoWait:
    """An awaitable that is done at once: awaiting it never suspends."""

    def __await__(self) -> Any:
        return iter(())


_NO_WAIT = _NoWait()
_Result = tuple[list[Any] | None, Any, int, int | None]


def _run(conn: sqlite3.Connection, begin: str | None, operation: Any, parameters: Any, many: bool) -> _Result:
    """One statement, start to end: (rows, description, rowcount, lastrowid)."""
    if begin:
        conn.execute(begin)
    cursor = conn.cursor()
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


class _Connection(AsyncAdapt_aiosqlite_connection):
    """Begins transactions lazily and ends only those that began. `begin_sql` (set by the
    engine's "begin" event) runs in the same trip as the transaction's first statement instead of
    a trip of its own; a transaction that ran nothing costs no trip; and the pool's rollback of
    a connection just committed (or rolled back) is skipped, as nothing can be open then.
    `locked` is set once a BEGIN IMMEDIATE went through and cleared by the commit or rollback
    that ends it: while it is set, statements run inline (module docstring)."""

    __slots__ = ("begin_sql", "idle", "locked")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin_sql: str | None = None
        self.idle = True  # no statement ran since the last commit or rollback (or connect)
        self.locked = False  # inside a BEGIN IMMEDIATE transaction: statements run inline

    def cursor(self, server_side: bool = False) -> Any:
        if server_side:  # a streamed result runs on the stock cursor: begin first
            if self.begin_sql:
                sql, self.begin_sql = self.begin_sql, None
                self._cursor_cls(self).execute(sql)
            self.idle = False
        return super().cursor(server_side)

    def commit(self) -> None:
        self.begin_sql, self.locked = None, False
        if not self.idle:
            super().commit()
            self.idle = True

    def rollback(self) -> None:
        self.begin_sql, self.locked = None, False
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
