"""External complaints: what staff register when a customer complains by phone, mail, letter or
in person (seed 002), checked field by field the same way for the API, the CLI and Slack."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.domain.errors import InvalidInput, Problem
from bot.domain.status import MAX_NOTE


class ReceivedVia(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    IN_PERSON = "in_person"
    LETTER = "letter"
    OTHER = "other"

    @property
    def words(self) -> str:
        """English, as in "received by phone"; mail gives its own words per language."""
        return _WORDS[self]


_WORDS = {
    ReceivedVia.PHONE: "by phone",
    ReceivedVia.EMAIL: "by email",
    ReceivedVia.IN_PERSON: "in person",
    ReceivedVia.LETTER: "by letter",
    ReceivedVia.OTHER: "another way",
}
VIA_FORMS = ", ".join(v.value for v in ReceivedVia)

# The field names of the HTTP API; the CLI and the Slack modal map them to their own.
DEALER, CUSTOMER_ID, CUSTOMER_NAME, CUSTOMER_EMAIL, CUSTOMER_PHONE = "dealer_id", "customer.id", "customer.name", "customer.email", "customer.phone"
VIA, RECEIVED_AT, DESCRIPTION, REGISTERED_BY = "received_via", "received_at", "description", "registered_by"

# A little slack for clocks that disagree; a complaint received later than that is a typing error.
FUTURE_TOLERANCE = timedelta(minutes=5)
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
NUL = "must not contain the NUL character (\\u0000)"


@dataclass(frozen=True)
class NewComplaint:
    """A complaint as registered, before it is stored. The description is the complaint in the
    words it came in — a pasted mail included — and becomes the first note of its history."""

    dealer: str
    customer_id: str
    received_via: ReceivedVia
    received_at: datetime
    description: str
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    registered_by: str | None = None  # the address of the person who took it, when not the actor


def parse_complaint(
    *,
    dealer: str | None,
    customer_id: str | None,
    received_via: str | None,
    description: str | None,
    now: datetime,
    received_at: datetime | None = None,
    customer_name: str | None = None,
    customer_email: str | None = None,
    customer_phone: str | None = None,
    registered_by: str | None = None,
) -> NewComplaint:
    """Every wrong field at once (InvalidInput); `received_at` defaults to `now` and may not lie
    in the future."""
    problems: list[Problem] = []

    def text(field: str, value: str | None, limit: int, required: bool = False) -> str | None:
        v = (value or "").strip()
        if "\x00" in v:
            problems.append(Problem(field, NUL))
        elif required and not v:
            problems.append(Problem(field, "is required"))
        elif len(v) > limit:
            problems.append(Problem(field, f"is {len(v)} characters; at most {limit}"))
        return v or None

    code = text(DEALER, dealer, 32, required=True)
    cid = text(CUSTOMER_ID, customer_id, 100, required=True)
    name = text(CUSTOMER_NAME, customer_name, 200)
    phone = text(CUSTOMER_PHONE, customer_phone, 50)
    email = text(CUSTOMER_EMAIL, customer_email, 320)
    if email and not _EMAIL.match(email):
        problems.append(Problem(CUSTOMER_EMAIL, "is not an email address"))
    by = text(REGISTERED_BY, registered_by, 320)
    if by and not _EMAIL.match(by):
        problems.append(Problem(REGISTERED_BY, "is not an email address"))
    # Pasted mail keeps its lines; only Windows line ends and the outer blank lines go.
    body = text(DESCRIPTION, (description or "").replace("\r\n", "\n"), MAX_NOTE, required=True)
    via = None
    raw_via = (received_via or "").strip().lower().replace("-", "_").replace(" ", "_")
    if not raw_via:
        problems.append(Problem(VIA, f"is required: {VIA_FORMS}"))
    else:
        try:
            via = ReceivedVia(raw_via)
        except ValueError:
            problems.append(Problem(VIA, f"{received_via!r} is not one of {VIA_FORMS}"))
    when = received_at or now
    if when.tzinfo is None:
        problems.append(Problem(RECEIVED_AT, "needs a UTC offset, e.g. 2026-11-02T09:30:00+01:00"))
    elif when > now + FUTURE_TOLERANCE:
        problems.append(Problem(RECEIVED_AT, f"{when.isoformat()} is in the future"))
    if problems:
        raise InvalidInput(problems)
    assert code and cid and body and via
    return NewComplaint(code, cid, via, when, body, name, email.lower() if email else None, phone, by.lower() if by else None)


def created_note(c: NewComplaint, registered_by: str) -> str:
    """The history's first entry: how and when the complaint came in, and who took it. The
    customer is named by id only, so their name and contact live in one place (the complaint)."""
    return (
        f"External complaint about customer {c.customer_id}, received {c.received_via.words} "
        f"on {c.received_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC; registered by {registered_by}."
    )
