"""The outbox: notifications waiting to be delivered, and leases on their lanes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, bindparam, func, literal_column, or_, select, update

from bot.domain.outbound import Outbound
from storage.models import OutboxLane, OutboxRow
from storage.repositories.base import Many, Repo, chunks

T = OutboxRow.__table__
L = OutboxLane.__table__

PENDING, DONE, FAILED = "pending", "done", "failed"
# Inline, not bound, where the partial indexes (WHERE status = 'pending') should answer: a plan
# prepared for any status (PostgreSQL's generic plans) could not use them.
IS_PENDING = T.c.status == literal_column("'pending'")
_ENQUEUE = Many(
    T.insert(),
    ("lane", "action", "alert_id", "team_id", "channel_id", "payload", "status", "attempts", "next_attempt_at", "created_at", "done_at", "last_error"),
)


@dataclass(frozen=True)
class OutboxItem:
    id: int
    lane: str
    action: str
    alert_id: str | None
    team_id: str | None
    channel_id: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    done_at: datetime | None
    last_error: str | None


def _item(r: Any) -> OutboxItem:
    return OutboxItem(
        r.id, r.lane, r.action, r.alert_id, r.team_id, r.channel_id, dict(r.payload or {}), r.status,
        r.attempts, r.next_attempt_at, r.created_at, r.done_at, r.last_error,
    )


# Built once: the dispatcher asks after every intake that queued messages.
_DUE_LANES = select(T.c.lane).where(IS_PENDING, T.c.next_attempt_at <= bindparam("now")).group_by(T.c.lane).limit(bindparam("limit"))


class OutboxRepo(Repo):
    async def enqueue(self, items: Sequence[Outbound], now: datetime) -> None:
        if not items:
            return
        await _ENQUEUE.run(
            self.conn,
            [
                {
                    "lane": o.lane,
                    "action": o.action.value,
                    "alert_id": o.alert_id,
                    "team_id": o.team_id,
                    "channel_id": o.channel_id,
                    "payload": o.payload,
                    "status": FAILED if o.undeliverable else PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "done_at": now if o.undeliverable else None,
                    "last_error": o.undeliverable,
                }
                for o in items
            ],
        )
        lanes = sorted({o.lane for o in items if not o.undeliverable})
        if lanes:
            await self.conn.execute(self.insert(L).on_conflict_do_nothing(), [{"lane": lane} for lane in lanes])

    async def due_lanes(self, now: datetime, limit: int) -> list[str]:
        """Lanes with something due (their head may still be waiting: the dispatcher checks)."""
        return list(await self.conn.scalars(_DUE_LANES, {"now": now, "limit": limit}))

    async def lease(self, lanes: Sequence[str], owner: str, now: datetime, until: datetime) -> list[str]:
        """Take the lanes nobody holds; on PostgreSQL replicas skip each other's locked rows."""
        if not lanes:
            return []
        free = select(L.c.lane).where(L.c.lane.in_(sorted(lanes)), or_(L.c.lease_until.is_(None), L.c.lease_until < now))
        if self.dialect == "postgresql":
            free = free.with_for_update(skip_locked=True)
        stmt = (
            update(L)
            .where(L.c.lane.in_(free.scalar_subquery()), or_(L.c.lease_until.is_(None), L.c.lease_until < now))
            .values(lease_until=until, lease_owner=owner)
            .returning(L.c.lane)
        )
        return list(await self.conn.scalars(stmt))

    async def renew(self, lanes: Sequence[str], owner: str, until: datetime) -> set[str]:
        """Extend `owner`'s leases; the lanes returned are still its own (another took the rest)."""
        kept: set[str] = set()
        for part in chunks(sorted(lanes), 900):
            mine = update(L).where(L.c.lane.in_(part), L.c.lease_owner == owner)
            kept.update(await self.conn.scalars(mine.values(lease_until=until).returning(L.c.lane)))
        return kept

    async def release(self, lanes: Sequence[str], owner: str) -> None:
        for part in chunks(sorted(lanes), 900):
            mine = update(L).where(L.c.lane.in_(part), L.c.lease_owner == owner)
            await self.conn.execute(mine.values(lease_until=None, lease_owner=None))

    async def pending_in(self, lane: str, limit: int) -> list[OutboxItem]:
        q = select(T).where(T.c.lane == lane, T.c.status == PENDING).order_by(T.c.id).limit(limit)
        return [_item(r) for r in await self.conn.execute(q)]

    async def pending_in_lanes(self, lanes: Sequence[str], limit: int) -> dict[str, list[OutboxItem]]:
        """The first `limit` pending rows of each lane, in order: one statement for many lanes (the
        database numbers every pending row of these lanes, cheap next to a statement per lane)."""
        nth = func.row_number().over(partition_by=T.c.lane, order_by=T.c.id).label("nth")
        ranked = select(T, nth).where(T.c.lane.in_(bindparam("lanes", expanding=True)), IS_PENDING).subquery()
        q = select(ranked).where(ranked.c.nth <= bindparam("limit")).order_by(ranked.c.lane, ranked.c.id)
        out: dict[str, list[OutboxItem]] = {lane: [] for lane in lanes}
        for part in chunks(sorted(lanes), 900):
            for r in await self.conn.execute(q, {"lanes": part, "limit": limit}):
                out[r.lane].append(_item(r))
        return out

    async def done(self, ids: Sequence[int], now: datetime) -> None:
        for part in chunks(list(ids), 900):
            await self.conn.execute(update(T).where(T.c.id.in_(part)).values(status=DONE, done_at=now, last_error=None))

    async def failed(self, id_: int, now: datetime, reason: str) -> None:
        await self.conn.execute(
            update(T).where(T.c.id == id_).values(status=FAILED, done_at=now, last_error=reason[:2000], attempts=T.c.attempts + 1)
        )

    async def retry_at(self, id_: int, at: datetime, reason: str) -> None:
        await self.conn.execute(
            update(T).where(T.c.id == id_).values(next_attempt_at=at, last_error=reason[:2000], attempts=T.c.attempts + 1)
        )

    async def fail_pending(self, where: Any, now: datetime, reason: str) -> int:
        result = await self.conn.execute(
            update(T).where(T.c.status == PENDING, where).values(status=FAILED, done_at=now, last_error=reason)
        )
        return int(result.rowcount or 0)

    async def fail_team(self, team_id: str, now: datetime, reason: str) -> int:
        return await self.fail_pending(and_(T.c.team_id == team_id, T.c.action.like("slack.%")), now, reason)

    async def requeue(self, ids: Sequence[int] | None, now: datetime) -> int:
        q = update(T).where(T.c.status == FAILED)
        if ids is not None:
            q = q.where(T.c.id.in_(sorted(ids)))
        result = await self.conn.execute(q.values(status=PENDING, next_attempt_at=now, attempts=0, done_at=None))
        return int(result.rowcount or 0)

    async def listing(self, status: str | None, limit: int) -> list[OutboxItem]:
        q = select(T)
        if status:
            q = q.where(T.c.status == status)
        q = q.order_by(T.c.id.desc()).limit(limit)
        return [_item(r) for r in await self.conn.execute(q)]

    async def counts(self) -> dict[str, int]:
        return {s: n for s, n in await self.conn.execute(select(T.c.status, func.count()).group_by(T.c.status))}
