"""Test-drive leads (issue 8, part 3): POST /api/v1/leads with the intake's auth and all-or-nothing
batches, idempotent by lead id; the Sales Opportunity rule reading stored orders and purchases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.domain.rules import Rules, is_sales_opportunity
from bot.domain.values import CustomerIn, Survey, SurveyResponse
from storage.models import Lead
from tests.conftest import Api

URL = "/api/v1/leads"


@pytest.fixture
async def api(api: Api, example_dealers: None) -> Api:
    return api


def lead(id_: str = "L-1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id_,
        "dealer_id": "DK-1001",
        "customer": {"id": "K-1", "name": "Anne Sørensen", "email": "anne@example.net", "language": "da"},
        "requested_at": "2026-08-01T10:00:00+02:00",
        "source": "website",
        "customer_type": "private",
        "email_permission": True,
    }
    body.update(over)
    return body


async def count(api: Api) -> int:
    async with api.cx.db.read() as tx:
        return int(await tx.conn.scalar(select(func.count()).select_from(Lead.__table__)) or 0)


async def test_leads_are_stored_once_and_a_resend_is_a_duplicate(api: Api) -> None:
    r = await api.post(URL, {"leads": [lead("L-1"), lead("L-2", customer_type="business")]})
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "duplicates": 0}
    again = await api.post(URL, {"leads": [lead("L-1")]})
    assert again.status_code == 200 and again.json() == {"accepted": 0, "duplicates": 1}
    assert await count(api) == 2
    async with api.cx.db.read() as tx:
        c = (await tx.customers.states([("DK-1001", "K-1")]))
    assert ("DK-1001", "K-1") in c  # the customer record was created with the lead


async def test_other_content_under_a_known_id_is_a_conflict_and_stores_nothing(api: Api) -> None:
    assert (await api.post(URL, lead("L-1"))).status_code == 202
    r = await api.post(URL, {"leads": [lead("L-9"), lead("L-1", email_permission=False)]})
    assert r.status_code == 409, r.text
    assert await count(api) == 1


@pytest.mark.parametrize("over,field", [
    ({"customer_type": "family"}, "customer_type"),
    ({"requested_at": "2026-08-01T10:00:00"}, "requested_at"),
    ({"email_permission": "yes"}, "email_permission"),
    ({"dealer_id": "XX-9"}, "dealer_id"),
    ({"id": "x" * 98}, "id"),
])
async def test_a_bad_lead_is_refused_naming_the_field_and_the_batch_stores_nothing(api: Api, over: dict[str, Any], field: str) -> None:
    r = await api.post(URL, {"leads": [lead("L-ok"), lead("L-bad", **over)]})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["field"] == field and e["index"] == 1 for e in errors), errors
    assert await count(api) == 0


async def test_leads_need_an_intake_key(api: Api) -> None:
    assert (await api.post(URL, lead(), key=None)).status_code == 401


# ---- the Sales Opportunity rule reads stored orders -------------------------------------------------

T0 = datetime(2026, 8, 1, 8, tzinfo=UTC)


def answer(**over: Any) -> SurveyResponse:
    base: dict[str, Any] = dict(
        id="R-1", survey=Survey.LOST_SALES, dealer="DK-1001", submitted_at=T0 + timedelta(days=70), customer=CustomerIn("K-1"),
        test_drive_requested_at=T0, answers={"still_considering": True, "wants_contact": True},
    )
    return SurveyResponse(**(base | over))


@pytest.mark.parametrize("bought,expected", [
    ((), True),
    ((T0 - timedelta(seconds=1),), True),  # before the request: still a prospect
    ((T0,), False),  # at the request
    ((T0 + timedelta(days=70),), False),  # at the answer
    ((T0 + timedelta(days=70, seconds=1),), True),  # after the answer
])
def test_a_stored_order_or_purchase_between_request_and_answer_rules_the_prospect_out(bought: tuple[datetime, ...], expected: bool) -> None:
    assert is_sales_opportunity(answer(), Rules(), bought) is expected
