"""Look-ups for people and systems: a customer's record with what we know about them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.contact import METHODS, method_on
from bot.domain.errors import InvalidInput, NotFound, Problem
from bot.domain.values import ANONYMOUS, Actor
from bot.domain.views import CustomerCard, ResponseSummary
from bot.services import Context, access, alerts
from storage.repositories.alerts import AlertFilter


def _summary(r: Any) -> ResponseSummary:
    return ResponseSummary(r.id, r.survey, r.submitted_at, r.nps, dict(r.scores or {}), r.comment, r.purchase_date, r.service_date, r.segment)


async def find_customers(cx: Context, actor: Actor, query: str, limit: int = 5) -> list[CustomerCard]:
    """Customers of the actor's dealers by id, number, email or part of the name."""
    if not query.strip():
        raise InvalidInput([Problem("query", "give a name, an email address or a customer id")])
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        if actor.dealers is not None and not actor.dealers:
            return []
        rows = await tx.customers.search(sorted(actor.dealers) if actor.dealers is not None else None, query, limit)
    return [await customer(cx, actor, r.dealer_code, r.customer_id) for r in rows]


async def customer(cx: Context, actor: Actor, dealer: str, customer_id: str, latest: int = 5) -> CustomerCard:
    """The customer as stored, their latest answers, the detractor flag and open alerts."""
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        if not actor.may_see(dealer):
            raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}.")
        c = await tx.customers.get(dealer, customer_id)
        if c is None:
            raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}.")
        responses = await tx.responses.latest_for(dealer, customer_id, latest)
        alerts = await tx.alerts.find(AlertFilter(customer=(dealer, customer_id), open_only=True), 100)
        d = await tx.dealers.get(dealer)
        since = cx.clock.now() - timedelta(days=cx.bounce_flag_days)
        bounced = bool(c.email) and bool(await tx.mail.flagged([c.email], since))
        suppressed = bool(c.email) and bool(await tx.mail.suppressed([c.email], cx.bounce_limit))
    newest = responses[0] if responses else None
    personal = not c.anonymized
    return CustomerCard(
        dealer=dealer,
        dealer_name=d.name if d else dealer,
        customer_id=customer_id,
        name=ANONYMOUS if c.anonymized else (c.name or customer_id),
        anonymized=c.anonymized,
        kind=c.kind or "person",
        customer_number=c.customer_number,
        email=c.email,
        phones={"home": c.phone_home, "work": c.phone_work, "mobile": c.phone_mobile},
        language=c.language,
        salesperson_email=c.salesperson_email,
        detractor=c.detractor,
        detractor_response_id=c.detractor_response_id,
        contact_name=(c.contact_name or (newest.contact_name if newest else None)) if personal else None,
        contact_email=newest.contact_email if newest else None,
        contact_phone=newest.contact_phone if newest else None,
        latest=[_summary(r) for r in responses],
        open_alerts=alerts,
        email_bounced=bounced and personal,
        methods={m: method_on(c.contact_permissions, m) for m in METHODS},
        preferred_contact=c.preferred_contact,
        best_time=c.best_time,
        last_verified_at=c.last_verified_at,
        advisor_email=c.advisor_email,
        email_suppressed=suppressed and personal,
    )


async def customer_of_alert(cx: Context, actor: Actor, ref: str) -> CustomerCard:
    """The record of the customer an alert is about (the Customer button)."""
    d = await alerts.detail(cx, ref, actor)
    if not d.alert.customer_id:
        raise NotFound(f"{d.alert.id} is not about a known customer.")
    return await customer(cx, actor, d.alert.dealer, d.alert.customer_id)
