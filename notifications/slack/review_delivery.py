"""Posting and updating public reviews' Slack messages, for SlackDelivery: rendered from the
review's current state at send time; the message's receipt is kept on the review row."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Awaitable, Callable

from bot.domain.errors import PermanentFailure
from bot.domain.outbound import Action
from bot.domain.reviews import ReviewView, review_ref
from notifications.slack.review_blocks import review_message
from storage.database import Database, Tx
from storage.repositories.outbox import OutboxItem
from storage.repositories.reviews import Receipt

Pace = Callable[[OutboxItem, str, str | None], Awaitable[None]]
Post = Callable[..., Awaitable[dict[str, Any]]]


class ReviewMessages:
    ACTIONS = (Action.SLACK_REVIEW, Action.SLACK_REVIEW_REFRESH)

    def __init__(self, db: Database) -> None:
        self.db = db
        # Stored receipts, and those of messages posted this round (their update may follow in
        # the same lane before the round's receipts are stored).
        self._receipts: dict[int, Receipt] = {}

    @staticmethod
    def _id(row: OutboxItem) -> int:
        return int(row.payload.get("review") or 0)

    async def prepare(self, tx: Tx, rows: list[OutboxItem]) -> None:
        ids = [self._id(r) for r in rows if r.action in self.ACTIONS]
        self._receipts = await tx.reviews.receipts(ids) if ids else {}

    async def send(self, row: OutboxItem, action: Action, pace: Pace, post: Post) -> dict[str, Any] | None:
        review_id = self._id(row)
        if action is Action.SLACK_REVIEW:
            if review_id in self._receipts:
                return None  # posted before a crash kept us from marking the row: never post twice
            await pace(row, "chat.postMessage", row.channel_id)
            msg = review_message(await self._view(review_id))
            answer = await post(
                row, "chat.postMessage", channel=row.channel_id, text=msg.text, blocks=msg.blocks, unfurl_links=False, unfurl_media=False
            )
            receipt = Receipt(row.team_id, answer.get("channel") or row.channel_id or "", answer["ts"])
            self._receipts[review_id] = receipt
            return {"review": review_id, "channel": receipt.channel, "ts": receipt.ts}
        receipt = self._receipts.get(review_id)
        if receipt is None:
            raise PermanentFailure(f"the message of {review_ref(review_id)} was never posted, so it cannot be updated")
        await pace(row, "chat.update", receipt.channel)
        msg = review_message(await self._view(review_id))
        await post(row, "chat.update", channel=receipt.channel, ts=receipt.ts, text=msg.text, blocks=msg.blocks)
        return None

    async def record(self, tx: Tx, sent: list[tuple[OutboxItem, dict[str, Any]]], now: datetime) -> None:
        await tx.reviews.record_posts([(int(r["review"]), row.team_id, r["channel"], r["ts"]) for row, r in sent], now)

    async def _view(self, review_id: int) -> ReviewView:
        # Read per message, just before it is sent: reviews are few, and a reply made while the
        # message waited for its turn is shown at once.
        async with self.db.read() as tx:
            view = (await tx.reviews.views([review_id])).get(review_id)
        if view is None:
            raise PermanentFailure(f"review {review_ref(review_id)} no longer exists")
        return view
