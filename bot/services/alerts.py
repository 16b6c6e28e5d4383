"""Alert workflows: change a status with a note, look alerts up, list them."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from bot.domain.errors import CxError, InvalidInput, Problem, UnknownAlert
from bot.domain.outbound import Outbound
from bot.domain.status import AlertChange, clean_note, normal_alert_id, transition
from bot.domain.values import ANONYMOUS, Actor, Alert, HistoryEntry, HistoryEvent, Status
from bot.domain.views import AlertView
from bot.services import Context, access, routing
from storage.database import Tx
from storage.repositories.alerts import AlertFilter

MAX_PAGE = 500


@dataclass(frozen=True)
class AlertDetail:
    alert: Alert
    history: list[HistoryEntry]
    dealer_name: str
    customer_name: str | None  # "Anonymous" once anonymized; None when there is no customer record


@dataclass(frozen=True)
class Page:
    items: list[Alert]
    next_cursor: str | None


class AlreadyApplied(CxError):
    """The request carrying this change (a retried Slack event, a mail read twice) was applied before."""


async def change_status(
    cx: Context, ref: str, actor: Actor, to: Status, note: str | None, *, once: str | None = None, also: Sequence[Outbound] = ()
) -> AlertChange:
    """The one path for every status change: the actor must be allowed for the alert's dealer,
    the move must be allowed, a note is required; the history records who, where and why.
    `once` names the request; a request already applied raises AlreadyApplied and changes nothing.
    `also`: more notifications to queue with the change (a confirmation mail)."""
    alert_id = normal_alert_id(ref)
    async with cx.db.transaction() as tx:
        actor = await access.resolve(tx, actor)
        alert = await _visible(tx, alert_id, actor, lock=True)  # lock: two people answering at once take turns
        # Before the transition: a repeat of an applied request would otherwise be refused as an
        # invalid move (resolved → resolved) and the user told so. A refusal rolls the key back.
        if once is not None and not await tx.slack.first_time(once, cx.clock.now()):
            raise AlreadyApplied(once)
        change = transition(alert, actor, to, note, at=cx.clock.now(), person_id=actor.person_id)
        await tx.alerts.save(change.after, change.entry.at)
        await tx.history.append([change.entry])
        await tx.outbox.enqueue([*await routing.after_changes(tx, [change], display(actor), cx.channels), *also], change.entry.at)
    cx.wake()
    return change


async def comment(cx: Context, ref: str, actor: Actor, text: str, *, once: str | None = None, also: Sequence[Outbound] = ()) -> HistoryEntry:
    """Keep a remark on the alert's history without changing its status."""
    alert_id = normal_alert_id(ref)
    note = clean_note(text)
    async with cx.db.transaction() as tx:
        actor = await access.resolve(tx, actor)
        alert = await _visible(tx, alert_id, actor)
        if once is not None and not await tx.slack.first_time(once, cx.clock.now()):
            raise AlreadyApplied(once)
        entry = HistoryEntry(alert.id, cx.clock.now(), actor.channel, actor.label, HistoryEvent.COMMENT, None, None, note, actor.person_id)
        await tx.history.append([entry])
        await tx.outbox.enqueue(list(also), entry.at)
    if also:
        cx.wake()
    return entry


def display(actor: Actor) -> str:
    """How a message names who did something: a Slack mention, a name, or the actor's label."""
    ids = actor.slack_ids
    if ids:
        return f"<@{ids[1]}>"
    return actor.name or actor.label


async def _visible(tx: Tx, alert_id: str, actor: Actor, lock: bool = False) -> Alert:
    alert = await tx.alerts.get(alert_id, lock=lock)
    if alert is None or not actor.may_see(alert.dealer):
        raise UnknownAlert(alert_id)  # never confirm that another dealer's alert exists
    return alert


async def detail(cx: Context, ref: str, actor: Actor) -> AlertDetail:
    alert_id = normal_alert_id(ref)
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        alert = await _visible(tx, alert_id, actor)
        history = await tx.history.of(alert_id)
        dealer = await tx.dealers.get(alert.dealer)
        customer = await tx.customers.get(alert.dealer, alert.customer_id) if alert.customer_id else None
    name = None if customer is None else (ANONYMOUS if customer.anonymized else customer.name)
    return AlertDetail(alert, history, dealer.name if dealer else alert.dealer, name)


async def view(cx: Context, ref: str, actor: Actor) -> AlertView:
    """What the alert's message shows, for an actor allowed to see it."""
    alert_id = normal_alert_id(ref)
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        found = await tx.views.alert_view(alert_id)  # the view holds the alert: no separate read of it
    if found is None or not actor.may_see(found.alert.dealer):
        raise UnknownAlert(alert_id)  # never confirm that another dealer's alert exists
    return found


def encode_cursor(a: Alert) -> str:
    return base64.urlsafe_b64encode(f"{a.created_at.isoformat()}|{a.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, id_ = raw.split("|", 1)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:  # every cursor given out has an offset; a naive time cannot be compared
            raise ValueError(at)
        return when, id_
    except ValueError:
        raise InvalidInput([Problem("cursor", "is not a cursor this server gave out")]) from None


async def find(cx: Context, actor: Actor, f: AlertFilter, limit: int = 50, cursor: str | None = None) -> Page:
    """Alerts the actor may see, newest first, a page at a time."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput([Problem("limit", f"must be between 1 and {MAX_PAGE}")])
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
    if actor.dealers is not None:
        f = AlertFilter(**{**f.__dict__, "dealers": (f.dealers & actor.dealers) if f.dealers is not None else actor.dealers})
    after = decode_cursor(cursor) if cursor else None
    async with cx.db.read() as tx:
        items = await tx.alerts.find(f, limit + 1, after)
    more = len(items) > limit
    items = items[:limit]
    return Page(items, encode_cursor(items[-1]) if more and items else None)
