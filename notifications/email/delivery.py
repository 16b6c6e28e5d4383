"""Delivering the outbox's mail rows: render from the current state in the dealer's language,
compose with a tagged Reply-To and a VERP envelope sender, send, and remember the Message-ID."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from bot.domain.clock import Clock
from bot.domain.contact import mail_refusal
from bot.domain.detractors import Change
from bot.domain.errors import PermanentFailure
from bot.domain.invitations import InvitationStatus
from bot.domain.lost_sales import LostSalesPolicy
from bot.domain.tokens import survey_token
from bot.domain.outbound import Action
from notifications.email import detractors, render
from notifications.email.compose import MailIdentity, compose
from notifications.email.invitations import invitation_mail
from notifications.email.sender import SmtpSender
from storage.database import Database, Tx
from storage.repositories.outbox import OutboxItem


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


class MailDelivery:
    prefix = "mail."

    def __init__(
        self, db: Database, clock: Clock, sender: SmtpSender, identity: MailIdentity, bounce_limit: int = 3,
        lost_sales: LostSalesPolicy = LostSalesPolicy(), public_url: str = "",
    ) -> None:
        self.db = db
        self.clock = clock
        self.sender = sender
        self.identity = identity
        self.bounce_limit = bounce_limit
        self.lost_sales = lost_sales  # the survey link's validity and where it leads
        self.public_url = public_url

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
        if action is Action.MAIL_INVITATION:
            return await self._invitation(row, to)
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

    async def _invitation(self, row: OutboxItem, to: str) -> dict[str, Any]:
        """A lost-sales invitation or its reminder, with the personal link (signed, valid
        `link_days` from the first mail: the reminder carries the same link)."""
        reminder = bool(row.payload.get("reminder"))
        async with self.db.read() as tx:
            inv = await tx.invitations.linked(str(row.payload.get("invitation") or ""))
        if inv is None:
            raise PermanentFailure(f"invitation {row.payload.get('invitation')} no longer exists")
        wanted = (InvitationStatus.SENT, InvitationStatus.CLICKED) if reminder else (InvitationStatus.NOT_SENT,)
        if inv.status not in wanted:
            raise PermanentFailure(f"invitation {inv.id} is {inv.status}: no {'reminder' if reminder else 'invitation'} is sent")
        if not (self.public_url or self.lost_sales.survey_url):
            raise PermanentFailure("CXBOT_PUBLIC_URL is not set: the invitation's link cannot be made")
        now = self.clock.now()
        expires = inv.link_expires_at or now + timedelta(days=self.lost_sales.link_days)
        link = self.lost_sales.link(self.public_url, survey_token(self.identity.secret, inv.id, expires), inv.lang)
        mail = invitation_mail(inv, link, expires, reminder)
        receipt = await self._send(mail, to, None, None, "lost-sales-reminder" if reminder else "lost-sales-invitation")
        return {**receipt, "invitation": inv.id, "expires": expires.isoformat()}

    async def _send(self, mail: render.Mail, to: str, alert_id: str | None, in_reply_to: str | None, purpose: str) -> dict[str, Any]:
        composed = compose(mail, to, self.identity, self.clock.now(), alert_id, in_reply_to)
        await self.sender.send(composed.message, composed.envelope_from, [to])
        return {"message_id": composed.message_id, "to": to, "purpose": purpose, "verp_tag": composed.verp_tag}

    async def record(self, tx: Tx, sent: list[tuple[OutboxItem, dict[str, Any]]], now: datetime) -> None:
        for row, receipt in sent:
            await tx.mail.sent(receipt["message_id"], row.alert_id, receipt["to"], receipt["purpose"], now)
            await tx.mail.remember(receipt["to"], receipt["verp_tag"])
            if receipt.get("invitation"):
                await tx.invitations.mark_sent(receipt["invitation"], now, datetime.fromisoformat(receipt["expires"]))

    async def close(self) -> None:
        await self.sender.close()
