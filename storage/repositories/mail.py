"""Mail bookkeeping: messages sent (for matching replies), bounce records per address, leases."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import func, or_, select, update

from storage.models import Address, Lease, MailMessage
from storage.repositories.base import Repo, chunks

M = MailMessage.__table__
A = Address.__table__
L = Lease.__table__


class MailRepo(Repo):
    async def sent(self, message_id: str, alert_id: str | None, recipient: str, purpose: str, now: datetime) -> None:
        stmt = self.insert(M).values(message_id=message_id, alert_id=alert_id, recipient=recipient.lower(), purpose=purpose, sent_at=now)
        await self.conn.execute(stmt.on_conflict_do_nothing())

    async def recipients_of(self, alert_id: str) -> list[str]:
        q = select(M.c.recipient).where(M.c.alert_id == alert_id).distinct()
        return list(await self.conn.scalars(q))

    async def alerts_of_messages(self, message_ids: Sequence[str]) -> dict[str, str]:
        """Message-ID → alert, for the mails cxbot sent among these."""
        out: dict[str, str] = {}
        for part in chunks(sorted(set(message_ids)), 900):
            q = select(M.c.message_id, M.c.alert_id).where(M.c.message_id.in_(part), M.c.alert_id.is_not(None))
            out.update({r.message_id: r.alert_id for r in await self.conn.execute(q)})
        return out

    async def recipients_of_many(self, alert_ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for part in chunks(sorted(set(alert_ids)), 900):
            q = select(M.c.alert_id, M.c.recipient).where(M.c.alert_id.in_(part)).distinct()
            for alert_id, recipient in await self.conn.execute(q):
                out.setdefault(alert_id, []).append(recipient)
        return out

    async def alert_of_messages(self, message_ids: Sequence[str]) -> str | None:
        """The alert of the first of these Message-IDs that cxbot sent (In-Reply-To, References)."""
        if not message_ids:
            return None
        rows = {r.message_id: r.alert_id for r in await self.conn.execute(select(M.c.message_id, M.c.alert_id).where(M.c.message_id.in_(list(message_ids)[:50])))}
        return next((rows[m] for m in message_ids if rows.get(m)), None)

    # ---- bounce records -------------------------------------------------------------------

    async def address(self, email: str) -> Any | None:
        return (await self.conn.execute(select(A).where(A.c.email == email.lower()))).first()

    async def by_tag(self, tag: str) -> Any | None:
        return (await self.conn.execute(select(A).where(A.c.verp_tag == tag.lower()))).first()

    async def remember(self, email: str, tag: str) -> None:
        await self.conn.execute(self.insert(A).values(email=email.lower(), verp_tag=tag, bounces=0).on_conflict_do_nothing())

    async def bounced(self, email: str, now: datetime, status: str | None, diagnostic: str | None) -> None:
        await self.conn.execute(
            update(A)
            .where(A.c.email == email.lower())
            .values(
                bounces=A.c.bounces + 1,
                first_bounce_at=func.coalesce(A.c.first_bounce_at, now),
                last_bounce_at=now,
                last_status=status,
                last_diagnostic=(diagnostic or "")[:2000] or None,
            )
        )

    async def flagged(self, emails: Sequence[str], since: datetime) -> dict[str, Any]:
        """Addresses among `emails` with a bounce after `since` and not verified after it."""
        out: dict[str, Any] = {}
        for part in chunks(sorted({e.lower() for e in emails})):
            q = select(A).where(
                A.c.email.in_(part),
                A.c.last_bounce_at >= since,
                or_(A.c.verified_at.is_(None), A.c.verified_at < A.c.last_bounce_at),
            )
            out.update({r.email: r for r in await self.conn.execute(q)})
        return out

    async def bounced_addresses(self, emails: Sequence[str] | None = None) -> list[Any]:
        q = select(A).where(A.c.bounces > 0) if emails is None else select(A).where(A.c.email.in_(sorted({e.lower() for e in emails})))
        return list(await self.conn.execute(q.order_by(A.c.email)))

    async def suppressed(self, emails: Sequence[str], limit: int) -> set[str]:
        """Addresses that bounced `limit` times since they were last verified: nothing goes there."""
        out: set[str] = set()
        for part in chunks(sorted({e.lower() for e in emails})):
            out.update(await self.conn.scalars(select(A.c.email).where(A.c.email.in_(part), A.c.bounces >= limit)))
        return out

    async def verify(self, email: str, now: datetime) -> bool:
        result = await self.conn.execute(update(A).where(A.c.email == email.lower()).values(bounces=0, verified_at=now, reported_at=None))
        return bool(result.rowcount)

    async def reported(self, email: str, now: datetime) -> None:
        await self.conn.execute(update(A).where(A.c.email == email.lower()).values(reported_at=now))

    # ---- leases ---------------------------------------------------------------------------

    async def take_lease(self, name: str, owner: str, now: datetime, until: datetime) -> bool:
        """Hold `name` until `until` unless someone else holds it now; renewing is taking again."""
        await self.conn.execute(self.insert(L).values(name=name).on_conflict_do_nothing())
        result = await self.conn.execute(
            update(L)
            .where(L.c.name == name, or_(L.c.owner == owner, L.c.until.is_(None), L.c.until < now))
            .values(owner=owner, until=until)
        )
        return bool(result.rowcount)

    async def drop_lease(self, name: str, owner: str) -> None:
        await self.conn.execute(update(L).where(L.c.name == name, L.c.owner == owner).values(owner=None, until=None))
