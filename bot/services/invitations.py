"""Survey invitations (seed 000): record them and their status reports, and the communication list."""

from __future__ import annotations

import base64
import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, AsyncIterator, Sequence

from bot.domain.errors import Conflict, InvalidInput, NotAllowed, Problem
from bot.domain.invitations import DATE_FIELDS, TIME_COLUMN, InvitationFilter, InvitationIn, InvitationRow, InvitationStatus, moves_forward
from bot.domain.kpi import local_midnight, zone
from bot.domain.values import Actor
from bot.services import Context, access, customers
from bot.services.alerts import decode_cursor
from bot.services.intake import customer_rows
from storage.database import Tx
from storage.repositories.invitations import Move, SentWindow, Stored
from storage.repositories.responses import StoredMeanwhile

MAX_PAGE = 500


@dataclass
class RecordResult:
    accepted: list[str] = field(default_factory=list)  # new invitations
    updated: list[str] = field(default_factory=list)  # known ones whose status moved forward
    duplicates: list[str] = field(default_factory=list)  # known ones the report changed nothing of
    rejected: list[Problem] = field(default_factory=list)  # only when partial=True


@dataclass(frozen=True)
class InvitationPage:
    items: list[InvitationRow]
    next_cursor: str | None
    total: int  # matching every filter
    counts: dict[InvitationStatus, int]  # per status, matching every filter but the status


async def record(cx: Context, actor: Actor, items: Sequence[InvitationIn], *, partial: bool = False) -> RecordResult:
    """Record invitations and status reports in one transaction, idempotent by invitation id.

    A new id is stored with its customer. For a known id, a status further along the order
    (not_sent → sent → failed | clicked → submitted) moves it and records when; the same or an
    earlier status changes nothing (a duplicate): a late "sent" after "clicked" is ignored,
    submitted is final, and failed and clicked never replace each other. A known id reported for
    another dealer, customer or survey is a conflict. Unless `partial`, any conflict or unknown
    dealer rejects the whole batch; with `partial` (CSV import) those items are in `rejected`."""
    for item in items:
        if not actor.may_see(item.dealer):
            raise NotAllowed(f"not allowed for dealer {item.dealer!r}")
    for _ in range(2):
        try:
            return await _record_once(cx, items, partial)
        except StoredMeanwhile:
            continue  # a concurrent report stored one of these ids first: look again
    return await _record_once(cx, items, partial)


async def _record_once(cx: Context, items: Sequence[InvitationIn], partial: bool) -> RecordResult:
    now = cx.clock.now()
    result = RecordResult()
    async with cx.db.transaction() as tx:
        known = await tx.dealers.known(sorted({i.dealer for i in items}))
        state: dict[str, Stored] = await tx.invitations.stored([i.id for i in items])
        fresh: dict[str, InvitationIn] = {}
        pending: dict[str, dict[str, Any]] = {}  # id → the values to store: a whole row, or a move
        problems: list[Problem] = []
        conflicts: list[str] = []
        for index, inv in enumerate(items):
            if inv.dealer not in known:
                problems.append(Problem("dealer_id", f"unknown dealer {inv.dealer!r}", index))
                continue
            prior = state.get(inv.id)
            if prior is None:
                state[inv.id] = Stored(inv.id, inv.dealer, inv.customer.id, inv.survey, inv.status)
                fresh[inv.id] = inv
                pending[inv.id] = _times(inv, now, {})
                result.accepted.append(inv.id)
            elif (prior.dealer, prior.customer_id, prior.survey) != (inv.dealer, inv.customer.id, inv.survey):
                conflicts.append(inv.id)
                problems.append(Problem("id", f"invitation {inv.id!r} is already recorded for another dealer, customer or survey", index))
            elif moves_forward(prior.status, inv.status):
                state[inv.id] = Stored(prior.id, prior.dealer, prior.customer_id, prior.survey, inv.status)
                pending[inv.id] = _times(inv, now, pending.get(inv.id, {}))
                if inv.id not in fresh and inv.id not in result.updated:
                    result.updated.append(inv.id)
            elif inv.id not in fresh:
                result.duplicates.append(inv.id)
        if not partial:
            if conflicts:
                raise Conflict(f"already recorded for another dealer, customer or survey: {', '.join(conflicts)}", conflicts)
            if problems:
                raise InvalidInput(problems)
        result.rejected = problems
        await _store(tx, list(fresh.values()), pending, now)
    return result


def _times(inv: InvitationIn, now: datetime, values: dict[str, Any]) -> dict[str, Any]:
    """The values after `inv`'s report: its status, when, and each status time once known."""
    at = inv.status_at or now
    out = {**values, "status": inv.status, "status_at": at}
    if inv.status in TIME_COLUMN:
        out.setdefault(TIME_COLUMN[inv.status], at)
    if inv.sent_at is not None:
        out.setdefault("sent_at", inv.sent_at)
    return out


async def _store(tx: Tx, fresh: list[InvitationIn], pending: dict[str, dict[str, Any]], now: datetime) -> None:
    if fresh:
        # The customer record first (name and email live there, so anonymizing reaches the list).
        await tx.customers.upsert_many(customer_rows((i.dealer, i.customer, False) for i in fresh), now)
        states = await tx.customers.states(sorted({(i.dealer, i.customer.id) for i in fresh}))
        anonymized = {k for k, s in states.items() if s.anonymized}
        rows = []
        for i in fresh:
            v = pending[i.id]
            rows.append({
                "id": i.id,
                "dealer_code": i.dealer,
                "customer_id": i.customer.id,
                "survey": i.survey,
                "questionnaire": i.questionnaire,
                "language": i.language,
                # An anonymous customer's dates are gone for good (seed 000): none is stored again.
                "purchase_date": None if (i.dealer, i.customer.id) in anonymized else i.purchase_date,
                "status": v["status"],
                "status_at": v["status_at"],
                "created_at": now,
                **{col: v.get(col) for col in TIME_COLUMN.values()},
                "updated_at": now,
            })
        await tx.invitations.insert_many(rows)
    new = {i.id for i in fresh}
    moves = [Move(id_, v["status"], v["status_at"], {c: v[c] for c in TIME_COLUMN.values() if c in v}) for id_, v in pending.items() if id_ not in new]
    await tx.invitations.move_many(moves, now)


# ---- the communication list ---------------------------------------------------------------------


def check_filter(f: InvitationFilter) -> InvitationFilter:
    problems = []
    if f.date_field not in DATE_FIELDS:
        problems.append(Problem("date_field", f"must be one of {', '.join(DATE_FIELDS)}"))
    if f.date_from and f.date_to and f.date_from > f.date_to:
        problems.append(Problem("from", f"{f.date_from} is after to ({f.date_to})"))
    if f.q is not None and len(f.q) > 200:
        problems.append(Problem("q", "is longer than 200 characters"))
    if problems:
        raise InvalidInput(problems)
    q = f.q.strip() if f.q else None
    return InvitationFilter(f.dealers, q or None, f.date_field, f.date_from, f.date_to, f.status, f.survey)


async def _scope(tx: Tx, actor: Actor, f: InvitationFilter) -> tuple[InvitationFilter, list[SentWindow] | None]:
    """The filter limited to the actor's dealers, and the sent-day windows on each dealer's clock."""
    actor = await access.resolve(tx, actor)
    dealers = f.dealers
    if dealers is not None:
        hidden = sorted(d for d in dealers if not actor.may_see(d))
        if hidden:
            raise NotAllowed(f"not allowed for dealer {hidden[0]!r}")
        unknown = sorted(set(dealers) - await tx.dealers.known(sorted(dealers)))
        if unknown:
            raise InvalidInput([Problem("dealer_id", f"unknown dealer {unknown[0]!r}")])
    elif actor.dealers is not None:
        dealers = actor.dealers
    f = InvitationFilter(dealers, f.q, f.date_field, f.date_from, f.date_to, f.status, f.survey)
    if f.date_field != "sent" or (f.date_from is None and f.date_to is None):
        return f, None
    by_zone: dict[str, list[str]] = defaultdict(list)
    for d in await tx.dealers.all():
        if dealers is None or d.code in dealers:
            by_zone[d.time_zone].append(d.code)
    return f, [_window(sorted(codes), tz, f.date_from, f.date_to) for tz, codes in sorted(by_zone.items())]


def _window(codes: list[str], tz_name: str, first: date | None, last: date | None) -> SentWindow:
    tz = zone(tz_name)
    return SentWindow(
        tuple(codes),
        local_midnight(first, tz) if first else None,
        local_midnight(last + timedelta(days=1), tz) if last else None,
    )


def _cursor(row: InvitationRow) -> str:
    # The same form as alert cursors (services.alerts.decode_cursor reads both).
    return base64.urlsafe_b64encode(f"{row.recorded_at.isoformat()}|{row.id}".encode()).decode().rstrip("=")


async def find(cx: Context, actor: Actor, f: InvitationFilter, limit: int = 50, cursor: str | None = None) -> InvitationPage:
    """The invitations the actor may see, newest first, a page at a time, with the number per
    status of all that match."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput([Problem("limit", f"must be between 1 and {MAX_PAGE}")])
    f = check_filter(f)
    after = decode_cursor(cursor) if cursor else None
    async with cx.db.read() as tx:
        f, sent = await _scope(tx, actor, f)
        items = await tx.invitations.find(f, limit + 1, after, sent)
        counts = await tx.invitations.counts(f, sent)
    more = len(items) > limit
    items = items[:limit]
    items = await _with_reasons(cx, items)
    total = counts[f.status] if f.status else sum(counts.values())
    return InvitationPage(items, _cursor(items[-1]) if more and items else None, total, counts)


async def each(cx: Context, actor: Actor, f: InvitationFilter, batch: int = 1000) -> AsyncIterator[InvitationRow]:
    """Every matching invitation, newest first, read a batch per short transaction (a download of
    a big list holds no connection for long)."""
    f = check_filter(f)
    async with cx.db.read() as tx:
        f, sent = await _scope(tx, actor, f)
    after: tuple[datetime, str] | None = None
    while True:
        async with cx.db.read() as tx:
            rows = await tx.invitations.find(f, batch, after, sent)
        for r in await _with_reasons(cx, rows):
            yield r
        if len(rows) < batch:
            return
        after = (rows[-1].recorded_at, rows[-1].id)


async def get(cx: Context, actor: Actor, invitation_id: str) -> InvitationRow | None:
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        row = await tx.invitations.get(invitation_id)
    if row is None or not actor.may_see(row.dealer):
        return None
    return (await _with_reasons(cx, [row]))[0]


async def _with_reasons(cx: Context, rows: list[InvitationRow]) -> list[InvitationRow]:
    """The communication list says why a not-sent invitation cannot be sent (read now, from the
    customer's preferences and the bounce record of their address: one query per page)."""
    waiting = [r for r in rows if r.status is InvitationStatus.NOT_SENT and not r.anonymous]
    if not waiting:
        return rows
    async with cx.db.read() as tx:
        why = await customers.mail_refusals(tx, [(r.dealer, r.customer_id) for r in waiting], cx.bounce_limit)
    return [dataclasses.replace(r, not_sent_reason=why.get((r.dealer, r.customer_id))) if r.status is InvitationStatus.NOT_SENT and not r.anonymous else r for r in rows]
