"""Customers, keyed by (dealer, customer id), and the state the detractor flag follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import bindparam, case, func, or_, select, update

from bot.domain.rules import Latest
from storage.models import Address, Customer, Response
from storage.repositories.base import KeyQuery, Many, Repo, chunks, insert_for, keys_in

T = Customer.__table__
R = Response.__table__

PERSONAL = ("name", "email", "phone_home", "phone_work", "phone_mobile", "contact_name")
OTHER = ("kind", "language", "customer_number", "salesperson_email", "advisor_email", "preferred_contact", "best_time")
RESPONSE_PERSONAL = ("contact_name", "contact_email", "contact_phone", "purchase_date", "service_date")


@dataclass(frozen=True)
class CustomerState:
    key: tuple[str, str]
    latest: Latest | None
    detractor: bool
    detractor_response_id: str | None
    anonymized: bool
    detractor_since: datetime | None = None


@dataclass(frozen=True)
class FlagUpdate:
    key: tuple[str, str]
    latest: Latest
    detractor: bool
    detractor_response_id: str | None
    detractor_since: datetime | None


_STATE_COLS = (T.c.dealer_code, T.c.customer_id, T.c.latest_response_id, T.c.latest_submitted_at, T.c.latest_nps, T.c.detractor, T.c.detractor_response_id, T.c.anonymized, T.c.detractor_since)
_STATES = KeyQuery((T.c.dealer_code, T.c.customer_id), lambda match: select(*_STATE_COLS).where(match))
_STATES_LOCKED = KeyQuery((T.c.dealer_code, T.c.customer_id), lambda match: select(*_STATE_COLS).where(match).with_for_update())
_SET_FLAGS = Many(
    update(T)
    .where(T.c.dealer_code == bindparam("k_dealer"), T.c.customer_id == bindparam("k_customer"))
    .values(
        latest_response_id=bindparam("v_latest_id"),
        latest_submitted_at=bindparam("v_latest_at"),
        latest_nps=bindparam("v_latest_nps"),
        detractor=bindparam("v_detractor"),
        detractor_response_id=bindparam("v_detractor_id"),
        detractor_since=bindparam("v_detractor_since"),
        updated_at=bindparam("v_now"),
    ),
)


def _build_upsert(dialect: str) -> Any:
    stmt = insert_for(dialect, T)
    ex = stmt.excluded
    anonymized = or_(T.c.anonymized, ex.anonymized)
    sets: dict[str, Any] = {"anonymized": anonymized, "updated_at": ex.updated_at}
    for col in PERSONAL:
        sets[col] = case((anonymized, None), else_=func.coalesce(ex[col], T.c[col]))
    for col in OTHER:
        sets[col] = func.coalesce(ex[col], T.c[col])
    sets["contact_permissions"] = _merged(dialect, T.c.contact_permissions, ex.contact_permissions)
    return stmt.on_conflict_do_update(index_elements=["dealer_code", "customer_id"], set_=sets)


def _merged(dialect: str, stored: Any, given: Any) -> Any:
    """Contact methods given now are laid over the stored ones (keys not given stay as they are)."""
    if dialect == "postgresql":
        return stored.op("||")(given)
    return func.json_patch(stored, given)


# The rows of services.intake.customer_rows, with the new record's flag and the times.
_UPSERT = Many(_build_upsert, ("dealer_code", "customer_id", "anonymized", *PERSONAL, *OTHER, "contact_permissions", "detractor", "created_at", "updated_at"))


class CustomersRepo(Repo):
    async def upsert_many(self, rows: Sequence[dict[str, Any]], now: datetime) -> None:
        """Insert or update customers. A field the response leaves out keeps its stored value; an
        anonymized customer keeps no personal data, now or later. Keys are sorted so concurrent
        upserts on PostgreSQL lock rows in one order and cannot deadlock."""
        ordered = sorted(rows, key=lambda r: (r["dealer_code"], r["customer_id"]))
        await _UPSERT.run(self.conn, [{**r, "detractor": False, "created_at": now, "updated_at": now} for r in ordered])

    async def add_if_absent(self, dealer: str, customer_id: str, name: str | None, now: datetime) -> None:
        """A customer cxbot has not heard of yet (a complaint about them) gets a record, so
        look-ups, the Customer button and erasure find them; a known record is left as it is."""
        await self.conn.execute(
            self.insert(T)
            .values(dealer_code=dealer, customer_id=customer_id, name=name, anonymized=False, contact_permissions={},
                    detractor=False, created_at=now, updated_at=now)
            .on_conflict_do_nothing()
        )

    async def forget_response_details(self, keys: Sequence[tuple[str, str]]) -> None:
        """Seed 000: an anonymous answer permanently deletes contact details and purchase or
        service dates stored with the customer's earlier responses."""
        for part in chunks(sorted(keys)):
            await self.conn.execute(
                update(R)
                .where(keys_in((R.c.dealer_code, R.c.customer_id), part))
                .values({c: None for c in RESPONSE_PERSONAL})
            )

    async def states(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], CustomerState]:
        out: dict[tuple[str, str], CustomerState] = {}
        for part in chunks(list(keys)):
            # Unpacked, not read by name: a Row's attribute lookup raises and discards an
            # AttributeError before it finds the column (intake reads every customer's state).
            for dealer, customer, latest_id, latest_at, latest_nps, detractor, detractor_id, anonymized, since in await self.conn.execute(
                *(_STATES_LOCKED if self.locks_rows else _STATES)(part)
            ):
                key = (dealer, customer)
                latest = Latest(latest_id, latest_at, latest_nps) if latest_id else None
                out[key] = CustomerState(key, latest, detractor, detractor_id, anonymized, since)
        return out

    async def set_flags(self, changes: Sequence[FlagUpdate], now: datetime) -> None:
        if not changes:
            return
        await _SET_FLAGS.run(
            self.conn,
            [
                {
                    "v_now": now,
                    "k_dealer": c.key[0],
                    "k_customer": c.key[1],
                    "v_latest_id": c.latest.response_id,
                    "v_latest_at": c.latest.submitted_at,
                    "v_latest_nps": c.latest.nps,
                    "v_detractor": c.detractor,
                    "v_detractor_id": c.detractor_response_id,
                    "v_detractor_since": c.detractor_since,
                }
                for c in sorted(changes, key=lambda c: c.key)
            ],
        )

    async def search(self, dealers: Sequence[str] | None, query: str, limit: int) -> list[Any]:
        """By customer id or number, email, or part of the name (anonymized customers: id only)."""
        low = query.strip().lower()
        match = or_(
            T.c.customer_id == query.strip(),
            T.c.customer_number == query.strip(),
            func.lower(T.c.email) == low,
            func.lower(T.c.name).contains(low, autoescape=True),
        )
        q = select(T).where(match)
        if dealers is not None:
            q = q.where(T.c.dealer_code.in_(sorted(dealers)))
        q = q.order_by(T.c.dealer_code, T.c.customer_id).limit(limit)
        return list(await self.conn.execute(q))

    async def get(self, dealer: str, customer_id: str) -> Any | None:
        return (await self.conn.execute(select(T).where(T.c.dealer_code == dealer, T.c.customer_id == customer_id))).first()

    # ---- the customer card and contact preferences (seed 003) ---------------------------------

    async def set_card(self, dealer: str, customer_id: str, values: dict[str, Any], methods: dict[str, bool], now: datetime) -> bool:
        """Change the card's fields and lay `methods` over the stored contact methods; False: no such customer."""
        q = select(T.c.contact_permissions).where(T.c.dealer_code == dealer, T.c.customer_id == customer_id)
        if self.locks_rows:
            q = q.with_for_update()
        stored = (await self.conn.execute(q)).first()
        if stored is None:
            return False
        permissions = {**(stored.contact_permissions or {}), **methods}
        await self.conn.execute(
            update(T).where(T.c.dealer_code == dealer, T.c.customer_id == customer_id).values(**values, contact_permissions=permissions, updated_at=now)
        )
        return True

    async def mail_facts(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """Per customer: the address, the contact methods and the address's bounce count (one query per chunk)."""
        A = Address.__table__
        out: dict[tuple[str, str], Any] = {}
        for part in chunks(sorted(set(keys))):
            q = (
                select(T.c.dealer_code, T.c.customer_id, T.c.email, T.c.contact_permissions, T.c.anonymized, func.coalesce(A.c.bounces, 0).label("bounces"))
                .select_from(T.outerjoin(A, A.c.email == func.lower(T.c.email)))
                .where(keys_in((T.c.dealer_code, T.c.customer_id), part))
            )
            out.update({(r.dealer_code, r.customer_id): r for r in await self.conn.execute(q)})
        return out

    async def responsible_for(self, response_ids: Sequence[str]) -> dict[str, tuple[str, str | None, str | None]]:
        """Per response: (survey, the customer's salesperson email, service advisor email)."""
        out: dict[str, tuple[str, str | None, str | None]] = {}
        for part in chunks(sorted(set(response_ids))):
            q = (
                select(R.c.id, R.c.survey, T.c.salesperson_email, T.c.advisor_email)
                .join(T, (T.c.dealer_code == R.c.dealer_code) & (T.c.customer_id == R.c.customer_id))
                .where(R.c.id.in_(part))
            )
            out.update({r.id: (str(r.survey), r.salesperson_email, r.advisor_email) for r in await self.conn.execute(q)})
        return out
