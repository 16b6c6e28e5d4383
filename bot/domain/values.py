"""Plain values shared by every layer: kinds, statuses, channels, actors and alert records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Mapping, TypeVar

_D = TypeVar("_D")


class Kind(StrEnum):
    HOT_ALERT = "hot_alert"
    SALES_OPPORTUNITY = "sales_opportunity"
    DETRACTOR = "detractor"
    COMPLAINT = "complaint"

    @property
    def prefix(self) -> str:
        return _PREFIX[self]

    @property
    def title(self) -> str:
        return _TITLE[self]


_PREFIX = {
    Kind.HOT_ALERT: "HA",
    Kind.SALES_OPPORTUNITY: "SO",
    Kind.DETRACTOR: "DT",
    Kind.COMPLAINT: "CO",
}
_TITLE = {
    Kind.HOT_ALERT: "Hot Alert",
    Kind.SALES_OPPORTUNITY: "Sales Opportunity",
    Kind.DETRACTOR: "Detractor",
    Kind.COMPLAINT: "External complaint",
}
KIND_BY_PREFIX = {v: k for k, v in _PREFIX.items()}


class Status(StrEnum):
    NEW = "new"
    ONGOING = "ongoing"
    RESOLVED = "resolved"


class Channel(StrEnum):
    """Where a change came from; recorded in the alert history."""

    SLACK = "slack"
    EMAIL = "email"
    API = "api"
    CLI = "cli"
    SYSTEM = "system"


class Survey(StrEnum):
    SALES = "sales"
    SERVICE = "service"
    LOST_SALES = "lost_sales"


class DealerType(StrEnum):
    DEALER = "dealer"
    SERVICE_PARTNER = "service_partner"


class Role(StrEnum):
    STAFF = "staff"
    MANAGER = "manager"
    REGIONAL = "regional"
    ADMIN = "admin"


class CustomerKind(StrEnum):
    PERSON = "person"
    COMPANY = "company"


class Scope(StrEnum):
    """What an API key may do; admin includes the others."""

    INTAKE = "intake"
    READ = "read"
    ADMIN = "admin"


class HistoryEvent(StrEnum):
    STATUS = "status"
    COMMENT = "comment"
    CREATED = "created"
    ESCALATED = "escalated"
    REMINDED = "reminded"
    ERASED = "erased"  # the customer's personal data was erased (GDPR): when and by whom, never what


ANONYMOUS = "Anonymous"


def trusted(cls: type[_D], fields: Mapping[str, Any] | None = None, /, **more: Any) -> _D:
    """An instance of the frozen dataclass `cls` from all of its fields (`fields`, then `more`
    over them), already checked one by one (the wire format's to_domain): skips the generated
    __init__, whose object.__setattr__ per field made building a response cost eight times as
    much. Give every field and nothing else: no defaults are filled in (tests compare the result
    with the dataclass's own constructor)."""
    obj = object.__new__(cls)
    if fields is not None:
        obj.__dict__.update(fields)
    obj.__dict__.update(more)
    return obj


@dataclass(frozen=True)
class Actor:
    """Who asks. `dealers` is None for an actor with access to every dealer (a bootstrap API key,
    the CLI operator, the system). Slack users and mail senders start with no dealers at all and
    get theirs from their grants (`services.access.resolve`), so a forgotten check denies."""

    channel: Channel
    identity: str
    dealers: frozenset[str] | None = None
    person_id: int | None = None
    name: str | None = None

    @classmethod
    def slack(cls, team_id: str, user_id: str) -> Actor:
        return cls(Channel.SLACK, f"{team_id}/{user_id}", frozenset())

    @classmethod
    def email(cls, address: str) -> Actor:
        return cls(Channel.EMAIL, address.strip().lower(), frozenset())

    @property
    def slack_ids(self) -> tuple[str, str] | None:
        if self.channel is not Channel.SLACK:
            return None
        team, _, user = self.identity.partition("/")
        return team, user

    @property
    def label(self) -> str:
        return f"{self.channel}:{self.identity}" if self.channel is not Channel.SYSTEM else "system"

    def may_see(self, dealer: str) -> bool:
        return self.dealers is None or dealer in self.dealers


SYSTEM = Actor(Channel.SYSTEM, "cxbot")


@dataclass(frozen=True)
class Phones:
    home: str | None = None
    work: str | None = None
    mobile: str | None = None


NO_PHONES = Phones()  # shared: frozen, and most answers give none or one


@dataclass(frozen=True)
class CustomerIn:
    """The customer as one response describes it; only `id` is required."""

    id: str
    kind: CustomerKind | None = None
    name: str | None = None
    email: str | None = None
    phones: Phones = NO_PHONES
    language: str | None = None
    customer_number: str | None = None
    salesperson_email: str | None = None
    # Customer card and contact preferences (seed 003); methods as (method, on) pairs.
    contact_name: str | None = None
    advisor_email: str | None = None
    contact_methods: tuple[tuple[str, bool], ...] = ()
    preferred_contact: str | None = None
    best_time: str | None = None


@dataclass(frozen=True)
class ContactIn:
    name: str | None = None
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class SurveyResponse:
    """One survey answer, converted from the wire format."""

    id: str
    survey: Survey
    dealer: str
    submitted_at: datetime
    customer: CustomerIn
    contact: ContactIn | None = None
    purchase_date: date | None = None
    service_date: date | None = None
    segment: int | None = None
    anonymous: bool = False
    nps: int | None = None
    scores: Mapping[str, int] = field(default_factory=dict)
    comment: str | None = None
    publish_consent: bool = False
    answers: Mapping[str, Any] = field(default_factory=dict)
    test_drive_requested_at: datetime | None = None
    test_drive_source: str | None = None
    purchased_at: datetime | None = None
    ordered_at: datetime | None = None
    invitation_id: str | None = None  # the invitation answered (it becomes submitted)


@dataclass(frozen=True)
class Alert:
    """An alert as stored."""

    id: str
    kind: Kind
    dealer: str
    customer_id: str | None
    response_id: str | None
    status: Status
    created_at: datetime
    due_at: datetime | None
    handled_at: datetime | None = None
    resolved_at: datetime | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    next_escalation_at: datetime | None = None
    remind_at: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        return self.handled_at is None and self.due_at is not None and self.due_at < now

    @property
    def on_time(self) -> bool | None:
        """None while unhandled or for kinds with no due time."""
        if self.due_at is None or self.handled_at is None:
            return None
        return self.handled_at <= self.due_at


@dataclass(frozen=True)
class HistoryEntry:
    alert_id: str
    at: datetime
    channel: Channel
    actor: str
    event: HistoryEvent
    old_status: Status | None
    new_status: Status | None
    note: str
    person_id: int | None = None
