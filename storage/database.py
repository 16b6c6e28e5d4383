"""The database: engines, transactions, and the repositories a transaction offers."""

from __future__ import annotations

from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any, AsyncIterator, Callable

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from storage.repositories.activities import ActivitiesRepo
from storage.repositories.alerts import AlertsRepo
from storage.repositories.complaints import ComplaintsRepo
from storage.repositories.customers import CustomersRepo
from storage.repositories.dealers import DealersRepo, PeopleRepo
from storage.repositories.detractors import DetractorsRepo
from storage.repositories.erasure import ErasureRepo
from storage.repositories.history import HistoryRepo
from storage.repositories.invitations import InvitationsRepo
from storage.repositories.leads import LeadsRepo
from storage.repositories.keys import KeysRepo
from storage.repositories.kpi import KpiRepo
from storage.repositories.mail import MailRepo
from storage.repositories.outbox import OutboxRepo
from storage.repositories.responses import ResponsesRepo
from storage.repositories.reviews import ReviewsRepo
from storage.repositories.schedule import ScheduleRepo
from storage.repositories.slack import SlackRepo
from storage.repositories.views import ViewsRepo
from storage.sqlite_driver import IMMEDIATE, OneTripDBAPI


class DatabaseUnavailable(Exception):
    """The database named by the settings cannot be reached or opened."""


class Tx:
    """One transaction and the repositories that work inside it."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    @cached_property
    def activities(self) -> ActivitiesRepo:
        return ActivitiesRepo(self.conn, self.dialect)

    @cached_property
    def alerts(self) -> AlertsRepo:
        return AlertsRepo(self.conn, self.dialect)

    @cached_property
    def complaints(self) -> ComplaintsRepo:
        return ComplaintsRepo(self.conn, self.dialect)

    @cached_property
    def customers(self) -> CustomersRepo:
        return CustomersRepo(self.conn, self.dialect)

    @cached_property
    def responses(self) -> ResponsesRepo:
        return ResponsesRepo(self.conn, self.dialect)

    @cached_property
    def dealers(self) -> DealersRepo:
        return DealersRepo(self.conn, self.dialect)

    @cached_property
    def detractors(self) -> DetractorsRepo:
        return DetractorsRepo(self.conn, self.dialect)

    @cached_property
    def people(self) -> PeopleRepo:
        return PeopleRepo(self.conn, self.dialect)

    @cached_property
    def erasure(self) -> ErasureRepo:
        return ErasureRepo(self.conn, self.dialect)

    @cached_property
    def history(self) -> HistoryRepo:
        return HistoryRepo(self.conn, self.dialect)

    @cached_property
    def invitations(self) -> InvitationsRepo:
        return InvitationsRepo(self.conn, self.dialect)

    @cached_property
    def leads(self) -> LeadsRepo:
        return LeadsRepo(self.conn, self.dialect)

    @cached_property
    def keys(self) -> KeysRepo:
        return KeysRepo(self.conn, self.dialect)

    @cached_property
    def kpi(self) -> KpiRepo:
        return KpiRepo(self.conn, self.dialect)

    @cached_property
    def mail(self) -> MailRepo:
        return MailRepo(self.conn, self.dialect)

    @cached_property
    def outbox(self) -> OutboxRepo:
        return OutboxRepo(self.conn, self.dialect)

    @cached_property
    def reviews(self) -> ReviewsRepo:
        return ReviewsRepo(self.conn, self.dialect)

    @cached_property
    def schedule(self) -> ScheduleRepo:
        return ScheduleRepo(self.conn, self.dialect)

    @cached_property
    def slack(self) -> SlackRepo:
        return SlackRepo(self.conn, self.dialect)

    @cached_property
    def views(self) -> ViewsRepo:
        return ViewsRepo(self.conn, self.dialect)


def _fold(v: Any) -> Any:
    # str.lower, as PostgreSQL's lower() under a UTF-8 locale: both read "ß" as itself.
    return v.lower() if isinstance(v, str) else v


def _json(value: Any) -> str:
    # JSON columns (answers, scores, contact methods, outbox payloads) through orjson: a few times
    # cheaper than json.dumps, and several go into every intake row.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


WAL_PAGES = 1000  # SQLite's own wal_autocheckpoint


def _sqlite_engine(url: str, pool_size: int, immediate: bool, extra_pragmas: Callable[[], list[str]] = list) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60, module=OneTripDBAPI(), json_serializer=_json)

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so writes can BEGIN IMMEDIATE: a deferred
        # transaction that later wants to write fails with "database is locked" instead of waiting.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=10000", *extra_pragmas()):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()
        # SQLite's lower() folds ASCII only; searches for "østergaard" must find "Østergaard".
        dbapi_conn.create_function("cx_fold", 1, _fold, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # Sent with the transaction's first statement (sqlite_driver._Connection), not on its own.
        conn.connection.dbapi_connection.begin_sql = IMMEDIATE if immediate else "BEGIN"

    return engine


class Database:
    """Engines for one database URL. On SQLite every write goes through one connection (several
    writers only queue in SQLite's busy handler) and reads use a small pool of their own."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                raise ValueError("an in-memory SQLite database cannot be shared; name a file")
            self.sqlite_path = parsed.database
            self._wal_pages = WAL_PAGES  # the writer's wal_autocheckpoint
            self.engine = _sqlite_engine(url, 1, immediate=True, extra_pragmas=self._writer_pragmas)
            self.reader = _sqlite_engine(url, 4, immediate=False)
        elif self.dialect == "postgresql":
            self.engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, json_serializer=_json)
            self.reader = self.engine
        else:
            raise ValueError(f"unsupported database {self.dialect!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://")

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A read-write transaction, committed when the block ends without an error."""
        async with self.engine.begin() as conn:
            yield Tx(conn, self.dialect)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        """A read-only view; never writes."""
        async with self.reader.connect() as conn:
            yield Tx(conn, self.dialect)

    def _writer_pragmas(self) -> list[str]:
        return [f"wal_autocheckpoint={self._wal_pages}"]

    async def set_wal_autocheckpoint(self, pages: int) -> None:
        """SQLite: the log size (pages) at which the writer's commit checkpoints by itself
        (storage.checkpoint raises it while `serve` runs)."""
        self._wal_pages = pages
        async with self.engine.connect() as conn:  # the writer as it is now; new ones get it on connect
            await conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={pages}")

    async def ping(self) -> None:
        async with self.reader.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def check(self) -> None:
        """Raise DatabaseUnavailable, naming the database, if it cannot be reached."""
        try:
            await self.ping()
        except Exception as e:  # driver errors differ per dialect; the operator needs one line
            reason = getattr(e, "orig", None) or e
            raise DatabaseUnavailable(f"cannot open the database {self.display_url}: {str(reason).strip() or type(reason).__name__}") from None

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()
