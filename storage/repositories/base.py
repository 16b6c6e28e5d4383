"""What every repository shares: its connection and dialect-specific statements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

# SQLite allows 32,766 bound parameters per statement; stay well below for wide rows.
CHUNK = 400


def chunks(rows: list[Any], size: int = CHUNK) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


class Repo:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def insert(self, table: Table) -> Any:
        """An INSERT that knows ON CONFLICT on both dialects."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    @property
    def locks_rows(self) -> bool:
        # SQLite writes hold the whole database (BEGIN IMMEDIATE); PostgreSQL needs FOR UPDATE.
        return self.dialect == "postgresql"
