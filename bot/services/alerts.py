"""Alert workflows: change a status with a note, look alerts up, list them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import InvalidInput, Problem, UnknownAlert
from bot.domain.status import AlertChange, normal_alert_id, transition
from bot.domain.values import Actor, Alert, HistoryEntry, Status
from bot.services import Context
from storage.repositories.alerts import AlertFilter

MAX_PAGE = 500


@dataclass(frozen=True)
class AlertDetail:
    alert: Alert
    history: list[HistoryEntry]
    dealer_name: str
    customer_name: str | None  # None when unknown or anonymized


@dataclass(frozen=True)
class Page:
    items: list[Alert]
    next_cursor: str | None


async def change_status(cx: Context, ref: str, actor: Actor, to: Status, note: str | None) -> AlertChange:
    """The one path for every status change: the actor must be allowed for the alert's dealer,
    the move must be allowed, a note is required; the history records who, where and why."""
    alert_id = normal_alert_id(ref)
    async with cx.db.transaction() as tx:
        alert = await tx.alerts.get(alert_id, lock=True)  # lock: two people answering at once take turns
        if alert is None or not actor.may_see(alert.dealer):
            raise UnknownAlert(alert_id)  # never confirm another dealer's alert exists
        change = transition(alert, actor, to, note, at=cx.clock.now())
        await tx.alerts.save(change.after, change.entry.at)
        await tx.history.append([change.entry])
    return change


async def detail(cx: Context, ref: str, actor: Actor) -> AlertDetail:
    alert_id = normal_alert_id(ref)
    async with cx.db.read() as tx:
        alert = await tx.alerts.get(alert_id)
        if alert is None or not actor.may_see(alert.dealer):
            raise UnknownAlert(alert_id)
        history = await tx.history.of(alert_id)
        dealer = await tx.dealers.get(alert.dealer)
        customer = await tx.customers.get(alert.dealer, alert.customer_id) if alert.customer_id else None
    return AlertDetail(alert, history, dealer.name if dealer else alert.dealer, customer.name if customer else None)


def encode_cursor(a: Alert) -> str:
    return base64.urlsafe_b64encode(f"{a.created_at.isoformat()}|{a.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, id_ = raw.split("|", 1)
        return datetime.fromisoformat(at), id_
    except ValueError:
        raise InvalidInput([Problem("cursor", "is not a cursor this server gave out")]) from None


async def find(cx: Context, actor: Actor, f: AlertFilter, limit: int = 50, cursor: str | None = None) -> Page:
    """Alerts the actor may see, newest first, a page at a time."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput([Problem("limit", f"must be between 1 and {MAX_PAGE}")])
    if actor.dealers is not None:
        f = AlertFilter(**{**f.__dict__, "dealers": (f.dealers & actor.dealers) if f.dealers is not None else actor.dealers})
    after = decode_cursor(cursor) if cursor else None
    async with cx.db.read() as tx:
        items = await tx.alerts.find(f, limit + 1, after)
    more = len(items) > limit
    items = items[:limit]
    return Page(items, encode_cursor(items[-1]) if more and items else None)
