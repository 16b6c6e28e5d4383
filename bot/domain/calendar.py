"""Business-hours arithmetic: durations counted only in a dealer's opening hours, in its own time zone."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

END_OF_DAY = time.max
"""As the end of an opening range, `time.max` means midnight at the end of that day ("24:00"), exactly:
the range 00:00–24:00 is the whole day, and it touches the next day's 00:00 with no gap."""

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SEARCH_DAYS = 3653  # about 10 years: longer with no open time at all is a configuration error
_DAYS_KEPT = 4 * SEARCH_DAYS  # days of open intervals a calendar keeps worked out

Range = tuple[time, time]
Interval = tuple[datetime, datetime]  # aware UTC, start < end, half-open


@dataclass(frozen=True)
class OpeningHours:
    """Opening ranges per weekday, Monday (0) first; a day without ranges is closed.

    A range is (start, end) in local wall time, start < end, both naive `time`s; an end of `END_OF_DAY`
    (`time.max`) is 24:00. A range cannot cross midnight: write 22:00–24:00 and the next day's 00:00–02:00
    (they join with no gap). Each day's ranges are stored sorted, touching ranges (08:00–12:00 and
    12:00–17:00) merged into one; overlapping ranges are refused."""

    days: tuple[tuple[Range, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"opening hours need 7 days, Monday first; got {len(self.days)}")
        object.__setattr__(self, "days", tuple(_normalise(DAY_NAMES[i], day) for i, day in enumerate(self.days)))

    @property
    def never_open(self) -> bool:
        return not any(self.days)


@dataclass(frozen=True)
class Calendar:
    """How a dealer counts hours: the wall clock (`hours` None) or its opening hours in its time zone.

    Business hours (`hours` set):
    - Ranges and holidays are local to `zone`; time inside them is counted as real elapsed time. A local
      08:00–17:00 day is 9 hours whatever the season (DST changes happen at night); a range that contains
      the change itself counts the hour more or less that really passes (00:00–24:00 is 23 h in spring).
    - A range boundary repeated by an autumn change means its first occurrence; one skipped by a spring
      change means the instant of the change (an opening at 02:30 on a day that jumps 02:00→03:00 opens
      at 03:00).
    - `add(start, d)` is the earliest instant `t` with `between(start, t) >= d`. So a start outside
      opening hours counts from the next opening; a positive duration that runs out exactly at a closing
      time returns that closing time (not the next opening); and a zero duration returns the start itself,
      open or closed (`add(s, 0) == s`, which keeps `add(add(s, a), b) == add(s, a + b)` exact).
    - `is_open` is half-open: open at an opening time, closed at a closing time.
    - Opening hours closed every day are refused at construction; a search that finds no open time for
      10 years (holidays covering every open day) raises ValueError instead of looping.

    The wall clock (`hours` None): `add` is `start + duration` in real time (48 h are 48 h across DST),
    `between` is `b - a`, and `is_open` is always true; `zone` is then only the dealer's zone for
    display and periods.

    Instants may be given in any zone but must be aware; results are aware UTC. Negative durations are
    refused."""

    zone: str  # IANA name, e.g. "Europe/Copenhagen"
    hours: OpeningHours | None  # None: the wall clock, every hour counts
    holidays: frozenset[date] = frozenset()  # whole local days closed
    # Each local day's open intervals once worked out: due times of a batch of alerts, and of
    # the next batches, walk the same days again (a Sales Opportunity's 7 days cost 0.1 ms).
    _days: dict[date, tuple[Interval, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise ValueError(f"unknown time zone {self.zone!r}") from None
        holidays = frozenset(self.holidays)
        for day in holidays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValueError(f"a holiday must be a date, not {day!r}")
        object.__setattr__(self, "holidays", holidays)
        if self.hours is None and holidays:
            raise ValueError("holidays need opening hours: the wall clock counts every hour")
        if self.hours is not None and self.hours.never_open:
            raise ValueError("opening hours are closed every day of the week: no hour could ever count")

    @classmethod
    def wall(cls, zone: str = "UTC") -> Calendar:
        return cls(zone, None)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of open time after `start` (see the class docstring), aware UTC."""
        s = _utc(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative: {duration}")
        if self.hours is None:
            return s + duration
        if not duration:
            return s
        left = duration
        for lo, hi in self._intervals(s):
            if left <= hi - lo:
                return lo + left
            left -= hi - lo
        raise AssertionError("unreachable: _intervals without an end raises instead of stopping")

    def between(self, a: datetime, b: datetime) -> timedelta:
        """Open time from `a` to `b`; zero if `b` is not after `a`."""
        lo_at, hi_at = _utc(a, "a"), _utc(b, "b")
        if hi_at <= lo_at:
            return timedelta(0)
        if self.hours is None:
            return hi_at - lo_at
        total = timedelta(0)
        for lo, hi in self._intervals(lo_at, until=hi_at):
            if lo >= hi_at:
                break
            total += min(hi, hi_at) - lo
        return total

    def is_open(self, at: datetime) -> bool:
        u = _utc(at, "at")
        if self.hours is None:
            return True
        day = u.astimezone(self._tz).date()
        # Neighbouring days too: a change back across midnight gives instants of one day the previous date.
        return any(lo <= u < hi for d in _days(day - timedelta(days=1), 3) for lo, hi in self._day(d))

    @property
    def _tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)  # ZoneInfo caches instances by key

    def _day(self, day: date) -> tuple[Interval, ...]:
        """The open intervals of one local day, in UTC, in order."""
        known = self._days.get(day)
        if known is None:
            if len(self._days) >= _DAYS_KEPT:  # a long-lived calendar walked across many years
                self._days.clear()
            known = self._days[day] = self._work_out(day)
        return known

    def _work_out(self, day: date) -> tuple[Interval, ...]:
        assert self.hours is not None
        if day in self.holidays:
            return ()
        ranges = self.hours.days[day.weekday()]
        if not ranges:
            return ()
        tz = self._tz
        out = []
        for start, end in ranges:
            lo = _instant(day, start, tz)
            hi = _instant(day + timedelta(days=1), time(0), tz) if end == END_OF_DAY else _instant(day, end, tz)
            if lo < hi:  # a range entirely inside a skipped hour is empty
                out.append((lo, hi))
        return tuple(out)

    def _intervals(self, s: datetime, until: datetime | None = None) -> Iterator[Interval]:
        """Open intervals from `s` on, in order, the first clipped to start at `s`; day by day, closed days
        cost a lookup. Without `until` it runs until the caller stops, or raises after SEARCH_DAYS closed."""
        first = s.astimezone(self._tz).date() - timedelta(days=1)
        last = None if until is None else until.astimezone(self._tz).date() + timedelta(days=1)
        found = first
        try:
            day = first
            while last is None or day <= last:
                for lo, hi in self._day(day):
                    if hi > s:
                        found = day
                        yield max(lo, s), hi
                if last is None and (day - found).days > SEARCH_DAYS:
                    raise ValueError(
                        f"no open hour in the 10 years after {s.isoformat()}: holidays cover every open day"
                    )
                day += timedelta(days=1)
        except OverflowError:
            raise ValueError(f"counting from {s.isoformat()} runs past the year 9999") from None


def parse_hours(spec: Mapping[str, str | Sequence[str]]) -> OpeningHours:
    """Opening hours from a settings mapping; days not named are closed.

    Keys: "mon" … "sun", or a forward span such as "mon-fri" (each day at most once). Values: "08:00-17:00",
    several ranges as a list (["08:00-12:00", "13:00-17:00"]) or comma-separated, "closed" (or "" / []);
    "24:00" ends a range at midnight. Errors are ValueErrors naming the key and the value."""
    days: list[tuple[Range, ...]] = [()] * 7
    given: dict[int, str] = {}
    for key, value in spec.items():
        for i in _day_indices(key):
            if i in given:
                raise ValueError(f"opening hours: {DAY_NAMES[i]} is given twice ({given[i]!r} and {key!r})")
            given[i] = key
            days[i] = _parse_ranges(key, value)
    return OpeningHours(tuple(days))


_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {name: i for names in (DAY_NAMES, _FULL_NAMES) for i, name in enumerate(names)}
_RANGE = re.compile(r"(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})")


def _day_indices(key: object) -> list[int]:
    if not isinstance(key, str):
        raise ValueError(f"opening hours: a day must be a string such as 'mon' or 'mon-fri', not {key!r}")
    parts = [_DAY_INDEX.get(p.strip().lower()) for p in key.split("-")]
    if len(parts) > 2 or None in parts:
        raise ValueError(f"opening hours: unknown day {key!r} (use mon … sun, or a span such as 'mon-fri')")
    first, last = parts[0], parts[-1]
    assert first is not None and last is not None
    if last < first:
        raise ValueError(f"opening hours: the span {key!r} runs backwards (write it Monday first, e.g. 'mon-fri')")
    return list(range(first, last + 1))


def _parse_ranges(key: str, value: object) -> tuple[Range, ...]:
    if isinstance(value, str):
        text = value.strip()
        items = [] if text.lower() in ("", "closed") else [p.strip() for p in text.split(",")]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        raise ValueError(f"opening hours {key!r}: expected 'HH:MM-HH:MM', a list of them or 'closed', not {value!r}")
    ranges = []
    for item in items:
        m = _RANGE.fullmatch(item)
        if m is None:
            raise ValueError(f"opening hours {key!r}: {item!r} is not a range such as '08:00-17:00'")
        ranges.append((_clock(key, item, m[1], m[2], end=False), _clock(key, item, m[3], m[4], end=True)))
    return _normalise(repr(key), ranges)


def _clock(key: str, item: str, hh: str, mm: str, *, end: bool) -> time:
    h, m = int(hh), int(mm)
    if end and (h, m) == (24, 0):
        return END_OF_DAY
    if h > 23 or m > 59:
        raise ValueError(f"opening hours {key!r}: {item!r} has no such time {hh}:{mm}")
    return time(h, m)


def _normalise(label: str, ranges: Sequence[Range]) -> tuple[Range, ...]:
    """Check one day's ranges, sort them and merge touching ones."""
    checked = []
    for r in ranges:
        if not (isinstance(r, tuple) and len(r) == 2 and all(isinstance(t, time) for t in r)):
            raise ValueError(f"opening hours {label}: a range is a (start, end) pair of times, not {r!r}")
        start, end = r
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"opening hours {label}: {_show(r)} must be local wall times, without a zone")
        if start == END_OF_DAY:
            raise ValueError(f"opening hours {label}: {_show(r)} cannot start at 24:00")
        if end <= start:
            raise ValueError(f"opening hours {label}: {_show(r)} does not end after it starts")
        checked.append((start, end))
    checked.sort()
    merged: list[Range] = []
    for start, end in checked:
        if merged and start < merged[-1][1]:
            raise ValueError(f"opening hours {label}: {_show(merged[-1])} and {_show((start, end))} overlap")
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _show(r: Range) -> str:
    def one(t: time) -> str:
        if t == END_OF_DAY:
            return "24:00"
        return t.strftime("%H:%M") if not (t.second or t.microsecond) else t.isoformat()

    return f"{one(r[0])}-{one(r[1])}"


def _utc(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, not {at!r}")
    return at.astimezone(UTC)


def _days(first: date, n: int) -> Iterator[date]:
    for i in range(n):
        yield first + timedelta(days=i)


def _instant(day: date, t: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of local `day` at `t`: the first one if the time repeats, the change itself if
    the time is skipped. Non-decreasing in (day, t), so a day's ranges stay ordered in UTC."""
    local = datetime.combine(day, t, tzinfo=tz)  # fold=0: before a skip, the offset in force before it
    utc = local.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
        return utc
    # Skipped: fold=1 reads it with the offset after the change, an instant before the change; fold=0
    # with the offset before it, an instant at or after. The change falls on a whole second: bisect.
    lo = int(local.replace(fold=1).astimezone(UTC).timestamp() // 1)
    hi = -int(-utc.timestamp() // 1)
    target = utc.astimezone(tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == target:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
