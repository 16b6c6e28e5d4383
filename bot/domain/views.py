"""Read models that cross packages: what a message about an alert or a customer shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.domain.values import Alert, HistoryEntry


@dataclass(frozen=True)
class AlertView:
    """An alert with what its message shows, read from the current state when it is rendered."""

    alert: Alert
    dealer_name: str
    dealer_time_zone: str
    dealer_language: str
    customer_name: str  # "Anonymous" once anonymized
    anonymized: bool
    detractor: bool  # the customer's flag now
    survey: str | None = None
    nps: int | None = None
    scores: dict[str, int] = field(default_factory=dict)
    comment: str | None = None
    segment: int | None = None
    submitted_at: datetime | None = None
    visit_date: date | None = None  # purchase or service date
    reason: str | None = None  # why the alert was raised
    last_change: HistoryEntry | None = None
    last_change_by: str | None = None  # a display name, or a Slack mention for Slack users
    with_detractor: bool = False  # a Hot Alert whose response also flagged a detractor
    # How to reach the customer (None once anonymized): what staff need to act.
    customer_email: str | None = None
    customer_phones: dict[str, str] = field(default_factory=dict)
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    complaint: ComplaintDetails | None = None  # an external complaint: how it came in


@dataclass(frozen=True)
class ComplaintDetails:
    """How an external complaint came in, as registered. Name, contact and description are None
    or redacted once the customer's data is erased."""

    customer_id: str
    received_via: str  # phone | email | in_person | letter | other
    received_at: datetime
    description: str
    registered_by: str  # the person's name as it was then, or the actor's label (an API key, the CLI user)
    registered_at: datetime
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    registered_in_slack: str | None = None  # a Slack mention of the person, when registered in Slack


@dataclass(frozen=True)
class HandlingStep:
    """One history entry of a handling record, with who made it by name where known."""

    entry: HistoryEntry
    who: str


@dataclass(frozen=True)
class ComplaintRecord:
    """A complaint's complete handling record (ISO documentation): how it came in, where it
    stands, and every history entry in order."""

    alert: Alert
    dealer_name: str
    dealer_time_zone: str
    customer_name: str  # as given with the complaint, else the customer record's; "Anonymous" once anonymized
    complaint: ComplaintDetails
    steps: list[HandlingStep]


@dataclass(frozen=True)
class ResponseSummary:
    id: str
    survey: str
    submitted_at: datetime
    nps: int | None
    scores: dict[str, int]
    comment: str | None
    purchase_date: date | None
    service_date: date | None
    segment: int | None


@dataclass(frozen=True)
class CustomerCard:
    dealer: str
    dealer_name: str
    customer_id: str
    name: str  # "Anonymous" once anonymized
    anonymized: bool
    kind: str
    customer_number: str | None
    email: str | None
    phones: dict[str, str | None]
    language: str | None
    salesperson_email: str | None
    detractor: bool
    detractor_response_id: str | None
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    latest: list[ResponseSummary]
    open_alerts: list[Alert]
    email_bounced: bool = False  # the address bounced lately and was not verified since
    # Contact preferences (seed 003): methods on/off, the preferred one, when to call, who is responsible.
    methods: dict[str, bool] = field(default_factory=dict)
    preferred_contact: str | None = None
    best_time: str | None = None
    last_verified_at: datetime | None = None
    advisor_email: str | None = None
    email_suppressed: bool = False  # bounced up to the limit: nothing is emailed there
