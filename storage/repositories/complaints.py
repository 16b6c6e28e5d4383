"""External complaints: how each came in, keyed by the alert it is handled as."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.domain.complaints import NewComplaint
from storage.models import ComplaintRow
from storage.repositories.base import Repo

T = ComplaintRow.__table__


class ComplaintsRepo(Repo):
    async def add(self, alert_id: str, c: NewComplaint, registered_by: str, person_id: int | None, now: datetime) -> None:
        await self.conn.execute(
            T.insert().values(
                alert_id=alert_id,
                dealer_code=c.dealer,
                customer_id=c.customer_id,
                customer_name=c.customer_name,
                customer_email=c.customer_email,
                customer_phone=c.customer_phone,
                received_via=c.received_via,
                received_at=c.received_at,
                description=c.description,
                registered_by=registered_by[:200],
                person_id=person_id,
                registered_at=now,
            )
        )

    async def get(self, alert_id: str) -> Any | None:
        return (await self.conn.execute(select(T).where(T.c.alert_id == alert_id))).first()
