"""The outbox dispatcher: leases lanes with due rows, reads what their rows need in one go, sends
each lane's rows in order, and stores the outcomes (receipts, done, retries) of many rows in one
transaction a few milliseconds after they happen. It alone retries."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from bot.domain.clock import Clock
from bot.domain.errors import DeliveryError, PermanentFailure, RetryLater
from storage.database import Database, Tx
from storage.repositories.outbox import OutboxItem

log = structlog.get_logger()


@dataclass(frozen=True)
class DispatchSettings:
    concurrency: int = 8  # sends in flight at once
    lanes_per_round: int = 200
    rows_per_lane: int = 50
    lease: timedelta = timedelta(seconds=60)  # renewed every third of it while a round runs
    max_attempts: int | None = None  # None: retry until `give_up_after`
    give_up_after: timedelta = timedelta(hours=48)  # an SMTP server down for a day delays mail, never loses it
    backoff_base: float = 2.0
    backoff_max: float = 600.0
    poll_seconds: float = 1.0
    store_every: float = 0.02  # seconds outcomes gather before they are stored together (at most lost in a crash)
    store_attempts: int = 5  # tries to store a round's last outcomes before the round is reported failed


class Delivery(Protocol):
    """One outbound channel (Slack, mail): sends the rows whose action starts with `prefix`."""

    prefix: str

    async def prepare(self, tx: Tx, rows: list[OutboxItem]) -> None:
        """Read what this round's rows need (views, receipts) at once, before any is sent."""

    async def send(self, row: OutboxItem) -> dict[str, Any] | None: ...

    async def record(self, tx: Tx, sent: list[tuple[OutboxItem, dict[str, Any]]], now: datetime) -> None:
        """Store the receipts `send` returned, in the transaction that marks their rows done."""

    async def close(self) -> None: ...


class Outcomes:
    """What lanes settled and the database does not know yet. One transaction stores everything
    finished meanwhile (group commit), rather than a transaction per message that on SQLite all
    queue for its one writer, each with an fsync. A write that fails keeps its outcomes here to be
    tried again, and no round starts before they are stored, so a message whose receipt is only
    here is never sent again by this process. A crash loses at most the last few milliseconds'."""

    def __init__(self, db: Database, clock: Clock, owner: str) -> None:
        self.db = db
        self.clock = clock
        self.owner = owner
        self.sent: list[tuple[Delivery, OutboxItem, dict[str, Any] | None]] = []
        self.failed: list[tuple[int, datetime, str]] = []
        self.retries: list[tuple[int, datetime, str]] = []
        self.release: set[str] = set()
        self.arrived = asyncio.Event()
        self.failing = False  # the last write failed: lanes stop sending until one succeeds

    def __bool__(self) -> bool:
        return bool(self.sent or self.failed or self.retries or self.release)

    def add_sent(self, delivery: Delivery, row: OutboxItem, receipt: dict[str, Any] | None) -> None:
        self.sent.append((delivery, row, receipt))
        self.arrived.set()

    def add_failed(self, row: OutboxItem, reason: str) -> None:
        self.failed.append((row.id, self.clock.now(), reason))
        self.arrived.set()

    def add_retry(self, row: OutboxItem, at: datetime, reason: str) -> None:
        self.retries.append((row.id, at, reason))
        self.arrived.set()

    async def store(self, renew: tuple[list[str], datetime] | None = None) -> set[str] | None:
        """Write what is here in one transaction; with `renew`, extend those leases in it too and
        return the lanes still held."""
        sent, failed, retries, release = self.sent, self.failed, self.retries, self.release
        self.sent, self.failed, self.retries, self.release = [], [], [], set()
        kept = None
        try:
            async with self.db.transaction() as tx:
                now = self.clock.now()
                receipts: dict[Delivery, list[tuple[OutboxItem, dict[str, Any]]]] = {}
                for delivery, row, receipt in sent:
                    if receipt is not None:
                        receipts.setdefault(delivery, []).append((row, receipt))
                for delivery, items in receipts.items():
                    await delivery.record(tx, items, now)
                await tx.outbox.done([row.id for _, row, _ in sent], now)
                for id_, at, reason in failed:
                    await tx.outbox.failed(id_, at, reason)
                for id_, at, reason in retries:
                    await tx.outbox.retry_at(id_, at, reason)
                if renew is not None:
                    kept = await tx.outbox.renew(renew[0], self.owner, renew[1])
                if release:
                    await tx.outbox.release(sorted(release), self.owner)
        except BaseException:
            self.sent, self.failed, self.retries = sent + self.sent, failed + self.failed, retries + self.retries
            self.release |= release
            self.failing = True
            raise
        self.failing = False
        return kept


class Dispatcher:
    def __init__(self, db: Database, clock: Clock, deliveries: list[Delivery], settings: DispatchSettings = DispatchSettings()) -> None:
        self.db = db
        self.clock = clock
        self.deliveries = deliveries
        self.settings = settings
        self.owner = uuid.uuid4().hex[:16]
        self.outcomes = Outcomes(db, clock, self.owner)
        self._wake = asyncio.Event()
        self._lease_until = clock.now()
        self._lost: set[str] = set()

    def delivery(self, action: str) -> Delivery | None:
        return next((d for d in self.deliveries if action.startswith(d.prefix)), None)

    async def close(self) -> None:
        if self.outcomes:
            try:
                await self.outcomes.store()
            except Exception:  # the database is gone: these rows stay pending and are sent again
                log.exception("outbox_outcomes_not_stored", rows=len(self.outcomes.sent))
        for d in self.deliveries:
            await d.close()

    def wake(self) -> None:
        """Something was queued in this process: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("dispatcher_started", owner=self.owner)
        while not stop.is_set():
            try:
                busy = await self.run_once()
            except Exception:  # a bug or a lost database must not stop delivery for good
                log.exception("dispatcher_round_failed")
                busy = 0
            if busy:
                continue
            self._wake.clear()
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=self.settings.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

    async def drain(self, rounds: int = 100) -> int:
        """Deliver everything due now (tests and the CLI): rounds until nothing moves."""
        total = 0
        for _ in range(rounds):
            n = await self.run_once()
            total += n
            if n == 0:
                break
        return total

    async def run_once(self) -> int:
        """One round: lease lanes with due rows and work through them. Returns rows settled."""
        if self.outcomes or self.outcomes.failing:
            await self.outcomes.store()  # left by a failed write: stored before anything is sent again
        now = self.clock.now()
        s = self.settings
        async with self.db.transaction() as tx:
            lanes = await tx.outbox.due_lanes(now, s.lanes_per_round)
            leased = await tx.outbox.lease(lanes, self.owner, now, now + s.lease)
        if not leased:
            return 0
        self._lease_until, self._lost = now + s.lease, set()
        finished = asyncio.Event()
        keeper = asyncio.create_task(self._keep(leased, finished), name="outbox-store")
        results: list[Any] = []
        try:
            work = await self._prepare(leased, now)
            results = await asyncio.gather(*(self._lane(rows) for rows in work), return_exceptions=True)
        finally:
            finished.set()
            self.outcomes.arrived.set()
            await keeper
            self.outcomes.release.update(leased)
            await self._store_rest()
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return sum(results)

    async def _prepare(self, lanes: list[str], now: datetime) -> list[list[OutboxItem]]:
        """Each lane's rows that are due, and what the deliveries need to send them, in one read."""
        work: list[list[OutboxItem]] = []
        async with self.db.read() as tx:
            for rows in (await tx.outbox.pending_in_lanes(lanes, self.settings.rows_per_lane)).values():
                due = next((i for i, r in enumerate(rows) if r.next_attempt_at > now), len(rows))
                work.append(rows[:due])  # a head waiting for its retry holds back the rows behind it
            for d in self.deliveries:
                mine = [r for rows in work for r in rows if r.action.startswith(d.prefix)]
                if mine:
                    await d.prepare(tx, mine)
        return work

    async def _keep(self, lanes: list[str], finished: asyncio.Event) -> None:
        """While the round's lanes run: store their outcomes as they come and renew the leases."""
        s = self.settings
        pause = 0.05
        while True:
            await _until(self.outcomes.arrived, s.lease.total_seconds() / 6)
            await _until(finished, s.store_every)  # a batch gathers: one transaction for many rows
            if finished.is_set():
                return  # the round's last write stores the rest together with the releases
            self.outcomes.arrived.clear()
            now = self.clock.now()
            renew = (lanes, now + s.lease) if now >= self._lease_until - s.lease * 2 / 3 else None
            if not self.outcomes and renew is None:
                continue
            try:
                kept = await self.outcomes.store(renew)
            except Exception:
                log.exception("outbox_store_failed", rows=len(self.outcomes.sent))
                self.outcomes.arrived.set()  # kept: tried again after a pause
                await _until(finished, pause)
                pause = min(pause * 2, 5.0)
                continue
            pause = 0.05
            if renew is not None and kept is not None:
                self._lease_until = renew[1]
                self._lost = set(lanes) - kept

    async def _store_rest(self) -> None:
        for attempt in range(self.settings.store_attempts):
            try:
                await self.outcomes.store()
                return
            except Exception:
                if attempt + 1 == self.settings.store_attempts:
                    raise  # kept: the next round stores them before it sends anything
                log.warning("outbox_store_retry", attempt=attempt + 1, rows=len(self.outcomes.sent), exc_info=True)
                await asyncio.sleep(0.05 * 2**attempt)

    def _holds(self, lane: str) -> bool:
        """Whether the lane's lease leaves time for one more send (renewals keep it far ahead; if
        they fail, the lane stops well before another replica may take it over)."""
        return lane not in self._lost and self.clock.now() < self._lease_until - self.settings.lease / 3

    async def _lane(self, rows: list[OutboxItem]) -> int:
        settled = 0
        for row in rows:
            if self.outcomes.failing or not self._holds(row.lane):
                break  # the rest waits for the next round, in order
            if not await self._deliver(row):
                break
            settled += 1
        return settled

    async def _deliver(self, row: OutboxItem) -> bool:
        """Send one row and note the outcome; False when the lane has to wait for a retry."""
        delivery = self.delivery(row.action)
        try:
            if delivery is None:
                channel = row.action.split(".", 1)[0]
                raise PermanentFailure(f"{channel} is not configured, so this was not sent")
            receipt = await delivery.send(row)
        except RetryLater as e:
            return self._retry(row, e)
        except PermanentFailure as e:
            self._fail(row, e.reason)
            return True
        except DeliveryError as e:  # pragma: no cover - every DeliveryError is one of the two above
            self._fail(row, str(e))
            return True
        self.outcomes.add_sent(delivery, row, receipt)
        return True

    def _retry(self, row: OutboxItem, e: RetryLater) -> bool:
        attempts = row.attempts + 1
        s = self.settings
        if (s.max_attempts is not None and attempts >= s.max_attempts) or self.clock.now() - row.created_at >= s.give_up_after:
            self._fail(row, f"gave up after {attempts} attempts: {e.reason}")
            return True
        wait = e.seconds if e.seconds is not None else min(s.backoff_max, s.backoff_base * 2 ** row.attempts)
        self.outcomes.add_retry(row, self.clock.now() + timedelta(seconds=wait), e.reason)
        log.info("outbox_retry", outbox_id=row.id, lane=row.lane, action=row.action, attempt=attempts, wait_seconds=wait, reason=e.reason)
        return False

    def _fail(self, row: OutboxItem, reason: str) -> None:
        self.outcomes.add_failed(row, reason)
        log.warning("outbox_failed", outbox_id=row.id, lane=row.lane, action=row.action, alert_id=row.alert_id, reason=reason)


async def _until(event: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `event` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
