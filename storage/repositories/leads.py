"""Test-drive leads (seed 001) and the lost-sales selection: who is a prospect, claimed once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, exists, literal, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.detractors import ActivityType
from bot.domain.lost_sales import INVITATION_PREFIX, Window
from bot.domain.values import Survey
from storage.models import Activity, Customer, InvitationRow, Lead
from storage.repositories.base import KeyQuery, Repo, chunks
from storage.repositories.responses import StoredMeanwhile

T = Lead.__table__
C = Customer.__table__
A = Activity.__table__
I = InvitationRow.__table__
BUYS = sorted(t.value for t in ActivityType if t.buys)
# Orders and purchases of a batch's customers: every intake batch with lost-sales answers asks.
_BUYS = KeyQuery((A.c.dealer_code, A.c.customer_id), lambda match: select(A.c.dealer_code, A.c.customer_id, A.c.opened_at).where(match, A.c.type.in_(BUYS)))


@dataclass(frozen=True)
class Prospect:
    lead_id: str
    customer_id: str
    requested_at: datetime
    email: str
    name: str | None
    language: str | None


class LeadsRepo(Repo):
    async def hashes(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """id → (dealer, content hash) of the leads already stored among `ids`."""
        out: dict[str, tuple[str, str]] = {}
        for part in chunks(sorted(set(ids)), 900):
            q = select(T.c.id, T.c.dealer_code, T.c.content_hash).where(T.c.id.in_(part))
            out.update({r.id: (r.dealer_code, r.content_hash) for r in await self.conn.execute(q)})
        return out

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            for part in chunks(sorted(rows, key=lambda r: r["id"]), 300):
                await self.conn.execute(T.insert(), part)
        except IntegrityError as e:  # ids were looked up in this transaction: only a race gets here
            raise StoredMeanwhile(str(e.orig)) from e

    async def buys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[datetime]]:
        """(dealer, customer id) → when each of their sales orders and purchases was opened: one
        query per chunk of customers (the Sales Opportunity rule of an intake batch)."""
        out: dict[tuple[str, str], list[datetime]] = {}
        for part in chunks(sorted(set(keys)), 300):
            for dealer, customer, opened_at in await self.conn.execute(*_BUYS(part)):
                out.setdefault((dealer, customer), []).append(opened_at)
        return out

    async def prospects(self, dealer: str, w: Window, limit: int, after: tuple[datetime, str] | None = None) -> list[Prospect]:
        """The dealer's leads that bot.domain.lost_sales.is_prospect selects, oldest request first —
        all but "not invited before", which `invited` answers for the batch: as a correlated NOT
        EXISTS, PostgreSQL planned it against statistics taken while the invitations table was
        still small, and re-read all the dealer's invitations for every lead (quadratic in a run)."""
        bought = exists().where(
            A.c.dealer_code == T.c.dealer_code, A.c.customer_id == T.c.customer_id, A.c.type.in_(BUYS), A.c.opened_at >= T.c.requested_at
        )
        q = (
            select(T.c.id, T.c.customer_id, T.c.requested_at, C.c.email, C.c.name, C.c.language)
            .select_from(T.join(C, and_(C.c.dealer_code == T.c.dealer_code, C.c.customer_id == T.c.customer_id)))
            .where(
                T.c.dealer_code == dealer,
                T.c.requested_at >= w.start,
                T.c.requested_at < w.end,
                T.c.private.is_(True),
                T.c.email_permission.is_(True),
                T.c.invitation_id.is_(None),
                C.c.email.is_not(None),
                C.c.anonymized.is_(False),
                ~bought,
            )
        )
        if after is not None:
            at, last = after
            q = q.where((T.c.requested_at > at) | and_(T.c.requested_at == at, T.c.id > last))
        q = q.order_by(T.c.requested_at, T.c.id).limit(limit)
        return [Prospect(r.id, r.customer_id, r.requested_at, r.email, r.name, r.language) for r in await self.conn.execute(q)]

    async def invited(self, dealer: str, customer_ids: Sequence[str]) -> set[str]:
        """The customers among these who already had a lost-sales invitation (an index lookup each)."""
        out: set[str] = set()
        for part in chunks(sorted(set(customer_ids)), 900):
            q = select(I.c.customer_id).where(I.c.dealer_code == dealer, I.c.customer_id.in_(part), I.c.survey == Survey.LOST_SALES)
            out.update(await self.conn.scalars(q))
        return out

    async def claim(self, lead_ids: Sequence[str], now: datetime) -> set[str]:
        """Mark these leads invited unless another run did first; returns the ones this run got.
        One UPDATE … WHERE invitation_id IS NULL: PostgreSQL re-checks it on a row another
        transaction changed, SQLite runs one writer at a time, so a lead is claimed once."""
        got: set[str] = set()
        for part in chunks(sorted(set(lead_ids)), 900):
            stmt = (
                update(T)
                .where(T.c.id.in_(part), T.c.invitation_id.is_(None))
                .values(invitation_id=literal(INVITATION_PREFIX) + T.c.id, invited_at=now)
                .returning(T.c.id)
            )
            got |= {r.id for r in await self.conn.execute(stmt)}
        return got
