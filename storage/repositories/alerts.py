"""Alerts and the per-kind counters behind their human ids."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, case, or_, select, update

from bot.domain.status import alert_id
from bot.domain.values import Alert, Kind, Status
from storage.models import AlertRow, Counter
from storage.repositories.base import KeyQuery, Many, Repo, chunks

T = AlertRow.__table__
C = Counter.__table__


def to_alert(row: Any) -> Alert:
    # By key, not attribute: a Row's attribute lookup raises and discards an AttributeError first.
    r = row._mapping
    return Alert(
        id=r["id"],
        kind=Kind(r["kind"]),
        dealer=r["dealer_code"],
        customer_id=r["customer_id"],
        response_id=r["response_id"],
        status=Status(r["status"]),
        created_at=r["created_at"],
        due_at=r["due_at"],
        handled_at=r["handled_at"],
        resolved_at=r["resolved_at"],
        escalation_level=r["escalation_level"],
        escalated_at=r["escalated_at"],
        next_escalation_at=r["next_escalation_at"],
        remind_at=r["remind_at"],
    )


@dataclass(frozen=True)
class AlertFilter:
    status: Status | None = None
    kind: Kind | None = None
    dealers: frozenset[str] | None = None  # None = every dealer
    overdue_at: datetime | None = None  # only unhandled alerts past due at this time
    escalated: bool | None = None
    customer: tuple[str, str] | None = None
    open_only: bool = False


# Built once (statement and SQLAlchemy's cache key): intake reserves numbers for every kind in every batch.
_ALLOCATE = update(C).where(C.c.name == bindparam("k_name")).values(value=C.c.value + bindparam("n")).returning(C.c.value)


@functools.cache
def _allocate_all(kinds: int) -> Any:
    """SQLite's: every kind's numbers in one statement (k0, n0, k1, n1, ...)."""
    names = [bindparam(f"k{i}") for i in range(kinds)]
    step = case(*((C.c.name == names[i], bindparam(f"n{i}")) for i in range(kinds)), else_=0)
    return update(C).where(C.c.name.in_(names)).values(value=C.c.value + step).returning(C.c.name, C.c.value)


# Alerts' changed state, one executemany: intake's detractor closures, status changes, escalations.
_SAVE = Many(
    update(T)
    .where(T.c.id == bindparam("k_id"))
    .values(
        status=bindparam("v_status"),
        handled_at=bindparam("v_handled"),
        resolved_at=bindparam("v_resolved"),
        escalation_level=bindparam("v_level"),
        escalated_at=bindparam("v_escalated"),
        updated_at=bindparam("v_now"),
    ),
)
_INSERT = Many(
    T.insert(),
    ("id", "kind", "number", "dealer_code", "customer_id", "response_id", "status", "created_at", "due_at", "handled_at", "resolved_at",
     "escalation_level", "escalated_at", "next_escalation_at", "remind_at", "updated_at"),
)
_OPEN_FOR = KeyQuery(
    (T.c.dealer_code, T.c.customer_id), lambda match: select(T).where(T.c.kind == bindparam("kind"), T.c.status != Status.RESOLVED, match)
)


class AlertsRepo(Repo):
    async def allocate_ids(self, wanted: dict[Kind, int]) -> dict[Kind, list[str]]:
        """Reserve `n` consecutive numbers per kind; the counters' row locks serialise concurrent
        intakes. PostgreSQL takes the locks one kind at a time, always in the same order, so two
        transactions cannot each hold one the other waits for; SQLite has one writer at a time
        and updates every kind in one statement."""
        wanted = {k: n for k, n in wanted.items() if n}
        if not wanted:
            return {}
        if self.locks_rows:
            reached = {k: await self.conn.scalar(_ALLOCATE, {"k_name": k.prefix, "n": n}) for k, n in sorted(wanted.items(), key=lambda kn: kn[0].prefix)}
        else:
            by_prefix = {k.prefix: k for k in wanted}
            stmt = _allocate_all(len(wanted))
            params = {f"k{i}": k.prefix for i, k in enumerate(wanted)} | {f"n{i}": n for i, n in enumerate(wanted.values())}
            reached = {by_prefix[name]: value for name, value in await self.conn.execute(stmt, params)}
        ids = {k: [alert_id(k, number) for number in range(value - wanted[k] + 1, value + 1)] for k, value in reached.items() if value is not None}
        missing = {k: n for k, n in wanted.items() if k not in ids}
        if missing:  # counter rows missing (a database created before these kinds existed)
            for k in missing:
                await self.conn.execute(self.insert(C).values(name=k.prefix, value=0).on_conflict_do_nothing())
            ids |= await self.allocate_ids(missing)
        return ids

    async def insert_many(self, alerts: Sequence[Alert], now: datetime) -> None:
        rows = [
            {
                "id": a.id,
                "kind": a.kind,
                "number": int(a.id.split("-")[1]),
                "dealer_code": a.dealer,
                "customer_id": a.customer_id,
                "response_id": a.response_id,
                "status": a.status,
                "created_at": a.created_at,
                "due_at": a.due_at,
                "handled_at": a.handled_at,
                "resolved_at": a.resolved_at,
                "escalation_level": a.escalation_level,
                "escalated_at": a.escalated_at,
                "next_escalation_at": a.next_escalation_at,
                "remind_at": a.remind_at,
                "updated_at": now,
            }
            for a in alerts
        ]
        await _INSERT.run(self.conn, rows)

    async def get(self, id_: str, *, lock: bool = False) -> Alert | None:
        q = select(T).where(T.c.id == id_)
        if lock and self.locks_rows:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        return to_alert(row) if row else None

    async def save(self, alert: Alert, now: datetime) -> None:
        await self.conn.execute(
            update(T)
            .where(T.c.id == alert.id)
            .values(
                status=alert.status,
                handled_at=alert.handled_at,
                resolved_at=alert.resolved_at,
                escalation_level=alert.escalation_level,
                escalated_at=alert.escalated_at,
                updated_at=now,
            )
        )

    async def save_many(self, alerts: Sequence[Alert], now: datetime) -> None:
        if not alerts:
            return
        await _SAVE.run(
            self.conn,
            [
                {"v_now": now, "k_id": a.id, "v_status": a.status, "v_handled": a.handled_at, "v_resolved": a.resolved_at, "v_level": a.escalation_level, "v_escalated": a.escalated_at}
                for a in sorted(alerts, key=lambda a: a.id)
            ],
        )

    async def open_for_customers(self, kind: Kind, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Alert]:
        """The open (new or ongoing) alert of `kind` per customer, if any."""
        found: dict[tuple[str, str], Alert] = {}
        for part in chunks(list(keys)):
            for row in await self.conn.execute(*_OPEN_FOR(part, kind=kind)):
                a = to_alert(row)
                found[(a.dealer, a.customer_id or "")] = a
        return found

    async def of_responses(self, response_ids: Sequence[str]) -> list[Alert]:
        out: list[Alert] = []
        for part in chunks(list(response_ids)):
            out += [to_alert(r) for r in await self.conn.execute(select(T).where(T.c.response_id.in_(part)))]
        return out

    async def find(self, f: AlertFilter, limit: int, after: tuple[datetime, str] | None = None) -> list[Alert]:
        """Newest first; `after` is the (created_at, id) of the last item of the previous page."""
        q = select(T)
        if f.status is not None:
            q = q.where(T.c.status == f.status)
        if f.open_only:
            q = q.where(T.c.status != Status.RESOLVED)
        if f.kind is not None:
            q = q.where(T.c.kind == f.kind)
        if f.dealers is not None:
            q = q.where(T.c.dealer_code.in_(sorted(f.dealers)))
        if f.overdue_at is not None:
            # As a subquery so the partial index answers it: given the ORDER BY below, SQLite
            # would otherwise walk ix_alerts_created over every alert ever raised.
            past_due = select(T.c.id).where(T.c.handled_at.is_(None), T.c.due_at < f.overdue_at)
            q = q.where(T.c.id.in_(past_due))
        if f.escalated is not None:
            q = q.where(T.c.escalation_level > 0 if f.escalated else T.c.escalation_level == 0)
        if f.customer is not None:
            q = q.where(T.c.dealer_code == f.customer[0], T.c.customer_id == f.customer[1])
        if after is not None:
            at, last = after
            q = q.where(or_(T.c.created_at < at, and_(T.c.created_at == at, T.c.id < last)))
        q = q.order_by(T.c.created_at.desc(), T.c.id.desc()).limit(limit)
        return [to_alert(r) for r in await self.conn.execute(q)]

    async def get_many(self, ids: Sequence[str], *, lock: bool = False) -> dict[str, Alert]:
        """By id; with `lock` on PostgreSQL the rows are locked in id order (no deadlocks)."""
        out: dict[str, Alert] = {}
        for part in chunks(sorted(set(ids)), 900):
            q = select(T).where(T.c.id.in_(part)).order_by(T.c.id)
            if lock and self.locks_rows:
                q = q.with_for_update()
            out.update({r.id: to_alert(r) for r in await self.conn.execute(q)})
        return out
