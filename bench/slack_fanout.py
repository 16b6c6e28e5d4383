"""Slack fan-out benchmark: alerts → outbox → dispatcher → a fake Slack Web API in its own process,
and signed button clicks → /slack/events → views.open.

    python bench/slack_fanout.py                        # fresh temp SQLite database; both pacing runs + clicks
    python bench/slack_fanout.py --postgres             # a fresh database of its own on postgresql+asyncpg://postgres@127.0.0.1:5432
    python bench/slack_fanout.py --pacing off           # only the unpaced run (the dispatcher's own ceiling)
    python bench/slack_fanout.py --pacing on --paced-alerts 10000
    python bench/slack_fanout.py --clicks 0             # skip the button part
    python bench/slack_fanout.py --profile /tmp/sf      # cProfile (CPU timer) the unpaced dispatch and the clicks
    python bench/slack_fanout.py --spy /tmp/sf.raw      # py-spy the unpaced dispatch (all threads; pip install py-spy)
    python bench/slack_fanout.py --click-rate 0         # clicks closed loop (a saturation test) instead of open loop at 20/s
    python bench/slack_fanout.py --pacing none          # only the clicks
    python bench/slack_fanout.py --live --pacing off    # intake and dispatcher at the same time (latency as in `serve`)
    python bench/slack_fanout.py --try-bolt-session     # experiment: bolt's Web API client gets one shared HTTP session

What runs where:
- this process: the real product code — bot.services.dealers.load (200 dealers, each with its own
  Slack channel, over 20 workspaces, and one staff member per dealer with a Slack identity),
  bot.services.intake.ingest (Hot-Alert responses in batches of 100, one transaction each; each
  alert's time.monotonic() is taken when its batch committed), notifications.dispatcher.Dispatcher
  (SlackSender with one shared aiohttp session, 8 concurrent sends), and for the clicks the whole app
  (bot.app.build_runtime: FastAPI + slack-bolt + the dispatcher) under uvicorn on 127.0.0.1;
- a separate process: the fake Slack Web API (`python -m tests.fakes.slack_api --port 0`), so its
  CPU is not the dispatcher's. Its recorded calls (with `at` = time.monotonic() on arrival; one clock
  for every process on Linux) are read through its control API at the end of each part.
- another process (default; `--click-client inline` keeps it here): the httpx client that sends the
  signed clicks, so the app's CPU per click is the app's alone. Clicks go open loop at --click-rate
  per second (default 20: a busy hour for hundreds of dealers is far below that), or with
  --click-rate 0 closed loop over --click-connections connections (the next as soon as the last was
  answered). Closed loop is a saturation test: bolt answers before its listener's work is done, so
  clicks arrive faster than the listeners finish and views.open then measures the backlog's wait;
  it gives the app's capacity in clicks/s, and the latency goals are read open loop.

Latency "creation → received" is from the commit of the alert's intake batch to the fake receiving
its chat.postMessage (matched by the alert id in the message text). In the default backlog mode every
alert is created before the dispatcher starts (as the issue asks), so that figure includes the time
the alert waited for intake to finish; "dispatch start → received" is printed next to it.
`--live` instead runs intake and the dispatcher at the same time (woken by intake, as `serve` does).

This machine's speed drifts by up to 2x between sittings: compare rates only within one run and read
the CPU time per item next to every rate. Not a test: pytest collects tests/ only.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import platform
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

for _name in [k for k in os.environ if k.startswith("CXBOT_")]:
    del os.environ[_name]  # a developer's own settings must not leak into the benchmark's app

import aiohttp  # noqa: E402
import httpx  # noqa: E402
import uvicorn  # noqa: E402

from bot import logs  # noqa: E402
from bot.domain.clock import SystemClock  # noqa: E402
from bot.domain.directory import DealerEntry, DealerSpec, Directory, PersonSpec, RouteSpec  # noqa: E402
from bot.domain.rules import Rules  # noqa: E402
from bot.domain.values import CustomerIn, Kind, Phones, Role, Survey, SurveyResponse  # noqa: E402
from bot.services import Context, dealers, intake  # noqa: E402
from notifications.dispatcher import DispatchSettings, Dispatcher  # noqa: E402
from notifications.pacing import SlackPaces  # noqa: E402
from notifications.slack import ids  # noqa: E402
from notifications.slack.client import SlackSender  # noqa: E402
from storage import migrate  # noqa: E402
from storage.database import Database  # noqa: E402
from pgadmin import pg_execute  # noqa: E402  (bench/pgadmin.py, beside this script)

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
CLK_TCK = os.sysconf("SC_CLK_TCK")
BOT_TOKEN = "xoxb-bench-single-workspace"
SIGNING_SECRET = "bench-signing-secret-0123456789abcdef"
GOALS = {"rate": 2000.0, "answer_p99_ms": 25.0, "modal_p99_ms": 50.0}
ALERT_ID = re.compile(r"\b(HA-\d+)\b")


class BenchFailed(Exception):
    """Stop the benchmark with this message (exit code 1)."""


# ---- small helpers -----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


def ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {percentile(values, 50) * 1e3:7.1f} ms, p99 {percentile(values, 99) * 1e3:7.1f} ms, max {max(values) * 1e3:7.1f} ms"


def proc_cpu(pid: int) -> float:
    """utime + stime of a whole process (all its threads), from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, grouped: the event loop (main), aiosqlite's worker
    threads (SQLite itself: SQL, commits), and any others."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    main = threading.main_thread().native_id
    out: Counter[str] = Counter()
    for task in Path("/proc/self/task").iterdir():
        try:
            raw = (task / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        tid = int(task.name)
        name = names.get(tid, "")
        group = "event loop" if tid == main else ("sqlite threads" if "_connection_worker_thread" in name else "other threads")
        out[group] += cpu
    return dict(out)


def goal(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# ---- the fake Slack Web API in its own process -------------------------------------------------


@dataclass
class FakeProcess:
    proc: subprocess.Popen[str]
    url: str  # http://127.0.0.1:PORT/api/
    base: str  # http://127.0.0.1:PORT
    http: aiohttp.ClientSession | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    async def count(self, method: str) -> int:
        assert self.http is not None
        async with self.http.get(f"{self.base}/_fake/calls", params={"method": method, "since": "1000000000"}) as r:
            return int((await r.json())["count"])

    async def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        assert self.http is not None
        params = {"method": method} if method else {}
        async with self.http.get(f"{self.base}/_fake/calls", params=params) as r:
            return list((await r.json())["calls"])

    async def reset(self) -> None:
        assert self.http is not None
        async with self.http.post(f"{self.base}/_fake/reset") as r:
            r.raise_for_status()

    async def wait_for(self, method: str, n: int, timeout: float, poll: float = 0.02) -> None:
        deadline = time.monotonic() + timeout
        while True:
            got = await self.count(method)
            if got >= n:
                return
            if time.monotonic() > deadline:
                raise BenchFailed(f"waited {timeout:.0f} s for {n} {method} calls at the fake, got {got}")
            await asyncio.sleep(poll)


def start_fake() -> FakeProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_api", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("http://"):
        proc.kill()
        rest = proc.stdout.read()
        raise BenchFailed(f"the fake Slack process did not print its URL: {line!r} {rest[-2000:]}")
    base = line.split("/api/")[0]
    return FakeProcess(proc, line, base)


def stop_fake(fake: FakeProcess) -> None:
    if fake.proc.poll() is None:
        fake.proc.send_signal(signal.SIGTERM)
        try:
            fake.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            fake.proc.kill()
            fake.proc.wait()


# ---- py-spy (sampling profiler of this process, all threads; `pip install py-spy`) --------------


def start_spy(path: str, native: bool = False) -> subprocess.Popen[bytes]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(os.getpid()), "--threads", "--rate", "250", "--format", "raw", "--output", path, *(["--native"] if native else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # let it attach before the clock starts
    if proc.poll() is not None:
        raise BenchFailed(f"py-spy did not start: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return proc


def stop_spy(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def spy_summary(path: str, top: int = 25) -> list[str]:
    """Self and inclusive shares of the samples py-spy took (collapsed stacks: `a;b;c count`)."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        head = frames[0]
        threads["event loop" if "MainThread" in head else "sqlite threads" if "_connection_worker_thread" in head else "other threads"] += n
        own[_frame(frames[-1])] += n
        for f in {_frame(f) for f in frames}:
            incl[f] += n
    if not total:
        return ["(no samples)"]
    out = [f"{total} samples of non-idle threads; by thread: " + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in threads.most_common(4))]
    out.append("(py-spy counts a thread inside a system call such as fsync, or waiting for the GIL, as busy: for CPU use the /proc split above)")
    out.append("self time:")
    out += [f"  {100 * v / total:5.1f} %  {k}" for k, v in own.most_common(top)]
    out.append("inclusive (frames of cxbot code and the libraries it calls):")
    keep = [(k, v) for k, v in incl.most_common() if any(m in k for m in ("notifications/", "storage/", "bot/", "slack_sdk", "aiosqlite", "sqlalchemy/engine", "sqlalchemy/ext/asyncio", "aiohttp/client", "asyncpg"))]
    out += [f"  {100 * v / total:5.1f} %  {k}" for k, v in keep[:top]]
    return out


def _frame(f: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"; keep function and short path.
    name, _, where = f.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


def profile_report(profile: cProfile.Profile, path: str, what: str, n: int) -> None:
    """Where the event-loop thread's CPU went, grouped by package, and the top functions."""
    profile.dump_stats(path)
    st = pstats.Stats(profile)
    by: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for (f, _line, _fn), (_cc, nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        by[_package(f)] += tt
        calls[_package(f)] += nc
    total = sum(by.values()) or 1e-9
    print(f"\n    cProfile of {what} (timer: CPU time of the event-loop thread; saved to {path}; profiling inflates it ~2-3x):")
    print(f"      {total:.2f} s CPU, {sum(calls.values()) / n:,.0f} Python function calls per item; by package (own time):")
    for k, v in by.most_common(16):
        print(f"      {100 * v / total:5.1f} %  {calls[k] / n:8,.0f} calls/item  {k}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("tottime").print_stats(20)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print("      top functions by own time:")
    print("\n".join("      " + line for line in lines[start:] if line.strip()))


def _package(f: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in f:
            parts = f.split(marker, 1)[1].split("/")
            return "/".join(parts[:2]) if parts[0] in ("sqlalchemy", "asyncio", "slack_sdk", "slack_bolt") and len(parts) > 1 else parts[0]
    if f.startswith(str(ROOT) + "/"):
        return "cxbot: " + f[len(str(ROOT)) + 1 :]
    if f.startswith("<frozen importlib"):
        return "importlib"
    return "builtins (C)" if f == "~" else f


# ---- the database ------------------------------------------------------------------------------



def _pg_urls(base: str, name: str) -> tuple[str, str]:
    """(asyncpg DSN of the maintenance database, SQLAlchemy URL of the new database)."""
    from sqlalchemy.engine import make_url

    url = make_url(base)
    if url.get_backend_name() != "postgresql":
        raise BenchFailed(f"--postgres needs a postgresql+asyncpg:// URL, got {base!r}")
    admin = str(url.set(drivername="postgresql").render_as_string(hide_password=False))
    new = str(url.set(database=name).render_as_string(hide_password=False))
    return admin, new


# ---- dealers, people, workload -----------------------------------------------------------------


@dataclass(frozen=True)
class DealerPlan:
    code: str
    team: str
    channel: str
    user: str  # the Slack user (in `team`) granted to this dealer as staff


def plan_dealers(n_dealers: int, n_workspaces: int) -> list[DealerPlan]:
    per = -(-n_dealers // n_workspaces)
    return [
        DealerPlan(f"BX-{i:04d}", f"T0BENCH{i // per:03d}", f"C0BX{i:05d}", f"U0BX{i:05d}")
        for i in range(n_dealers)
    ]


def directory(plan: list[DealerPlan]) -> Directory:
    entries = tuple(
        DealerEntry(
            DealerSpec(d.code, f"Bench Auto {d.code}", brand="Mazda", region=f"R{d.team[-3:]}", time_zone="Europe/Copenhagen", language="da"),
            routes=tuple(RouteSpec(k, d.team, d.channel) for k in Kind),
        )
        for d in plan
    )
    people = tuple(
        PersonSpec(f"staff.{d.code.lower()}@bench-dealer.example", f"Staff {d.code}", frozenset({(d.team, d.user)}), {d.code: Role.STAFF})
        for d in plan
    )
    return Directory(entries, people)


COMMENTS = [
    "Bilen var ikke klar ved aftalt tid, og ingen ringede.",
    "Ventetiden var alt for lang.",
    "Lyden er der stadig efter reparationen.",
    "Ingen fulgte op på mit tilbud.",
    "Das Geräusch ist nach der Reparatur immer noch da.",
]


def hot_responses(plan: list[DealerPlan], n: int, tag: str, start: int = 0) -> list[SurveyResponse]:
    """n answers that each raise exactly one alert, a Hot Alert (a low score or a contact request,
    NPS 7-10 so no Detractor alert), spread evenly over the dealers and interleaved so each batch
    holds many dealers, as a survey platform sends them."""
    now = datetime.now(timezone.utc)
    out = []
    for j in range(n):
        i = start + j
        d = plan[i % len(plan)]
        survey = Survey.SERVICE if i % 2 else Survey.SALES
        low = i % 3 != 0
        scores = {"overall": 4, "waiting_time" if survey is Survey.SERVICE else "salesperson": 1 if low else 4, "communication": 3}
        out.append(
            SurveyResponse(
                id=f"bench-{tag}-{i:07d}",
                survey=survey,
                dealer=d.code,
                submitted_at=now - timedelta(minutes=5 + i % 600),
                customer=CustomerIn(f"K-{tag}-{i:07d}", name=f"Kunde {i}", email=f"kunde{i}@example.net", phones=Phones(mobile=f"+45 2{i % 10_000_000:07d}"), language="da"),
                nps=7 + i % 4,
                scores=scores,
                comment=COMMENTS[i % len(COMMENTS)],
                answers={"contact_requested": not low},
                service_date=(now - timedelta(days=3)).date() if survey is Survey.SERVICE else None,
                purchase_date=(now - timedelta(days=10)).date() if survey is Survey.SALES else None,
            )
        )
    return out


async def ingest_all(cx: Context, responses: list[SurveyResponse], batch: int, created: dict[str, float]) -> tuple[float, float]:
    """Ingest in batches (one transaction each); each alert's creation time is its batch's commit.
    Returns (wall seconds, CPU seconds of this process)."""
    c0, t0 = time.process_time(), time.perf_counter()
    for k in range(0, len(responses), batch):
        part = responses[k : k + batch]
        result = await intake.ingest(cx, part)
        at = time.monotonic()
        if len(result.alerts) != len(part) or any(a.kind is not Kind.HOT_ALERT for a in result.alerts):
            kinds = Counter(a.kind.value for a in result.alerts)
            raise BenchFailed(f"a batch of {len(part)} Hot-Alert answers raised {dict(kinds)}")
        for a in result.alerts:
            created[a.id] = at
    return time.perf_counter() - t0, time.process_time() - c0


def make_dispatcher(cx: Context, sender: SlackSender, paces: SlackPaces | None, concurrency: int) -> Dispatcher:
    """The real Dispatcher with Slack delivery, whichever of its two shapes this tree has:
    Dispatcher(db, clock, [SlackDelivery(...)], settings) or the older Dispatcher(db, clock, sender, settings, paces)."""
    try:
        from notifications.slack.delivery import SlackDelivery
    except ImportError:
        return Dispatcher(cx.db, cx.clock, sender, DispatchSettings(concurrency=concurrency), paces)  # type: ignore[arg-type, call-arg]
    return Dispatcher(cx.db, cx.clock, [SlackDelivery(cx.db, sender, paces, concurrency=concurrency)], DispatchSettings(concurrency=concurrency))


# ---- fan-out part ------------------------------------------------------------------------------


@dataclass
class FanoutResult:
    label: str
    n: int
    dispatch_s: float  # dispatcher start → last chat.postMessage received by the fake
    settled_s: float  # dispatcher start → dispatcher stopped with every row settled
    cpu_s: float  # this process, dispatcher start → stopped
    fake_cpu_s: float
    intake_s: float
    intake_cpu_s: float
    from_creation: list[float]
    from_start: list[float]
    status_429: int
    other_calls: Counter[str]
    per_team: Counter[str] = field(default_factory=Counter)
    per_channel: Counter[str] = field(default_factory=Counter)
    first_at: float = 0.0
    threads: dict[str, float] = field(default_factory=dict)


def ceiling(per_team: Counter[str], per_channel: Counter[str], paces: SlackPaces) -> tuple[float, float]:
    """(steady ceiling in msg/s, shortest possible time from the first message to the last) that
    the paces allow for this mix of workspaces and channels (burst 1: a bucket's first message
    goes at once)."""
    ws_rate = paces.post_per_workspace.per_second
    ch_rate = paces.post_per_channel.per_second
    channels_of: Counter[str] = Counter()
    longest_channel: dict[str, int] = {}
    for (team, channel), n in per_channel.items():  # type: ignore[misc]
        channels_of[team] += 1
        longest_channel[team] = max(longest_channel.get(team, 0), n)
    steady = sum(min(ws_rate, channels_of[t] * ch_rate) for t in per_team)
    shortest = max(max((n - 1) / ws_rate, (longest_channel[t] - 1) / ch_rate) for t, n in per_team.items())
    return steady, shortest


async def fanout(
    cx: Context,
    fake: FakeProcess,
    plan: list[DealerPlan],
    n: int,
    args: argparse.Namespace,
    *,
    label: str,
    paces: SlackPaces | None,
    tag: str,
    live: bool,
    profile: cProfile.Profile | None = None,
) -> FanoutResult:
    await fake.reset()
    responses = hot_responses(plan, n, tag)
    created: dict[str, float] = {}
    sender = SlackSender(fake.url, BOT_TOKEN)
    dispatcher = make_dispatcher(cx, sender, paces, args.concurrency)
    stop = asyncio.Event()
    intake_s = intake_cpu = 0.0
    if not live:
        intake_s, intake_cpu = await ingest_all(cx, responses, args.batch, created)
    fake_cpu0 = proc_cpu(fake.pid)
    spy = start_spy(args.spy, args.spy_native) if args.spy and paces is None else None
    if profile is not None:
        profile.enable()
    threads0 = thread_cpu()
    c0, t0 = time.process_time(), time.monotonic()
    task = asyncio.create_task(dispatcher.run(stop), name=f"dispatcher-{label}")
    try:
        if live:
            live_cx = Context(db=cx.db, rules=cx.rules, clock=cx.clock, wake=dispatcher.wake)
            intake_s, intake_cpu = await ingest_all(live_cx, responses, args.batch, created)
        timeout = 120.0 + (n / 50.0 if paces is not None else n / 100.0)
        await fake.wait_for("chat.postMessage", n, timeout, poll=0.1)  # the rate is taken from the calls' own arrival times
    finally:
        stop.set()
        dispatcher.wake()
        await task
        settled = time.monotonic() - t0
        cpu = time.process_time() - c0
        threads1 = thread_cpu()
        if profile is not None:
            profile.disable()
        if spy is not None:
            stop_spy(spy)
        await sender.close()
    fake_cpu = proc_cpu(fake.pid) - fake_cpu0

    # What the fake received, matched to the alerts by the id in the text.
    posts = await fake.calls("chat.postMessage")
    all_calls = await fake.calls()
    seen: Counter[str] = Counter()
    from_creation: list[float] = []
    from_start: list[float] = []
    per_team: Counter[str] = Counter()
    per_channel: Counter[tuple[str, str]] = Counter()
    team_of = {d.channel: d.team for d in plan}
    bad: list[str] = []
    last = first = None
    for c in posts:
        m = ALERT_ID.search(str(c["body"].get("text", "")))
        if m is None or m.group(1) not in created:
            bad.append(str(c["body"].get("text", ""))[:80])
            continue
        aid = m.group(1)
        seen[aid] += 1
        if seen[aid] == 1:
            from_creation.append(c["at"] - created[aid])
            from_start.append(c["at"] - t0)
        ch = str(c["body"].get("channel"))
        per_team[team_of.get(ch, "?")] += 1
        per_channel[(team_of.get(ch, "?"), ch)] += 1
        last = c["at"] if last is None else max(last, c["at"])
        first = c["at"] if first is None else min(first, c["at"])
    twice = {a: k for a, k in seen.items() if k > 1}
    missing = set(created) - set(seen)
    if bad or twice or missing:
        raise BenchFailed(
            f"{label}: {len(missing)} alerts never posted, {len(twice)} posted more than once "
            f"(e.g. {list(twice.items())[:3]}), {len(bad)} unexpected messages (e.g. {bad[:3]})"
        )
    async with cx.db.read() as tx:
        receipts = sum([1 for a in created if await tx.slack.receipt(a) is not None])
        counts = await tx.outbox.counts()
    if receipts != n or counts.get("pending", 0) or counts.get("failed", 0):
        raise BenchFailed(f"{label}: {receipts} of {n} receipts stored; outbox {counts}")
    status_429 = sum(1 for c in all_calls if c["status"] == 429)
    other = Counter(c["method"] for c in all_calls if c["method"] != "chat.postMessage")
    assert last is not None and first is not None
    return FanoutResult(
        label, n, last - t0, settled, cpu, fake_cpu, intake_s, intake_cpu, from_creation, from_start, status_429, other,
        per_team, per_channel, first - t0,  # type: ignore[arg-type]
        {k: threads1.get(k, 0.0) - threads0.get(k, 0.0) for k in threads1},
    )


def report_fanout(r: FanoutResult, paces: SlackPaces | None, args: argparse.Namespace, live: bool) -> None:
    rate = r.n / r.dispatch_s
    print(f"  [{r.label}] {r.n} alerts over {len(r.per_channel)} channels in {len(r.per_team)} workspaces "
          f"({'intake and dispatcher together' if live else 'all created first, then the dispatcher started'})")
    if live:
        print(f"    intake              : {r.n / r.intake_s:8.0f} alerts/s  ({r.intake_s:.2f} s, while the dispatcher ran: both share this process and SQLite's one writer)")
    else:
        print(f"    intake              : {r.n / r.intake_s:8.0f} alerts/s  ({r.intake_s:.2f} s; {r.intake_cpu_s / r.n * 1e6:.0f} µs CPU/alert: response, customer, alert, history and outbox rows)")
    line = f"    delivered           : {rate:8.0f} messages/s  ({r.n} in {r.dispatch_s:.2f} s, dispatcher start → last chat.postMessage at the fake; first after {r.first_at * 1e3:.0f} ms)"
    print(line)
    print(f"    bench process CPU   : {r.cpu_s / r.n * 1e6:8.0f} µs/message  ({r.cpu_s:.2f} s over {r.settled_s:.2f} s until every receipt was stored = {100 * r.cpu_s / r.settled_s:.0f} % of one core)")
    if r.threads:
        split = ", ".join(f"{k} {v / r.n * 1e6:.0f} µs" for k, v in sorted(r.threads.items(), key=lambda kv: -kv[1]) if v > 0)
        print(f"      by thread         : {split} per message (/proc, {1000 / CLK_TCK:.0f} ms ticks)")
    print(f"    fake Slack CPU      : {r.fake_cpu_s / r.n * 1e6:8.0f} µs/message  ({r.fake_cpu_s:.2f} s, its own process; tick {1000 / CLK_TCK:.0f} ms)")
    print(f"    creation → received : {ms(r.from_creation)}")
    print(f"    dispatch start → rcv: {ms(r.from_start)}")
    print(f"    exactly once        : {r.n} alerts, each posted once, receipts stored, outbox settled; 429 answers: {r.status_429}"
          + (f"; other calls: {dict(r.other_calls)}" if r.other_calls else ""))
    if paces is None:
        print(f"    goal >= {GOALS['rate']:.0f} messages/s at {args.concurrency} concurrent sends: {goal(rate >= GOALS['rate'])}")
    else:
        steady, shortest = ceiling(r.per_team, r.per_channel, paces)  # type: ignore[arg-type]
        best_rate = r.n / shortest if shortest > 0 else float("inf")
        print(f"    paces               : chat.postMessage {paces.post_per_channel.per_second:g}/s per channel, "
              f"{paces.post_per_workspace.per_second * 60:g}/min per workspace (burst {paces.post_per_workspace.burst})")
        print(f"    theoretical ceiling : {steady:.0f} messages/s steady for this mix (per workspace min(workspace cap, channels x 1/s), summed);")
        print(f"                          the last of these {r.n} cannot arrive before {shortest:.2f} s after the first ({best_rate:.0f} messages/s)")
        print(f"    how close           : {100 * shortest / max(r.dispatch_s - r.first_at, 1e-9):.1f} % of the ceiling "
              f"(first → last message {r.dispatch_s - r.first_at:.2f} s vs {shortest:.2f} s at best)")


async def send_floor(cx: Context, fake: FakeProcess, plan: list[DealerPlan], n: int, concurrency: int) -> None:
    """Reference without the database: one stored card rendered, then posted n times through
    SlackSender (shared session) with `concurrency` in flight: what the HTTP side alone costs."""
    from sqlalchemy import select

    from notifications.slack import blocks
    from storage.models import AlertRow

    async with cx.db.read() as tx:
        aid = await tx.conn.scalar(select(AlertRow.__table__.c.id).limit(1))
        view = await tx.views.alert_view(aid) if aid else None
    if view is None:
        return
    c0 = time.process_time()
    for _ in range(200):
        msg = blocks.alert_message(view)
    render_us = (time.process_time() - c0) / 200 * 1e6
    await fake.reset()
    sender = SlackSender(fake.url, BOT_TOKEN)
    try:
        await sender.call(plan[0].team, "auth.test")  # open the session
        work = iter(range(n))

        async def worker() -> None:
            for k in work:
                d = plan[k % len(plan)]
                await sender.call(d.team, "chat.postMessage", channel=d.channel, text=msg.text, blocks=msg.blocks, unfurl_links=False, unfurl_media=False)

        f0, c0, t0 = proc_cpu(fake.pid), time.process_time(), time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall, cpu, fake_cpu = time.monotonic() - t0, time.process_time() - c0, proc_cpu(fake.pid) - f0
    finally:
        await sender.close()
    await fake.wait_for("chat.postMessage", n, 30)
    await fake.reset()
    print(f"  [reference] SlackSender alone, no database: {n / wall:6.0f} messages/s, {cpu / n * 1e6:5.0f} µs CPU/message here, "
          f"{fake_cpu / n * 1e6:.0f} µs in the fake ({concurrency} in flight, one session);")
    print(f"              rendering a card (blocks.alert_message): {render_us:.0f} µs CPU. This is the ceiling of the HTTP side on this machine now:")
    print(f"              whichever of the two processes is busier (~1 s CPU per second) bounds any dispatcher run.")


# ---- button clicks -----------------------------------------------------------------------------


@dataclass
class ClickResult:
    n: int
    answer: list[float]
    modal: list[float]
    elapsed_s: float
    cpu_s: float
    fake_cpu_s: float
    statuses: Counter[int]
    other_calls: Counter[str]
    client_cpu_s: float = 0.0
    after_ack: list[float] = field(default_factory=list)


async def click_client(job: dict[str, Any], gate: Any) -> dict[str, Any]:
    """Send signed block_actions clicks with httpx: warm-up, `await gate()`, then the measured ones.
    Runs in a process of its own (default) or on the bench's own loop (--click-client inline)."""
    from tests.fakes.slack_payloads import block_actions, new_trigger_id
    from tests.fakes.slack_signing import interactivity, sign

    try:
        import sniffio  # noqa: F401
    except ImportError:
        # httpcore runs `import sniffio` on every request; without the package each one is a failed
        # import that searches sys.path (~0.3 ms CPU per request). Make it fail fast, same outcome.
        sys.modules["sniffio"] = None  # type: ignore[assignment]
    targets = job["targets"]
    conns = int(job["connections"])
    rate = float(job["rate"])
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    sent: dict[str, float] = {}
    answer: list[float] = []
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=job["url"], limits=limits, timeout=30) as client:

        async def send(k: int, record: bool) -> None:
            aid, channel, ts, team, user = targets[k % len(targets)]
            trigger = new_trigger_id()
            body, ctype = interactivity(block_actions(team, user, ids.RESOLVED, aid, channel, ts, trigger))
            headers = sign(job["secret"], body, content_type=ctype)
            t = time.monotonic()
            r = await client.post("/slack/events", content=body, headers=headers)
            took = time.monotonic() - t
            statuses[r.status_code] += 1
            if record:
                sent[trigger] = t
                answer.append(took)

        # Warm-up (not measured): connections, bolt's first auth.test, code paths used once.
        warm = int(job["warm"])
        for k in range(0, warm, conns):
            await asyncio.gather(*(send(j, False) for j in range(k, min(warm, k + conns))))
        warm_statuses = dict(statuses)
        statuses.clear()
        await gate()
        c0, t0 = time.process_time(), time.monotonic()
        n = int(job["clicks"])
        if rate:
            # Open loop: click k leaves at t0 + k/rate whether or not earlier ones were answered
            # (up to `connections` in flight; a click waiting for a free connection counts).
            async def at(k: int) -> None:
                await asyncio.sleep(max(0.0, t0 + k / rate - time.monotonic()))
                await send(k, True)

            await asyncio.gather(*(at(k) for k in range(n)))
        else:
            # Closed loop: each connection sends its next click as soon as the previous one was answered.
            queue = iter(range(n))

            async def worker() -> None:
                for k in queue:
                    await send(k, True)

            await asyncio.gather(*(worker() for _ in range(conns)))
        cpu = time.process_time() - c0
    return {"sent": sent, "answer": answer, "statuses": dict(statuses), "warm_statuses": warm_statuses, "cpu": cpu}


def click_client_main() -> int:
    """The click sender as a child process: a job (JSON) on stdin's first line; prints "warm", waits
    for a line on stdin, sends the measured clicks, prints the result (JSON) and exits."""
    import json

    job = json.loads(sys.stdin.readline())

    async def gate() -> None:
        print("warm", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    result = asyncio.run(click_client(job, gate))
    print(json.dumps(result), flush=True)
    return 0


async def clicks(
    cx: Context, fake: FakeProcess, plan: list[DealerPlan], db_url: str, args: argparse.Namespace, profile: cProfile.Profile | None = None
) -> ClickResult:
    import json

    from bot.app import build_runtime
    from bot.settings import CoreSettings, HttpSettings, OutboxSettings, Settings, SlackSettings

    await fake.reset()
    settings = Settings(
        core=CoreSettings(database_url=db_url),
        http=HttpSettings(host="127.0.0.1", port=0),
        rules=cx.rules,
        slack=SlackSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, api_url=fake.url, pacing=False, concurrency=args.concurrency),
        outbox=OutboxSettings(),
    )
    runtime = build_runtime(settings, cx, background=True)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(runtime.api, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    child: asyncio.subprocess.Process | None = None
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)

        bolt_session: aiohttp.ClientSession | None = None
        if args.try_bolt_session and runtime.slack_app is not None:
            # Experiment (not product behaviour): give bolt's client one shared HTTP session, as
            # SlackSender has; bolt copies `app.client.session` into every per-request client.
            bolt_session = aiohttp.ClientSession()
            runtime.slack_app.client.session = bolt_session

        # Cards to click on: alerts created through the app's own context, delivered by its own
        # (background, unpaced) dispatcher that intake wakes.
        n_alerts = min(args.click_alerts, len(plan))
        created: dict[str, float] = {}
        await ingest_all(runtime.cx, hot_responses(plan, n_alerts, "click"), args.batch, created)
        await fake.wait_for("chat.postMessage", n_alerts, 60)
        owner = {d.code: d for d in plan}
        targets: list[tuple[str, str, str, str, str]] = []
        deadline = time.monotonic() + 30
        while len(targets) < len(created):  # each receipt is stored just after Slack's answer
            targets = []
            async with cx.db.read() as tx:
                for aid in sorted(created):
                    receipt = await tx.slack.receipt(aid)
                    alert = await tx.alerts.get(aid)
                    if receipt is not None and alert is not None:
                        d = owner[alert.dealer]
                        targets.append((aid, receipt.channel_id, receipt.ts, d.team, d.user))
            if len(targets) < len(created):
                if time.monotonic() > deadline:
                    raise BenchFailed(f"only {len(targets)} of {len(created)} card receipts stored 30 s after the cards were posted")
                await asyncio.sleep(0.05)

        warm = args.click_connections * 5
        job = {
            "url": f"http://127.0.0.1:{port}", "secret": SIGNING_SECRET, "targets": targets, "clicks": args.clicks,
            "connections": args.click_connections, "rate": args.click_rate, "warm": warm,
        }
        snap: dict[str, float] = {}

        async def at_start() -> None:
            await fake.wait_for("views.open", warm, 30)
            snap["fake"], snap["cpu"], snap["t0"] = proc_cpu(fake.pid), time.process_time(), time.monotonic()
            if profile is not None:
                profile.enable()

        if args.click_client == "inline":
            result = await click_client(job, at_start)
        else:
            child = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).resolve()), "--click-client",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
            )
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(json.dumps(job).encode() + b"\n")
            await child.stdin.drain()
            line = await asyncio.wait_for(child.stdout.readline(), 120)
            if line.strip() != b"warm":
                raise BenchFailed(f"the click client said {line[:500]!r} instead of 'warm'")
            await at_start()
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            line = await asyncio.wait_for(child.stdout.readline(), 600)
            result = json.loads(line)
            await child.wait()
        if result["warm_statuses"] != {200: warm} and result["warm_statuses"] != {"200": warm}:
            raise BenchFailed(f"warm-up clicks answered {result['warm_statuses']}")
        await fake.wait_for("views.open", warm + args.clicks, 60, poll=0.01)
        elapsed = time.monotonic() - snap["t0"]
        cpu = time.process_time() - snap["cpu"]
        if profile is not None:
            profile.disable()
        fake_cpu = proc_cpu(fake.pid) - snap["fake"]

        sent: dict[str, float] = result["sent"]
        opened = {c["body"].get("trigger_id"): c["at"] for c in await fake.calls("views.open")}
        modal = [opened[t] - s for t, s in sent.items() if t in opened]
        after_ack = [opened[t] - (s + a) for (t, s), a in zip(sent.items(), result["answer"]) if t in opened]
        if len(modal) != len(sent):
            raise BenchFailed(f"{len(sent) - len(modal)} of {len(sent)} clicks opened no modal")
        all_calls = await fake.calls()
        other = Counter(c["method"] for c in all_calls if c["method"] not in ("views.open", "chat.postMessage"))
        statuses = Counter({int(k): v for k, v in result["statuses"].items()})
        return ClickResult(args.clicks, result["answer"], modal, elapsed, cpu, fake_cpu, statuses, other, result["cpu"], after_ack)
    finally:
        if child is not None and child.returncode is None:
            child.kill()
            await child.wait()
        server.should_exit = True
        await task
        sock.close()
        if "bolt_session" in locals() and bolt_session is not None:
            await bolt_session.close()


def report_clicks(r: ClickResult, args: argparse.Namespace) -> None:
    how = (f"open loop at {args.click_rate:g} clicks/s over up to {args.click_connections} keep-alive connections" if args.click_rate
           else f"closed loop over {args.click_connections} concurrent keep-alive connections (next click when the last was answered)")
    print(f"  [clicks] {r.n} signed block_actions clicks on \"Resolved\" (action {ids.RESOLVED}) by granted staff (httpx),")
    print(f"           {how}; client in {'a process of its own' if args.click_client == 'process' else 'the bench process'}; after {args.click_connections * 5} warm-up clicks")
    print(f"    answers             : {dict(r.statuses)}   {r.n / r.elapsed_s:.0f} clicks/s ({r.elapsed_s:.2f} s until the last views.open)")
    print(f"    send → HTTP answer  : {ms(r.answer)}    goal p99 <= {GOALS['answer_p99_ms']:.0f} ms: {goal(percentile(r.answer, 99) * 1e3 <= GOALS['answer_p99_ms'])}")
    if args.click_rate:
        print(f"    send → views.open   : {ms(r.modal)}    goal p99 <= {GOALS['modal_p99_ms']:.0f} ms: {goal(percentile(r.modal, 99) * 1e3 <= GOALS['modal_p99_ms'])}")
    else:
        print(f"    send → views.open   : {ms(r.modal)}    (closed loop: the wait behind a backlog of listeners; the goal is read open loop)")
        print(f"    capacity            : {r.n / r.elapsed_s:.0f} clicks/s with every views.open made (at {r.cpu_s / r.n * 1e3:.1f} ms of app CPU per click)")
    if args.try_bolt_session:
        print("    EXPERIMENT          : bolt's client was given one shared aiohttp session by the bench (--try-bolt-session)")
    print(f"    answer → views.open : {ms(r.after_ack)}    (the listener's work after bolt's ack: alerts.view, then views.open)")
    if args.click_client == "inline":
        print(f"    bench process CPU   : {r.cpu_s / r.n * 1e6:8.0f} µs/click (the whole app AND the httpx client: both run in this process)")
    else:
        print(f"    app (bench process) : {r.cpu_s / r.n * 1e6:8.0f} µs CPU/click (uvicorn, FastAPI, bolt, services, database, views.open; the idle dispatcher polls once a second)")
        print(f"    click client        : {r.client_cpu_s / r.n * 1e6:8.0f} µs CPU/click (httpx, signing; a process of its own)")
    print(f"    fake Slack CPU      : {r.fake_cpu_s / r.n * 1e6:8.0f} µs/click")
    if r.other_calls:
        print(f"    other Slack calls   : {dict(r.other_calls)}")


# ---- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--postgres", nargs="?", const=DEFAULT_PG, default=None, metavar="URL",
                   help=f"run on PostgreSQL: a database of its own is created on this server and dropped at the end (default {DEFAULT_PG})")
    p.add_argument("--pacing", choices=["off", "on", "both", "none"], default="both", help="which fan-out runs (default both; none: only the clicks)")
    p.add_argument("--alerts", type=int, default=10_000, help="alerts in the unpaced run (default 10000)")
    p.add_argument("--paced-alerts", type=int, default=2_000, help="alerts in the paced run (default 2000: ~20 s at Slack's paces)")
    p.add_argument("--dealers", type=int, default=200, help="dealers, one Slack channel each (default 200)")
    p.add_argument("--workspaces", type=int, default=20, help="Slack workspaces the dealers are spread over (default 20)")
    p.add_argument("--batch", type=int, default=100, help="responses per intake transaction (default 100)")
    p.add_argument("--concurrency", type=int, default=8, help="dispatcher sends in flight (default 8)")
    p.add_argument("--live", action="store_true", help="run intake and the dispatcher at the same time instead of a backlog first")
    p.add_argument("--clicks", type=int, default=500, help="measured button clicks (default 500; 0 skips the part)")
    p.add_argument("--click-connections", type=int, default=4, help="concurrent connections for the clicks (default 4)")
    p.add_argument("--click-alerts", type=int, default=200, help="alerts whose cards are clicked (default 200, one per dealer)")
    p.add_argument("--click-client", choices=["process", "inline"], default="process", help="send the clicks from a process of its own (default) or from the bench's own event loop")
    p.add_argument("--try-bolt-session", action="store_true", help="experiment: give bolt's Web API client one shared aiohttp session (the app does not yet)")
    p.add_argument("--click-rate", type=float, default=20.0, help="send the clicks open loop at this rate (clicks/s; default 20); 0: closed loop, a saturation test")
    p.add_argument("--profile", metavar="PREFIX", help="cProfile (CPU timer) the unpaced dispatch and the clicks into PREFIX-fanout.prof / PREFIX-clicks.prof and print summaries")
    p.add_argument("--spy", metavar="FILE", help="py-spy (all threads, CPU samples) the unpaced dispatch into FILE (raw) and print a summary")
    p.add_argument("--spy-native", action="store_true", help="with --spy: include native frames (SQLite, fsync)")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (SQLite file)")
    a = p.parse_args(argv)
    if min(a.alerts, a.paced_alerts, a.dealers, a.workspaces, a.batch, a.concurrency, a.click_connections, a.click_alerts) < 1 or a.clicks < 0:
        p.error("counts must be at least 1 (--clicks at least 0)")
    if a.workspaces > a.dealers:
        p.error("--workspaces cannot exceed --dealers")
    return a


def header(args: argparse.Namespace, db_label: str, fake: FakeProcess) -> None:
    print("cxbot Slack fan-out benchmark (bench/slack_fanout.py)")
    print("  measures : alerts created by the real intake service → outbox rows → the real Dispatcher with a")
    print(f"             SlackSender (one shared aiohttp session, {args.concurrency} concurrent sends) → chat.postMessage at a fake")
    print("             Slack Web API in a separate process; messages/s, p50/p99 from the alert's commit to the fake")
    print("             receiving its message, CPU of this process per message, exactly-once per alert, 429s;")
    print("             then signed block_actions clicks → POST /slack/events of the whole app (uvicorn on loopback,")
    print("             in this process) → HTTP answer, and → views.open reaching the fake.")
    print(f"  database : {db_label}")
    print(f"  fake     : {fake.url}  (pid {fake.pid}, separate process; calls read through /_fake/calls)")
    print(f"  load     : {args.dealers} dealers / channels in {args.workspaces} workspaces; every alert a Hot Alert with one card;")
    print(f"             unpaced run {args.alerts} alerts; paced run {args.paced_alerts} alerts (--paced-alerts: kept short on purpose,")
    print(f"             Slack's paces make 10,000 take ~100 s); intake batches of {args.batch}; "
          f"{'intake and dispatcher at the same time' if args.live else 'all alerts created first, then the dispatcher'}")
    if args.clicks:
        how = f"open loop at {args.click_rate:g}/s" if args.click_rate else f"closed loop over {args.click_connections} connections"
        print(f"             clicks: {args.clicks} measured ({how}), client in {'its own process' if args.click_client == 'process' else 'this process'}")
    print(f"  machine  : {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
          f"load average {os.getloadavg()[0]:.2f}.")
    print("  caveats  : this machine's speed drifts up to 2x between runs: read CPU time per item next to every rate")
    print("             and compare rates only within one run. The bench process, the fake (and the click client) share")
    print(f"             the machine's {os.cpu_count()} CPUs with whatever else runs (see the load average); aiosqlite runs SQLite")
    print("             in threads of this process (their CPU is counted here); latency tails grow with the machine's load.")
    print(flush=True)


async def main_async(args: argparse.Namespace, db_url: str, db_label: str) -> int:
    fake = start_fake()
    db = Database(db_url)
    await fake.open()
    try:
        header(args, db_label, fake)
        cx = Context(db=db, rules=Rules(), clock=SystemClock())
        await migrate.upgrade(db)
        plan = plan_dealers(args.dealers, args.workspaces)
        t = time.perf_counter()
        report = await dealers.load(cx, directory(plan))
        print(f"setup: migrated; dealers.load added {len(report.added)} (dealers with routes + staff with Slack identities) in {time.perf_counter() - t:.2f} s\n", flush=True)

        print("fan-out")
        if args.pacing in ("off", "both"):
            profile = cProfile.Profile(time.thread_time) if args.profile else None  # CPU time of the event-loop thread
            r = await fanout(cx, fake, plan, args.alerts, args, label="pacing off", paces=None, tag="off", live=args.live, profile=profile)
            report_fanout(r, None, args, args.live)
            if profile is not None:
                profile_report(profile, f"{args.profile}-fanout.prof", "the unpaced dispatch", args.alerts)
            await send_floor(cx, fake, plan, 3000, args.concurrency)
            if args.spy:
                print(f"\n    py-spy of the unpaced dispatch (this process, saved to {args.spy}):")
                print("\n".join("      " + line for line in spy_summary(args.spy)))
            print(flush=True)
        if args.pacing in ("on", "both"):
            paces = SlackPaces()
            r = await fanout(cx, fake, plan, args.paced_alerts, args, label="Slack's paces on", paces=paces, tag="paced", live=args.live)
            report_fanout(r, paces, args, args.live)
            print(flush=True)
        if args.clicks:
            print("buttons")
            profile = cProfile.Profile(time.thread_time) if args.profile else None
            c = await clicks(cx, fake, plan, db_url, args, profile)
            report_clicks(c, args)
            if profile is not None:
                profile_report(profile, f"{args.profile}-clicks.prof", "the measured clicks (server and client)", args.clicks)
            print()
        print(f"load average after the run: {os.getloadavg()[0]:.2f} (1 min; {os.cpu_count()} CPUs)")
        return 0
    finally:
        await fake.close()
        await db.close()
        stop_fake(fake)


def run(args: argparse.Namespace) -> int:
    logs.configure("warning")
    workdir = Path(tempfile.mkdtemp(prefix="cxbench-slack-"))
    pg_drop: tuple[str, str] | None = None
    try:
        if args.postgres:
            name = f"cxbench_slack_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin, db_url = _pg_urls(args.postgres, name)
            asyncio.run(pg_execute(admin, f'CREATE DATABASE "{name}"'))
            pg_drop = (admin, name)
            label = f"PostgreSQL, fresh database {name} (dropped at the end)"
        else:
            db_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            label = f"SQLite, fresh temp file {workdir / 'bench.db'} (WAL, synchronous=FULL)"
        return asyncio.run(main_async(args, db_url, label))
    except BenchFailed as e:
        print(f"\nBENCHMARK FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if pg_drop is not None:
            admin, name = pg_drop
            try:
                asyncio.run(pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as e:  # noqa: BLE001 - a note rather than hiding the result
                print(f"warning: could not drop database {name}: {e}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--click-client"]:
        return click_client_main()
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
