"""Delivering the outbox's Slack rows: render from the current state, pace, call, and record the
card's receipt so it is never posted twice."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain.errors import PermanentFailure
from bot.domain.outbound import Action
from notifications.pacing import Pacer, SlackPaces
from notifications.slack import blocks
from notifications.slack.client import SlackSender
from storage.database import Database, Tx
from storage.repositories.outbox import OutboxItem


class SlackDelivery:
    prefix = "slack."

    def __init__(self, db: Database, sender: SlackSender, paces: SlackPaces | None, pacer: Pacer | None = None, concurrency: int = 8) -> None:
        self.db = db
        self.sender = sender
        self.paces = paces
        self.pacer = pacer or Pacer()
        self._slots = asyncio.Semaphore(concurrency)
        self._removed: set[str] = set()

    async def start_round(self, tx: Tx) -> None:
        self._removed = await tx.slack.removed_teams()

    async def send(self, row: OutboxItem) -> dict[str, Any] | None:
        """Deliver `row`; for a card, return the receipt to store with the row's completion."""
        if row.team_id and row.team_id in self._removed:
            raise PermanentFailure(f"cxbot was removed from Slack workspace {row.team_id}")
        action = Action(row.action)
        if action is Action.SLACK_CARD:
            return await self._card(row)
        if action is Action.SLACK_REFRESH:
            await self._refresh(row)
        elif action in (Action.SLACK_THREAD_NOTE, Action.SLACK_TEXT):
            await self._threaded(row, action)
        else:
            raise PermanentFailure(f"unknown outbox action {row.action!r}")
        return None

    async def record(self, tx: Tx, row: OutboxItem, receipt: dict[str, Any], now: Any) -> None:
        await tx.slack.record(row.alert_id or "", "card", row.team_id or "-", receipt["channel"], receipt["ts"], now)

    async def close(self) -> None:
        await self.sender.close()

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
        if self.paces is not None:  # wait for the pace before taking a send slot
            await self.pacer.wait(self.paces.needs(method, row.team_id, params.get("channel")))
        async with self._slots:
            return await self.sender.call(row.team_id, method, **params)
