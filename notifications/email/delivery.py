"""Delivering the outbox's mail rows: render from the current state in the dealer's language,
compose with a tagged Reply-To and a VERP envelope sender, send, and remember the Message-ID."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.domain.clock import Clock
from bot.domain.contact import mail_refusal
from bot.domain.detractors import Change
from bot.domain.errors import PermanentFailure
from bot.domain.outbound import Action
from notifications.email import detractors, render
from notifications.email.compose import MailIdentity, compose
from notifications.email.sender import SmtpSender
from storage.database import Database, Tx
from storage.repositories.outbox import OutboxItem


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


class MailDelivery:
    prefix = "mail."

    def __init__(self, db: Database, clock: Clock, sender: SmtpSender, identity: MailIdentity, bounce_limit: int = 3) -> None:
        self.db = db
        self.clock = clock
        self.sender = sender
        self.identity = identity
        self.bounce_limit = bounce_limit

    async def prepare(self, tx: Tx, rows: list[OutboxItem]) -> None:
        pass  # each mail reads its alert and the bounce record just before it is sent

    async def send(self, row: OutboxItem) -> dict[str, Any] | None:
        to = str(row.payload.get("to") or "")
        if not to:
            raise PermanentFailure("no recipient")
        async with self.db.read() as tx:
            if await tx.mail.suppressed([to], self.bounce_limit):
                raise PermanentFailure(f"{to} bounced {_times(self.bounce_limit)}; nothing is sent there until `cxbot addresses verify {to}`")
            customer = row.payload.get("customer")  # [dealer, customer id]: mail to a customer
            if customer:
                await self._customer_may_receive(tx, (str(customer[0]), str(customer[1])), to)
            view = await tx.views.alert_view(row.alert_id) if row.alert_id else None
        action = Action(row.action)
        if action is Action.MAIL_DIGEST:
            mail = render.digest_mail(row.payload, row.payload.get("lang"))
            return await self._send(mail, to, None, None, "digest")
        if action in (Action.MAIL_DETRACTOR_ACTIVITY, Action.MAIL_DETRACTOR_DIGEST):
            mail, purpose = await self._detractor_mail(row, action)
            return await self._send(mail, to, None, None, purpose)
        if view is None:
            raise PermanentFailure(f"alert {row.alert_id} no longer exists")
        lang = row.payload.get("lang") or view.dealer_language
        if action is Action.MAIL_ALERT:
            level = int(row.payload.get("escalation") or 0)
            mail = render.alert_mail(view, lang, escalation=level or None, reminder=bool(row.payload.get("reminder")))
            purpose = "escalation" if level else "reminder" if row.payload.get("reminder") else "alert"
        elif action is Action.MAIL_NOTE:
            purpose = str(row.payload.get("kind", "confirm"))
            text = str(row.payload.get("text") or "")
            if purpose == "confirm":
                mail = render.confirmation_mail(view, lang, text)
            elif purpose == "comment":
                mail = render.comment_mail(view, lang, text)
            else:
                mail = render.refusal_mail(view, lang, text, row.payload.get("reason"))
        else:
            raise PermanentFailure(f"unknown outbox action {row.action!r}")
        return await self._send(mail, to, view.alert.id, row.payload.get("in_reply_to"), purpose)

    async def _customer_may_receive(self, tx: Tx, key: tuple[str, str], to: str) -> None:
        """Seed 003: nothing is ever emailed to a customer who opted out of email, whose address
        bounced up to the limit, or who is no longer at that address."""
        facts = (await tx.customers.mail_facts([key])).get(key)
        if facts is None or facts.anonymized or not facts.email or facts.email.lower() != to.lower():
            raise PermanentFailure(f"{to} is not the address of customer {key[1]} at {key[0]}")
        why = mail_refusal(facts.email, facts.contact_permissions, facts.bounces, self.bounce_limit)
        if why:
            raise PermanentFailure(f"not sent to customer {key[1]} at {key[0]}: {why}")

    async def _detractor_mail(self, row: OutboxItem, action: Action) -> tuple[render.Mail, str]:
        """A detractor warning or the daily digest, read from the current state (no alert: no reply tag)."""
        p = row.payload
        async with self.db.read() as tx:
            if action is Action.MAIL_DETRACTOR_ACTIVITY:
                warning = await tx.activities.warning(int(p.get("activity") or 0))
                if warning is None:
                    raise PermanentFailure(f"activity {p.get('activity')} no longer exists")
                return detractors.activity_mail(warning, warning.dealer_language), "detractor-activity"
            lists = {c: [str(x) for x in p.get(c.value) or []] for c in Change}
            digest = await tx.detractors.digest(str(p.get("dealer")), date.fromisoformat(str(p.get("day"))), lists, int(p.get("left_out") or 0))
        if digest is None:
            raise PermanentFailure(f"dealer {p.get('dealer')} no longer exists")
        return detractors.digest_mail(digest, digest.dealer_language), "detractor-digest"

    async def _send(self, mail: render.Mail, to: str, alert_id: str | None, in_reply_to: str | None, purpose: str) -> dict[str, Any]:
        composed = compose(mail, to, self.identity, self.clock.now(), alert_id, in_reply_to)
        await self.sender.send(composed.message, composed.envelope_from, [to])
        return {"message_id": composed.message_id, "to": to, "purpose": purpose, "verp_tag": composed.verp_tag}

    async def record(self, tx: Tx, sent: list[tuple[OutboxItem, dict[str, Any]]], now: datetime) -> None:
        for row, receipt in sent:
            await tx.mail.sent(receipt["message_id"], row.alert_id, receipt["to"], receipt["purpose"], now)
            await tx.mail.remember(receipt["to"], receipt["verp_tag"])

    async def close(self) -> None:
        await self.sender.close()
