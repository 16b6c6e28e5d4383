"""Survey invitations (seed 000): their statuses, the one order those move in, and the list's values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bot.domain.values import CustomerIn, Survey


class InvitationStatus(StrEnum):
    NOT_SENT = "not_sent"
    SENT = "sent"
    FAILED = "failed"  # could not be delivered
    CLICKED = "clicked"  # the link was opened, nothing submitted yet
    SUBMITTED = "submitted"

    @property
    def label(self) -> str:
        return _LABEL[self]


_LABEL = {
    InvitationStatus.NOT_SENT: "Not sent",
    InvitationStatus.SENT: "Sent",
    InvitationStatus.FAILED: "Failed to deliver",
    InvitationStatus.CLICKED: "Clicked, not submitted",
    InvitationStatus.SUBMITTED: "Submitted",
}

# not_sent → sent → failed | clicked → submitted. Failed and clicked share a rank, so neither
# replaces the other; nothing outranks submitted, so it is final.
_RANK = {
    InvitationStatus.NOT_SENT: 0,
    InvitationStatus.SENT: 1,
    InvitationStatus.FAILED: 2,
    InvitationStatus.CLICKED: 2,
    InvitationStatus.SUBMITTED: 3,
}


def moves_forward(old: InvitationStatus, new: InvitationStatus) -> bool:
    """Whether `new` replaces `old`. Status reports arrive late and out of order (a delivery
    report after the click), so a report that is not further along changes nothing."""
    return _RANK[new] > _RANK[old]


# The column that keeps the time an invitation reached each status (not_sent: when recorded).
TIME_COLUMN = {
    InvitationStatus.SENT: "sent_at",
    InvitationStatus.FAILED: "failed_at",
    InvitationStatus.CLICKED: "clicked_at",
    InvitationStatus.SUBMITTED: "submitted_at",
}


@dataclass(frozen=True)
class InvitationIn:
    """One invitation as the survey platform (or a file) reports it."""

    id: str
    survey: Survey
    dealer: str
    customer: CustomerIn
    status: InvitationStatus = InvitationStatus.NOT_SENT
    status_at: datetime | None = None  # when it reached `status`; None: when cxbot hears of it
    sent_at: datetime | None = None  # when the message went out, if known (status past sent)
    questionnaire: str | None = None
    language: str | None = None
    purchase_date: date | None = None  # the purchase date (sales) or the service date (service)


DATE_FIELDS = ("purchase", "sent")


@dataclass(frozen=True)
class InvitationFilter:
    """The communication list's filters. `date_from`/`date_to` are inclusive days: of the
    purchase or service date, or of the day the message was sent in the dealer's time zone."""

    dealers: frozenset[str] | None = None  # None: every dealer
    q: str | None = None  # part of the customer's name, email or id, any case
    date_field: str = "purchase"
    date_from: date | None = None
    date_to: date | None = None
    status: InvitationStatus | None = None
    survey: Survey | None = None


@dataclass(frozen=True)
class InvitationRow:
    """One line of the communication list. An anonymous customer's name, email and date are
    gone (seed 000): `name` is "Anonymous", `email` and `purchase_date` are None."""

    id: str
    dealer: str
    survey: Survey
    customer_id: str
    name: str | None
    email: str | None
    anonymous: bool
    purchase_date: date | None
    language: str | None
    questionnaire: str | None
    status: InvitationStatus
    status_at: datetime
    recorded_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None
    clicked_at: datetime | None
    submitted_at: datetime | None
    not_sent_reason: str | None = None  # not sent yet and cannot be: opted out, bounced to the limit (seed 003)
