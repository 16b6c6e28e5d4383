"""Erasure (GDPR): a customer's personal data removed for good, the KPIs' figures kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from bot.domain.errors import NotFound
from bot.domain.outbound import Action, Outbound, to_slack
from bot.domain.values import ANONYMOUS, Actor, HistoryEntry, HistoryEvent, Kind
from bot.services import Context, access, reviews, routing
from storage.database import Tx
from storage.repositories.erasure import Scope, Subject

log = structlog.get_logger()
ERASED_NOTE = "Personal data of the customer erased (GDPR)."


@dataclass(frozen=True)
class Preview:
    """What the operator confirms: whose data, and how much hangs on it."""

    dealer: str
    customer_id: str
    name: str  # "Anonymous" when the record holds no name
    responses: int
    alerts: int
    erased_at: datetime | None  # an earlier erasure
    erased_by: str | None


@dataclass(frozen=True)
class Erasure:
    dealer: str
    customer_id: str
    cleared: dict[str, int]  # rows changed per kind of record
    alerts: list[str]  # each got an "erased" history entry
    slack_updates: int  # posted Slack messages queued to show "Anonymous"
    at: datetime


async def preview(cx: Context, actor: Actor, dealer: str, customer_id: str) -> Preview:
    async with cx.db.read() as tx:
        subject = await _subject(tx, actor, dealer, customer_id)
    c = subject.row
    return Preview(dealer, customer_id, c.name or ANONYMOUS, subject.responses, len(subject.alerts), c.erased_at, c.erased_by)


async def forget(cx: Context, actor: Actor, dealer: str, customer_id: str) -> Erasure:
    """Erase the customer's personal data everywhere cxbot stores it, in one transaction: their
    record, their answers' contact details, dates and comments, every note on their alerts (a
    note may name them in any words), their complaints' details, notifications about them, their
    address's bounce records; their public reviews are withdrawn for good. Scores, alert states and times stay for the KPIs. The one rewrite of the alert
    history: notes are redacted, and an entry records that an erasure happened, when and by whom
    — not what was removed. Posted Slack messages are updated to show "Anonymous"."""
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        subject = await _subject(tx, actor, dealer, customer_id)
        scope = await _scope(tx, subject, dealer, customer_id)
        cleared = await tx.erasure.clear(scope)
        await tx.erasure.mark_erased(dealer, customer_id, now, actor.label)
        alert_ids = [a for a, _ in subject.alerts]
        await tx.history.append(
            [HistoryEntry(a, now, actor.channel, actor.label, HistoryEvent.ERASED, None, None, ERASED_NOTE, actor.person_id) for a in alert_ids]
        )
        updates = await _slack_updates(tx, subject, cx.channels)
        updates += await reviews.forget_customer(tx, cx.channels, dealer, customer_id, now)
        await tx.outbox.enqueue(updates, now)
    if updates:
        cx.wake()
    log.info("customer_erased", dealer=dealer, customer_id=customer_id, alerts=len(alert_ids), by=actor.label)
    return Erasure(dealer, customer_id, cleared, alert_ids, len(updates), now)


async def _subject(tx: Tx, actor: Actor, dealer: str, customer_id: str) -> Subject:
    actor = await access.resolve(tx, actor)
    subject = await tx.erasure.subject(dealer, customer_id) if actor.may_see(dealer) else None
    if subject is None:
        raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}.")
    return subject


async def _scope(tx: Tx, subject: Subject, dealer: str, customer_id: str) -> Scope:
    c = subject.row
    emails = [e for e in [c.email, *(r.contact_email for r in subject.contacts)] if e]
    needles = {
        x.strip()
        for x in [c.name, c.email, c.phone_home, c.phone_work, c.phone_mobile, *(v for r in subject.contacts for v in r)]
        if x and x.strip()
    }
    shared = await tx.erasure.shared_emails(emails, dealer, customer_id)
    return Scope(
        dealer=dealer,
        customer_id=customer_id,
        alert_ids=tuple(a for a, _ in subject.alerts),
        free_text_alerts=tuple(a for a, kind in subject.alerts if kind is Kind.COMPLAINT),
        emails=tuple(sorted({e.lower() for e in emails} - shared)),
        needles=tuple(sorted(n for n in needles if n.lower() not in shared)),
    )


async def _slack_updates(tx: Tx, subject: Subject, channels: frozenset[str]) -> list[Outbound]:
    """Every card already posted about the customer's alerts, and every escalation post, updated
    in place. A card not posted yet needs nothing: it is rendered from the erased state."""
    if routing.SLACK not in channels:
        return []
    carded = {p.alert_id for p in subject.posts if p.purpose == "card"}
    alerts = await tx.alerts.get_many(sorted(carded))
    out = await routing.refreshes(tx, list(alerts.values()), channels)
    for p in subject.posts:
        if p.purpose.startswith("escalation-"):
            level = int(p.purpose.rsplit("-", 1)[1])
            team = p.team_id if p.team_id != "-" else None
            out.append(to_slack(Action.SLACK_REFRESH, team, p.channel_id, p.alert_id, purpose=p.purpose, level=level))
    return out
