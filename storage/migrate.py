"""Schema migrations (Alembic), run by `cxbot db upgrade` and at the start of `serve` and every
command. A database already at HEAD is recognised from its version row alone, without loading
Alembic and its migration scripts (a tenth of a command's start-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision under storage/migrations/versions; tests/test_migrations.py holds it to
# Alembic's own answer, so a new migration that forgets to move it fails the tests.
HEAD = "0009"

# Any constant works; it only has to be the same in every replica.
ADVISORY_LOCK = 0x6378_626F_74  # "cxbot"


def alembic_config(connection: Any = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "storage:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str | None:
    """The newest revision as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def _stored(conn: AsyncConnection) -> str | None:
    """The revision recorded in the database (Alembic's version table), None for an empty one."""
    if not await conn.run_sync(lambda c: c.dialect.has_table(c, "alembic_version")):
        return None
    return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()


async def current(db: Database) -> str | None:
    async with db.reader.connect() as conn:  # a read: on SQLite it leaves the one writer free
        return await _stored(conn)


async def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision`; returns (before, after). On PostgreSQL an advisory lock
    makes replicas that start together take turns instead of racing on DDL."""
    if revision == "head" and await current(db) == HEAD:
        return HEAD, HEAD
    from alembic import command

    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK})
            await conn.commit()
        try:
            before = await _stored(conn)
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), revision))
            await conn.commit()
            after = await _stored(conn)
        finally:
            if db.dialect == "postgresql":
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
                await conn.commit()
    return before, after
