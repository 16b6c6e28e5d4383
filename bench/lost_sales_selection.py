"""Lost-sales selection benchmark: one monthly run over a year of test-drive leads.

    python bench/lost_sales_selection.py                         # SQLite and PostgreSQL, 1,000,000 leads, 200,000 orders
    python bench/lost_sales_selection.py --only sqlite           # one database
    python bench/lost_sales_selection.py --leads 100000 --orders 20000
    python bench/lost_sales_selection.py --postgres URL          # another server (a database of its own is created, then dropped)
    python bench/lost_sales_selection.py --breakdown --explain   # time per statement kind; the prospects query's plan
    python bench/lost_sales_selection.py --tracemalloc           # also Python's own peak allocation (slows the run)
    python bench/lost_sales_selection.py --invitations 200000    # sales/service invitations there before (a live database)

For each database: a fresh, migrated database with the example dealers, then — in a child process,
so the parent's memory figures are the selection's alone — customers, N leads and M orders written
straight into the tables (stdlib sqlite3 / asyncpg COPY, so setup takes seconds, not the intake's
minutes) and ANALYZEd as a live database would be. The leads are spread over the dealers and over the
365 days before the run (so about 1/12 of them fall in the 30-day window); ~80 % private, ~85 % with
email permission; 1 customer in 10 has two leads, 2 % have no email address and 1 % are anonymized.
The orders (sales_order / purchase) are for customers with leads, opened from 60 days before to 120
days after one of their requests. With `--invitations N`, N sales and service invitations are there
too when ANALYZE runs (by default the invitations table is empty then, as before a first run, and
the planners' statistics say so).

Timed: one real `bot.services.lost_sales.due` with the clock at 06:30 on the 8th on every dealer's
clock, i.e. every dealer selected once (claim in job_runs, prospects in batches of 1000, claim, one
invitation per customer, and whatever the service queues with it, e.g. its mail). Prints leads, orders, invitations created, seconds, prospects/second, the
process RSS before the run and its peak during it (a sampling thread reading /proc/self/status, and
VmHWM after resetting it via /proc/self/clear_refs where allowed), and checks the invitations
against the rule computed in Python from the generated data (OK / MISMATCH).

Not a test: pytest collects tests/ only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot import logs  # noqa: E402
from bot.domain.rules import Rules  # noqa: E402
from bot.services import Context, dealers, lost_sales  # noqa: E402
from handlers.dealer_file import read_dealer_file  # noqa: E402
from storage import migrate  # noqa: E402
from storage.database import Database  # noqa: E402
from pgadmin import pg_execute  # noqa: E402  (bench/pgadmin.py, beside this script)

DEALERS_FILE = ROOT / "bot" / "examples" / "dealers.toml"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
# The run: 06:30 on 8 November 2026 in Copenhagen and Berlin (CET, UTC+1): past the 06:00 run time.
NOW = datetime(2026, 11, 8, 5, 30, tzinfo=UTC)
SEED = 1
FROM_DAYS, TO_DAYS = 90, 60  # the LostSalesPolicy defaults, restated for the independent check

CUSTOMER_COLUMNS = ("dealer_code", "customer_id", "name", "email", "language", "contact_permissions", "anonymized", "detractor", "created_at", "updated_at")
LEAD_COLUMNS = ("id", "dealer_code", "customer_id", "requested_at", "source", "private", "email_permission", "content_hash", "created_at")
ACTIVITY_COLUMNS = ("dealer_code", "customer_id", "type", "reference", "opened_at", "received_at")
INVITATION_COLUMNS = ("id", "dealer_code", "customer_id", "survey", "purchase_date", "status", "status_at", "created_at", "sent_at", "updated_at")


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


# --- data -------------------------------------------------------------------------------------


def generate(n_leads: int, n_orders: int, n_invitations: int, dealer_zones: list[tuple[str, str]], seed: int = SEED):
    """(customers, leads, activities, invitations, expected invitation ids, leads in the window).
    Rows are tuples in the *_COLUMNS order; the expected ids follow the rule independently of the
    service's code. The invitations are sales and service ones, sent before: they rule nobody out."""
    rnd = random.Random(seed)
    codes = [c for c, _ in dealer_zones]
    created = NOW - timedelta(days=400)
    customers: list[tuple] = []
    leads: list[tuple] = []
    has_email: list[bool] = []  # by customer index
    lead_customer: list[int] = []  # lead index → customer index
    lead_at: list[datetime] = []
    span = 365 * 86400.0
    sources = ("website", "configurator", "campaign", None)
    langs = (None, "da", "de", "en")
    i = 0
    ci = 0
    while i < n_leads:
        dealer = codes[ci % len(codes)]
        cid = f"C{ci:08d}"
        r = rnd.random()
        anonymized = r < 0.01
        email = None if r < 0.03 else f"c{ci}@mail.example"
        customers.append((dealer, cid, None if anonymized else f"Customer {ci}", email, rnd.choice(langs), "{}", anonymized, False, created, created))
        has_email.append(email is not None and not anonymized)
        two = rnd.random() < 0.10
        first = NOW - timedelta(seconds=rnd.uniform(0, span))
        times = [first]
        if two and i + 1 < n_leads:
            times.append(first + timedelta(days=rnd.uniform(-45, 45)))
            if times[1] >= NOW:
                times[1] = NOW - timedelta(seconds=rnd.uniform(1, 3600))
        for at in times:
            lid = f"L{i:08d}"
            leads.append((lid, dealer, cid, at, rnd.choice(sources), rnd.random() < 0.80, rnd.random() < 0.85, f"{i:064x}", at))
            lead_customer.append(ci)
            lead_at.append(at)
            i += 1
        ci += 1
    # Orders: a random lead's customer, opened around that request (before or after it).
    activities: list[tuple] = []
    buys: dict[int, list[datetime]] = {}
    for k in range(n_orders):
        li = rnd.randrange(len(leads))
        c = lead_customer[li]
        opened = lead_at[li] + timedelta(days=rnd.uniform(-60, 120))
        if opened > NOW:
            opened = NOW - timedelta(seconds=rnd.uniform(1, 86400))
        kind = "sales_order" if rnd.random() < 0.6 else "purchase"
        activities.append((leads[li][1], leads[li][2], kind, f"{kind[0].upper()}-{k:08d}", opened, opened))
        buys.setdefault(c, []).append(opened)
    invitations: list[tuple] = []
    for k in range(n_invitations):
        c = customers[rnd.randrange(len(customers))]
        sent = NOW - timedelta(days=rnd.uniform(1, 400))
        survey = "sales" if rnd.random() < 0.5 else "service"
        invitations.append((f"{survey[:2].upper()}-{k:08d}", c[0], c[1], survey, (sent - timedelta(days=7)).date(), "sent", sent, sent, sent, sent))
    # The rule, per dealer clock: the earliest qualifying lead of each customer is invited.
    windows = {}
    for code, tz in dealer_zones:
        z = ZoneInfo(tz)
        day = NOW.astimezone(z).date()
        start = datetime.combine(day - timedelta(days=FROM_DAYS), datetime.min.time(), tzinfo=z).astimezone(UTC)
        end = datetime.combine(day - timedelta(days=TO_DAYS), datetime.min.time(), tzinfo=z).astimezone(UTC)
        windows[code] = (start, end)
    best: dict[int, tuple[datetime, str]] = {}
    in_window = 0
    for li, (lid, dealer, _cid, at, _src, private, permission, _h, _c) in enumerate(leads):
        start, end = windows[dealer]
        if not start <= at < end:
            continue
        in_window += 1
        c = lead_customer[li]
        if not (private and permission and has_email[c]):
            continue
        if any(b >= at for b in buys.get(c, ())):
            continue
        key = (at, lid)
        if c not in best or key < best[c]:
            best[c] = key
    expected = {"LS-" + lid for _at, lid in best.values()}
    return customers, leads, activities, invitations, expected, in_window


def _sqlite_value(v: object) -> object:
    # As SQLAlchemy stores UtcDateTime on SQLite: naive UTC text, always with microseconds.
    if isinstance(v, datetime):
        return v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def fill_sqlite(path: str, customers: list[tuple], leads: list[tuple], activities: list[tuple], invitations: list[tuple]) -> None:
    con = sqlite3.connect(path)
    try:
        with con:
            for table, cols, rows in (("customers", CUSTOMER_COLUMNS, customers), ("leads", LEAD_COLUMNS, leads), ("activities", ACTIVITY_COLUMNS, activities),
                                      ("invitations", INVITATION_COLUMNS, invitations)):
                marks = ", ".join("?" * len(cols))
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"
                for i in range(0, len(rows), 50_000):
                    con.executemany(sql, [tuple(map(_sqlite_value, r)) for r in rows[i : i + 50_000]])
        con.execute("ANALYZE")
    finally:
        con.close()


async def fill_postgres(dsn: str, customers: list[tuple], leads: list[tuple], activities: list[tuple], invitations: list[tuple]) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("customers", records=customers, columns=list(CUSTOMER_COLUMNS))
        await conn.copy_records_to_table("leads", records=leads, columns=list(LEAD_COLUMNS))
        await conn.copy_records_to_table("activities", records=activities, columns=list(ACTIVITY_COLUMNS))
        if invitations:
            await conn.copy_records_to_table("invitations", records=invitations, columns=list(INVITATION_COLUMNS))
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def _child(kind: str, target: str, n_leads: int, n_orders: int, n_invitations: int, dealer_zones: list[tuple[str, str]], out: Any) -> None:
    """Runs in a spawned process: generate, load, ANALYZE; send back what the parent checks."""
    customers, leads, activities, invitations, expected, in_window = generate(n_leads, n_orders, n_invitations, dealer_zones)
    if kind == "sqlite":
        fill_sqlite(target, customers, leads, activities, invitations)
    else:
        asyncio.run(fill_postgres(target, customers, leads, activities, invitations))
    out.send({"customers": len(customers), "leads": len(leads), "orders": len(activities), "in_window": in_window,
              "other_invitations": len(invitations), "expected": sorted(expected)})
    out.close()


def load_data(kind: str, target: str, n_leads: int, n_orders: int, n_invitations: int, dealer_zones: list[tuple[str, str]]) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(kind, target, n_leads, n_orders, n_invitations, dealer_zones, theirs))
    p.start()
    theirs.close()
    try:
        got = mine.recv()
    except EOFError:
        got = None
    p.join()
    if got is None or p.exitcode != 0:
        raise SystemExit(f"data loading failed (exit code {p.exitcode})")
    return got


# --- memory -----------------------------------------------------------------------------------


def _status(field: str) -> int:
    """A /proc/self/status field in bytes (0 where there is no /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
        return True
    except OSError:
        return False


class RssSampler:
    """Peak VmRSS seen by a thread sampling every `every` seconds."""

    def __init__(self, every: float = 0.005) -> None:
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _status("VmRSS"))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self.peak = _status("VmRSS")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _status("VmRSS"))


# --- the run ----------------------------------------------------------------------------------


class Breakdown:
    """Seconds and statement counts per kind of statement (prospects, claim, insert, …)."""

    def __init__(self, engine: Any) -> None:
        self.seconds: Counter[str] = Counter()
        self.count: Counter[str] = Counter()
        self.first_prospects: tuple[str, Any] | None = None
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before)
        event.listen(sync, "after_cursor_execute", self._after)

    @staticmethod
    def kind(sql: str) -> str:
        s = " ".join(sql.split()).lower()
        if s.startswith("select") and "from leads join customers" in s:
            return "prospects SELECT"
        if s.startswith("update leads"):
            return "claim UPDATE leads"
        if s.startswith("insert into invitations"):
            return "INSERT invitations"
        if s.startswith("insert into outbox"):
            return "INSERT outbox"
        words = s.split(" ")
        if words[0] == "select" and "from" in words:
            return f"SELECT … FROM {words[words.index('from') + 1]}"[:40]
        return " ".join(words[:3])[:40] or "?"

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        conn.info.setdefault("bench_t", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        t = conn.info["bench_t"].pop()
        k = self.kind(statement)
        self.seconds[k] += time.perf_counter() - t
        self.count[k] += 1
        if k == "prospects SELECT" and self.first_prospects is None:
            self.first_prospects = (statement, parameters)


async def explain(db: Database, kind: str, statement: str, parameters: Any) -> str:
    """The plan of the prospects query as the service sent it (run again after the selection, so
    the plan, not the result, is what this shows)."""
    async with db.read() as tx:
        raw = await tx.conn.get_raw_connection()
        drv = raw.driver_connection
        if kind == "sqlite":
            cur = await drv.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            rows = await cur.fetchall()
            return "\n".join(f"      {r[3]}" for r in rows)
        # asyncpg: $n placeholders, as SQLAlchemy's asyncpg dialect renders them.
        sql = statement
        args = list(parameters)
        rows = await drv.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
        return "\n".join(f"      {r[0]}" for r in rows)


async def measure(db_url: str, kind: str, target: str, n_leads: int, n_orders: int, opts: argparse.Namespace) -> dict[str, Any]:
    db = Database(db_url)
    try:
        cx = Context(db=db, rules=Rules(), clock=FixedClock(NOW))
        await migrate.upgrade(db)
        await dealers.load(cx, read_dealer_file(DEALERS_FILE))
        async with db.read() as tx:
            zones = [(r.code, r.time_zone) for r in await tx.conn.execute(text("SELECT code, time_zone FROM dealers ORDER BY code"))]
        await db.engine.dispose()
        t = time.perf_counter()
        data = await asyncio.to_thread(load_data, kind, target, n_leads, n_orders, opts.invitations, zones)
        setup = time.perf_counter() - t
        breakdown = Breakdown(db.engine) if opts.breakdown else None
        if opts.tracemalloc:
            import tracemalloc

            tracemalloc.start()
        gc.collect()
        hwm_reset = _reset_hwm()
        rss_before = _status("VmRSS")
        with RssSampler() as sampler:
            t = time.perf_counter()
            runs = await lost_sales.due(cx, "bench")
            seconds = time.perf_counter() - t
        hwm = _status("VmHWM") if hwm_reset else 0
        traced = 0
        if opts.tracemalloc:
            import tracemalloc

            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        invited = sorted(i for r in runs for i in r.invitations)
        async with db.read() as tx:
            stored = set((await tx.conn.execute(text("SELECT id FROM invitations WHERE survey = 'lost_sales'"))).scalars())
            claimed = (await tx.conn.execute(text("SELECT count(*) FROM leads WHERE invitation_id IS NOT NULL"))).scalar_one()
        plan = None
        if opts.explain and breakdown and breakdown.first_prospects:
            plan = await explain(db, kind, *breakdown.first_prospects)
        expected = set(data["expected"])
        ok = set(invited) == expected and stored == expected and claimed == len(expected) and len(invited) == len(set(invited))
        return {
            **data, "seconds": seconds, "setup": setup, "invited": len(invited), "stored": len(stored), "claimed": claimed,
            "dealers": {r.dealer: len(r.invitations) for r in runs}, "ok": ok,
            "missing": len(expected - stored), "extra": len(stored - expected),
            "rss_before": rss_before, "rss_peak": max(sampler.peak, hwm), "hwm": hwm, "sampled": sampler.peak, "traced": traced,
            "breakdown": breakdown, "plan": plan,
        }
    finally:
        await db.close()


def run_sqlite(n_leads: int, n_orders: int, opts: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="cxbench-lostsales-"))
    try:
        path = work / "bench.db"
        return asyncio.run(measure(f"sqlite+aiosqlite:///{path}", "sqlite", str(path), n_leads, n_orders, opts))
    finally:
        shutil.rmtree(work, ignore_errors=True)



def run_postgres(base: str, n_leads: int, n_orders: int, opts: argparse.Namespace) -> dict[str, Any]:
    url = make_url(base)
    name = f"cxbench_lostsales_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    dsn = url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    asyncio.run(pg_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        return asyncio.run(measure(url.set(database=name).render_as_string(hide_password=False), "postgres", dsn, n_leads, n_orders, opts))
    finally:
        asyncio.run(pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def report(label: str, r: dict[str, Any]) -> None:
    rate = r["invited"] / r["seconds"] if r["seconds"] else 0.0
    others = f", {r['other_invitations']:,} sales/service invitations" if r["other_invitations"] else ""
    print(f"  {label:<8} {r['leads']:>9,} leads ({r['customers']:,} customers, {r['in_window']:,} in the window), {r['orders']:,} orders{others}  [setup {r['setup']:.0f} s]")
    print(f"  {label:<8} selection: {r['seconds']:7.2f} s for {r['invited']:,} invitations ({rate:,.0f} prospects/s; "
          + ", ".join(f"{d} {n:,}" for d, n in sorted(r["dealers"].items())) + ")")
    mem = f"RSS before {mb(r['rss_before'])}, peak during {mb(r['rss_peak'])} (+{mb(r['rss_peak'] - r['rss_before'])}"
    mem += f"; sampled {mb(r['sampled'])}, VmHWM {mb(r['hwm'])})" if r["hwm"] else "; sampled)"
    if r["traced"]:
        mem += f", tracemalloc peak {mb(r['traced'])}"
    print(f"  {label:<8} memory: {mem}")
    verdict = "OK" if r["ok"] else f"MISMATCH (missing {r['missing']:,}, extra {r['extra']:,}, claimed leads {r['claimed']:,}, returned {r['invited']:,})"
    print(f"  {label:<8} check: {len(r['expected']):,} expected by the rule, {r['stored']:,} stored: {verdict}")
    b = r["breakdown"]
    if b is not None:
        for k, s in b.seconds.most_common():
            print(f"  {label:<8}   {k:<28} {b.count[k]:>6,} statements {s:8.2f} s")
    if r["plan"]:
        print(f"  {label:<8} plan of the first prospects query:\n{r['plan']}")
    sys.stdout.flush()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--leads", type=int, default=1_000_000, help="test-drive leads (default 1,000,000)")
    p.add_argument("--orders", type=int, default=200_000, help="sales orders and purchases (default 200,000)")
    p.add_argument("--only", choices=["sqlite", "postgres"], help="run one database only")
    p.add_argument("--postgres", default=DEFAULT_PG, metavar="URL", help=f"PostgreSQL server (default {DEFAULT_PG})")
    p.add_argument("--invitations", type=int, default=0, metavar="N",
                   help="sales/service invitations already there when ANALYZE runs, as in a live database (default 0)")
    p.add_argument("--breakdown", action="store_true", help="time each kind of SQL statement of the run")
    p.add_argument("--explain", action="store_true", help="print the plan of the first prospects query (implies --breakdown)")
    p.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slows the run)")
    args = p.parse_args()
    args.breakdown = args.breakdown or args.explain
    logs.configure("warning")
    print(f"lost-sales selection: {args.leads:,} leads, {args.orders:,} orders, run at {NOW:%Y-%m-%d %H:%M} UTC; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    failed = False
    for label in ("sqlite", "postgres"):
        if args.only and args.only != label:
            continue
        r = run_sqlite(args.leads, args.orders, args) if label == "sqlite" else run_postgres(args.postgres, args.leads, args.orders, args)
        report(label, r)
        failed |= not r["ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
