"""The SQLite adapter runs each statement in one trip to aiosqlite's thread (or, inside a write
transaction, on the loop's thread) and still gives SQLAlchemy everything it reads: rows,
description, rowcount, lastrowid and the driver's errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlite3

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from storage.database import Database
from storage.sqlite_driver import OneTripCursor, OneTripDBAPI
from tests.conftest import bare_sqlite


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with bare_sqlite(tmp_path / "driver.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, n INTEGER)") as database:
        yield database


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every function aiosqlite runs in its thread, in order."""
    seen: list[Any] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_both_sqlite_engines_use_the_one_trip_adapter(db: Database) -> None:
    for engine in (db.engine, db.reader):
        assert isinstance(engine.dialect.loaded_dbapi, OneTripDBAPI)
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)  # type: ignore[union-attr]


async def test_a_select_is_one_trip_with_its_rows_and_columns(db: Database, trips: list[Any]) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2), ('c', 3)"))
    async with db.read() as tx:
        await tx.conn.execute(text("SELECT 1"))  # the connection's first use may set it up
        trips.clear()
        result = await tx.conn.execute(text("SELECT name, n FROM t WHERE n >= :n ORDER BY n"), {"n": 2})
        assert len(trips) == 1
        assert list(result.keys()) == ["name", "n"]
        assert [tuple(r) for r in result] == [("b", 2), ("c", 3)]


async def test_writes_report_rowcount_lastrowid_and_returning_rows(db: Database) -> None:
    async with db.transaction() as tx:
        inserted = await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        assert inserted.lastrowid == 1
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"), [{"name": "b", "n": 2}, {"name": "c", "n": 3}])
        updated = await tx.conn.execute(text("UPDATE t SET n = n * 10 WHERE n >= 2"))
        assert updated.rowcount == 2
        returned = await tx.conn.execute(text("UPDATE t SET n = n + 1 WHERE name = 'a' RETURNING id, n"))
        assert [tuple(r) for r in returned] == [(1, 2)]
        nothing = await tx.conn.execute(text("DELETE FROM t WHERE name = 'missing'"))
        assert nothing.rowcount == 0
    async with db.read() as tx:
        assert [tuple(r) for r in await tx.conn.execute(text("SELECT name, n FROM t ORDER BY id"))] == [("a", 2), ("b", 20), ("c", 30)]


async def test_driver_errors_surface_as_sqlalchemy_errors_and_roll_back(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('x', 1)"))
            await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('x', 2)"))
    with pytest.raises(OperationalError, match="no such table"):
        async with db.read() as tx:
            await tx.conn.execute(text("SELECT * FROM missing"))
    async with db.read() as tx:
        assert (await tx.conn.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_streamed_results_still_work(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"), [{"name": f"r{i}", "n": i} for i in range(250)])
    async with db.read() as tx:
        stream = await tx.conn.stream(text("SELECT n FROM t ORDER BY n"))
        assert [n async for (n,) in stream] == list(range(250))


def _locked_for_others(path: Path) -> bool:
    """Can another connection take the write lock right now (no waiting)?"""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as e:
        assert "locked" in str(e)
        return True
    finally:
        other.close()


async def test_a_write_transaction_begins_with_its_first_statement_in_the_same_trip(db: Database, trips: list[Any], tmp_path: Path) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(text("SELECT 1"))  # the pooled connection's first use may set it up
    trips.clear()
    async with db.transaction() as tx:
        assert not _locked_for_others(tmp_path / "driver.db")  # nothing sent yet
        await tx.conn.execute(text("SELECT count(*) FROM t"))
        assert len(trips) == 1
        assert _locked_for_others(tmp_path / "driver.db")  # BEGIN IMMEDIATE went with it
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        assert len(trips) == 1  # with the write lock held, later statements run on the loop's thread
    assert len(trips) == 2  # and the commit (no rollback as the pool takes it back)
    assert not _locked_for_others(tmp_path / "driver.db")
    async with db.transaction() as tx:  # the next transaction begins in the thread again
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('b', 2)"))
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('c', 3)"))
    assert len(trips) == 4
    async with db.read() as tx:
        assert [tuple(r) for r in await tx.conn.execute(text("SELECT name, n FROM t ORDER BY n"))] == [("a", 1), ("b", 2), ("c", 3)]


async def test_waiting_for_the_write_lock_leaves_the_event_loop_free(db: Database, tmp_path: Path) -> None:
    """Only BEGIN IMMEDIATE can wait (for another writer); it waits in aiosqlite's thread."""
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with db.transaction() as tx:
            await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
            await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('b', 2)"))

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(write())
    while ticks < 5:  # the loop runs on while the writer waits
        await asyncio.sleep(0.01)
        assert not writer.done()
    other.execute("ROLLBACK")
    other.close()
    await asyncio.wait_for(writer, 10)
    ticker.cancel()
    async with db.read() as tx:
        assert (await tx.conn.execute(text("SELECT count(*) FROM t"))).scalar() == 2


async def test_a_failed_inline_statement_rolls_back_and_frees_the_lock(db: Database, tmp_path: Path) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as tx:
            await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
            await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 2)"))  # inline, and refused
    assert not _locked_for_others(tmp_path / "driver.db")
    async with db.transaction() as tx:  # the next one begins (and holds the lock) as before
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('b', 2)"))
        assert _locked_for_others(tmp_path / "driver.db")
    async with db.read() as tx:
        assert [tuple(r) for r in await tx.conn.execute(text("SELECT name FROM t"))] == [("b",)]


async def test_a_transaction_that_runs_nothing_costs_no_trip(db: Database, trips: list[Any]) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(text("SELECT 1"))
    async with db.read() as tx:
        await tx.conn.execute(text("SELECT 1"))
    trips.clear()
    async with db.transaction():
        pass
    async with db.read():
        pass
    assert trips == []
    async with db.transaction() as tx:  # and the next one still begins properly
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        with pytest.raises(IntegrityError):
            await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 2)"))


async def test_a_streamed_first_statement_still_runs_inside_the_transaction(db: Database, tmp_path: Path) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
    async with db.transaction() as tx:
        stream = await tx.conn.stream(text("SELECT n FROM t"))
        assert [n async for (n,) in stream] == [1]
        assert _locked_for_others(tmp_path / "driver.db")
    assert not _locked_for_others(tmp_path / "driver.db")
