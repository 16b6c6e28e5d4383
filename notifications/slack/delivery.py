"""Delivering the outbox's Slack rows: render from the current state, pace, call, and record the
card's receipt so it is never posted twice."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any, NamedTuple

from bot.domain.errors import PermanentFailure
from bot.domain.outbound import Action
from bot.domain.views import AlertView
from notifications.pacing import Pacer, SlackPaces
from notifications.slack import blocks, detractors
from notifications.slack.client import SlackSender
from notifications.slack.review_delivery import ReviewMessages
from storage.database import Database, Tx
from storage.repositories.outbox import OutboxItem

# The views read for a round are used while this young; a lane still sending after that (a paced
# one waits its turn) reads its next few again. So a message shows its alert as it was at most this
# long before it is sent, and any change since then has queued an update behind it in the lane.
FRESH_SECONDS = 10.0
REREAD_ROWS = 20
SHOWS_ALERT = (Action.SLACK_CARD, Action.SLACK_REFRESH)


class Receipt(NamedTuple):
    channel_id: str
    ts: str


class SlackDelivery:
    prefix = "slack."

    def __init__(self, db: Database, sender: SlackSender, paces: SlackPaces | None, pacer: Pacer | None = None, concurrency: int = 8) -> None:
        self.db = db
        self.sender = sender
        self.paces = paces
        self.pacer = pacer or Pacer()
        self._slots = asyncio.Semaphore(concurrency)
        self._removed: set[str] = set()
        self._shown: dict[str, list[tuple[int, str]]] = {}  # lane → (row id, alert id) of its cards and updates
        self._views: dict[str, tuple[AlertView, float]] = {}  # alert id → (view, when read)
        # Cards' receipts: stored ones, and those of cards posted this round (not stored yet, but
        # later rows of the lane already need them for the thread or the update).
        self._receipts: dict[str, Receipt] = {}
        self.reviews = ReviewMessages(db)  # public reviews' messages (no alert; receipts on the review)

    async def prepare(self, tx: Tx, rows: list[OutboxItem]) -> None:
        self._removed = await tx.slack.removed_teams()
        ids = sorted({r.alert_id for r in rows if r.alert_id})
        self._receipts = {a: Receipt(r.channel_id, r.ts) for a, r in (await tx.slack.receipts(ids)).items()}
        shown = [r for r in rows if r.alert_id and r.action in SHOWS_ALERT]
        self._shown = {}
        for r in shown:
            self._shown.setdefault(r.lane, []).append((r.id, r.alert_id or ""))
        at = time.monotonic()
        self._views = {a: (v, at) for a, v in (await tx.views.alert_views([r.alert_id or "" for r in shown])).items()}
        await self.reviews.prepare(tx, rows)

    async def send(self, row: OutboxItem) -> dict[str, Any] | None:
        """Deliver `row`; for a card, return the receipt to store with the row's completion."""
        if row.team_id and row.team_id in self._removed:
            raise PermanentFailure(f"cxbot was removed from Slack workspace {row.team_id}")
        action = Action(row.action)
        if action in ReviewMessages.ACTIONS:
            return await self.reviews.send(row, action, self._pace, self._post)
        if action is Action.SLACK_DETRACTOR_ACTIVITY:
            await self._detractor_activity(row)
            return None
        if action is Action.SLACK_CARD:
            return await self._card(row)
        if action is Action.SLACK_REFRESH:
            await self._refresh(row)
        elif action in (Action.SLACK_THREAD_NOTE, Action.SLACK_TEXT):
            await self._threaded(row, action)
        elif action is Action.SLACK_ESCALATION:
            return await self._escalation(row)
        else:
            raise PermanentFailure(f"unknown outbox action {row.action!r}")
        return None

    async def record(self, tx: Tx, sent: list[tuple[OutboxItem, dict[str, Any]]], now: datetime) -> None:
        await self.reviews.record(tx, [(row, r) for row, r in sent if "review" in r], now)
        sent = [(row, r) for row, r in sent if "review" not in r]
        await tx.slack.record_many(
            [
                {
                    "alert_id": row.alert_id or "",
                    "purpose": r.get("purpose", "card"),
                    "team_id": row.team_id or "-",
                    "channel_id": r["channel"],
                    "ts": r["ts"],
                    "posted_at": now,
                }
                for row, r in sent
            ]
        )

    async def close(self) -> None:
        await self.sender.close()

    async def _view(self, row: OutboxItem) -> AlertView | None:
        """The row's alert as read for the round, or with the lane's next few once that is old."""
        alert_id = row.alert_id or ""
        seen = self._views.get(alert_id)
        if seen is None or time.monotonic() - seen[1] > FRESH_SECONDS:
            lane = self._shown.get(row.lane, [])
            i = next((i for i, (id_, _) in enumerate(lane) if id_ == row.id), len(lane))
            async with self.db.read() as tx:
                views = await tx.views.alert_views([a for _, a in lane[i : i + REREAD_ROWS]] or [alert_id])
            at = time.monotonic()
            self._views.update((a, (v, at)) for a, v in views.items())
            seen = self._views.get(alert_id)
        return seen[0] if seen is not None else None

    async def _card(self, row: OutboxItem) -> dict[str, Any] | None:
        alert_id = row.alert_id or ""
        if alert_id in self._receipts:
            return None  # posted before a crash kept us from marking the row: never post twice
        await self._pace(row, "chat.postMessage", row.channel_id)
        view = await self._view(row)
        if view is None:
            raise PermanentFailure(f"alert {row.alert_id} no longer exists")
        msg = blocks.alert_message(view)
        answer = await self._post(
            row, "chat.postMessage", channel=row.channel_id, text=msg.text, blocks=msg.blocks, unfurl_links=False, unfurl_media=False
        )
        receipt = Receipt(answer.get("channel") or row.channel_id or "", answer["ts"])
        self._receipts[alert_id] = receipt
        return {"channel": receipt.channel_id, "ts": receipt.ts}

    async def _escalation(self, row: OutboxItem) -> dict[str, Any] | None:
        """The card, posted again in the escalation target's channel (once per level)."""
        level = int(row.payload.get("level") or 1)
        purpose = f"escalation-{level}"
        async with self.db.read() as tx:
            if await tx.slack.receipt(row.alert_id or "", purpose) is not None:
                return None  # posted before a crash kept us from marking the row
            view = (await tx.views.alert_views([row.alert_id or ""])).get(row.alert_id or "")
        if view is None:
            raise PermanentFailure(f"alert {row.alert_id} no longer exists")
        await self._pace(row, "chat.postMessage", row.channel_id)
        msg = blocks.escalation_message(view, level)
        answer = await self._post(
            row, "chat.postMessage", channel=row.channel_id, text=msg.text, blocks=msg.blocks, unfurl_links=False, unfurl_media=False
        )
        return {"channel": answer.get("channel") or row.channel_id or "", "ts": answer["ts"], "purpose": purpose}

    async def _refresh(self, row: OutboxItem) -> None:
        if row.payload.get("purpose"):
            return await self._refresh_post(row, str(row.payload["purpose"]))
        never = PermanentFailure(f"the message of {row.alert_id} was never posted, so it cannot be updated")
        receipt = self._receipts.get(row.alert_id or "")
        if receipt is None:
            raise never
        await self._pace(row, "chat.update", receipt.channel_id)
        view = await self._view(row)
        if view is None:
            raise never
        msg = blocks.alert_message(view)
        await self._post(row, "chat.update", channel=receipt.channel_id, ts=receipt.ts, text=msg.text, blocks=msg.blocks)

    async def _refresh_post(self, row: OutboxItem, purpose: str) -> None:
        """Update another post of the alert (an escalation post) in place: erasure asks for it."""
        async with self.db.read() as tx:
            receipt = await tx.slack.receipt(row.alert_id or "", purpose)
            view = (await tx.views.alert_views([row.alert_id or ""])).get(row.alert_id or "")
        if receipt is None or view is None:
            raise PermanentFailure(f"the {purpose} message of {row.alert_id} was never posted, so it cannot be updated")
        await self._pace(row, "chat.update", receipt.channel_id)
        msg = blocks.escalation_message(view, int(row.payload.get("level") or 1))
        await self._post(row, "chat.update", channel=receipt.channel_id, ts=receipt.ts, text=msg.text, blocks=msg.blocks)

    async def _detractor_activity(self, row: OutboxItem) -> None:
        """The warning that an activity was opened for a detractor, read from the current state."""
        async with self.db.read() as tx:
            warning = await tx.activities.warning(int(row.payload.get("activity") or 0))
        if warning is None:
            raise PermanentFailure(f"activity {row.payload.get('activity')} no longer exists")
        msg = detractors.activity_warning(warning)
        await self._pace(row, "chat.postMessage", row.channel_id)
        await self._post(row, "chat.postMessage", channel=row.channel_id, text=msg.text, blocks=msg.blocks, unfurl_links=False, unfurl_media=False)

    async def _threaded(self, row: OutboxItem, action: Action) -> None:
        thread_ts = None
        channel = row.channel_id
        if row.alert_id:
            receipt = self._receipts.get(row.alert_id)
            if receipt is None:
                raise PermanentFailure(f"the message of {row.alert_id} was never posted, so its thread does not exist")
            thread_ts, channel = receipt.ts, receipt.channel_id
        thread_ts = row.payload.get("thread_ts") or thread_ts
        msg = blocks.note_message(row.payload) if action is Action.SLACK_THREAD_NOTE else blocks.text_message(str(row.payload.get("text", "")))
        params: dict[str, Any] = {"channel": channel, "text": msg.text, "blocks": msg.blocks, "unfurl_links": False}
        if thread_ts:
            params["thread_ts"] = thread_ts
        await self._pace(row, "chat.postMessage", channel)
        await self._post(row, "chat.postMessage", **params)

    async def _pace(self, row: OutboxItem, method: str, channel: str | None) -> None:
        """Wait for Slack's pace; before reading the view and before taking a send slot."""
        if self.paces is not None:
            await self.pacer.wait(self.paces.needs(method, row.team_id, channel))

    async def _post(self, row: OutboxItem, method: str, **params: Any) -> dict[str, Any]:
        async with self._slots:
            return await self.sender.call(row.team_id, method, **params)
