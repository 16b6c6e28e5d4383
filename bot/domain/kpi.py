"""The on-time KPI and the ranking list: periods in a dealer's own time zone, the figures per
dealer and alert kind, and the columns a ranking can be ordered by. Pure values and rules.

What the figures mean (the README's "KPI and ranking" says the same for users):

* A period is whole calendar days [first day, last day] in the dealer's time zone, i.e. the
  half-open instants [local midnight of the first day, local midnight after the last day).
* **due**: alerts whose `due_at` lies in the period *and whose outcome is known*: handled
  (on time or late), or not handled and past due (late). Alerts with no due time (detractors)
  are never in it. An alert due in the period that is neither handled nor yet due is
  **pending**: it is counted once it is handled or its due time passes.
* **on_time**: of those, handled at or before the due time (`handled_at <= due_at`);
  **late** = due − on_time; **on_time_pct** = on_time ÷ due × 100 (none when nothing is due).
* **escalated**: alerts due in the period that were escalated (`escalation_level > 0`).
* **handled** / **avg_handling_hours**: alerts *first handled* in the period (`handled_at` in
  it, any kind, detractors included) and their mean time from creation to that first handling.
* **open** (new or ongoing) and **overdue** (not handled, past due): counted at the moment of
  asking, whatever the period.
* **NPS**: answers 0–10 submitted in the period: % promoters (9–10) − % detractors (0–6), the
  standard definition; **nps_avg** is the mean answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Iterable, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.values import DealerType, Kind, Survey

PERIOD_FORMS = "week, month, 2026-W44, 2026-10 or 2026-10-01..2026-10-31"
DEFAULT_PERIOD = "month"
MIN_YEAR, MAX_YEAR = 1970, 2999

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")


def _bad(text: str, why: str = "") -> ValueError:
    return ValueError(f"{text!r} is not a period{': ' + why if why else ''}; use {PERIOD_FORMS}")


def _year(y: int, text: str) -> int:
    if not MIN_YEAR <= y <= MAX_YEAR:
        raise _bad(text, f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return y


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


@dataclass(frozen=True)
class Window:
    """One period made concrete for one dealer: its days and the UTC instants [start, end)."""

    label: str  # "2026-W44", "2026-10", "2026-10-01..2026-10-31"
    first_day: date
    last_day: date  # inclusive
    time_zone: str
    start: datetime  # UTC, inclusive: local midnight at the start of first_day
    end: datetime  # UTC, exclusive: local midnight at the end of last_day


def zone(name: str) -> ZoneInfo:
    """The dealer's zone; a name this machine does not know counts as UTC (never a crash)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant `day` begins in `tz`, in UTC. Where a DST change skips midnight the day begins
    when the clocks jump (fold=0 reads a skipped time with the offset before the change); where
    midnight happens twice, at the first one."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    """A period as asked for: `week` and `month` follow the clock (the dealer's current ISO week
    or month); the others are fixed days [first, end)."""

    kind: Literal["week", "month", "iso_week", "month_of", "days"]
    first: date | None = None
    end: date | None = None  # exclusive

    def days(self, today: date) -> tuple[date, date]:
        """[first, end) as calendar dates; `today` is the date in the dealer's time zone."""
        if self.kind == "week":
            first = today - timedelta(days=today.isoweekday() - 1)
            return first, first + timedelta(days=7)
        if self.kind == "month":
            first = today.replace(day=1)
            return first, _next_month(first)
        assert self.first is not None and self.end is not None
        return self.first, self.end

    def label(self, today: date) -> str:
        first, end = self.days(today)
        if self.kind in ("week", "iso_week"):
            y, w, _ = first.isocalendar()
            return f"{y}-W{w:02d}"
        if self.kind in ("month", "month_of"):
            return f"{first:%Y-%m}"
        return f"{first.isoformat()}..{(end - timedelta(days=1)).isoformat()}"

    def window(self, time_zone: str, now: datetime) -> Window:
        """The period for a dealer in `time_zone`, as UTC instants."""
        tz = zone(time_zone)
        today = now.astimezone(tz).date()
        first, end = self.days(today)
        return Window(self.label(today), first, end - timedelta(days=1), time_zone, local_midnight(first, tz), local_midnight(end, tz))


def parse_period(text: str | None) -> Period:
    """`week`, `month`, `2026-W44`, `2026-10`, `2026-10-01..2026-10-31` (both days included).
    Empty means DEFAULT_PERIOD (this month). Anything else raises ValueError naming the accepted
    forms."""
    raw = (text or "").strip() or DEFAULT_PERIOD
    t = raw.lower()
    if t == "week":
        return Period("week")
    if t == "month":
        return Period("month")
    if m := _WEEK.match(t):
        y, w = _year(int(m.group(1)), raw), int(m.group(2))
        try:
            first = date.fromisocalendar(y, w, 1)
        except ValueError:
            raise _bad(raw, f"{y} has no ISO week {w}") from None
        return Period("iso_week", first, first + timedelta(days=7))
    if m := _MONTH.match(t):
        y, mo = _year(int(m.group(1)), raw), int(m.group(2))
        if not 1 <= mo <= 12:
            raise _bad(raw, "the month must be 01 to 12")
        first = date(y, mo, 1)
        return Period("month_of", first, _next_month(first))
    if m := _RANGE.match(t):
        try:
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError as e:
            raise _bad(raw, str(e)) from None
        _year(first.year, raw), _year(last.year, raw)
        if last < first:
            raise _bad(raw, "the last day is before the first")
        return Period("days", first, last + timedelta(days=1))
    raise _bad(raw)


# ---- figures ------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part * 100 / whole, 1)


@dataclass(frozen=True)
class AlertFigures:
    """Alert figures of one dealer (and one kind, or all kinds) for one period; see the module
    docstring for exactly what each counts. Figures add up across kinds."""

    due: int = 0
    on_time: int = 0
    pending: int = 0
    escalated: int = 0
    handled: int = 0
    handling_seconds: float = 0.0  # summed over `handled`
    open: int = 0
    overdue: int = 0

    @property
    def late(self) -> int:
        return self.due - self.on_time

    @property
    def on_time_pct(self) -> float | None:
        return _pct(self.on_time, self.due)

    @property
    def avg_handling_hours(self) -> float | None:
        return None if self.handled == 0 else round(self.handling_seconds / self.handled / 3600, 1)

    def __add__(self, other: AlertFigures) -> AlertFigures:
        return AlertFigures(
            self.due + other.due,
            self.on_time + other.on_time,
            self.pending + other.pending,
            self.escalated + other.escalated,
            self.handled + other.handled,
            self.handling_seconds + other.handling_seconds,
            self.open + other.open,
            self.overdue + other.overdue,
        )

    @property
    def empty(self) -> bool:
        return self == AlertFigures()


def total(figures: Iterable[AlertFigures]) -> AlertFigures:
    out = AlertFigures()
    for f in figures:
        out = out + f
    return out


@dataclass(frozen=True)
class NpsFigures:
    """NPS answers (0–10) of one dealer in one period."""

    answers: int = 0
    promoters: int = 0  # 9–10
    detractors: int = 0  # 0–6
    sum: int = 0

    @property
    def nps(self) -> float | None:
        """The Net Promoter Score, −100 to 100."""
        return None if self.answers == 0 else round((self.promoters - self.detractors) * 100 / self.answers, 1)

    @property
    def average(self) -> float | None:
        return None if self.answers == 0 else round(self.sum / self.answers, 1)


@dataclass(frozen=True)
class ResultFilter:
    """Narrows figures to results of one survey (and, for service results, the car's segment):
    NPS counts only those answers, alert figures only alerts those answers raised."""

    survey: Survey | None = None
    segment: int | None = None

    @property
    def empty(self) -> bool:
        return self.survey is None and self.segment is None


@dataclass(frozen=True)
class DealerKpi:
    """Every figure of one dealer for one period."""

    code: str
    name: str
    brand: str | None
    region: str | None
    type: DealerType
    window: Window
    total: AlertFigures
    kinds: Mapping[Kind, AlertFigures] = field(default_factory=dict)
    nps: NpsFigures = field(default_factory=NpsFigures)


# ---- the ranking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RankColumn:
    """A figure dealers can be ranked by; `best_high`: a higher value ranks first."""

    name: str
    label: str
    best_high: bool
    unit: Literal["pct", "hours", "count", "score"]

    def value(self, k: DealerKpi) -> float | int | None:
        f, n = k.total, k.nps
        values: dict[str, float | int | None] = {
            "on_time_pct": f.on_time_pct,
            "nps": n.nps,
            "nps_avg": n.average,
            "avg_handling_hours": f.avg_handling_hours,
            "open_alerts": f.open,
            "overdue_alerts": f.overdue,
            "escalated": f.escalated,
            "late": f.late,
        }
        return values[self.name]


RANK_COLUMNS: dict[str, RankColumn] = {
    c.name: c
    for c in (
        RankColumn("on_time_pct", "On time %", True, "pct"),
        RankColumn("nps", "NPS", True, "score"),
        RankColumn("nps_avg", "Average NPS answer", True, "score"),
        RankColumn("avg_handling_hours", "Avg. hours to first handling", False, "hours"),
        RankColumn("open_alerts", "Open alerts", False, "count"),
        RankColumn("overdue_alerts", "Overdue alerts", False, "count"),
        RankColumn("escalated", "Escalated alerts", False, "count"),
        RankColumn("late", "Late alerts", False, "count"),
    )
}
DEFAULT_COLUMN = "on_time_pct"
COLUMN_FORMS = ", ".join(RANK_COLUMNS)


def rank_column(name: str | None) -> RankColumn:
    key = (name or DEFAULT_COLUMN).strip().lower().replace("-", "_")
    found = RANK_COLUMNS.get(key)
    if found is None:
        raise ValueError(f"{name!r} is not a ranking column; use one of {COLUMN_FORMS}")
    return found


@dataclass(frozen=True)
class RankedRow:
    rank: int | None  # None: no value for the column (nothing due, no answers …)
    value: float | int | None
    kpi: DealerKpi


def rank(kpis: Iterable[DealerKpi], column: RankColumn) -> list[RankedRow]:
    """Best first by the column's value as shown (figures are rounded to one decimal), equal
    values in dealer-code order; rank is the place, 1, 2, 3 …; dealers without a value follow,
    unranked, by code."""
    rows = [(k, column.value(k)) for k in kpis]
    valued = sorted(((k, v) for k, v in rows if v is not None), key=lambda kv: ((-kv[1] if column.best_high else kv[1]), kv[0].code))
    rest = sorted(((k, v) for k, v in rows if v is None), key=lambda kv: kv[0].code)
    return [RankedRow(i, v, k) for i, (k, v) in enumerate(valued, 1)] + [RankedRow(None, None, k) for k, _ in rest]


@dataclass(frozen=True)
class RankingFilter:
    type: DealerType | None = None
    region: str | None = None
    brand: str | None = None
    kind: Kind | None = None
    results: ResultFilter = field(default_factory=ResultFilter)


@dataclass(frozen=True)
class Ranking:
    """The ranking over every dealer matching the filters; `rows` holds those the asker may see
    (with their place among all of them)."""

    column: RankColumn
    period: str
    filters: RankingFilter
    rows: list[RankedRow]
    ranked: int  # dealers with a value, of all matching
    dealers: int  # dealers matching the filters
