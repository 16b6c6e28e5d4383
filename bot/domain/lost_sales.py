"""The lost-sales cycle (seed 001): test-drive leads, who is a prospect to invite, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from bot.domain.kpi import local_midnight
from bot.domain.values import CustomerIn

# A lead's invitation id is this prefix and the lead id, so a lead is invited at most once and
# the invitation names its lead; lead ids are kept short enough for it (invitation ids: 100).
INVITATION_PREFIX = "LS-"
MAX_LEAD_ID = 100 - len(INVITATION_PREFIX)


@dataclass(frozen=True)
class LeadIn:
    """A test-drive request as the brand's website reports it."""

    id: str
    dealer: str
    customer: CustomerIn
    requested_at: datetime
    private: bool  # False: a business customer
    email_permission: bool
    source: str | None = None


@dataclass(frozen=True)
class Window:
    """Test drives requested in [start, end) (UTC instants of the dealer's local midnights)."""

    start: datetime
    end: datetime

    def holds(self, at: datetime) -> bool:
        return self.start <= at < self.end


def window(run_day: date, tz: ZoneInfo, from_days: int = 90, to_days: int = 60) -> Window:
    """The requests a run on `run_day` selects: from the start of (run day − from_days) up to, not
    including, the start of (run day − to_days), on the dealer's clock."""
    return Window(local_midnight(run_day - timedelta(days=from_days), tz), local_midnight(run_day - timedelta(days=to_days), tz))


@dataclass(frozen=True)
class Candidate:
    """What the selection knows of one lead (the storage query mirrors `is_prospect`)."""

    requested_at: datetime
    private: bool
    email_permission: bool
    has_email: bool  # the customer record has an address (and is not anonymized or erased)
    bought_since: bool  # a sales order or purchase opened at or after the request
    invited_before: bool  # this lead, or the customer, already had a lost-sales invitation


def is_prospect(c: Candidate, w: Window) -> bool:
    """Seed 001: private, with email permission, requested a test drive in the window, no order or
    purchase since the request, and not invited before."""
    return c.private and c.email_permission and c.has_email and w.holds(c.requested_at) and not c.bought_since and not c.invited_before


@dataclass(frozen=True)
class LinkedInvitation:
    """A lost-sales invitation as its mail and its page need it: the customer, the dealer, the
    lead (its test-drive request feeds the Sales Opportunity rule) and the link's state."""

    id: str
    dealer: str
    dealer_name: str
    dealer_language: str | None
    time_zone: str
    customer_id: str
    name: str | None
    email: str | None
    anonymized: bool
    language: str | None
    status: str  # an InvitationStatus value
    sent_at: datetime | None
    link_expires_at: datetime | None
    requested_at: datetime | None  # the lead's test-drive request
    source: str | None

    @property
    def lang(self) -> str:
        return (self.language or self.dealer_language or "en").lower()[:2]


def invitation_id(lead_id: str) -> str:
    return INVITATION_PREFIX + lead_id


def due_moment(local_now: datetime, day: int, hour: int, minute: int) -> datetime:
    """This month's run time on the dealer's clock (`local_now` is aware, in the dealer's zone)."""
    return local_now.replace(day=day, hour=hour, minute=minute, second=0, microsecond=0)


@dataclass(frozen=True)
class LostSalesPolicy:
    """CXBOT_LOST_SALES_*: the selection window (days before the run) and the monthly run time on
    each dealer's clock (the seed's "second week of the month": the 8th, 06:00)."""

    window_from_days: int = 90
    window_to_days: int = 60
    day: int = 8
    hour: int = 6
    minute: int = 0
    link_days: int = 14  # the personal link works this long after the invitation is sent
    reminder_days: int = 7  # one reminder this long after sending, if not answered
    # A survey platform's page for the link, e.g. "https://survey.example/ls?t={token}&lang={lang}";
    # None: cxbot's own page at {CXBOT_PUBLIC_URL}/s/{token}.
    survey_url: str | None = None

    def link(self, public_url: str, token: str, lang: str) -> str:
        """The absolute link in the invitation mail."""
        if self.survey_url:
            return self.survey_url.replace("{token}", quote(token, safe="")).replace("{lang}", quote(lang, safe=""))
        return f"{public_url.rstrip('/')}/s/{token}"


@dataclass(frozen=True)
class LostSalesAnswer:
    """What the customer answered on the lost-sales page (seed 001's two questions, plus how the
    test drive went and the main reason for not buying yet)."""

    still_considering: bool
    wants_contact: bool
    test_drive: str | None = None  # one of TEST_DRIVE
    reason: str | None = None  # one of REASONS
    comment: str | None = None

    def answers(self) -> dict[str, object]:
        out: dict[str, object] = {"still_considering": self.still_considering, "wants_contact": self.wants_contact}
        if self.test_drive:
            out["test_drive"] = self.test_drive
        if self.reason:
            out["reason"] = self.reason
        return out


TEST_DRIVE = ("very_good", "good", "fair", "poor", "no_test_drive")
REASONS = ("price", "comparing", "delivery_time", "financing", "model_or_equipment", "dealer_experience", "timing", "other")
MAX_COMMENT = 4000
