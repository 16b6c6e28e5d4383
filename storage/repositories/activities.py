"""Activities the dealer system opened for customers: service calls, workshop bookings, sales orders and
purchases, known by (dealer, type, reference)."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import and_, select

from bot.domain.detractors import ActivityType, ActivityWarning
from bot.domain.values import ANONYMOUS
from storage.models import Activity, Customer, Dealer, Response
from storage.repositories.base import Repo, chunks, keys_in

T = Activity.__table__
D = Dealer.__table__
C = Customer.__table__
R = Response.__table__

Key = tuple[str, str, str]
KEY_COLUMNS = ["dealer_code", "type", "reference"]


def _key(r: Any) -> Key:
    return (r.dealer_code, ActivityType(r.type).value, r.reference)


class ActivitiesRepo(Repo):
    async def by_keys(self, keys: Sequence[Key]) -> dict[Key, Any]:
        """The stored activities among these (dealer, type, reference) keys."""
        out: dict[Key, Any] = {}
        for part in chunks(sorted(set(keys)), 300):
            q = select(T).where(keys_in((T.c.dealer_code, T.c.type, T.c.reference), part))
            out.update({_key(r): r for r in await self.conn.execute(q)})
        return out

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> dict[Key, int]:
        """Insert the rows whose key is not stored yet and return their ids by key. A row another
        transaction stored after this one looked is skipped, not an error: that one warns. Keys are
        sorted so concurrent batches on PostgreSQL take their locks in one order."""
        ordered = sorted(rows, key=lambda r: (r["dealer_code"], str(r["type"]), r["reference"]))
        out: dict[Key, int] = {}
        for part in chunks(ordered, 100):
            stmt = (
                self.insert(T)
                .values(part)
                .on_conflict_do_nothing(index_elements=KEY_COLUMNS)
                .returning(T.c.id, T.c.dealer_code, T.c.type, T.c.reference)
            )
            out.update({_key(r): r.id for r in await self.conn.execute(stmt)})
        return out

    async def get(self, activity_id: int) -> Any | None:
        return (await self.conn.execute(select(T).where(T.c.id == activity_id))).first()

    async def of_customer(self, dealer: str, customer_id: str, types: Sequence[ActivityType] | None = None) -> list[Any]:
        """A customer's activities, oldest first (optionally only some types: orders and purchases)."""
        q = select(T).where(T.c.dealer_code == dealer, T.c.customer_id == customer_id)
        if types:
            q = q.where(T.c.type.in_(sorted(types)))
        return list(await self.conn.execute(q.order_by(T.c.opened_at, T.c.id)))

    async def warning(self, activity_id: int) -> ActivityWarning | None:
        """What the warning about this activity shows: the dealer, the customer as stored now and the
        detractor answer the warning was decided on."""
        q = (
            select(
                T,
                D.c.name.label("d_name"),
                D.c.language.label("d_language"),
                D.c.time_zone.label("d_time_zone"),
                C.c.name.label("c_name"),
                C.c.anonymized.label("c_anonymized"),
                C.c.customer_number.label("c_number"),
                R.c.nps.label("r_nps"),
                R.c.survey.label("r_survey"),
                R.c.submitted_at.label("r_submitted_at"),
                R.c.comment.label("r_comment"),
                R.c.contact_name.label("r_contact_name"),
            )
            .select_from(
                T.join(D, D.c.code == T.c.dealer_code)
                .outerjoin(C, and_(C.c.dealer_code == T.c.dealer_code, C.c.customer_id == T.c.customer_id))
                .outerjoin(R, R.c.id == T.c.warned_response_id)
            )
            .where(T.c.id == activity_id)
        )
        r = (await self.conn.execute(q)).first()
        if r is None:
            return None
        anonymized = bool(r.c_anonymized)
        return ActivityWarning(
            activity_id=r.id,
            dealer=r.dealer_code,
            dealer_name=r.d_name,
            dealer_language=r.d_language,
            dealer_time_zone=r.d_time_zone,
            customer_id=r.customer_id,
            customer_name=ANONYMOUS if anonymized else (r.c_name or r.customer_id),
            customer_number=r.c_number,
            type=ActivityType(r.type),
            reference=r.reference,
            opened_at=r.opened_at,
            assignee=r.assignee_email,
            nps=r.r_nps,
            survey=str(r.r_survey.value if hasattr(r.r_survey, "value") else r.r_survey) if r.r_survey else None,
            answered_at=r.r_submitted_at,
            comment=r.r_comment,
            contact_name=None if anonymized else r.r_contact_name,
        )
