"""storage.repositories.base.Many hands rows to the driver without SQLAlchemy's per-row parameter
handling: what it stores must be exactly what SQLAlchemy's own executemany stores, on both
databases, and a statement whose parameters the rows do not match is refused. InValues (a list
bound as one parameter) finds exactly the values asked for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain.values import Survey
from bot.services import Context
from storage.models import Customer, Response
from storage.repositories.base import Many
from storage.repositories.responses import StoredMeanwhile

R = Response.__table__
NOW = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def response_row(id_: str, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": id_,
        "survey": Survey.SERVICE,
        "dealer_code": "DK-1001",
        "customer_id": "K-1",
        "contact_name": "Søren Ørsted",
        "contact_email": None,
        "contact_phone": "+45 11 22 33 44",
        "submitted_at": datetime(2026, 10, 30, 17, 5, 9, 123456, tzinfo=timezone(timedelta(hours=2))),
        "received_at": NOW,
        "purchase_date": None,
        "service_date": date(2026, 10, 1),
        "segment": 2,
        "nps": 0,
        "scores": {"overall": 1, "værksted": 5},
        "answers": {"contact_requested": True, "note": "«ok» \u2028 <b>", "nested": {"b": [1, 2.5, None], "a": False}},
        "comment": "Bilen var ikke klar.\nIngen ringede.",
        "anonymous": False,
        "publish_consent": True,
        "content_hash": "h" * 64,
    }
    return row | over


@pytest.fixture
async def customer(cx: Context, example_dealers: None) -> None:
    async with cx.db.transaction() as tx:
        await tx.customers.add_if_absent("DK-1001", "K-1", "Someone", NOW)


async def test_rows_are_stored_exactly_as_sqlalchemys_executemany_stores_them(cx: Context, customer: None) -> None:
    variants = [{}, {"survey": "sales", "segment": None, "nps": None, "scores": {}, "answers": {}, "comment": None, "anonymous": True, "publish_consent": False,
                     "contact_name": None, "contact_phone": None, "service_date": None, "purchase_date": date(2025, 12, 31),
                     "submitted_at": datetime(2026, 1, 1, 0, 0, tzinfo=UTC)}]
    async with cx.db.transaction() as tx:
        await tx.responses.insert_many([response_row(f"many-{i}", **v) for i, v in enumerate(variants)])
        await tx.conn.execute(R.insert(), [response_row(f"plain-{i}", **v) for i, v in enumerate(variants)])
    async with cx.db.read() as tx:
        stored = {r.id: r._asdict() for r in await tx.conn.execute(select(R))}
    for i in range(len(variants)):
        many, plain = stored[f"many-{i}"], stored[f"plain-{i}"]
        assert {k: v for k, v in many.items() if k != "id"} == {k: v for k, v in plain.items() if k != "id"}
    first = stored["many-0"]
    assert first["submitted_at"] == datetime(2026, 10, 30, 15, 5, 9, 123456, tzinfo=UTC)  # kept as UTC, to the microsecond
    assert first["answers"]["note"] == "«ok» \u2028 <b>" and first["answers"]["nested"] == {"b": [1, 2.5, None], "a": False}
    assert first["survey"] == Survey.SERVICE and first["anonymous"] is False and first["service_date"] == date(2026, 10, 1)
    assert stored["many-1"]["survey"] == Survey.SALES and stored["many-1"]["anonymous"] is True


async def test_a_value_the_quick_lookups_do_not_know_gets_sqlalchemys_own_check(cx: Context, customer: None) -> None:
    async with cx.db.transaction() as tx:
        with pytest.raises(TypeError, match="Not a boolean value"):
            await tx.responses.insert_many([response_row("odd", anonymous="yes")])
        with pytest.raises(LookupError, match="not among the defined enum values"):
            await tx.responses.insert_many([response_row("odd", survey=Survey)])


async def test_a_duplicate_id_still_raises_the_drivers_integrity_error(cx: Context, customer: None) -> None:
    async with cx.db.transaction() as tx:
        await tx.responses.insert_many([response_row("dup")])
    with pytest.raises(StoredMeanwhile):
        async with cx.db.transaction() as tx:
            await tx.responses.insert_many([response_row("other"), response_row("dup")])
    async with cx.db.read() as tx:  # nothing of the refused batch stayed
        assert sorted(await tx.conn.scalars(select(R.c.id))) == ["dup"]


async def test_rows_that_leave_out_a_parameter_are_refused_before_anything_runs(cx: Context, customer: None) -> None:
    # customers.detractor has a default SQLAlchemy would fill in per row; Many does not guess.
    C = Customer.__table__
    many = Many(C.insert(), ("dealer_code", "customer_id", "anonymized", "contact_permissions", "created_at", "updated_at"))
    async with cx.db.transaction() as tx:
        with pytest.raises(TypeError, match="detractor"):
            await many.run(tx.conn, [{"dealer_code": "DK-1001", "customer_id": "K-2", "anonymized": False, "contact_permissions": {},
                                      "created_at": NOW, "updated_at": NOW}])


AWKWARD_IDS = ['say "hi"', "back\\slash", "Ørsted – ☃", "'); DROP TABLE responses; --", "%(ids)s ? $1", "tab\there", "x" * 100]


async def test_a_list_bound_as_one_parameter_finds_exactly_its_values(cx: Context, customer: None) -> None:
    """InValues (`col IN` one bound list: json_each on SQLite, ANY on PostgreSQL) must match
    each stored id exactly, whatever characters it holds, and nothing else."""
    stored = AWKWARD_IDS + [f"r-{i}" for i in range(500)]
    async with cx.db.transaction() as tx:
        await tx.responses.insert_many([response_row(i, content_hash=f"h-{n}") for n, i in enumerate(stored)])
    asked = AWKWARD_IDS + [f"r-{i}" for i in range(0, 1000, 2)] + ["say hi", "Orsted – ☃", "r-1 "]
    async with cx.db.read() as tx:
        found = await tx.responses.hashes(asked)
        assert found == {i: f"h-{n}" for n, i in enumerate(stored) if i in AWKWARD_IDS or int(i[2:]) % 2 == 0}
        assert await tx.responses.hashes([]) == {}
        assert await tx.dealers.known(["DK-1001", "dk-1001", "DK-1001 ", "DE-2001"]) == {"DK-1001", "DE-2001"}
