"""The outbox dispatcher: claims lanes with due rows, renders from the current state, sends,
and stores the receipt in the transaction that marks the row done. It alone retries."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog

from bot.domain.clock import Clock
from bot.domain.errors import DeliveryError, PermanentFailure, RetryLater
from bot.domain.outbound import Action
from notifications.pacing import Pacer, SlackPaces
from notifications.slack import blocks
from notifications.slack.client import SlackSender
from storage.database import Database
from storage.repositories.outbox import OutboxItem

log = structlog.get_logger()


@dataclass(frozen=True)
class DispatchSettings:
    concurrency: int = 8  # sends in flight at once
    lanes_per_round: int = 200
    rows_per_lane: int = 50
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 10
    backoff_base: float = 2.0
    backoff_max: float = 600.0
    poll_seconds: float = 1.0


class Dispatcher:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        slack: SlackSender | None,
        settings: DispatchSettings = DispatchSettings(),
        paces: SlackPaces | None = SlackPaces(),
        pacer: Pacer | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.slack = slack
        self.settings = settings
        self.paces = paces
        self.pacer = pacer or Pacer()
        self.owner = uuid.uuid4().hex[:16]
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._wake = asyncio.Event()
        self._removed: set[str] = set()

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
            self._removed = await tx.slack.removed_teams() if leased else self._removed
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
        try:
            receipt = await self._send(row)
        except RetryLater as e:
            return await self._retry(row, e)
        except PermanentFailure as e:
            await self._fail(row, e.reason)
            return True
        except DeliveryError as e:  # pragma: no cover - every DeliveryError is one of the two above
            await self._fail(row, str(e))
            return True
        async with self.db.transaction() as tx:
            if receipt is not None:
                await tx.slack.record(row.alert_id or "", "card", row.team_id or "-", receipt["channel"], receipt["ts"], self.clock.now())
            await tx.outbox.done([row.id], self.clock.now())
        return True

    async def _retry(self, row: OutboxItem, e: RetryLater) -> bool:
        attempts = row.attempts + 1
        if attempts >= self.settings.max_attempts:
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

    # ---- per action -----------------------------------------------------------------------

    async def _send(self, row: OutboxItem) -> dict[str, Any] | None:
        """Deliver `row`; for a card, return the receipt to store with the row's completion."""
        action = Action(row.action)
        if self.slack is None:
            raise PermanentFailure("Slack is not configured (set CXBOT_SLACK_BOT_TOKEN, or CXBOT_SLACK_CLIENT_ID to install the app)")
        if row.team_id and row.team_id in self._removed:
            raise PermanentFailure(f"cxbot was removed from Slack workspace {row.team_id}")
        if action is Action.SLACK_CARD:
            return await self._card(row)
        if action is Action.SLACK_REFRESH:
            await self._refresh(row)
        elif action in (Action.SLACK_THREAD_NOTE, Action.SLACK_TEXT):
            await self._threaded(row, action)
        else:
            raise PermanentFailure(f"unknown outbox action {row.action!r}")
        return None

    async def _view_and_receipt(self, alert_id: str) -> tuple[Any, Any]:
        async with self.db.read() as tx:
            return await tx.views.alert_view(alert_id), await tx.slack.receipt(alert_id)

    async def _card(self, row: OutboxItem) -> dict[str, Any] | None:
        view, receipt = await self._view_and_receipt(row.alert_id or "")
        if receipt is not None:
            return None  # posted before a crash kept us from marking the row: never post twice
        if view is None:
            raise PermanentFailure(f"alert {row.alert_id} no longer exists")
        msg = blocks.alert_message(view)
        answer = await self._call(row, "chat.postMessage", channel=row.channel_id, text=msg.text, blocks=msg.blocks, unfurl_links=False, unfurl_media=False)
        return {"channel": answer.get("channel") or row.channel_id, "ts": answer["ts"]}

    async def _refresh(self, row: OutboxItem) -> None:
        view, receipt = await self._view_and_receipt(row.alert_id or "")
        if receipt is None or view is None:
            raise PermanentFailure(f"the message of {row.alert_id} was never posted, so it cannot be updated")
        msg = blocks.alert_message(view)
        await self._call(row, "chat.update", channel=receipt.channel_id, ts=receipt.ts, text=msg.text, blocks=msg.blocks)

    async def _threaded(self, row: OutboxItem, action: Action) -> None:
        thread_ts = None
        channel = row.channel_id
        if row.alert_id:
            async with self.db.read() as tx:
                receipt = await tx.slack.receipt(row.alert_id)
            if receipt is None:
                raise PermanentFailure(f"the message of {row.alert_id} was never posted, so its thread does not exist")
            thread_ts, channel = receipt.ts, receipt.channel_id
        thread_ts = row.payload.get("thread_ts") or thread_ts
        msg = blocks.note_message(row.payload) if action is Action.SLACK_THREAD_NOTE else blocks.text_message(str(row.payload.get("text", "")))
        params: dict[str, Any] = {"channel": channel, "text": msg.text, "blocks": msg.blocks, "unfurl_links": False}
        if thread_ts:
            params["thread_ts"] = thread_ts
        await self._call(row, "chat.postMessage", **params)

    async def _call(self, row: OutboxItem, method: str, **params: Any) -> dict[str, Any]:
        assert self.slack is not None
        if self.paces is not None:
            await self.pacer.wait(self.paces.needs(method, row.team_id, params.get("channel")))
        async with self._slots:
            return await self.slack.call(row.team_id, method, **params)

