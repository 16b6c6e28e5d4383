"""The append-only alert history."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import select

from bot.domain.values import Channel, HistoryEntry, HistoryEvent, Status
from storage.models import HistoryRow
from storage.repositories.base import Many, Repo

T = HistoryRow.__table__
_APPEND = Many(T.insert(), ("alert_id", "at", "channel", "actor", "person_id", "event", "old_status", "new_status", "note"))


class HistoryRepo(Repo):
    async def append(self, entries: Sequence[HistoryEntry]) -> None:
        if entries:
            await _APPEND.run(
                self.conn,
                [
                    {
                        "alert_id": e.alert_id,
                        "at": e.at,
                        "channel": e.channel,
                        "actor": e.actor,
                        "person_id": e.person_id,
                        "event": e.event,
                        "old_status": e.old_status,
                        "new_status": e.new_status,
                        "note": e.note,
                    }
                    for e in entries
                ],
            )

    async def of(self, alert_id: str) -> list[HistoryEntry]:
        rows = await self.conn.execute(select(T).where(T.c.alert_id == alert_id).order_by(T.c.id))
        return [
            HistoryEntry(
                r.alert_id,
                r.at,
                Channel(r.channel),
                r.actor,
                HistoryEvent(r.event),
                Status(r.old_status) if r.old_status else None,
                Status(r.new_status) if r.new_status else None,
                r.note,
                r.person_id,
            )
            for r in rows
        ]
