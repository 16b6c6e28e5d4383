"""Schema migrations (Alembic), run by `cxbot db upgrade` and at `serve` start."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from storage.database import Database

# Any constant works; it only has to be the same in every replica.
ADVISORY_LOCK = 0x6378_626F_74  # "cxbot"


def alembic_config(connection: Any = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "storage:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


async def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to `revision`; returns (before, after). On PostgreSQL an advisory lock
    makes replicas that start together take turns instead of racing on DDL."""
    async with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK})
            await conn.commit()
        try:
            before = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), revision))
            await conn.commit()
            after = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
        finally:
            if db.dialect == "postgresql":
                await conn.rollback()
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK})
                await conn.commit()
    return before, after
