"""Shared fixtures: real SQLite files and a real PostgreSQL database, a frozen clock, the real
HTTP server on loopback, and data made through the real services."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

for _name in [k for k in os.environ if k.startswith("CXBOT_")]:
    del os.environ[_name]  # a developer's own settings must not leak into the tests

from bot.app import build_api  # noqa: E402
from bot.domain.rules import Rules  # noqa: E402
from bot.services import Context, dealers  # noqa: E402
from bot.settings import CoreSettings, HttpSettings, Settings  # noqa: E402
from handlers.dealer_file import parse_toml  # noqa: E402
from storage import migrate  # noqa: E402
from storage.database import Database  # noqa: E402
from tests.fakes.clock import FrozenClock  # noqa: E402
from tests.mail_fixtures import dovecot, mailbox, make_smtp, smtp, smtp_tls  # noqa: E402, F401

PG_SERVER = os.environ.get("CXBOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BOOTSTRAP_KEY = "test-bootstrap-key-0123456789"
TABLES = (
    "leads", "invitations", "mail_messages", "addresses", "leases", "job_runs", "activities", "customer_messages",
    "outbox", "outbox_lanes", "slack_messages", "slack_workspaces", "processed_events",
    "slack_installations", "slack_bots", "slack_oauth_states",
    "reviews", "complaints", "alert_history", "alerts", "responses", "customers", "api_keys", "escalation_targets", "routes", "grants",
    "slack_identities", "people", "dealers",
)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


@asynccontextmanager
async def bare_sqlite(path: Path, ddl: str) -> AsyncIterator[Database]:
    """A Database on a fresh SQLite file holding one table of `ddl`, no migrations: for tests of
    the storage mechanics themselves (the driver, checkpoints)."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    async with database.transaction() as tx:
        await tx.conn.exec_driver_sql(ddl)
    try:
        yield database
    finally:
        await database.close()


async def _migrated(url: str) -> None:
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test costs ~0.3 s)."""
    path = tmp_path_factory.mktemp("template") / "cxbot.db"
    _run(_migrated(f"sqlite+aiosqlite:///{path}"))
    return path


async def _pg_admin(sql: str) -> None:
    import asyncpg

    dsn = PG_SERVER.replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A database of its own for this test run on the local PostgreSQL, migrated once."""
    name = f"cxbot_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        _run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncio.TimeoutError, Exception) as e:  # noqa: B014 - any failure means "no server"
        message = f"PostgreSQL at {PG_SERVER} is not reachable ({type(e).__name__}: {e})"
        if IN_CI:
            pytest.fail(message + "; under CI=true the PostgreSQL tests must run")
        pytest.skip(message)
    url = PG_SERVER.rsplit("/", 1)[0] + f"/{name}"
    _run(_migrated(url))
    yield url
    _run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate(url: str) -> None:
    db = Database(url)
    try:
        async with db.transaction() as tx:
            from sqlalchemy import text

            await tx.conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            await tx.conn.execute(text("UPDATE counters SET value = 0"))
    finally:
        await db.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test that uses the database runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "cxbot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_server_url")
    _run(_truncate(url))
    return url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def rules() -> Rules:
    return Rules()


@pytest.fixture
async def cx(db_url: str, clock: FrozenClock, rules: Rules) -> AsyncIterator[Context]:
    db = Database(db_url)
    yield Context(db=db, rules=rules, clock=clock)
    await db.close()


def example_directory() -> Any:
    return parse_toml(resources.files("bot").joinpath("examples/dealers.toml").read_text(encoding="utf-8"))


@pytest.fixture
async def example_dealers(cx: Context) -> None:
    """The shipped example dealers and staff, loaded through the real service."""
    await dealers.load(cx, example_directory())


def settings_for(db_url: str, rules: Rules | None = None, **http: Any) -> Settings:
    return Settings(
        core=CoreSettings(database_url=db_url, api_keys=[BOOTSTRAP_KEY]),
        http=HttpSettings(**http),
        rules=rules or Rules(),
    )


@dataclass
class Api:
    """The real HTTP server on loopback and a client for it."""

    url: str
    client: httpx.AsyncClient
    cx: Context

    def auth(self, key: str = BOOTSTRAP_KEY) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    async def post(self, path: str, body: Any = None, key: str | None = BOOTSTRAP_KEY, **kw: Any) -> httpx.Response:
        headers = self.auth(key) if key else {}
        return await self.client.post(path, json=body, headers=headers, **kw)

    async def get(self, path: str, key: str | None = BOOTSTRAP_KEY, **kw: Any) -> httpx.Response:
        headers = self.auth(key) if key else {}
        return await self.client.get(path, headers=headers, **kw)


@pytest.fixture
async def api(cx: Context, db_url: str) -> AsyncIterator[Api]:
    app = build_api(settings_for(db_url), cx)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Api(url, client, cx)
    finally:
        server.should_exit = True
        await task
        sock.close()


def response(id_: str = "r-1", **over: Any) -> dict[str, Any]:
    """A valid wire-format response (a satisfied sales customer) with fields overridden."""
    body: dict[str, Any] = {
        "id": id_,
        "survey": "sales",
        "dealer_id": "DK-1001",
        "submitted_at": "2026-11-01T10:00:00+01:00",
        "customer": {"id": "K-1", "name": "Anne Sørensen", "email": "anne@example.net"},
        "nps": 9,
    }
    body.update(over)
    return body


# ---- Slack ------------------------------------------------------------------------------------

SIGNING_SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-test-single-workspace"


@pytest.fixture
async def slack() -> AsyncIterator[Any]:
    """The fake Slack Web API on loopback; the bot's client points at it."""
    from tests.fakes.slack_api import FakeSlack

    async with FakeSlack() as fake:
        yield fake


@dataclass
class Bot(Api):
    """cxbot with Slack: the real server on loopback, the dispatcher driven by the test."""

    runtime: Any = None
    slack_api: Any = None
    smtp: Any = None
    mailbox: Any = None
    dovecot: Any = None

    async def read_mail(self) -> int:
        """Let cxbot read its mailbox once (what `serve` does on each IDLE wake-up)."""
        n: int = await self.runtime.reader.read_once()
        return n

    async def slack_request(
        self, encoded: tuple[bytes, str], *, secret: str = SIGNING_SECRET, timestamp: int | None = None, retry_num: int | None = None
    ) -> httpx.Response:
        """POST to /slack/events signed exactly as Slack signs."""
        from tests.fakes.slack_signing import sign

        body, content_type = encoded
        headers = sign(secret, body, timestamp, content_type=content_type, retry_num=retry_num)
        return await self.client.post("/slack/events", content=body, headers=headers)

    async def deliver(self) -> int:
        """Run the outbox dispatcher until nothing more is due."""
        n: int = await self.runtime.dispatcher.drain()
        return n


def slack_settings(db_url: str, **slack: Any) -> Settings:
    from bot.settings import OutboxSettings, SlackSettings

    base = {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "pacing": False}
    base.update(slack)
    s = settings_for(db_url)
    return Settings(core=s.core, http=s.http, rules=s.rules, slack=SlackSettings(**base), outbox=OutboxSettings())


@asynccontextmanager
async def running(settings: Settings, cx: Context, fake: Any) -> AsyncIterator[Bot]:
    """The whole app (API, Slack, outbox) on a loopback port, the dispatcher left to the test."""
    from bot.app import build_runtime

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if settings.core.public_url is None:  # the links cxbot mails lead to this server
        settings = dataclasses.replace(settings, core=settings.core.model_copy(update={"public_url": f"http://127.0.0.1:{port}"}))
    runtime = build_runtime(settings, cx, background=False)
    server = uvicorn.Server(uvicorn.Config(runtime.api, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.005)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield Bot(url, client, runtime.cx, runtime=runtime, slack_api=fake)
    finally:
        server.should_exit = True
        await task
        sock.close()
        if runtime.reader is not None:
            runtime.reader.close()


@pytest.fixture
async def bot(cx: Context, db_url: str, slack: Any, example_dealers: None) -> AsyncIterator[Bot]:
    """cxbot as a single-workspace Slack app (CXBOT_SLACK_BOT_TOKEN) with the example dealers."""
    async with running(slack_settings(db_url, api_url=slack.url), cx, slack) as b:
        yield b


# ---- Mail -------------------------------------------------------------------------------------

MAIL_SECRET = "test-mail-secret-0123456789abcdef"
REPLY_ADDRESS = "cxbot@cx.mazda-importer.example"


def mail_settings(db_url: str, smtp: Any, mailbox: Any = None, dovecot: Any = None, slack_url: str | None = None, **mail: Any) -> Settings:
    """cxbot sending through the SMTP fake and, given a Dovecot mailbox, reading replies there."""
    from bot.settings import ImapSettings, MailSettings, OutboxSettings, SlackSettings, SmtpSettings

    s = settings_for(db_url)
    slack = SlackSettings(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, pacing=False, api_url=slack_url) if slack_url else SlackSettings()
    imap = (
        ImapSettings(host=dovecot.host, port=dovecot.port, username=mailbox.name, password=mailbox.password, tls="none", poll_seconds=0.5)
        if mailbox is not None
        else ImapSettings()
    )
    mail_values = {"CXBOT_MAIL_FROM": f"cxbot <{REPLY_ADDRESS}>", "secret": MAIL_SECRET}
    mail_values.update(mail)
    return Settings(
        core=s.core,
        http=s.http,
        rules=s.rules,
        slack=slack,
        outbox=OutboxSettings(),
        smtp=SmtpSettings(host=smtp.host, port=smtp.port, tls="none"),
        imap=imap,
        mail=MailSettings(**mail_values),
    )


@pytest.fixture
async def mailbot(cx: Context, db_url: str, smtp: Any, mailbox: Any, dovecot: Any, example_dealers: None) -> AsyncIterator[Bot]:
    """cxbot with mail out (the SMTP fake) and replies read from a fresh Dovecot mailbox; no Slack."""
    async with running(mail_settings(db_url, smtp, mailbox, dovecot), cx, None) as b:
        b.smtp = smtp
        b.mailbox = mailbox
        b.dovecot = dovecot
        yield b
