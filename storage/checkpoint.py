"""SQLite's WAL checkpoints, moved off the writer's commits while `serve` runs.

By default SQLite checkpoints (copies the write-ahead log back into the database file) inside the
commit that takes the log past 1,000 pages, so every few intake batches one commit also copies
some 4 MB, and the one writer connection waits for it before the next transaction can begin.
While `serve` runs, a connection of its own does it instead, in a thread, every second (PASSIVE:
it never waits for readers or the writer, nor makes them wait), so the copying overlaps the
writer's next transactions on the other core. The writer still checkpoints by itself once the
log passes `SAFETY_PAGES`, should this fall behind. Commands other than `serve` keep SQLite's
default."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import suppress

import structlog

from storage.database import WAL_PAGES, Database

SAFETY_PAGES = 10_000  # about 40 MB of log
log = structlog.get_logger()


class WalCheckpointer:
    def __init__(self, db: Database, every: float = 1.0) -> None:
        assert db.dialect == "sqlite"
        self.db = db
        self.every = every
        self.runs = 0  # checkpoints done (tests wait on it)

    async def run(self, stop: asyncio.Event) -> None:
        await self.db.set_wal_autocheckpoint(SAFETY_PAGES)
        conn = await asyncio.to_thread(sqlite3.connect, self.db.sqlite_path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            while not stop.is_set():
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.every)
                try:
                    await asyncio.to_thread(_checkpoint, conn)
                    self.runs += 1
                except sqlite3.Error as e:  # busy or locked now: the next round tries again
                    log.warning("wal_checkpoint_failed", error=str(e))
        finally:
            await asyncio.to_thread(conn.close)
            await self.db.set_wal_autocheckpoint(WAL_PAGES)


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
