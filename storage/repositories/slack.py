"""Slack bookkeeping: message receipts, workspaces, and events already applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select, update

from storage.models import ProcessedEvent, SlackMessage, SlackWorkspace
from storage.repositories.base import Repo, chunks

M = SlackMessage.__table__
W = SlackWorkspace.__table__
E = ProcessedEvent.__table__


class SlackRepo(Repo):
    async def receipt(self, alert_id: str, purpose: str = "card") -> Any | None:
        q = select(M).where(M.c.alert_id == alert_id, M.c.purpose == purpose)
        return (await self.conn.execute(q)).first()

    async def receipts(self, alert_ids: Sequence[str], purpose: str = "card") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in chunks(sorted(set(alert_ids))):
            out.update({r.alert_id: r for r in await self.conn.execute(select(M).where(M.c.alert_id.in_(part), M.c.purpose == purpose))})
        return out

    async def record(self, alert_id: str, purpose: str, team_id: str, channel_id: str, ts: str, now: datetime) -> None:
        await self.conn.execute(
            self.insert(M)
            .values(alert_id=alert_id, purpose=purpose, team_id=team_id, channel_id=channel_id, ts=ts, posted_at=now)
            .on_conflict_do_nothing()
        )

    async def record_many(self, receipts: Sequence[dict[str, Any]]) -> None:
        """Store receipts (alert_id, purpose, team_id, channel_id, ts, posted_at) in one statement;
        one stored before is kept."""
        if receipts:
            await self.conn.execute(self.insert(M).on_conflict_do_nothing(), list(receipts))

    async def alert_of_thread(self, channel_id: str, ts: str) -> str | None:
        q = select(M.c.alert_id).where(M.c.channel_id == channel_id, M.c.ts == ts)
        return await self.conn.scalar(q)

    async def seen(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys were remembered before."""
        out: set[str] = set()
        for part in chunks(sorted({k[:200] for k in keys}), 900):
            out.update(await self.conn.scalars(select(E.c.key).where(E.c.key.in_(part))))
        return out

    async def remember(self, keys: Sequence[str], now: datetime) -> None:
        if keys:
            await self.conn.execute(self.insert(E).on_conflict_do_nothing(), [{"key": k[:200], "at": now} for k in sorted(set(keys))])

    async def first_time(self, key: str, now: datetime) -> bool:
        """Remember `key`; False if it was seen before (a retried event or a repeated submit)."""
        stmt = self.insert(E).values(key=key[:200], at=now).on_conflict_do_nothing().returning(E.c.key)
        return await self.conn.scalar(stmt) is not None

    async def installed(self, team_id: str, name: str | None, now: datetime) -> None:
        stmt = self.insert(W).values(team_id=team_id, name=name, installed_at=now, uninstalled_at=None)
        await self.conn.execute(
            stmt.on_conflict_do_update(index_elements=["team_id"], set_={"name": stmt.excluded.name, "installed_at": now, "uninstalled_at": None})
        )

    async def uninstalled(self, team_id: str, now: datetime) -> None:
        stmt = self.insert(W).values(team_id=team_id, uninstalled_at=now)
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["team_id"], set_={"uninstalled_at": now}))

    async def removed_teams(self) -> set[str]:
        return set(await self.conn.scalars(select(W.c.team_id).where(W.c.uninstalled_at.is_not(None))))

    async def is_removed(self, team_id: str) -> bool:
        q = select(W.c.team_id).where(W.c.team_id == team_id, W.c.uninstalled_at.is_not(None))
        return await self.conn.scalar(q) is not None

    async def reinstate(self, team_id: str) -> None:
        await self.conn.execute(update(W).where(W.c.team_id == team_id).values(uninstalled_at=None))
