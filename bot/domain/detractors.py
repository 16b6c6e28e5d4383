"""Detractor customers in the dealer's daily work (seed 004): activities the dealer system opens for them
(ID559: warn whoever handles a new call), and the daily digest of customers flagged and cleared with their
dealer-system message before and after (ID612)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bot.domain.dealer_message import DetractorFacts, MessageResult, compose
from bot.domain.values import ANONYMOUS


class ActivityType(StrEnum):
    SERVICE_CALL = "service_call"
    WORKSHOP_BOOKING = "workshop_booking"
    SALES_ORDER = "sales_order"
    PURCHASE = "purchase"

    @property
    def buys(self) -> bool:
        """An order or a purchase: what rules a lost-sales prospect out (seed 001)."""
        return self in (ActivityType.SALES_ORDER, ActivityType.PURCHASE)


@dataclass(frozen=True)
class ActivityIn:
    """One activity as the dealer system reports it; known by (dealer, type, reference)."""

    dealer: str
    customer_id: str
    type: ActivityType
    reference: str
    opened_at: datetime
    assignee: str | None = None  # lower-cased email address

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dealer, self.type.value, self.reference)


@dataclass(frozen=True)
class ActivityWarning:
    """What a warning about an activity opened for a detractor shows, read when it is sent."""

    activity_id: int
    dealer: str
    dealer_name: str
    dealer_language: str
    dealer_time_zone: str
    customer_id: str
    customer_name: str  # "Anonymous" once anonymized
    customer_number: str | None
    type: ActivityType
    reference: str
    opened_at: datetime
    assignee: str | None
    nps: int | None  # the detractor answer the warning is about
    survey: str | None
    answered_at: datetime | None
    comment: str | None
    contact_name: str | None


class Change(StrEnum):
    """Why a customer is in the daily digest."""

    FLAGGED = "flagged"  # became a detractor since the last run: cxbot's part is written
    CLEARED = "cleared"  # no longer a detractor: cxbot's part is removed
    TOO_LONG = "too_long"  # unchanged, but the message is over a limit: listed until it is shortened


@dataclass(frozen=True)
class DigestCustomer:
    """A customer of the digest as stored: who, and the message the dealer system last sent."""

    customer_id: str
    name: str | None
    anonymized: bool
    customer_number: str | None
    latest_nps: int | None
    seen: tuple[str, str] | None  # (subject, body); None: the dealer system never asked


@dataclass(frozen=True)
class DigestEntry:
    change: Change
    customer_id: str
    customer_name: str
    customer_number: str | None
    nps: int | None
    old: tuple[str, str] | None  # what the dealer system last sent; None: not known yet
    new: MessageResult  # what cxbot returns for it now


@dataclass(frozen=True)
class DetractorDigest:
    dealer: str
    dealer_name: str
    dealer_language: str
    day: date
    entries: list[DigestEntry]
    left_out: int = 0  # entries beyond what one mail lists


def new_message(seen: tuple[str, str] | None, facts: DetractorFacts | None, lang: str) -> MessageResult:
    """What cxbot answers the dealer system for a customer whose last message was `seen`."""
    subject, body = seen if seen is not None else ("", "")
    return compose(subject, body, facts, lang)


def digest_entry(change: Change, c: DigestCustomer, facts: DetractorFacts | None, lang: str) -> DigestEntry:
    return DigestEntry(
        change=change,
        customer_id=c.customer_id,
        customer_name=ANONYMOUS if c.anonymized else (c.name or c.customer_id),
        customer_number=c.customer_number,
        nps=facts.nps if facts is not None else c.latest_nps,
        old=c.seen,
        new=new_message(c.seen, facts, lang),
    )
