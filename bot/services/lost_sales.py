"""The lost-sales cycle (seed 001): test-drive leads in, and the monthly selection of prospects,
each recorded as a lost-sales invitation (survey "lost_sales", not sent yet)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Sequence

import structlog

from bot.domain.errors import Conflict, InvalidInput, NotAllowed, Problem
from bot.domain.invitations import InvitationStatus
from bot.domain.kpi import zone
from bot.domain.lost_sales import LeadIn, due_moment, invitation_id, window
from bot.domain.outbound import Action, Outbound, to_mail
from bot.domain.values import Actor, Survey
from bot.services import Context, customers
from bot.services.intake import customer_rows
from storage.repositories.responses import StoredMeanwhile

log = structlog.get_logger()
QUESTIONNAIRE = "Lost Sales"
BATCH = 1000  # prospects claimed per transaction


@dataclass
class LeadResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def lead_hash(lead: LeadIn) -> str:
    data = [lead.dealer, lead.customer.id, lead.requested_at.isoformat(), lead.source, lead.private, lead.email_permission]
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


async def record_leads(cx: Context, actor: Actor, leads: Sequence[LeadIn]) -> LeadResult:
    """Store test-drive requests in one transaction, idempotent by lead id: the same content again
    is a duplicate, other content (or another dealer) a conflict that stores nothing."""
    for lead in leads:
        if not actor.may_see(lead.dealer):
            raise NotAllowed(f"not allowed for dealer {lead.dealer!r}")
    try:
        return await _record_once(cx, leads)
    except StoredMeanwhile:  # a concurrent resend stored one first: now it is a duplicate
        return await _record_once(cx, leads)


async def _record_once(cx: Context, leads: Sequence[LeadIn]) -> LeadResult:
    now = cx.clock.now()
    result = LeadResult()
    async with cx.db.transaction() as tx:
        known = await tx.dealers.known(sorted({x.dealer for x in leads}))
        stored = await tx.leads.hashes([x.id for x in leads])
        problems: list[Problem] = []
        conflicts: list[str] = []
        fresh: dict[str, LeadIn] = {}
        for i, lead in enumerate(leads):
            h = lead_hash(lead)
            if lead.dealer not in known:
                problems.append(Problem("dealer_id", f"unknown dealer {lead.dealer!r}", i))
                continue
            prior = stored.get(lead.id)
            if prior is None:
                stored[lead.id] = (lead.dealer, h)
                fresh[lead.id] = lead
                result.accepted.append(lead.id)
            elif prior == (lead.dealer, h):
                if lead.id not in fresh:
                    result.duplicates.append(lead.id)
            else:
                conflicts.append(lead.id)
                problems.append(Problem("id", f"lead {lead.id!r} is already stored with different content", i))
        if conflicts:
            raise Conflict(f"already stored with different content: {', '.join(conflicts)}", conflicts)
        if problems:
            raise InvalidInput(problems)
        if fresh:
            await tx.customers.upsert_many(customer_rows((x.dealer, x.customer, False) for x in fresh.values()), now)
            await tx.leads.insert_many([
                {
                    "id": x.id, "dealer_code": x.dealer, "customer_id": x.customer.id, "requested_at": x.requested_at,
                    "source": x.source, "private": x.private, "email_permission": x.email_permission,
                    "content_hash": lead_hash(x), "invitation_id": None, "invited_at": None, "created_at": now,
                }
                for x in fresh.values()
            ])
    return result


@dataclass(frozen=True)
class Selected:
    dealer: str
    run_day: date
    invitations: list[str]
    mailed: int = 0  # invitation mails queued (the others may not be emailed, or mail is off)


async def select(cx: Context, dealer: str, run_day: date) -> Selected:
    """Invite every prospect of `dealer` a run on `run_day` selects (bot.domain.lost_sales.is_prospect),
    a batch per transaction; each lead is claimed in the statement that marks it, so two runs at
    once never invite one lead twice, and a customer is invited once."""
    async with cx.db.read() as tx:
        d = await tx.dealers.get(dealer)
    if d is None:
        raise InvalidInput([Problem("dealer", f"unknown dealer {dealer!r}")])
    tz = zone(d.time_zone)
    w = window(run_day, tz, cx.lost_sales.window_from_days, cx.lost_sales.window_to_days)
    invited: list[str] = []
    mailed = 0
    after: tuple[datetime, str] | None = None
    while True:
        now = cx.clock.now()
        async with cx.db.transaction() as tx:
            found = await tx.leads.prospects(dealer, w, BATCH, after)
            if not found:
                break
            after = (found[-1].requested_at, found[-1].lead_id)
            before = await tx.leads.invited(dealer, [p.customer_id for p in found])
            once: dict[str, Any] = {}
            for p in found:  # two requests of one customer: one invitation (the earlier request)
                if p.customer_id not in before:
                    once.setdefault(p.customer_id, p)
            got = await tx.leads.claim([p.lead_id for p in once.values()], now)
            chosen = [p for p in once.values() if p.lead_id in got]
            rows = [_invitation_row(p, dealer, d.language, tz, now) for p in chosen]
            await tx.invitations.insert_many(rows)
            mails = await _mails(cx, tx, [(invitation_id(p.lead_id), dealer, p.customer_id) for p in chosen])
            await tx.outbox.enqueue(mails, now)
        if mails:
            cx.wake()
        mailed += len(mails)
        invited += [r["id"] for r in rows]
        if len(found) < BATCH:
            break
    log.info("lost_sales_selected", dealer=dealer, day=str(run_day), invited=len(invited), mailed=mailed)
    return Selected(dealer, run_day, invited, mailed)


async def _mails(cx: Context, tx: Any, invited: list[tuple[str, str, str]], reminder: bool = False) -> list[Outbound]:
    """The invitation mails of (invitation id, dealer, customer id), to the customer's address now;
    a customer who may not be emailed (opted out, bounced to the limit: seed 003) gets none, and
    the communication list shows why the invitation stays not sent."""
    if "mail" not in cx.channels or not invited:
        return []
    mailable, _ = await customers.mail_check(tx, [(d, c) for _, d, c in invited], cx.bounce_limit)
    return [
        to_mail(Action.MAIL_INVITATION, mailable[(d, c)], invitation=inv, customer=[d, c], **({"reminder": True} if reminder else {}))
        for inv, d, c in invited
        if (d, c) in mailable
    ]


async def remind(cx: Context, batch: int = 500) -> int:
    """The one reminder of seed 001: lost-sales invitations sent `reminder_days` ago and not
    answered (clicked counts as not answered), whose link still works. Claimed in batches."""
    p = cx.lost_sales
    if not p.reminder_days or "mail" not in cx.channels:
        return 0
    total = 0
    while True:
        now = cx.clock.now()
        async with cx.db.transaction() as tx:
            claimed = await tx.invitations.claim_reminders(now - timedelta(days=p.reminder_days), now, batch)
            mails = await _mails(cx, tx, claimed, reminder=True)
            await tx.outbox.enqueue(mails, now)
        if mails:
            cx.wake()
        total += len(claimed)
        if len(claimed) < batch:
            break
    if total:
        log.info("lost_sales_reminded", invitations=total)
    return total


def _invitation_row(p: Any, dealer: str, dealer_language: str | None, tz: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": invitation_id(p.lead_id),
        "dealer_code": dealer,
        "customer_id": p.customer_id,
        "survey": Survey.LOST_SALES,
        "questionnaire": QUESTIONNAIRE,
        "language": p.language or dealer_language,
        "purchase_date": p.requested_at.astimezone(tz).date(),  # the list's date: the test-drive request
        "status": InvitationStatus.NOT_SENT,
        "status_at": now,
        "created_at": now,
        "sent_at": None, "failed_at": None, "clicked_at": None, "submitted_at": None,
        "updated_at": now,
    }


async def due(cx: Context, owner: str) -> list[Selected]:
    """The scheduled run: each dealer whose monthly run time has passed on its own clock and whose
    month is not claimed yet in job_runs (so replicas run it once; a run missed while cxbot was
    down happens late, on the day it was due)."""
    now = cx.clock.now()
    p = cx.lost_sales
    async with cx.db.read() as tx:
        dealers = await tx.dealers.all()
    out = []
    for d in dealers:
        local = now.astimezone(zone(d.time_zone))
        moment = due_moment(local, p.day, p.hour, p.minute)
        if local < moment:
            continue
        key = f"lost_sales:{d.code}:{moment:%Y-%m}"
        async with cx.db.transaction() as tx:
            if not await tx.schedule.take_run(key, owner, now):
                continue
        out.append(await select(cx, d.code, moment.date()))
        async with cx.db.transaction() as tx:
            await tx.schedule.finish_run(key, cx.clock.now())
    return out
