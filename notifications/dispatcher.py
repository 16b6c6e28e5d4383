"""The outbox dispatcher: claims lanes with due rows, renders from the current state, sends,
and stores the receipt in the transaction that marks the row done. It alone retries."""

from __future__ import annotations

import asyncio
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
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int | None = None  # None: retry until `give_up_after`
    give_up_after: timedelta = timedelta(hours=48)  # an SMTP server down for a day delays mail, never loses it
    backoff_base: float = 2.0
    backoff_max: float = 600.0
    poll_seconds: float = 1.0


class Delivery(Protocol):
    """One outbound channel (Slack, mail): sends the rows whose action starts with `prefix`."""

    prefix: str

    async def start_round(self, tx: Tx) -> None: ...

    async def send(self, row: OutboxItem) -> dict[str, Any] | None: ...

    async def record(self, tx: Tx, row: OutboxItem, receipt: dict[str, Any], now: datetime) -> None: ...

    async def close(self) -> None: ...


class Dispatcher:
    def __init__(self, db: Database, clock: Clock, deliveries: list[Delivery], settings: DispatchSettings = DispatchSettings()) -> None:
        self.db = db
        self.clock = clock
        self.deliveries = deliveries
        self.settings = settings
        self.owner = uuid.uuid4().hex[:16]
        self._wake = asyncio.Event()

    def delivery(self, action: str) -> Delivery | None:
        return next((d for d in self.deliveries if action.startswith(d.prefix)), None)

    async def close(self) -> None:
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
        now = self.clock.now()
        async with self.db.transaction() as tx:
            lanes = await tx.outbox.due_lanes(now, self.settings.lanes_per_round)
            leased = await tx.outbox.lease(lanes, self.owner, now, now + self.settings.lease)
            if leased:
                for d in self.deliveries:
                    await d.start_round(tx)
        if not leased:
            return 0
        counts = await asyncio.gather(*(self._lane(lane) for lane in leased))
        return sum(counts)

    async def _lane(self, lane: str) -> int:
        settled = 0
        try:
            async with self.db.read() as tx:
                rows = await tx.outbox.pending_in(lane, self.settings.rows_per_lane)
            for row in rows:
                if row.next_attempt_at > self.clock.now():
                    break  # the head waits for its retry; later rows keep their order behind it
                if not await self._deliver(row):
                    break
                settled += 1
        finally:
            async with self.db.transaction() as tx:
                await tx.outbox.release(lane, self.owner)
        return settled

    async def _deliver(self, row: OutboxItem) -> bool:
        """Send one row and record the outcome; False when the lane has to wait for a retry."""
        delivery = self.delivery(row.action)
        try:
            if delivery is None:
                channel = row.action.split(".", 1)[0]
                raise PermanentFailure(f"{channel} is not configured, so this was not sent")
            receipt = await delivery.send(row)
        except RetryLater as e:
            return await self._retry(row, e)
        except PermanentFailure as e:
            await self._fail(row, e.reason)
            return True
        except DeliveryError as e:  # pragma: no cover - every DeliveryError is one of the two above
            await self._fail(row, str(e))
            return True
        async with self.db.transaction() as tx:
            if receipt is not None and delivery is not None:
                await delivery.record(tx, row, receipt, self.clock.now())
            await tx.outbox.done([row.id], self.clock.now())
        return True

    async def _retry(self, row: OutboxItem, e: RetryLater) -> bool:
        attempts = row.attempts + 1
        s = self.settings
        if (s.max_attempts is not None and attempts >= s.max_attempts) or self.clock.now() - row.created_at >= s.give_up_after:
            await self._fail(row, f"gave up after {attempts} attempts: {e.reason}")
            return True
        wait = e.seconds if e.seconds is not None else min(self.settings.backoff_max, self.settings.backoff_base * 2 ** row.attempts)
        at = self.clock.now() + timedelta(seconds=wait)
        async with self.db.transaction() as tx:
            await tx.outbox.retry_at(row.id, at, e.reason)
        log.info("outbox_retry", outbox_id=row.id, lane=row.lane, action=row.action, attempt=attempts, wait_seconds=wait, reason=e.reason)
        return False

    async def _fail(self, row: OutboxItem, reason: str) -> None:
        async with self.db.transaction() as tx:
            await tx.outbox.failed(row.id, self.clock.now(), reason)
        log.warning("outbox_failed", outbox_id=row.id, lane=row.lane, action=row.action, alert_id=row.alert_id, reason=reason)
