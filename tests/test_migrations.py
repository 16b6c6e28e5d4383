"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and the
questions the product asks most are answered by indexes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect, select
from sqlalchemy.engine import make_url

from bot.domain.values import Status
from bot.services import Context
from storage import migrate
from storage.database import Database
from storage.models import Base
from storage.repositories.alerts import AlertFilter

ROOT = Path(__file__).resolve().parent.parent

QUESTION_INDEXES = {
    "alerts": {
        "ix_alerts_unhandled_due": ["due_at"],
        "ix_alerts_dealer_status_created": ["dealer_code", "status", "created_at"],
    },
    "responses": {"ix_responses_customer_submitted": ["dealer_code", "customer_id", "submitted_at"]},
}


async def schema_diff(db: Database) -> list[Any]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
        )


async def indexes(db: Database, table: str) -> dict[str, list[str]]:
    async with db.engine.connect() as conn:
        found = await conn.run_sync(lambda c: inspect(c).get_indexes(table))
    return {ix["name"]: list(ix["column_names"]) for ix in found}


def _pg_dsn(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


@pytest.fixture
async def empty_db(db_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no tables at all, of the same kind as `db_url`."""
    if db_url.startswith("sqlite"):
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        yield db
        await db.close()
        return
    name = f"cxbot_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(_pg_dsn(db_url), timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    db = Database(make_url(db_url).set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        await db.close()
        admin = await asyncpg.connect(_pg_dsn(db_url), timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_upgrade_from_nothing_builds_exactly_the_models_schema(empty_db: Database) -> None:
    before, after = await migrate.upgrade(empty_db)

    assert before is None
    assert after == migrate.head() is not None
    assert await migrate.current(empty_db) == after
    assert await schema_diff(empty_db) == []


async def test_upgrade_again_changes_nothing(empty_db: Database) -> None:
    await migrate.upgrade(empty_db)
    async with empty_db.transaction() as tx:
        await tx.dealers.add({"code": "DK-1001", "name": "Autohuset Vest"}, datetime(2026, 11, 2, tzinfo=UTC))

    assert await migrate.upgrade(empty_db) == (migrate.head(), migrate.head())

    assert await schema_diff(empty_db) == []
    async with empty_db.read() as tx:
        assert [d.code for d in await tx.dealers.all()] == ["DK-1001"]


def test_head_names_the_newest_migration() -> None:
    assert migrate.HEAD == migrate.head()


async def test_an_older_schema_is_brought_to_head(empty_db: Database) -> None:
    assert await migrate.upgrade(empty_db, "0008") == (None, "0008")

    assert await migrate.upgrade(empty_db) == ("0008", migrate.HEAD)
    assert await schema_diff(empty_db) == []


def test_a_database_at_head_is_opened_without_loading_alembic(tmp_path: Path) -> None:
    """Every command opens the database; one already at HEAD must not pay for Alembic's import."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cx.db'}"
    probe = (
        "import asyncio, sys\n"
        "from storage import migrate\n"
        "from storage.database import Database\n"
        "async def main():\n"
        f"    db = Database({url!r})\n"
        "    print(await migrate.upgrade(db), 'alembic' in sys.modules)\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    run = lambda: subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT)  # noqa: E731
    first, second = run(), run()
    assert first.stdout.split() == ["(None,", f"'{migrate.HEAD}')", "True"], first.stderr
    assert second.stdout.split() == [f"('{migrate.HEAD}',", f"'{migrate.HEAD}')", "False"], second.stderr


async def test_test_databases_are_at_head_and_match_the_models(cx: Context, example_dealers: None) -> None:
    assert await migrate.current(cx.db) == migrate.head()
    assert await schema_diff(cx.db) == []
    assert await migrate.upgrade(cx.db) == (migrate.head(), migrate.head())
    async with cx.db.read() as tx:
        assert len(await tx.dealers.all()) == 3  # data survives a repeated upgrade


async def test_alert_number_counters_start_at_zero(empty_db: Database) -> None:
    await migrate.upgrade(empty_db)
    counters = Base.metadata.tables["counters"]
    async with empty_db.read() as tx:
        rows = dict((await tx.conn.execute(select(counters.c.name, counters.c.value))).all())
    assert {k: rows[k] for k in ("HA", "SO", "DT", "CO")} == {"HA": 0, "SO": 0, "DT": 0, "CO": 0}


async def test_indexes_behind_the_main_questions_exist(cx: Context) -> None:
    for table, wanted in QUESTION_INDEXES.items():
        found = await indexes(cx.db, table)
        for name, columns in wanted.items():
            assert found.get(name) == columns, f"{table}: {sorted(found)}"


async def test_past_due_index_holds_only_unhandled_alerts(cx: Context) -> None:
    async with cx.db.read() as tx:
        if cx.db.dialect == "sqlite":
            sql = await tx.conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'ix_alerts_unhandled_due'")
        else:
            sql = await tx.conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_alerts_unhandled_due'")
        definition = sql.scalar_one()
    assert "handled_at IS NULL" in definition.replace("(", "").replace(")", "")


# --- SQLite query plans: index look-ups, not table scans -------------------------------------


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "plans.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    yield db
    await db.close()


async def plan(db: Database, sql: str, params: Any = ()) -> list[str]:
    async with db.read() as tx:
        rows = (await tx.conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)).all()
    return [r[-1] for r in rows]


def assert_index_lookup(steps: list[str], table: str, index: str) -> None:
    assert not any(s.startswith(f"SCAN {table}") for s in steps), steps
    assert any(s.startswith(f"SEARCH {table} USING INDEX {index} (") for s in steps), steps


@pytest.mark.parametrize(
    "question,sql,params,table,index",
    [
        (
            "unhandled alerts past due",
            "SELECT id FROM alerts WHERE handled_at IS NULL AND due_at < ?",
            ("2026-11-04 09:00:00.000000",),
            "alerts",
            "ix_alerts_unhandled_due",
        ),
        (
            "a customer's latest response",
            "SELECT id FROM responses WHERE dealer_code = ? AND customer_id = ? ORDER BY submitted_at DESC LIMIT 1",
            ("DK-1001", "K-1"),
            "responses",
            "ix_responses_customer_submitted",
        ),
        (
            "alerts of a dealer by status",
            "SELECT id FROM alerts WHERE dealer_code = ? AND status = ? ORDER BY created_at DESC LIMIT 50",
            ("DK-1001", "new"),
            "alerts",
            "ix_alerts_dealer_status_created",
        ),
    ],
)
async def test_sqlite_answers_the_main_questions_from_an_index(
    sqlite_db: Database, question: str, sql: str, params: tuple[str, ...], table: str, index: str
) -> None:
    assert_index_lookup(await plan(sqlite_db, sql, params), table, index)


async def test_repository_questions_use_their_indexes_on_sqlite(sqlite_db: Database) -> None:
    """The statements the repositories really send, not hand-written look-alikes."""
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, parameters))

    event.listen(sqlite_db.reader.sync_engine, "before_cursor_execute", record)
    now = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
    async with sqlite_db.read() as tx:
        await tx.responses.latest_for("DK-1001", "K-1")
        await tx.alerts.find(AlertFilter(overdue_at=now), 50)
        await tx.alerts.find(AlertFilter(dealers=frozenset({"DK-1001"}), status=Status.NEW), 50)
    event.remove(sqlite_db.reader.sync_engine, "before_cursor_execute", record)

    (latest, overdue, by_dealer) = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT")]
    assert_index_lookup(await plan(sqlite_db, *latest), "responses", "ix_responses_customer_submitted")
    assert_index_lookup(await plan(sqlite_db, *overdue), "alerts", "ix_alerts_unhandled_due")
    assert_index_lookup(await plan(sqlite_db, *by_dealer), "alerts", "ix_alerts_dealer_status_created")
