"""The wire format's conversion to domain values. to_domain builds SurveyResponse and CustomerIn
without their dataclass __init__ (values.trusted, for speed): what it builds must be exactly
what the constructors would build, with every field set."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bot.domain.values import ContactIn, CustomerIn, Phones, SurveyResponse
from handlers.wire import parse_responses
from tests.conftest import response

FULL_CUSTOMER = {
    "id": " K-9 ", "kind": "company", "name": "Bobs Trykkeri ApS", "email": "bob@trykkeri.example", "language": "DA",
    "phones": {"home": "", "work": "+45 11 22 33 44", "mobile": "+45 55"}, "customer_number": "100234",
    "salesperson_email": "sælger@autohuset-vest.example", "contact_name": "Bob", "advisor_email": "",
    "contact_methods": {"sms": False, "email": True}, "preferred_contact": "email", "best_time": "after 16",
}


def rebuilt(value: Any) -> Any:
    """The same value made by its dataclass constructor, field by field."""
    fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return type(value)(**fields)


@pytest.mark.parametrize(
    "item",
    [
        response("r-1"),
        response("r-2", customer=FULL_CUSTOMER, contact={"name": "Cindy", "email": "c@example.net", "phone": "1"}, nps=3,
                 scores={"overall": 2}, comment="«Ingen ringede»", answers={"contact_requested": True, "x": [1, None]},
                 purchase_date="2026-09-01", publish_consent=True, invitation_id="inv-1"),
        response("r-3", survey="service", segment=2, service_date="2026-10-01", anonymous=True, nps=None),
        response("r-4", survey="lost_sales", nps=None, test_drive_requested_at="2026-09-20T10:00:00+02:00", test_drive_source="web",
                 purchased_at="2026-10-01T09:00:00Z", ordered_at="2026-09-30T09:00:00+00:00",
                 answers={"still_considering": True, "wants_contact": True}),
    ],
)
def test_parsed_responses_equal_what_the_constructors_build(item: dict[str, Any]) -> None:
    (r,), problems = parse_responses([item])
    assert problems == []
    assert type(r) is SurveyResponse and type(r.customer) is CustomerIn
    for value, cls in ((r, SurveyResponse), (r.customer, CustomerIn)):
        assert set(vars(value)) == {f.name for f in dataclasses.fields(cls)}  # every field, nothing else
        assert value == rebuilt(value)
    assert hash(r.customer) == hash(rebuilt(r.customer))  # customers are dict keys in intake
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.nps = 1  # type: ignore[misc]


def test_every_customer_field_is_converted() -> None:
    (r,), _ = parse_responses([response("r-1", customer=FULL_CUSTOMER, contact={"name": "Cindy"})])
    assert r.customer == CustomerIn(
        id="K-9", kind=r.customer.kind, name="Bobs Trykkeri ApS", email="bob@trykkeri.example", phones=Phones(None, "+45 11 22 33 44", "+45 55"),
        language="da", customer_number="100234", salesperson_email="sælger@autohuset-vest.example", contact_name="Bob", advisor_email=None,
        contact_methods=(("email", True), ("sms", False)), preferred_contact="email", best_time="after 16",
    )
    assert r.customer.kind is not None and r.customer.kind.value == "company"
    assert r.contact == ContactIn("Cindy", None, None)
