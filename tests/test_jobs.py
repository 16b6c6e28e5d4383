"""The scheduler's jobs around a stop: a run cut short by shutdown ends quietly (no traceback in the
operator's log) and leaves nothing half-done; a run that fails is logged once and the next runs."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.jobs import Jobs
from bot.services import Context
from storage.database import Database


async def test_stopping_while_a_job_waits_for_the_database_is_quiet(
    cx: Context, example_dealers: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = Jobs(cx, 60, None, None)
    caplog.set_level(logging.INFO, logger="apscheduler")
    async with cx.db.transaction() as tx:
        # The sweep cannot start its transaction while this one holds what it needs: SQLite's one
        # writer connection, or on PostgreSQL the alerts table.
        if cx.db.dialect == "postgresql":
            await tx.conn.execute(text("LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE"))
        jobs.start()
        await asyncio.sleep(0.5)  # the first sweep starts at once and waits here
        jobs.stop()
        await asyncio.sleep(0.1)  # the cancelled run finishes
    printed = capsys.readouterr()
    logged = printed.out + printed.err  # structlog's stream: stdout unless `cxbot` configured it
    assert "job_stopped" in logged and "job=sweep" in logged
    assert "Traceback" not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


async def test_a_failing_run_is_logged_once_and_the_job_keeps_its_schedule(cx: Context, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unmigrated = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")  # no tables: every query fails
    jobs = Jobs(dataclasses.replace(cx, db=unmigrated), 60, None, None)
    await jobs.sweep()  # returns: the scheduler keeps the job for its next interval
    await unmigrated.close()
    printed = capsys.readouterr()
    logged = printed.out + printed.err
    assert logged.count("job_failed") == 1 and "job=sweep" in logged
