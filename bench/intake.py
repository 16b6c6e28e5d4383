"""Intake benchmark: a real `cxbot serve` in its own process, fed over HTTP from this one.

    python bench/intake.py                      # fresh temp SQLite database (the default)
    python bench/intake.py --postgres           # fresh database on postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python bench/intake.py --postgres URL       # ... on another server (a database of its own is created, then dropped)
    python bench/intake.py --url http://127.0.0.1:8080 --key KEY [--pid PID]   # a server that is already running
    python bench/intake.py --runs 5             # five runs, each on a fresh server and database, then their medians

Loads the example dealers, starts the server and times process start → GET /healthz 200, then
posts --n realistic responses (sales, service and lost-sales answers, about 30 % raising Hot
Alerts, some detractors, several answers per customer, three dealers) in batches of --batch over
--concurrency keep-alive connections. Every request body is built before the clock starts.
Prints responses/s, p50/p99 request latency, the server's CPU time per response (utime+stime of
its process, from /proc), its peak RSS (VmHWM), the startup time and the alerts raised.

This machine's speed drifts by up to 2x between sittings, at times more and within one: CPU per
response is the steadier figure, and "machine speed" (a fixed piece of Python work timed before
and after the run) says roughly how fast the machine was. One run takes two seconds, and the
machine's speed moves within seconds too: --runs N repeats the whole run (fresh server, fresh
database) and ends with the median and range of each figure.
Not a test: pytest collects tests/ only, and nothing here is named test_*.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pgadmin import pg_execute  # bench/pgadmin.py, beside this script
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DEALERS_FILE = ROOT / "bot" / "examples" / "dealers.toml"
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GOALS = {"rate": 5000.0, "cpu_us": 200.0, "rss_mb": 150.0, "startup_s": 2.0}


class BenchFailed(Exception):
    """Stop the benchmark with this message (exit code 1)."""


# ---- realistic responses ---------------------------------------------------------------------

# (dealer, language, e-mail domain of its staff, phone prefix, share of the customers)
DEALERS = [
    ("DK-1001", "da", "autohuset-vest.example", "+45", 0.45),
    ("DE-2001", "de", "autohaus-brandt.example", "+49", 0.40),
    ("DK-5001", "da", "fyns-bilservice.example", "+45", 0.15),
]
FIRST = {
    "da": ["Anne", "Peter", "Mette", "Jens", "Sofie", "Lars", "Camilla", "Rasmus", "Ida", "Søren", "Freja", "Mads"],
    "de": ["Julia", "Markus", "Anna", "Stefan", "Lena", "Thomas", "Katrin", "Jürgen", "Sabine", "Lukas", "Miriam", "Felix"],
}
LAST = {
    "da": ["Sørensen", "Friis", "Nielsen", "Jensen", "Hansen", "Pedersen", "Bech", "Andersen", "Kristensen", "Mølgaard"],
    "de": ["Weber", "Hoffmann", "Müller", "Schmidt", "Schneider", "Fischer", "Wagner", "Becker", "Schulz", "Krüger"],
}
COMPANY = {"da": ["Bobs Trykkeri ApS", "Vestjysk VVS A/S", "Fyns Blomster ApS"], "de": ["Brandt Logistik GmbH", "Elbe Bau KG", "Nordsee Fisch GmbH"]}
COMMENTS = {
    "da": {
        "bad": ["Bilen var ikke klar ved aftalt tid, og ingen ringede.", "Ventetiden var alt for lang.", "Lyden er der stadig efter reparationen.", "Ingen fulgte op på mit tilbud."],
        "good": ["Hurtig og venlig service.", "Rigtig god oplevelse, tak!", "Sælgeren var meget kompetent.", "Alt var som aftalt."],
    },
    "de": {
        "bad": ["Das Geräusch ist nach der Reparatur immer noch da.", "Niemand hat zurückgerufen.", "Die Übergabe war chaotisch.", "Viel zu lange gewartet."],
        "good": ["Schneller und freundlicher Service.", "Sehr gute Beratung.", "Alles wie vereinbart, danke!", "Top Werkstatt."],
    },
}
SCORES = {
    "sales": ["overall", "salesperson", "delivery", "financing"],
    "service": ["overall", "repair_quality", "waiting_time", "communication"],
}


@dataclass
class Customer:
    dealer: str
    language: str
    domain: str
    phone: str
    id: str
    kind: str
    name: str
    email: str
    number: str


@dataclass
class Workload:
    bodies: list[bytes]
    responses: int
    surveys: Counter[str]
    customers: int
    hot_expected: int  # responses that raise a Hot Alert under the default rules
    so_expected: int  # lost-sales responses that raise a Sales Opportunity under the default rules
    detractor_answers: int  # answers with NPS <= 6


def _customers(rng: random.Random, count: int) -> list[Customer]:
    out = []
    for n in range(count):
        code, lang, domain, phone, _ = rng.choices(DEALERS, weights=[d[4] for d in DEALERS])[0]
        if rng.random() < 0.1:
            kind, name = "company", f"{rng.choice(COMPANY[lang])} {n}"
            email = f"info{n}@{name.split()[0].lower()}.example"
        else:
            first, last = rng.choice(FIRST[lang]), rng.choice(LAST[lang])
            kind, name, email = "person", f"{first} {last}", f"{first}.{last}.{n}@example.net".lower()
        prefix = {"DK-1001": "K", "DE-2001": "C", "DK-5001": "F"}[code]
        out.append(Customer(code, lang, domain, phone, f"{prefix}-{100000 + n}", kind, name, email, str(100000 + n)))
    return out


def _response(rng: random.Random, rid: str, c: Customer, now: datetime) -> tuple[dict[str, Any], bool, bool, bool]:
    """One answer as a survey platform sends it; and whether it should raise a Hot Alert, a Sales
    Opportunity, and whether its NPS is a detractor score (default rules)."""
    survey = rng.choices(["sales", "service", "lost_sales"], weights=[40, 45, 15])[0]
    submitted = now - timedelta(minutes=rng.randint(10, 60 * 24 * 60))
    r: dict[str, Any] = {
        "id": rid,
        "survey": survey,
        "dealer_id": c.dealer,
        "submitted_at": submitted.replace(microsecond=0).isoformat(),
        "customer": {"id": c.id, "kind": c.kind, "name": c.name, "email": c.email, "language": c.language, "customer_number": c.number},
    }
    if rng.random() < 0.6:
        r["customer"]["phones"] = {"mobile": f"{c.phone} {rng.randint(20000000, 99999999)}"}
    if c.kind == "company" and rng.random() < 0.7:
        r["contact"] = {"name": f"{rng.choice(FIRST[c.language])} {rng.choice(LAST[c.language])}", "email": f"kontakt@{c.email.split('@')[1]}"}
    hot = so = detractor = False
    if survey in ("sales", "service"):
        low = rng.random() < 0.22  # detractor NPS: also a Hot Alert
        nps = rng.randint(0, 6) if low else rng.choices([7, 8, 9, 10], weights=[15, 25, 30, 30])[0]
        names = rng.sample(SCORES[survey], rng.randint(2, 4))
        bad_score = rng.random() < 0.08
        scores = {k: rng.randint(3, 5) for k in names}
        if bad_score:
            scores[names[0]] = rng.randint(1, 2)
        contact = rng.random() < 0.07
        r |= {"nps": nps, "scores": scores, "publish_consent": rng.random() < 0.3}
        r["answers"] = {"contact_requested": contact, "recommend_reason": "price" if nps < 7 else "staff"}
        r["comment"] = rng.choice(COMMENTS[c.language]["bad" if low or bad_score else "good"])
        hot, detractor = low or bad_score or contact, low
        if survey == "sales":
            r["purchase_date"] = (submitted - timedelta(days=rng.randint(3, 30))).date().isoformat()
            r["customer"]["salesperson_email"] = f"saelger{rng.randint(1, 4)}@{c.domain}"
        else:
            r["service_date"] = (submitted - timedelta(days=rng.randint(1, 10))).date().isoformat()
            r["segment"] = rng.choice([1, 2, 3])
    else:
        requested = submitted - timedelta(days=rng.randint(5, 90))
        r["test_drive_requested_at"] = requested.replace(microsecond=0).isoformat()
        r["test_drive_source"] = rng.choice(["website", "showroom", "phone"])
        bought = rng.random() < 0.3
        if bought:
            r["purchased_at"] = (requested + (submitted - requested) / 2).replace(microsecond=0).isoformat()
        considering, wants = rng.random() < 0.7, rng.random() < 0.6
        r["answers"] = {"still_considering": considering, "wants_contact": wants, "reason_not_bought": rng.choice(["price", "waiting for a better offer", "bought elsewhere", "delivery time"])}
        if rng.random() < 0.5:
            r["nps"] = rng.randint(3, 10)
            detractor = r["nps"] <= 6
        so = not bought and considering and wants
    return r, hot, so, detractor


def build_workload(n: int, batch: int, seed: int, tag: str) -> Workload:
    """n responses from n/3 customers (so most customers answer several times, in no particular
    time order), as request bodies of `batch` responses each."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    customers = _customers(rng, max(1, n // 3))
    items: list[dict[str, Any]] = []
    surveys: Counter[str] = Counter()
    hot = so = det = 0
    for i in range(n):
        r, h, s, d = _response(rng, f"bench-{tag}-{i:07d}", rng.choice(customers), now)
        items.append(r)
        surveys[r["survey"]] += 1
        hot, so, det = hot + h, so + s, det + d
    bodies = [json.dumps({"responses": items[i : i + batch]}, ensure_ascii=False).encode() for i in range(0, n, batch)]
    return Workload(bodies, n, surveys, len({r["customer"]["id"] for r in items}), hot, so, det)


# ---- the server process ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all its threads), from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "; fields[0] is the state
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchFailed(f"no VmHWM in /proc/{pid}/status")


def listening_pid(port: int) -> int | None:
    """The local process listening on TCP `port`, found through /proc (for --url on this machine)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


@dataclass
class Server:
    url: str
    key: str
    pid: int | None
    startup_s: float | None = None
    database: str = "(already running)"
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    cleanups: list[Any] = field(default_factory=list)

    def log_tail(self, lines: int = 30) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _env(database_url: str, key: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CXBOT_DATABASE_URL=database_url,
        CXBOT_API_KEYS=key,
        CXBOT_HTTP_HOST="127.0.0.1",
        CXBOT_HTTP_PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    return env


def _pg_urls(base: str, name: str) -> tuple[str, str, str]:
    """(asyncpg DSN of the maintenance database, asyncpg DSN of the new one, SQLAlchemy URL of the new one)."""
    url = make_url(base)
    if url.get_backend_name() != "postgresql":
        raise BenchFailed(f"--postgres needs a postgresql+asyncpg:// URL, got {base!r}")

    def dsn(u: Any) -> str:
        return str(u.set(drivername="postgresql").render_as_string(hide_password=False))

    new = url.set(database=name)
    return dsn(url), dsn(new), str(new.render_as_string(hide_password=False))



def start_server(database_url: str, workdir: Path) -> Server:
    key = "bench-" + secrets.token_urlsafe(24)
    port = free_port()
    env = _env(database_url, key, port)
    loaded = subprocess.run(
        [sys.executable, "-m", "bot", "dealers", "load", str(DEALERS_FILE)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if loaded.returncode != 0:
        raise BenchFailed(f"`cxbot dealers load` failed ({loaded.returncode}):\n{loaded.stdout}{loaded.stderr}")
    log = workdir / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url, key, proc.pid, proc=proc, log=log)
    with httpx.Client(timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise BenchFailed(f"`cxbot serve` exited with code {proc.returncode} before /healthz answered:\n{server.log_tail()}")
            try:
                if client.get(url + "/healthz").status_code == 200:
                    server.startup_s = time.perf_counter() - t0
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() - t0 > 60:
                stop_server(server)
                raise BenchFailed(f"/healthz did not answer 200 within 60 s:\n{server.log_tail()}")
            time.sleep(0.005)
    return server


def stop_server(server: Server) -> None:
    proc = server.proc
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- the timed phase -------------------------------------------------------------------------


@dataclass
class Outcome:
    elapsed_s: float
    latencies_s: list[float]
    alerts: Counter[str]
    accepted: int
    duplicates: int


async def post_all(url: str, key: str, bodies: list[bytes], concurrency: int) -> Outcome:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    alerts: Counter[str] = Counter()
    totals = {"accepted": 0, "duplicates": 0}
    queue = iter(range(len(bodies)))
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120.0) as client:
        # Open the keep-alive connections before the clock starts.
        await asyncio.gather(*(client.get("/healthz") for _ in range(concurrency)))

        async def worker() -> None:
            for i in queue:  # one shared iterator: each body is sent once
                t = time.perf_counter()
                answer = await client.post("/api/v1/responses", content=bodies[i])
                took = time.perf_counter() - t
                if answer.status_code != 202:
                    raise BenchFailed(f"request {i} answered {answer.status_code}, not 202: {answer.text[:2000]}")
                data = answer.json()
                latencies.append(took)
                totals["accepted"] += data["accepted"]
                totals["duplicates"] += data["duplicates"]
                alerts.update(a["kind"] for a in data["alerts"])

        start = time.perf_counter()
        tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
        elapsed = time.perf_counter() - start
    return Outcome(elapsed, latencies, alerts, totals["accepted"], totals["duplicates"])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


# ---- main ------------------------------------------------------------------------------------


def reference_loop_ms() -> float:
    """CPU time of a fixed piece of Python work like the server's (small dicts and strings made,
    encoded, decoded and thrown away), best of three. This machine's speed drifts, at times
    within a sitting, and a bare arithmetic loop does not show it: this does, roughly."""
    rows = [{"id": f"r-{i}", "nps": i % 11, "scores": {"overall": i % 5 + 1}, "comment": "Bilen var ikke klar" * (i % 3)} for i in range(300)]
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        for _ in range(20):
            back = json.loads(json.dumps(rows))
            _ = sorted((r["id"], dict(r, seen=True)) for r in back)
        best = min(best, time.process_time() - t)
    return best * 1e3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=10_000, help="responses to post (default 10000)")
    p.add_argument("--batch", type=int, default=100, help="responses per request (default 100)")
    p.add_argument("--concurrency", "-c", type=int, default=4, help="concurrent keep-alive connections (default 4)")
    p.add_argument("--postgres", nargs="?", const=DEFAULT_PG, default=None, metavar="URL", help=f"run the server on PostgreSQL (default URL {DEFAULT_PG}); a database of its own is created and dropped")
    p.add_argument("--url", help="target a server that is already running, e.g. http://127.0.0.1:8080")
    p.add_argument("--key", help="API key for --url (intake or admin scope, every dealer)")
    p.add_argument("--pid", type=int, help="with --url: the server's pid, for CPU and RSS (default: the local process listening on the port)")
    p.add_argument("--seed", type=int, default=42, help="seed of the generated responses (default 42)")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (SQLite file, server log)")
    p.add_argument("--runs", type=int, default=1, help="repeat the whole run N times (fresh server and database each) and summarise (default 1)")
    args = p.parse_args(argv)
    if args.url and not args.key:
        p.error("--url needs --key")
    if args.url and args.postgres:
        p.error("--url and --postgres exclude each other")
    if args.n < 1 or args.batch < 1 or args.concurrency < 1 or args.runs < 1:
        p.error("--n, --batch, --concurrency and --runs must be at least 1")
    return args


def _goal(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run(args: argparse.Namespace, figures: list[dict[str, float]]) -> int:
    """One run, printed; its figures are appended to `figures` (for --runs)."""
    tag = secrets.token_hex(3)
    workdir = Path(tempfile.mkdtemp(prefix="cxbench-"))
    server: Server | None = None
    pg_drop: tuple[str, str] | None = None
    try:
        if args.url:
            where = urlsplit(args.url)
            local = where.hostname in ("127.0.0.1", "localhost", "::1")
            pid = args.pid or (listening_pid(where.port or 80) if local else None)
            server = Server(args.url.rstrip("/"), args.key, pid)
        elif args.postgres:
            name = f"cxbench_{os.getpid()}"
            admin, _, sa_url = _pg_urls(args.postgres, name)
            asyncio.run(pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}"'))
            asyncio.run(pg_execute(admin, f'CREATE DATABASE "{name}"'))
            pg_drop = (admin, name)
            server = start_server(sa_url, workdir)
            server.database = make_url(sa_url).render_as_string(hide_password=True)
        else:
            db = workdir / "bench.db"
            server = start_server(f"sqlite+aiosqlite:///{db}", workdir)
            server.database = f"sqlite+aiosqlite:///{db}"

        print("cxbot intake benchmark")
        print(f"  measures : `cxbot serve` ({'already running' if args.url else 'started by this script, example dealers loaded'})")
        print("             fed over HTTP by this separate client process (httpx, keep-alive);")
        print("             POST /api/v1/responses, every answer must be 202; request bodies built before timing")
        print(f"  server   : {server.url}  pid {server.pid or '? (CPU/RSS not measured)'}")
        print(f"  database : {server.database}")
        print(f"  load     : {args.n} responses in batches of {args.batch}, {args.concurrency} concurrent connections")
        print(f"  machine  : {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
              f"load average {os.getloadavg()[0]:.2f} (other work on the machine inflates every figure)")

        t = time.perf_counter()
        work = build_workload(args.n, args.batch, args.seed, tag)
        mix = ", ".join(f"{k} {v}" for k, v in sorted(work.surveys.items()))
        print(f"  workload : {mix}; {work.customers} customers over DK-1001/DE-2001/DK-5001; "
              f"{len(work.bodies)} bodies, {sum(map(len, work.bodies)) / 1e6:.1f} MB (built in {time.perf_counter() - t:.2f} s)")
        print(f"             by the default rules: {work.hot_expected} Hot Alerts ({100 * work.hot_expected / args.n:.0f} %), "
              f"{work.so_expected} Sales Opportunities, {work.detractor_answers} detractor answers")
        print(flush=True)

        speed0 = reference_loop_ms()
        cpu0 = cpu_seconds(server.pid) if server.pid else None
        me0 = resource.getrusage(resource.RUSAGE_SELF)
        outcome = asyncio.run(post_all(server.url, server.key, work.bodies, args.concurrency))
        me1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu1 = cpu_seconds(server.pid) if server.pid else None
        rss = peak_rss_mb(server.pid) if server.pid else None
        speed1 = reference_loop_ms()

        if outcome.accepted != args.n or outcome.duplicates:
            raise BenchFailed(f"the server accepted {outcome.accepted} of {args.n} responses ({outcome.duplicates} duplicates)")
        rate = args.n / outcome.elapsed_s
        on_sqlite = None if args.url else server.database.startswith("sqlite")
        rate_goal = {True: _goal(rate >= GOALS["rate"]), False: "n/a (goal is for SQLite)", None: "(database not known here)"}[on_sqlite]
        p50, p99 = percentile(outcome.latencies_s, 50), percentile(outcome.latencies_s, 99)
        client_us = ((me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)) / args.n * 1e6

        print("results")
        print(f"  throughput       : {rate:8.0f} responses/s   ({args.n} in {outcome.elapsed_s:.2f} s)            goal >= {GOALS['rate']:.0f}/s on SQLite: {rate_goal}")
        print(f"  request latency  : p50 {p50 * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, max {max(outcome.latencies_s) * 1e3:.1f} ms  ({len(outcome.latencies_s)} requests of {args.batch})")
        if cpu0 is not None and cpu1 is not None:
            us = (cpu1 - cpu0) / args.n * 1e6
            print(f"  server CPU       : {us:8.0f} µs/response  ({cpu1 - cpu0:.2f} s user+sys, tick {1000 / CLK_TCK:.0f} ms)   goal <= {GOALS['cpu_us']:.0f} µs: {_goal(us <= GOALS['cpu_us'])}")
        else:
            print("  server CPU       : not measured (no pid: pass --pid)")
        if rss is not None:
            print(f"  server peak RSS  : {rss:8.1f} MB (VmHWM)                              goal <= {GOALS['rss_mb']:.0f} MB: {_goal(rss <= GOALS['rss_mb'])}")
        if server.startup_s is not None:
            print(f"  startup→/healthz : {server.startup_s:8.2f} s (process start to first 200, migrated database)    goal <= {GOALS['startup_s']:.0f} s: {_goal(server.startup_s <= GOALS['startup_s'])}")
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(outcome.alerts.items())) or "none"
        print(f"  alerts raised    : {sum(outcome.alerts.values())} ({kinds})")
        print(f"  client CPU       : {client_us:8.0f} µs/response (this process; shares the {os.cpu_count()} CPUs with the server)")
        print(f"  load average     : {os.getloadavg()[0]:8.2f} after the run (1 min; {os.cpu_count()} CPUs)")
        print(f"  machine speed    : {speed0:8.0f} ms before, {speed1:.0f} ms after: a fixed piece of Python work (CPU figures scale with it)")
        figures.append({
            "throughput (responses/s)": rate,
            "p99 latency (ms)": p99 * 1e3,
            **({"server CPU (µs/response)": (cpu1 - cpu0) / args.n * 1e6} if cpu0 is not None and cpu1 is not None else {}),
            **({"peak RSS (MB)": rss} if rss is not None else {}),
            **({"startup→/healthz (s)": server.startup_s} if server.startup_s is not None else {}),
            "machine speed (ms)": max(speed0, speed1),
        })
        return 0
    except BenchFailed as e:
        print(f"\nBENCHMARK FAILED: {e}", file=sys.stderr)
        if server is not None and server.proc is not None:
            tail = server.log_tail()
            if tail:
                print(f"--- server log (last lines) ---\n{tail}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            stop_server(server)
        if pg_drop is not None:
            admin, name = pg_drop
            try:
                asyncio.run(pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as e:  # leave a note rather than hide the benchmark's own result
                print(f"warning: could not drop database {name}: {e}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def summary(figures: list[dict[str, float]]) -> None:
    print(f"\nsummary of {len(figures)} runs (median, then the range)")
    for name in figures[0]:
        values = sorted(f[name] for f in figures if name in f)
        median = values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2
        digits = 0 if median >= 100 else 1 if median >= 10 else 2
        print(f"  {name:26s}: {median:10.{digits}f}   ({values[0]:.{digits}f} – {values[-1]:.{digits}f})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures: list[dict[str, float]] = []
    for i in range(args.runs):
        if args.runs > 1:
            print(f"\n=== run {i + 1} of {args.runs} ===", flush=True)
        code = run(args, figures)
        if code:
            return code
    if args.runs > 1:
        summary(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
