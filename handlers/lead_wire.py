"""The test-drive lead wire format (POST /api/v1/leads), checked field by field like responses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StrictBool, StringConstraints, TypeAdapter

from bot.domain.errors import Problem
from bot.domain.lost_sales import MAX_LEAD_ID, LeadIn
from handlers.wire import CustomerWire, Text, _parse, _Strict

LeadId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_LEAD_ID)]


class LeadWire(_Strict):
    """One test-drive request from the brand's website (seed 001)."""

    id: LeadId = Field(description="The lead id; a resend with the same content is a duplicate.")
    dealer_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    customer: CustomerWire
    requested_at: AwareDatetime = Field(description="When the test drive was requested.")
    source: Text | None = Field(None, description="Where the request came from, e.g. the brand's website.")
    customer_type: Literal["private", "business"]
    email_permission: StrictBool = Field(description="The customer allows email contact.")

    def to_domain(self) -> LeadIn:
        return LeadIn(
            id=self.id,
            dealer=self.dealer_id,
            customer=self.customer.to_domain(),
            requested_at=self.requested_at,
            private=self.customer_type == "private",
            email_permission=self.email_permission,
            source=self.source or None,
        )


_LEAD = TypeAdapter(LeadWire)


def parse_leads(items: list[Any], *, check_nul: bool = True) -> tuple[list[LeadIn], list[Problem]]:
    """As parse_responses, for leads."""
    return _parse(items, _LEAD, "lead", check_nul)
