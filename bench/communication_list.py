"""Communication-list benchmark: the list's questions over a million invitations.

    python bench/communication_list.py                 # fresh temp SQLite database, 1,000,000 invitations
    python bench/communication_list.py --postgres      # fresh database on postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python bench/communication_list.py --n 200000      # fewer

Fills `invitations` (and one customer each) for 200 dealers straight through the driver, runs
ANALYZE, then times what `GET /api/v1/invitations` asks through the real service
(`services.invitations.find`: one page of 50 plus the counts per status): one dealer's newest,
by status, by a month of purchase dates, by a sent day, by free text; every dealer's newest; and
a CSV export of one dealer. Prints the median of 5 runs of each, in milliseconds.

Not a test: pytest collects tests/ only, and nothing here is named test_*.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

from bot.domain.invitations import InvitationFilter, InvitationStatus
from bot.domain.values import SYSTEM
from bot.services import Context, invitations
from storage import migrate
from storage.database import Database

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEALERS = 200
FIRST = ["Anne", "Lars", "Mette", "Jonas", "Sabine", "Jürgen", "Ida", "Ole", "Karen", "Søren", "Birgit", "Thomas"]
LAST = ["Sørensen", "Østergaard", "Jensen", "Nielsen", "Hansen", "Weiß", "Krüger", "Brandt", "Holm", "Kjær", "Larsen", "Berg"]
STATUSES = [(InvitationStatus.SUBMITTED, 30), (InvitationStatus.SENT, 35), (InvitationStatus.CLICKED, 20), (InvitationStatus.FAILED, 3), (InvitationStatus.NOT_SENT, 12)]


def rows(n: int, now: datetime, step: int = 50_000) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """(customers, invitations) a chunk at a time: a million rows at once would need gigabytes."""
    rnd = random.Random(8)
    weights = [w for _, w in STATUSES]
    customers: list[tuple[Any, ...]] = []
    invites: list[tuple[Any, ...]] = []
    for i in range(n):
        if len(invites) == step:
            yield customers, invites
            customers, invites = [], []
        dealer = f"D-{i % DEALERS:04d}"
        cid = f"K-{i}"
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        customers.append((dealer, cid, name, f"k{i}@example.net", False, False, "{}", now, now))
        recorded = now - timedelta(days=rnd.uniform(0, 730))
        status = rnd.choices([s for s, _ in STATUSES], weights)[0]
        sent = recorded + timedelta(hours=rnd.uniform(0, 48)) if status is not InvitationStatus.NOT_SENT else None
        when = {InvitationStatus.NOT_SENT: recorded, InvitationStatus.SENT: sent}.get(status, (sent or recorded) + timedelta(days=2))
        purchase = (recorded - timedelta(days=rnd.randint(3, 20))).date()
        invites.append((
            f"inv-{i}", dealer, cid, "sales" if i % 3 else "service", "CEMI", "da", purchase, status.value, when, recorded, sent,
            when if status is InvitationStatus.FAILED else None, when if status is InvitationStatus.CLICKED else None,
            when if status is InvitationStatus.SUBMITTED else None, when,
        ))
    yield customers, invites


class Frozen:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


C_COLS = ("dealer_code", "customer_id", "name", "email", "anonymized", "detractor", "contact_permissions", "created_at", "updated_at")
I_COLS = ("id", "dealer_code", "customer_id", "survey", "questionnaire", "language", "purchase_date", "status", "status_at",
          "created_at", "sent_at", "failed_at", "clicked_at", "submitted_at", "updated_at")


def _sqlite_value(v: object) -> object:
    if isinstance(v, datetime):  # as SQLAlchemy stores UtcDateTime on SQLite: naive UTC text
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return v.isoformat() if isinstance(v, date) else v


def fill_sqlite(path: Path, n: int, now: datetime) -> None:
    con = sqlite3.connect(path)
    try:
        with con:
            for customers, invites in rows(n, now):
                for table, cols, data in (("customers", C_COLS, customers), ("invitations", I_COLS, invites)):
                    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                    con.executemany(sql, [tuple(map(_sqlite_value, r)) for r in data])
        con.execute("ANALYZE")
    finally:
        con.close()


async def fill_postgres(dsn: str, n: int, now: datetime) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for customers, invites in rows(n, now):
            await conn.copy_records_to_table("customers", records=customers, columns=list(C_COLS))
            await conn.copy_records_to_table("invitations", records=invites, columns=list(I_COLS))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def timed(label: str, call: Callable[[], Awaitable[Any]]) -> None:
    times = []
    for _ in range(5):
        t = time.perf_counter()
        found = await call()
        times.append((time.perf_counter() - t) * 1000)
    print(f"  {label:<52} {statistics.median(times):8.1f} ms   ({found})")


async def run(db_url: str, n: int, fill: Callable[..., Any]) -> None:
    db = Database(db_url)
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    cx = Context(db=db, clock=Frozen(now))
    try:
        await migrate.upgrade(db)
        async with db.transaction() as tx:
            for d in range(DEALERS):
                await tx.dealers.add({"code": f"D-{d:04d}", "name": f"Dealer {d}", "time_zone": "Europe/Copenhagen"}, now)
        t = time.perf_counter()
        await fill(n, now)
        print(f"{n:,} invitations over {DEALERS} dealers ({n // DEALERS:,} each) filled and analysed in {time.perf_counter() - t:.0f} s on {db.dialect}")

        one = frozenset({"D-0007"})

        async def page(f: InvitationFilter) -> str:
            p = await invitations.find(cx, SYSTEM, f, 50)
            return f"{len(p.items)} of {p.total}"

        async def export(f: InvitationFilter) -> str:
            k = 0
            async for _ in invitations.each(cx, SYSTEM, f):
                k += 1
            return f"{k} rows"

        await timed("one dealer, newest", lambda: page(InvitationFilter(one)))
        await timed("one dealer, failed (3 %)", lambda: page(InvitationFilter(one, status=InvitationStatus.FAILED)))
        await timed("one dealer, purchase dates in a month", lambda: page(InvitationFilter(one, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))))
        await timed("one dealer, sent on one day", lambda: page(InvitationFilter(one, date_field="sent", date_from=date(2026, 3, 10), date_to=date(2026, 3, 10))))
        await timed("one dealer, free text 'østergaard'", lambda: page(InvitationFilter(one, q="østergaard")))
        await timed("one dealer, free text 'k4207'", lambda: page(InvitationFilter(one, q="k4207")))
        await timed("every dealer, newest", lambda: page(InvitationFilter()))
        await timed("every dealer, failed", lambda: page(InvitationFilter(status=InvitationStatus.FAILED)))
        await timed("one dealer, CSV export of all its rows", lambda: export(InvitationFilter(one)))
    finally:
        await db.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--postgres", nargs="?", const=DEFAULT_PG, default=None, metavar="URL")
    args = ap.parse_args()
    if args.postgres:
        import asyncpg

        name = f"cxbot_bench_{uuid.uuid4().hex[:8]}"
        server = args.postgres.rsplit("/", 1)[0]
        admin = server.replace("postgresql+asyncpg", "postgresql") + "/" + args.postgres.rsplit("/", 1)[1]
        conn = await asyncpg.connect(admin)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = f"{server}/{name}"
        dsn = url.replace("postgresql+asyncpg", "postgresql")
        try:
            await run(url, args.n, lambda n, now: fill_postgres(dsn, n, now))
        finally:
            conn = await asyncpg.connect(admin)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"

        async def fill(n: int, now: datetime) -> None:
            await asyncio.to_thread(fill_sqlite, path, n, now)

        await run(f"sqlite+aiosqlite:///{path}", args.n, fill)


if __name__ == "__main__":
    asyncio.run(main())
