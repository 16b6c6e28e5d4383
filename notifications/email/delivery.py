"""Delivering the outbox's mail rows: render from the current state in the dealer's language,
compose with a tagged Reply-To and a VERP envelope sender, send, and remember the Message-ID."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.clock import Clock
from bot.domain.errors import PermanentFailure
from bot.domain.outbound import Action
from notifications.email import render
from notifications.email.compose import MailIdentity, compose
from notifications.email.sender import SmtpSender
from storage.database import Database, Tx
from storage.repositories.outbox import OutboxItem


class MailDelivery:
    prefix = "mail."

    def __init__(self, db: Database, clock: Clock, sender: SmtpSender, identity: MailIdentity, bounce_limit: int = 3) -> None:
        self.db = db
        self.clock = clock
        self.sender = sender
        self.identity = identity
        self.bounce_limit = bounce_limit

    async def start_round(self, tx: Tx) -> None:
        pass

    async def send(self, row: OutboxItem) -> dict[str, Any] | None:
        to = str(row.payload.get("to") or "")
        if not to:
            raise PermanentFailure("no recipient")
        async with self.db.read() as tx:
            if await tx.mail.suppressed([to], self.bounce_limit):
                raise PermanentFailure(f"{to} bounced {self.bounce_limit} times; nothing is sent there until `cxbot addresses verify {to}`")
            view = await tx.views.alert_view(row.alert_id) if row.alert_id else None
        if view is None:
            raise PermanentFailure(f"alert {row.alert_id} no longer exists")
        lang = row.payload.get("lang") or view.dealer_language
        action = Action(row.action)
        if action is Action.MAIL_ALERT:
            mail, purpose = render.alert_mail(view, lang), "alert"
        elif action is Action.MAIL_NOTE:
            purpose = str(row.payload.get("kind", "confirm"))
            text = str(row.payload.get("text") or "")
            if purpose == "confirm":
                mail = render.confirmation_mail(view, lang, text)
            elif purpose == "comment":
                mail = render.comment_mail(view, lang, text)
            else:
                mail = render.refusal_mail(view, lang, text)
        else:
            raise PermanentFailure(f"unknown outbox action {row.action!r}")
        composed = compose(mail, to, self.identity, self.clock.now(), view.alert.id, row.payload.get("in_reply_to"))
        await self.sender.send(composed.message, composed.envelope_from, [to])
        return {"message_id": composed.message_id, "to": to, "purpose": purpose, "verp_tag": composed.verp_tag}

    async def record(self, tx: Tx, row: OutboxItem, receipt: dict[str, Any], now: datetime) -> None:
        await tx.mail.sent(receipt["message_id"], row.alert_id, receipt["to"], receipt["purpose"], now)
        await tx.mail.remember(receipt["to"], receipt["verp_tag"])

    async def close(self) -> None:
        await self.sender.close()
