"""Alert rules: which alerts a survey response raises, and when each is due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Mapping, Sequence

from bot.domain.status_words import StatusWords
from bot.domain.values import Kind, Survey, SurveyResponse


@dataclass(frozen=True)
class DealerRules:
    """Per-dealer overrides; None keeps the group-wide value."""

    hot_alert_max_nps: int | None = None
    hot_alert_max_score: int | None = None
    detractor_max_nps: int | None = None


NO_OVERRIDES = DealerRules()  # a dealer the rules file does not name (asked several times per response)


@dataclass(frozen=True)
class KindRules:
    due: timedelta | None
    escalation_after_due: tuple[timedelta, ...] = ()
    reminder_before_due: timedelta | None = None


DEFAULT_KINDS: Mapping[Kind, KindRules] = MappingProxyType(
    {
        Kind.HOT_ALERT: KindRules(timedelta(hours=48), (timedelta(0), timedelta(hours=24)), timedelta(hours=24)),
        Kind.SALES_OPPORTUNITY: KindRules(timedelta(days=7), (timedelta(0),), timedelta(hours=24)),
        Kind.DETRACTOR: KindRules(None),
        Kind.COMPLAINT: KindRules(timedelta(hours=48), (timedelta(0), timedelta(hours=24)), timedelta(hours=24)),
    }
)


@dataclass(frozen=True)
class Rules:
    """Thresholds and due times; filled from the rules file, defaults are the factory's."""

    hot_alert_max_nps: int = 6
    hot_alert_max_score: int = 2
    score_max: Mapping[str, int] = field(default_factory=dict)  # per score name, overrides hot_alert_max_score
    detractor_max_nps: int = 6
    sales_opportunity_lookback: timedelta = timedelta(days=120)
    kinds: Mapping[Kind, KindRules] = field(default_factory=lambda: DEFAULT_KINDS)
    dealers: Mapping[str, DealerRules] = field(default_factory=dict)
    status_words: StatusWords = field(default_factory=StatusWords.default)  # shared by Slack and email

    def _dealer(self, dealer: str) -> DealerRules:
        return self.dealers.get(dealer) or NO_OVERRIDES

    def detractor_max(self, dealer: str) -> int:
        own = self._dealer(dealer).detractor_max_nps
        return self.detractor_max_nps if own is None else own

    def hot_max_nps(self, dealer: str) -> int:
        own = self._dealer(dealer).hot_alert_max_nps
        return self.hot_alert_max_nps if own is None else own

    def score_threshold(self, dealer: str, name: str) -> int:
        if name in self.score_max:
            return self.score_max[name]
        own = self._dealer(dealer).hot_alert_max_score
        return self.hot_alert_max_score if own is None else own

    def due_at(self, kind: Kind, created_at: datetime) -> datetime | None:
        due = self.kinds[kind].due
        return None if due is None else created_at + due


def is_detractor(nps: int | None, dealer: str, rules: Rules) -> bool:
    return nps is not None and nps <= rules.detractor_max(dealer)


def is_hot_alert(r: SurveyResponse, rules: Rules) -> bool:
    """NPS at or below the threshold, any score at or below its threshold, or a contact request."""
    if r.survey not in (Survey.SALES, Survey.SERVICE):
        return False
    if r.nps is not None and r.nps <= rules.hot_max_nps(r.dealer):
        return True
    if any(v <= rules.score_threshold(r.dealer, k) for k, v in r.scores.items()):
        return True
    return r.answers.get("contact_requested") is True


def is_sales_opportunity(r: SurveyResponse, rules: Rules, bought: Sequence[datetime] = ()) -> bool:
    """Seed 001: a lost-sales prospect who requested a test drive, did not buy or order between
    the request and the answer, and answered yes to both "still considering" and "contact me".
    `bought`: when the stored sales orders and purchases of the customer were opened (the
    dealer system's activities), read alongside the response's own fields."""
    if r.survey is not Survey.LOST_SALES or r.test_drive_requested_at is None:
        return False
    requested = r.test_drive_requested_at
    if requested > r.submitted_at or r.submitted_at - requested > rules.sales_opportunity_lookback:
        return False
    for at in (r.purchased_at, r.ordered_at, *bought):
        if at is not None and requested <= at <= r.submitted_at:
            return False
    return r.answers.get("still_considering") is True and r.answers.get("wants_contact") is True


def response_alert_kinds(r: SurveyResponse, rules: Rules, bought: Sequence[datetime] = ()) -> list[Kind]:
    """The per-response alerts (never two of one kind). The detractor alert is not among them:
    it follows the customer's newest answer, see `detractor_change`."""
    kinds = []
    if is_hot_alert(r, rules):
        kinds.append(Kind.HOT_ALERT)
    if is_sales_opportunity(r, rules, bought):
        kinds.append(Kind.SALES_OPPORTUNITY)
    return kinds


@dataclass(frozen=True)
class Latest:
    """The newest NPS answer a customer gave: what the detractor flag follows."""

    response_id: str
    submitted_at: datetime
    nps: int


def is_newer(r: SurveyResponse, latest: Latest | None) -> bool:
    """Does `r` replace `latest`? Ties on submitted_at go to the later arrival (which `r` is)."""
    return r.nps is not None and (latest is None or r.submitted_at >= latest.submitted_at)


def detractor_flag(latest: Latest | None, dealer: str, rules: Rules) -> bool:
    return latest is not None and is_detractor(latest.nps, dealer, rules)


def reason(kind: Kind, r: SurveyResponse, rules: Rules) -> str:
    """Why `r` raised an alert of `kind`, in words for the history and the message."""
    if kind is Kind.HOT_ALERT:
        parts = []
        if r.nps is not None and r.nps <= rules.hot_max_nps(r.dealer):
            parts.append(f"NPS {r.nps} (≤ {rules.hot_max_nps(r.dealer)})")
        parts += [
            f"{name} {v} (≤ {rules.score_threshold(r.dealer, name)})"
            for name, v in sorted(r.scores.items())
            if v <= rules.score_threshold(r.dealer, name)
        ]
        if r.answers.get("contact_requested") is True:
            parts.append("the customer asked to be contacted")
        return "Hot Alert: " + ", ".join(parts)
    if kind is Kind.SALES_OPPORTUNITY:
        return "Sales Opportunity: test drive requested, no purchase or order since, still considering and wants contact"
    if kind is Kind.DETRACTOR:
        return f"Detractor: the customer's most recent answer is NPS {r.nps} (≤ {rules.detractor_max(r.dealer)})"
    return kind.title
