"""While `serve` runs on SQLite, the write-ahead log is copied back into the database file by a
checkpointer of its own, not inside the writer's commits; without it SQLite's default holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.checkpoint import SAFETY_PAGES, WalCheckpointer
from storage.database import Database
from tests.conftest import bare_sqlite
from tests.mail_support import eventually

ROWS = [{"b": "x" * 4000} for _ in range(2000)]  # about 8 MB: 2,000 log pages, past SQLite's 1,000


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with bare_sqlite(tmp_path / "wal.db", "CREATE TABLE t (id INTEGER PRIMARY KEY, b TEXT)") as database:
        yield database


async def _writer_threshold(db: Database) -> int:
    async with db.transaction() as tx:
        return int((await tx.conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one())


async def _write(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.conn.execute(text("INSERT INTO t (b) VALUES (:b)"), ROWS)


async def test_without_it_the_writers_commit_checkpoints_by_itself(db: Database, tmp_path: Path) -> None:
    before = (tmp_path / "wal.db").stat().st_size
    await _write(db)
    assert (tmp_path / "wal.db").stat().st_size > before + 6_000_000


async def test_it_checkpoints_in_the_background_and_the_writers_commits_do_not(db: Database, tmp_path: Path) -> None:
    file = tmp_path / "wal.db"
    stop = asyncio.Event()
    checkpointer = WalCheckpointer(db, every=3600)  # only the last round, when stopped
    task = asyncio.create_task(checkpointer.run(stop))
    await eventually(lambda: _threshold_is(db, SAFETY_PAGES))
    before = file.stat().st_size
    await _write(db)
    assert file.stat().st_size < before + 1_000_000  # the commit left the pages in the log
    stop.set()
    await asyncio.wait_for(task, 10)
    assert checkpointer.runs == 1
    assert file.stat().st_size > before + 6_000_000  # the checkpointer copied them
    assert await _writer_threshold(db) == 1000  # SQLite's default again


async def test_it_runs_every_round_until_stopped_and_leaves_the_writer_working(db: Database, tmp_path: Path) -> None:
    stop = asyncio.Event()
    checkpointer = WalCheckpointer(db, every=0.01)
    task = asyncio.create_task(checkpointer.run(stop))
    await eventually(lambda: checkpointer.runs >= 3)
    stop.set()
    await asyncio.wait_for(task, 10)
    await _write(db)  # the writer works on after the checkpointer stopped
    assert await _writer_threshold(db) == 1000


async def _threshold_is(db: Database, pages: int) -> bool:
    return await _writer_threshold(db) == pages
