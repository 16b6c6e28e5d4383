"""The scheduler's questions: which alerts are due for escalation or a reminder (claimed
atomically, so replicas never do one twice), and which job runs are taken."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, select, text, update

from bot.domain.values import Alert
from storage.models import AlertRow, JobRun, UtcDateTime
from storage.repositories.alerts import to_alert
from storage.repositories.base import Repo

A = AlertRow.__table__
J = JobRun.__table__
SWEEP_INDEX = {"next_escalation_at": "ix_alerts_next_escalation", "remind_at": "ix_alerts_remind"}


class ScheduleRepo(Repo):
    async def _claim(self, column: Any, now: datetime, limit: int, changes: dict[str, Any]) -> list[Alert]:
        """One statement marks and returns up to `limit` due rows. On PostgreSQL replicas skip each
        other's locked rows; on SQLite (which would drop SKIP LOCKED silently) the write lock of
        BEGIN IMMEDIATE makes the UPDATE … RETURNING atomic, and a second sweeper then finds the
        column already moved on."""
        due: Any = select(A.c.id).where(column.is_not(None), column <= now, A.c.handled_at.is_(None)).order_by(column).limit(limit)
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        else:
            # SQLite's planner, given ANALYZE statistics, may prefer a skip-scan of (dealer,
            # handled_at), which reads every open alert; the partial index reads only the due
            # ones. SQLAlchemy renders no table hints for SQLite, hence the text.
            name = column.name
            due = (
                text(
                    f"SELECT id FROM alerts INDEXED BY {SWEEP_INDEX[name]} WHERE {name} IS NOT NULL AND {name} <= :due_now "
                    f"AND handled_at IS NULL ORDER BY {name} LIMIT :due_limit"
                )
                .bindparams(bindparam("due_now", now, type_=UtcDateTime()), bindparam("due_limit", limit))
                .columns(A.c.id)
            )
        claim = [A.c.id.in_(due.scalar_subquery())]
        if self.dialect == "postgresql":
            # Checked again on the locked rows. (On SQLite the transaction holds the write lock
            # from its start, and repeating the terms here would send the planner to the
            # skip-scan again.)
            claim += [column <= now, A.c.handled_at.is_(None)]
        stmt = update(A).where(*claim).values(**changes).returning(*A.c)
        return [to_alert(r) for r in await self.conn.execute(stmt)]

    async def claim_escalations(self, now: datetime, limit: int) -> list[Alert]:
        """Alerts past their next escalation time, moved up one level (their next time is set by
        the caller in the same transaction)."""
        return await self._claim(
            A.c.next_escalation_at, now, limit, {"escalation_level": A.c.escalation_level + 1, "escalated_at": now, "next_escalation_at": None, "updated_at": now}
        )

    async def claim_reminders(self, now: datetime, limit: int) -> list[Alert]:
        return await self._claim(A.c.remind_at, now, limit, {"remind_at": None, "updated_at": now})

    async def set_next_escalations(self, times: Sequence[tuple[str, datetime]]) -> None:
        if times:
            stmt = update(A).where(A.c.id == bindparam("k_id")).values(next_escalation_at=bindparam("v_at"))
            await self.conn.execute(stmt, [{"k_id": i, "v_at": at} for i, at in sorted(times)])

    async def take_run(self, key: str, owner: str, now: datetime) -> bool:
        """Claim one run of a job; False when another process (or an earlier round) has it."""
        stmt = self.insert(J).values(key=key, owner=owner, started_at=now).on_conflict_do_nothing().returning(J.c.key)
        return await self.conn.scalar(stmt) is not None

    async def finish_run(self, key: str, now: datetime) -> None:
        await self.conn.execute(update(J).where(J.c.key == key).values(finished_at=now))
