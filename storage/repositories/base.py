"""What every repository shares: its connection and dialect-specific statements."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import Table, and_, false, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

# SQLite allows 32,766 bound parameters per statement; stay well below for wide rows.
CHUNK = 400


def chunks(rows: list[Any], size: int = CHUNK) -> list[list[Any]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def keys_in(cols: Sequence[Any], keys: Iterable[Sequence[Any]]) -> Any:
    """`(a, b) IN keys`, written as `a = ? AND b IN (…) OR …` per distinct prefix: SQLite scans the
    whole table for a row-value IN list, but searches the index for this (PostgreSQL does both well)."""
    groups: dict[tuple[Any, ...], set[Any]] = {}
    for k in keys:
        groups.setdefault(tuple(k[:-1]), set()).add(k[-1])
    if not groups:
        return false()
    return or_(*(and_(*(c == v for c, v in zip(cols[:-1], prefix)), cols[-1].in_(sorted(last))) for prefix, last in sorted(groups.items())))


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
