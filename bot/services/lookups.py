"""Look-ups for people and systems: a customer's record with what we know about them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain.errors import NotFound
from bot.domain.values import ANONYMOUS, Actor, Alert
from bot.services import Context
from storage.repositories.alerts import AlertFilter


@dataclass(frozen=True)
class ResponseSummary:
    id: str
    survey: str
    submitted_at: datetime
    nps: int | None
    scores: dict[str, int]
    comment: str | None
    purchase_date: date | None
    service_date: date | None
    segment: int | None


@dataclass(frozen=True)
class CustomerCard:
    dealer: str
    customer_id: str
    name: str  # "Anonymous" once anonymized
    anonymized: bool
    kind: str
    customer_number: str | None
    email: str | None
    phones: dict[str, str | None]
    language: str | None
    salesperson_email: str | None
    detractor: bool
    detractor_response_id: str | None
    latest: list[ResponseSummary]
    open_alerts: list[Alert]


def _summary(r: Any) -> ResponseSummary:
    return ResponseSummary(r.id, r.survey, r.submitted_at, r.nps, dict(r.scores or {}), r.comment, r.purchase_date, r.service_date, r.segment)


async def customer(cx: Context, actor: Actor, dealer: str, customer_id: str, latest: int = 5) -> CustomerCard:
    """The customer as stored, their latest answers, the detractor flag and open alerts."""
    if not actor.may_see(dealer):
        raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}.")
    async with cx.db.read() as tx:
        c = await tx.customers.get(dealer, customer_id)
        if c is None:
            raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}.")
        responses = await tx.responses.latest_for(dealer, customer_id, latest)
        alerts = await tx.alerts.find(AlertFilter(customer=(dealer, customer_id), open_only=True), 100)
    return CustomerCard(
        dealer=dealer,
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
        latest=[_summary(r) for r in responses],
        open_alerts=alerts,
    )
