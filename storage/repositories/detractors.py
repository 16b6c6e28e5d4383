"""Detractor customers as the dealer system sees them: who is flagged, what cxbot writes about them,
the message the dealer system last sent and got back, and what the last daily digest reported."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from bot.domain.dealer_message import DetractorFacts, MessageResult
from bot.domain.detractors import Change, DetractorDigest, DigestCustomer, digest_entry
from storage.models import Customer, CustomerMessage, Dealer, Response
from storage.repositories.base import Repo, chunks, keys_in

C = Customer.__table__
M = CustomerMessage.__table__
D = Dealer.__table__
R = Response.__table__

Key = tuple[str, str]


class DetractorsRepo(Repo):
    async def flagged(self, keys: Sequence[Key]) -> dict[Key, str | None]:
        """Of these customers, the ones flagged as detractors, with the answer that flagged them."""
        out: dict[Key, str | None] = {}
        for part in chunks(sorted(set(keys))):
            q = select(C.c.dealer_code, C.c.customer_id, C.c.detractor_response_id).where(
                keys_in((C.c.dealer_code, C.c.customer_id), part), C.c.detractor.is_(True)
            )
            out.update({(r.dealer_code, r.customer_id): r.detractor_response_id for r in await self.conn.execute(q)})
        return out

    async def facts(self, dealer: str, customer_ids: Sequence[str]) -> dict[str, DetractorFacts]:
        """What cxbot writes about each flagged customer among these: their newest answer's score, day
        (in the dealer's time zone), survey, comment and the contact who answered. Customers not
        flagged are left out."""
        out: dict[str, DetractorFacts] = {}
        for part in chunks(sorted(set(customer_ids))):
            q = (
                select(C.c.customer_id, C.c.anonymized, R.c.nps, R.c.submitted_at, R.c.survey, R.c.comment, R.c.contact_name, D.c.time_zone)
                .select_from(C.join(R, R.c.id == C.c.detractor_response_id).join(D, D.c.code == C.c.dealer_code))
                .where(C.c.dealer_code == dealer, C.c.customer_id.in_(part), C.c.detractor.is_(True))
            )
            for r in await self.conn.execute(q):
                if r.nps is None:
                    continue
                out[r.customer_id] = DetractorFacts(
                    nps=r.nps,
                    answered_on=r.submitted_at.astimezone(ZoneInfo(r.time_zone)).date(),
                    comment=r.comment,
                    survey=str(getattr(r.survey, "value", r.survey)),
                    contact=None if r.anonymized else r.contact_name,
                )
        return out

    async def save_message(self, dealer: str, customer_id: str, subject: str, body: str, result: MessageResult, now: datetime) -> None:
        """Keep the message the dealer system sent and the one cxbot returned (the digest shows both)."""
        values = {
            "seen_subject": subject,
            "seen_body": body,
            "seen_at": now,
            "returned_subject": result.subject,
            "returned_body": result.body,
            "returned_error": result.error,
            "updated_at": now,
        }
        stmt = self.insert(M).values(dealer_code=dealer, customer_id=customer_id, reported_flag=False, **values)
        await self.conn.execute(stmt.on_conflict_do_update(index_elements=["dealer_code", "customer_id"], set_=values))

    async def message(self, dealer: str, customer_id: str) -> Any | None:
        return (await self.conn.execute(select(M).where(M.c.dealer_code == dealer, M.c.customer_id == customer_id))).first()

    async def lock_dealer(self, dealer: str) -> bool:
        """Hold the dealer's row until the transaction ends, so two digest runs of one dealer (the
        scheduler and `cxbot detractors digest`) take turns. False when the dealer does not exist."""
        q = select(D.c.code).where(D.c.code == dealer)
        if self.locks_rows:
            q = q.with_for_update()
        return await self.conn.scalar(q) is not None

    async def flagged_now(self, dealer: str) -> set[str]:
        q = select(C.c.customer_id).where(C.c.dealer_code == dealer, C.c.detractor.is_(True))
        return set(await self.conn.scalars(q))

    async def reported_flagged(self, dealer: str) -> set[str]:
        """Customers the last digest reported as flagged (and not cleared since)."""
        q = select(M.c.customer_id).where(M.c.dealer_code == dealer, M.c.reported_flag.is_(True))
        return set(await self.conn.scalars(q))

    async def to_check(self, dealer: str) -> set[str]:
        """Customers whose message may be over a limit: the last answer had an error, or the customer
        is flagged (cxbot's part needs room). Only messages the dealer system has sent count."""
        q = (
            select(M.c.customer_id)
            .select_from(M.join(C, and_(C.c.dealer_code == M.c.dealer_code, C.c.customer_id == M.c.customer_id)))
            .where(M.c.dealer_code == dealer, M.c.seen_at.is_not(None), or_(M.c.returned_error.is_not(None), C.c.detractor.is_(True)))
        )
        return set(await self.conn.scalars(q))

    async def set_reported(self, dealer: str, flagged: Sequence[str], cleared: Sequence[str], now: datetime) -> None:
        """Remember what the digest told the dealer, so the next one says only what changed since."""
        rows = [(c, True) for c in flagged] + [(c, False) for c in cleared]
        for part in chunks(sorted(rows), 200):
            stmt = self.insert(M).values(
                [{"dealer_code": dealer, "customer_id": c, "reported_flag": f, "reported_at": now, "updated_at": now} for c, f in part]
            )
            ex = stmt.excluded
            await self.conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["dealer_code", "customer_id"],
                    set_={"reported_flag": ex.reported_flag, "reported_at": ex.reported_at, "updated_at": ex.updated_at},
                )
            )

    async def digest(self, dealer: str, day: date, lists: dict[Change, list[str]], left_out: int = 0) -> DetractorDigest | None:
        """A digest as it reads now: each customer with the message the dealer system last sent and
        what cxbot returns for it today. None when the dealer no longer exists."""
        d = (await self.conn.execute(select(D.c.name, D.c.language).where(D.c.code == dealer))).first()
        if d is None:
            return None
        ids = [c for listed in lists.values() for c in listed]
        customers = await self.digest_customers(dealer, ids)
        facts = await self.facts(dealer, ids)
        entries = [
            digest_entry(change, customers[c], facts.get(c), d.language)
            for change, listed in lists.items()
            for c in listed
            if c in customers
        ]
        return DetractorDigest(dealer, d.name, d.language, day, entries, left_out)

    async def digest_customers(self, dealer: str, customer_ids: Sequence[str]) -> dict[str, DigestCustomer]:
        """The customers of a digest as stored now, with the message the dealer system last sent."""
        out: dict[str, DigestCustomer] = {}
        for part in chunks(sorted(set(customer_ids))):
            q = (
                select(C.c.customer_id, C.c.name, C.c.anonymized, C.c.customer_number, C.c.latest_nps, M.c.seen_at, M.c.seen_subject, M.c.seen_body)
                .select_from(C.outerjoin(M, and_(M.c.dealer_code == C.c.dealer_code, M.c.customer_id == C.c.customer_id)))
                .where(C.c.dealer_code == dealer, C.c.customer_id.in_(part))
            )
            for r in await self.conn.execute(q):
                seen = (r.seen_subject or "", r.seen_body or "") if r.seen_at is not None else None
                out[r.customer_id] = DigestCustomer(r.customer_id, r.name, bool(r.anonymized), r.customer_number, r.latest_nps, seen)
        return out
