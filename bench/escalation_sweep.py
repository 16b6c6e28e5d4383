"""Escalation sweep benchmark: does one sweep cost what is due, not what exists?

    python bench/escalation_sweep.py                    # SQLite and PostgreSQL, 10,000 and 1,000,000 alerts
    python bench/escalation_sweep.py --only sqlite      # one database
    python bench/escalation_sweep.py --sizes 10000,100000 --due 1000
    python bench/escalation_sweep.py --postgres URL     # another server (a database of its own is created, then dropped)

For each database and size: a fresh, migrated database with the example dealers (their routes and
escalation targets), then N alerts written straight into the alerts table (stdlib sqlite3 /
asyncpg COPY, so setup takes seconds, not the intake's minutes) and ANALYZEd as a live database
would be. Of the N: `--due` unhandled alerts past their escalation time; 10 % open and not yet
due; the rest handled (most of them late and escalated before, so their old escalation times
are still set — only the partial index keeps them out of the sweep's way).

Timed: one real `bot.services.escalation.sweep` (claim, history, routing, outbox rows for Slack and
mail, in batches of 500), then an idle sweep (nothing due: what every 60 s tick costs). Prints the
four sweep times, the ratio large/small per database (goal: close to 1) and the idle sweeps.

Not a test: pytest collects tests/ only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from pgadmin import pg_execute  # noqa: E402  (bench/pgadmin.py, beside this script)
from bot import logs  # noqa: E402
from bot.domain.clock import SystemClock  # noqa: E402
from bot.domain.rules import Rules  # noqa: E402
from bot.services import Context, dealers, escalation  # noqa: E402
from handlers.dealer_file import read_dealer_file  # noqa: E402
from storage import migrate  # noqa: E402
from storage.database import Database  # noqa: E402

DEALERS_FILE = ROOT / "bot" / "examples" / "dealers.toml"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
COLUMNS = (
    "id", "kind", "number", "dealer_code", "customer_id", "status", "created_at", "due_at", "handled_at",
    "resolved_at", "escalation_level", "escalated_at", "next_escalation_at", "remind_at", "updated_at",
)


def alerts(n: int, due: int, now: datetime, dealer_codes: list[str]) -> list[tuple]:
    """N Hot Alert rows; the `due` ones first in id order would flatter nothing (ids are not used
    by the sweep's index), so they are spread over the whole range."""
    rnd = random.Random(42)
    due_ids = set(rnd.sample(range(1, n + 1), due))
    rows = []
    for i in range(1, n + 1):
        dealer = dealer_codes[i % len(dealer_codes)]
        created = now - timedelta(days=rnd.uniform(0, 400))
        due_at = created + timedelta(hours=48)
        if i in due_ids:  # unhandled, past its due time, not yet escalated
            created = now - timedelta(hours=48, seconds=rnd.uniform(1, 3600))
            due_at = created + timedelta(hours=48)
            row = ("new", None, None, 0, None, due_at, None)
        elif i % 10 == 0:  # open, not yet due
            created = now - timedelta(hours=rnd.uniform(0, 47))
            due_at = created + timedelta(hours=48)
            remind = due_at - timedelta(hours=24)
            row = ("new", None, None, 0, None, due_at, remind if remind > now + timedelta(hours=1) else None)  # None: reminded already
        else:  # handled; three in four late and escalated, their next escalation time left set
            handled = due_at + timedelta(hours=rnd.uniform(-40, 30))
            late = i % 4 != 0
            row = ("resolved", handled, handled, 1 if late else 0, due_at if late else None, due_at + timedelta(hours=24) if late else None, None)
        status, handled_at, resolved_at, level, escalated_at, next_at, remind_at = row
        rows.append(
            (f"HA-{i}", "hot_alert", i, dealer, f"K-{i % 50_000}", status, created, due_at, handled_at,
             resolved_at, level, escalated_at, next_at, remind_at, handled_at or created)
        )
    return rows


def _sqlite_value(v: object) -> object:
    # As SQLAlchemy stores UtcDateTime on SQLite: naive UTC text.
    return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v


def fill_sqlite(path: Path, rows: list[tuple]) -> None:
    con = sqlite3.connect(path)
    try:
        marks = ", ".join("?" * len(COLUMNS))
        with con:
            for i in range(0, len(rows), 50_000):
                con.executemany(f"INSERT INTO alerts ({', '.join(COLUMNS)}) VALUES ({marks})", [tuple(map(_sqlite_value, r)) for r in rows[i : i + 50_000]])
            con.execute("UPDATE counters SET value = ? WHERE name = 'hot_alert'", (len(rows),))
        con.execute("ANALYZE")
    finally:
        con.close()


async def fill_postgres(dsn: str, rows: list[tuple]) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("alerts", records=rows, columns=list(COLUMNS))
        await conn.execute("ANALYZE alerts")
    finally:
        await conn.close()



async def measure(db_url: str, fill, n: int, due: int) -> tuple[float, float, int, float]:
    """(sweep seconds, idle sweep seconds, alerts escalated, setup seconds)."""
    db = Database(db_url)
    try:
        cx = Context(db=db, rules=Rules(), clock=SystemClock())
        await migrate.upgrade(db)
        await dealers.load(cx, read_dealer_file(DEALERS_FILE))
        async with db.read() as tx:
            codes = sorted((await tx.conn.execute(text("SELECT code FROM dealers"))).scalars())
        t = time.perf_counter()
        rows = alerts(n, due, cx.clock.now(), codes)
        await fill(rows)
        del rows
        setup = time.perf_counter() - t
        await db.engine.dispose()  # the sweep starts on fresh connections, as after a restart
        t = time.perf_counter()
        result = await escalation.sweep(cx)
        swept = time.perf_counter() - t
        t = time.perf_counter()
        idle = await escalation.sweep(cx)
        idle_s = time.perf_counter() - t
        if result.escalated != due or result.reminded or idle.escalated:
            raise SystemExit(f"expected {due} escalations (no reminders) then none, got {result} then {idle}")
        return swept, idle_s, result.escalated, setup
    finally:
        await db.close()


def run_sqlite(n: int, due: int) -> tuple[float, float, int, float]:
    work = Path(tempfile.mkdtemp(prefix="cxbench-sweep-"))
    try:
        path = work / "bench.db"

        async def fill(rows: list[tuple]) -> None:
            await asyncio.to_thread(fill_sqlite, path, rows)

        return asyncio.run(measure(f"sqlite+aiosqlite:///{path}", fill, n, due))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_postgres(base: str, n: int, due: int) -> tuple[float, float, int, float]:
    url = make_url(base)
    name = f"cxbench_sweep_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dsn = url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    asyncio.run(pg_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        return asyncio.run(measure(url.set(database=name).render_as_string(hide_password=False), lambda rows: fill_postgres(dsn, rows), n, due))
    finally:
        asyncio.run(pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,1000000", help="alert counts, small first (default 10000,1000000)")
    p.add_argument("--due", type=int, default=1000, help="alerts due for escalation in each database (default 1000)")
    p.add_argument("--only", choices=["sqlite", "postgres"], help="run one database only")
    p.add_argument("--postgres", default=DEFAULT_PG, metavar="URL", help=f"PostgreSQL server (default {DEFAULT_PG})")
    args = p.parse_args()
    logs.configure("warning")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"escalation sweep: {args.due} due alerts among {', '.join(f'{s:,}' for s in sizes)}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    for label in ("sqlite", "postgres"):
        if args.only and args.only != label:
            continue
        times = []
        for n in sizes:
            swept, idle, count, setup = run_sqlite(n, args.due) if label == "sqlite" else run_postgres(args.postgres, n, args.due)
            times.append(swept)
            print(f"  {label:<8} {n:>9,} alerts: sweep {swept * 1000:7.0f} ms for {count} escalations "
                  f"({swept / count * 1e6:.0f} µs each); idle sweep {idle * 1000:5.1f} ms  [setup {setup:.0f} s]", flush=True)
        if len(times) > 1:
            print(f"  {label:<8} ratio largest/smallest: {times[-1] / times[0]:.2f}  (goal: close to 1)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
