"""What the benchmarks share for PostgreSQL: one statement on a maintenance connection (CREATE or
DROP the benchmark's own database). Imported by the scripts beside it."""

from __future__ import annotations


async def pg_execute(dsn: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()
