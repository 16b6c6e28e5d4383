"""Business-hours arithmetic in bot/domain/calendar: hand-computed cases across weekends, holidays,
lunch breaks and both DST changes, then properties checked against each other and against an
independent minute-by-minute count."""

from __future__ import annotations

import time as timer
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain.calendar import END_OF_DAY, Calendar, OpeningHours, parse_hours

CPH = ZoneInfo("Europe/Copenhagen")
NYC = ZoneInfo("America/New_York")
HAVANA = ZoneInfo("America/Havana")  # its spring change skips local midnight
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
US = timedelta(microseconds=1)

OFFICE = parse_hours({"mon-fri": "08:00-17:00"})  # 9 h a day, 45 h a week
DANISH_XMAS = frozenset({date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)})
SHOWROOM = parse_hours({"mon-fri": "08:00-17:00", "sat": "09:00-13:00", "sun": "closed"})
LUNCH = parse_hours({"mon-fri": ["08:00-12:00", "13:00-17:00"], "sat": "09:00-13:00"})
ALWAYS = parse_hours({"mon-sun": "00:00-24:00"})

office = Calendar("Europe/Copenhagen", OFFICE)
dk = Calendar("Europe/Copenhagen", SHOWROOM, DANISH_XMAS)
lunch = Calendar("Europe/Copenhagen", LUNCH)
us = Calendar("America/New_York", parse_hours({"mon-sat": "09:00-17:00"}))


def cph(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CPH)


def nyc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NYC)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


# --- parse_hours ------------------------------------------------------------------------------


def test_parse_hours_reads_days_spans_lists_and_closed() -> None:
    hours = parse_hours(
        {
            "mon": "08:00-17:00",
            "tue": ["08:00-12:00", "13:00-17:00"],
            "wed-fri": "07:30 - 16:00",
            "sat": "09:00-13:00",
            "sun": "closed",
        }
    )
    assert hours.days == (
        ((time(8), time(17)),),
        ((time(8), time(12)), (time(13), time(17))),
        ((time(7, 30), time(16)),),
        ((time(7, 30), time(16)),),
        ((time(7, 30), time(16)),),
        ((time(9), time(13)),),
        (),
    )


def test_parse_hours_leaves_unnamed_days_closed_and_accepts_full_names_and_commas() -> None:
    hours = parse_hours({"Monday": "08:00-12:00, 13:00-17:00", "SAT": ""})
    assert hours.days[0] == ((time(8), time(12)), (time(13), time(17)))
    assert hours.days[1:] == ((),) * 6


def test_24_00_ends_a_range_at_midnight_and_touching_ranges_merge() -> None:
    hours = parse_hours({"fri": ["18:00-24:00", "08:00-12:00", "12:00-18:00"], "sat": "00:00-24:00"})
    assert hours.days[4] == ((time(8), END_OF_DAY),)
    assert hours.days[5] == ((time(0), END_OF_DAY),)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"funday": "08:00-17:00"}, ["funday"]),
        ({"mon-tue-wed": "08:00-17:00"}, ["mon-tue-wed"]),
        ({"fri-mon": "08:00-17:00"}, ["fri-mon", "backwards"]),
        ({"mon": "8-17"}, ["'mon'", "'8-17'"]),
        ({"mon": "17:00-08:00"}, ["'mon'", "17:00-08:00"]),
        ({"mon": "08:00-08:00"}, ["'mon'", "08:00-08:00"]),
        ({"tue": "24:00-24:00"}, ["'tue'", "24:00"]),
        ({"tue": "08:00-24:30"}, ["'tue'", "24:30"]),
        ({"wed": "25:00-26:00"}, ["'wed'", "25:00"]),
        ({"wed": "08:61-17:00"}, ["'wed'", "08:61"]),
        ({"thu": ["08:00-12:00", "11:00-17:00"]}, ["'thu'", "08:00-12:00", "11:00-17:00", "overlap"]),
        ({"mon-fri": "08:00-17:00", "fri": "08:00-12:00"}, ["fri", "'mon-fri'", "twice"]),
        ({"sat": 8}, ["'sat'", "8"]),
        ({"sat": ["09:00-13:00", 14]}, ["'sat'"]),
    ],
)
def test_parse_hours_names_the_bad_key_or_value(spec: dict, words: list[str]) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError) as caught:
        parse_hours(spec)
    for word in words:
        assert word in str(caught.value)


def test_opening_hours_need_seven_days_and_plain_times() -> None:
    with pytest.raises(ValueError, match="7 days"):
        OpeningHours(((),) * 6)
    with pytest.raises(ValueError, match="without a zone"):
        OpeningHours((((time(8, tzinfo=UTC), time(17)),),) + ((),) * 6)
    with pytest.raises(ValueError, match="cannot start at 24:00"):
        OpeningHours((((END_OF_DAY, END_OF_DAY),),) + ((),) * 6)


# --- Calendar construction ----------------------------------------------------------------


def test_a_calendar_never_open_is_refused() -> None:
    with pytest.raises(ValueError, match="closed every day"):
        Calendar("Europe/Copenhagen", parse_hours({"mon-sun": "closed"}))


def test_unknown_zone_naive_instants_and_negative_durations_are_refused() -> None:
    for zone in ("Mars/Olympus_Mons", "", "../etc/passwd", "Europe"):
        with pytest.raises(ValueError, match="unknown time zone"):
            Calendar(zone, OFFICE)
    for cal in (office, Calendar.wall()):
        with pytest.raises(ValueError, match="timezone-aware"):
            cal.add(datetime(2026, 11, 2, 9), H)
        with pytest.raises(ValueError, match="timezone-aware"):
            cal.between(utc(2026, 11, 2), datetime(2026, 11, 3))
        with pytest.raises(ValueError, match="timezone-aware"):
            cal.is_open(datetime(2026, 11, 2, 9))
        with pytest.raises(ValueError, match="negative"):
            cal.add(utc(2026, 11, 2), -US)


def test_holidays_must_be_dates_and_need_opening_hours() -> None:
    with pytest.raises(ValueError, match="must be a date"):
        Calendar("Europe/Copenhagen", OFFICE, frozenset({datetime(2026, 12, 24)}))
    with pytest.raises(ValueError, match="need opening hours"):
        Calendar("Europe/Copenhagen", None, DANISH_XMAS)
    as_set = Calendar("Europe/Copenhagen", OFFICE, {date(2026, 12, 24)})  # type: ignore[arg-type]
    assert as_set.holidays == frozenset({date(2026, 12, 24)})


def test_ten_years_of_holidays_over_every_open_day_raises_instead_of_looping() -> None:
    mondays = frozenset(date(2027, 1, 4) + timedelta(weeks=w) for w in range(11 * 53))
    cal = Calendar("Europe/Copenhagen", parse_hours({"mon": "08:00-17:00"}), mondays)
    started = timer.perf_counter()
    with pytest.raises(ValueError, match="10 years"):
        cal.add(cph(2027, 1, 1, 12), H)
    assert timer.perf_counter() - started < 2
    # Questions with an end still have an answer: nothing is open in that year.
    assert cal.between(cph(2027, 1, 1), cph(2028, 1, 1)) == timedelta(0)


# --- Monday to Friday 08:00-17:00 -----------------------------------------------------------


def test_48_hours_from_friday_afternoon() -> None:
    # Fri 6 Nov 15-17 (2 h), Mon 9 .. Fri 13 (5 x 9 = 45 h, 47 h), Mon 16 08-09 (48 h).
    # With 9-hour days 48 h is 5 1/3 working days: not Thursday of the next week but Monday after it.
    due = office.add(cph(2026, 11, 6, 15), 48 * H)
    assert due == cph(2026, 11, 16, 9) == utc(2026, 11, 16, 8)
    assert due.tzinfo is UTC
    # 24 h from the same moment: Fri 2, Mon 9, Tue 9 (20 h), Wed 08-12.
    assert office.add(cph(2026, 11, 6, 15), 24 * H) == cph(2026, 11, 11, 12)


def test_across_a_weekend() -> None:
    assert office.add(cph(2026, 11, 6, 16), 2 * H) == cph(2026, 11, 9, 9)
    assert office.between(cph(2026, 11, 6, 16), cph(2026, 11, 9, 9)) == 2 * H
    assert office.between(cph(2026, 11, 6, 17), cph(2026, 11, 9, 8)) == timedelta(0)


def test_starting_closed_counts_from_the_next_opening() -> None:
    assert office.add(cph(2026, 11, 7, 10), H) == cph(2026, 11, 9, 9)  # Saturday
    assert office.add(cph(2026, 11, 9, 6, 15), H) == cph(2026, 11, 9, 9)  # Monday before opening
    assert office.add(cph(2026, 11, 9, 17), H) == cph(2026, 11, 10, 9)  # at closing time
    assert office.add(cph(2026, 11, 9, 7, 59), MIN) == cph(2026, 11, 9, 8, 1)


def test_exact_boundaries() -> None:
    assert office.add(cph(2026, 11, 9, 8), 9 * H) == cph(2026, 11, 9, 17)  # runs out at closing: closing
    assert office.add(cph(2026, 11, 9, 8), 9 * H + US) == cph(2026, 11, 10, 8) + US
    assert office.add(cph(2026, 11, 9, 16, 59), MIN) == cph(2026, 11, 9, 17)
    assert office.is_open(cph(2026, 11, 9, 8))
    assert not office.is_open(cph(2026, 11, 9, 8) - US)
    assert office.is_open(cph(2026, 11, 9, 17) - US)
    assert not office.is_open(cph(2026, 11, 9, 17))
    assert office.between(cph(2026, 11, 9, 8), cph(2026, 11, 9, 17)) == 9 * H
    assert office.between(cph(2026, 11, 9, 17), cph(2026, 11, 9, 8)) == timedelta(0)


def test_a_zero_duration_returns_the_start_itself() -> None:
    assert office.add(cph(2026, 11, 9, 10), timedelta(0)) == cph(2026, 11, 9, 10)  # open
    assert office.add(cph(2026, 11, 7, 10), timedelta(0)) == cph(2026, 11, 7, 10)  # Saturday: closed
    assert office.add(cph(2026, 11, 9, 17), timedelta(0)) == cph(2026, 11, 9, 17)


def test_the_start_may_be_written_in_any_zone() -> None:
    start = cph(2026, 11, 6, 15)
    for same in (start, start.astimezone(UTC), start.astimezone(NYC), start.astimezone(ZoneInfo("Asia/Tokyo"))):
        assert office.add(same, 48 * H) == utc(2026, 11, 16, 8)


def test_a_thousand_hours_is_quick_and_exact() -> None:
    # Mon-Fri 9 h + Sat 4 h = 49 h a week: 20 weeks (980 h) to Mon 24 May 2027 08:00, then Mon 9,
    # Tue 9 (998 h), Wed 08-10.
    start = cph(2027, 1, 4, 8)
    cal = Calendar("Europe/Copenhagen", SHOWROOM)
    began = timer.perf_counter()
    due = cal.add(start, 1000 * H)
    assert cal.between(start, due) == 1000 * H
    assert timer.perf_counter() - began < 0.5
    assert due == cph(2027, 5, 26, 10) == utc(2027, 5, 26, 8)


def test_days_worked_out_are_kept_within_a_bound_and_answer_as_a_fresh_calendar_does() -> None:
    # A calendar keeps each day's open intervals for the next due time (intake builds one per
    # dealer and keeps it); walked across more days than it keeps, it starts over, same answers.
    from bot.domain.calendar import _DAYS_KEPT

    walked = Calendar("Europe/Copenhagen", SHOWROOM, DANISH_XMAS)
    start, end = cph(1990, 1, 1), cph(1990, 1, 1) + timedelta(days=_DAYS_KEPT + 400)
    total = walked.between(start, end)
    assert 0 < len(walked._days) <= _DAYS_KEPT
    for s, d in ((cph(2026, 12, 23, 16), 48 * H), (cph(2031, 3, 28, 12), 100 * H), (cph(1990, 1, 5, 9), 7 * 24 * H)):
        fresh = Calendar("Europe/Copenhagen", SHOWROOM, DANISH_XMAS)
        assert walked.add(s, d) == fresh.add(s, d)
        assert walked.add(s, d) == fresh.add(s, d)  # the second time from what was kept
    assert walked.between(start, end) == total == Calendar("Europe/Copenhagen", SHOWROOM, DANISH_XMAS).between(start, end)


# --- holidays -------------------------------------------------------------------------------


def test_danish_christmas_holidays_are_skipped() -> None:
    # Wed 23 Dec 15-17 (2 h); 24, 25, 26 holidays, Sun closed; Mon 28 - Thu 31 (4 x 9, 38 h);
    # 1 Jan holiday; Sat 2 Jan 09-13 (42 h); Sun closed; Mon 4 Jan 08-14.
    start = cph(2026, 12, 23, 15)
    assert dk.add(start, 48 * H) == cph(2027, 1, 4, 14) == utc(2027, 1, 4, 13)
    assert dk.between(start, cph(2027, 1, 4, 14)) == 48 * H
    assert not dk.is_open(cph(2026, 12, 24, 10))
    assert not dk.is_open(cph(2027, 1, 1, 10))
    assert dk.is_open(cph(2027, 1, 2, 10))
    # Without the holidays: Wed 2, Thu 9, Fri 9, Sat 4 (24 h), Mon 9, Tue 9 (42 h), Wed 30 Dec 08-14.
    assert Calendar("Europe/Copenhagen", SHOWROOM).add(start, 48 * H) == cph(2026, 12, 30, 14)


def test_a_start_on_a_holiday_counts_from_the_next_open_day() -> None:
    assert dk.add(cph(2026, 12, 25, 11), H) == cph(2026, 12, 28, 9)


# --- lunch breaks and a Saturday half-day ---------------------------------------------------


def test_a_lunch_break_does_not_count() -> None:
    assert lunch.add(cph(2026, 11, 2, 11, 30), H) == cph(2026, 11, 2, 13, 30)
    assert lunch.add(cph(2026, 11, 2, 11, 30), 30 * MIN) == cph(2026, 11, 2, 12)  # to the break, not past it
    assert lunch.add(cph(2026, 11, 2, 12), H) == cph(2026, 11, 2, 14)  # starting in the break
    assert lunch.add(cph(2026, 11, 2, 12, 30), timedelta(0)) == cph(2026, 11, 2, 12, 30)
    assert lunch.between(cph(2026, 11, 2, 7), cph(2026, 11, 2, 18)) == 8 * H
    assert lunch.between(cph(2026, 11, 2, 11), cph(2026, 11, 2, 14)) == 2 * H
    assert lunch.is_open(cph(2026, 11, 2, 12) - US)
    assert not lunch.is_open(cph(2026, 11, 2, 12))
    assert not lunch.is_open(cph(2026, 11, 2, 12, 59))
    assert lunch.is_open(cph(2026, 11, 2, 13))


def test_a_saturday_half_day() -> None:
    friday_4pm = cph(2026, 11, 6, 16)
    assert lunch.add(friday_4pm, 3 * H) == cph(2026, 11, 7, 11)  # Fri 1 h, Sat 09-11
    assert lunch.add(friday_4pm, 5 * H) == cph(2026, 11, 7, 13)  # Sat closes at 13:00
    assert lunch.add(friday_4pm, 5 * H + MIN) == cph(2026, 11, 9, 8, 1)  # Sunday closed
    assert not lunch.is_open(cph(2026, 11, 7, 13))
    assert not lunch.is_open(cph(2026, 11, 8, 10))


# --- daylight saving time -------------------------------------------------------------------


def test_copenhagen_autumn_change() -> None:
    # Sunday 25 Oct 2026, 03:00 CEST -> 02:00 CET. Friday is UTC+2, Monday UTC+1.
    assert office.add(cph(2026, 10, 23, 16, 30), H) == cph(2026, 10, 26, 8, 30) == utc(2026, 10, 26, 7, 30)
    # Fri 2 h, Mon 26 - Fri 30 (47 h), Mon 2 Nov 08-09 CET.
    assert office.add(cph(2026, 10, 23, 15), 48 * H) == utc(2026, 11, 2, 8)
    # Friday and Monday are 9 h each, though 82 real hours pass between the two.
    assert office.between(cph(2026, 10, 23, 8), cph(2026, 10, 26, 17)) == 18 * H


def test_copenhagen_spring_change() -> None:
    # Sunday 29 Mar 2026, 02:00 CET -> 03:00 CEST. Friday is UTC+1, Monday UTC+2.
    assert office.add(cph(2026, 3, 27, 16, 30), H) == cph(2026, 3, 30, 8, 30) == utc(2026, 3, 30, 6, 30)
    assert office.between(cph(2026, 3, 27, 8), cph(2026, 3, 30, 17)) == 18 * H
    assert office.between(utc(2026, 3, 27, 7), utc(2026, 3, 30, 15)) == 18 * H


def test_new_york_changes() -> None:
    # Mon-Sat 09-17. 1 Nov 2026 EDT -> EST; 8 Mar 2026 EST -> EDT; both on a Sunday.
    assert us.add(nyc(2026, 10, 31, 16), 2 * H) == nyc(2026, 11, 2, 10) == utc(2026, 11, 2, 15)
    assert us.add(nyc(2026, 3, 7, 16), 2 * H) == nyc(2026, 3, 9, 10) == utc(2026, 3, 9, 14)
    # Fri 30 Oct 15-17 (2 h), Sat 8, Mon-Thu 4 x 8 (42 h), Fri 6 Nov 09-15 EST.
    assert us.add(nyc(2026, 10, 30, 15), 48 * H) == utc(2026, 11, 6, 20)


def test_a_range_containing_the_change_counts_the_hours_that_really_pass() -> None:
    always = Calendar("Europe/Copenhagen", ALWAYS)
    assert always.between(cph(2026, 3, 29), cph(2026, 3, 30)) == 23 * H
    assert always.between(cph(2026, 10, 25), cph(2026, 10, 26)) == 25 * H
    night = Calendar("Europe/Copenhagen", parse_hours({"sun": "01:00-04:00"}))
    assert night.between(cph(2026, 3, 28), cph(2026, 3, 30)) == 2 * H
    assert night.between(cph(2026, 10, 24), cph(2026, 10, 26)) == 4 * H


def test_an_opening_in_the_skipped_hour_opens_at_the_change() -> None:
    cal = Calendar("Europe/Copenhagen", parse_hours({"sun": "02:30-05:00"}))
    change = utc(2026, 3, 29, 1)  # 02:00 CET = 03:00 CEST
    assert not cal.is_open(change - US)
    assert cal.is_open(change)
    assert cal.add(cph(2026, 3, 28, 12), H) == utc(2026, 3, 29, 2)
    assert cal.between(cph(2026, 3, 28), cph(2026, 3, 30)) == 2 * H  # 03:00-05:00 CEST
    # A range wholly inside the skipped hour is empty that Sunday and 45 minutes on the others.
    gap = Calendar("Europe/Copenhagen", parse_hours({"sun": "02:00-02:45"}))
    assert gap.between(cph(2026, 3, 28), cph(2026, 3, 30)) == timedelta(0)
    assert gap.add(cph(2026, 3, 28, 12), 45 * MIN) == cph(2026, 4, 5, 2, 45)


def test_a_repeated_boundary_means_its_first_occurrence() -> None:
    cal = Calendar("Europe/Copenhagen", parse_hours({"sun": "02:00-02:30"}))
    assert cal.between(cph(2026, 10, 24), cph(2026, 10, 26)) == 30 * MIN  # 00:00-00:30 UTC
    assert cal.is_open(utc(2026, 10, 25, 0, 15))  # 02:15 CEST
    assert not cal.is_open(utc(2026, 10, 25, 1, 15))  # 02:15 CET, the second time round


def test_a_change_at_local_midnight() -> None:
    # Havana, Sunday 8 Mar 2026: 00:00 CST does not exist, the clock jumps to 01:00 CDT (05:00 UTC).
    cal = Calendar("America/Havana", parse_hours({"sun": "00:00-06:00", "sat": "20:00-24:00"}))
    assert cal.between(datetime(2026, 3, 7, 12, tzinfo=HAVANA), datetime(2026, 3, 9, tzinfo=HAVANA)) == 9 * H
    assert cal.is_open(utc(2026, 3, 8, 5) - US)  # Sat 23:59:59 CST
    assert cal.is_open(utc(2026, 3, 8, 5))
    assert cal.add(datetime(2026, 3, 7, 23, tzinfo=HAVANA), 2 * H) == utc(2026, 3, 8, 6)  # no hole at midnight


# --- the wall clock -------------------------------------------------------------------------


def test_the_wall_clock_adds_real_hours() -> None:
    wall = Calendar.wall("Europe/Copenhagen")
    start = cph(2026, 10, 23, 16, 30)
    assert wall.add(start, 48 * H) == utc(2026, 10, 25, 14, 30)  # Sunday 15:30 CET, an hour "early"
    assert start + 48 * H == utc(2026, 10, 25, 15, 30)  # Python's same-zone arithmetic is wall time
    assert wall.add(start, 48 * H).tzinfo is UTC
    assert wall.between(start, cph(2026, 10, 26, 16, 30)) == 73 * H
    assert wall.between(cph(2026, 10, 26), start) == timedelta(0)
    assert wall.is_open(cph(2026, 12, 25, 3))
    assert Calendar.wall() == Calendar("UTC", None)


def test_business_and_wall_clock_differ() -> None:
    start = cph(2026, 11, 6, 15)
    assert Calendar.wall("Europe/Copenhagen").add(start, 48 * H) == cph(2026, 11, 8, 15)
    assert office.add(start, 48 * H) == cph(2026, 11, 16, 9)


# --- properties -----------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Copenhagen", "America/New_York", "America/Havana", "Australia/Lord_Howe", "Asia/Kolkata"]
FIXED = [
    office,
    dk,
    lunch,
    us,
    Calendar("Europe/Copenhagen", ALWAYS),
    Calendar("America/Havana", parse_hours({"sun": "00:00-06:00", "mon-fri": "08:00-17:00"})),
    Calendar("Europe/Copenhagen", parse_hours({"sun": "01:00-02:30", "sat": "02:30-03:00"})),
]
LO, HI = datetime(2025, 6, 1), datetime(2028, 6, 1)


@st.composite
def day_ranges(draw: st.DrawFn) -> tuple[tuple[time, time], ...]:
    """0-3 ranges on quarter hours, some at night so DST changes fall inside and on them."""
    marks = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    marks = marks[: len(marks) // 2 * 2]
    as_time = [END_OF_DAY if m == 96 else time(m // 4, m % 4 * 15) for m in marks]
    return tuple(zip(as_time[::2], as_time[1::2]))


@st.composite
def random_calendars(draw: st.DrawFn) -> Calendar:
    days = tuple(draw(day_ranges()) for _ in range(7))
    assume(any(days))
    holidays = draw(st.frozensets(st.dates(date(2025, 6, 1), date(2028, 6, 1)), max_size=20))
    return Calendar(draw(st.sampled_from(ZONES)), OpeningHours(days), holidays)


calendars = st.one_of(st.sampled_from(FIXED), random_calendars())
instants = st.one_of(
    st.datetimes(LO, HI, timezones=st.sampled_from([UTC, *map(ZoneInfo, ZONES)])),
    # Quarter hours, so starts often fall exactly on openings and closings.
    st.builds(
        lambda q, z: (LO + q * timedelta(minutes=15)).replace(tzinfo=z),
        st.integers(0, 4 * 24 * 1090),
        st.sampled_from([UTC, CPH, NYC, HAVANA]),
    ),
)
durations = st.one_of(
    st.timedeltas(timedelta(0), timedelta(hours=300)),
    st.integers(0, 4 * 100).map(lambda q: q * timedelta(minutes=15)),
    st.just(timedelta(0)),
)


def in_utc(*instants: datetime) -> list[datetime]:
    """Sorted and in UTC: Python compares and subtracts two datetimes of one zone by wall time."""
    return sorted(i.astimezone(UTC) for i in instants)


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(calendars, instants, durations)
def test_between_undoes_add(cal: Calendar, start: datetime, d: timedelta) -> None:
    due = cal.add(start, d)
    assert due.tzinfo is UTC
    assert cal.between(start, due) == d
    assert due - start >= d  # open time never outruns real time


@PROPERTY
@given(calendars, instants, instants, durations)
def test_add_is_the_earliest_instant_with_enough_open_time(
    cal: Calendar, s: datetime, t: datetime, d: timedelta
) -> None:
    s, t = in_utc(s, t)
    assert (cal.add(s, d) <= t) == (cal.between(s, t) >= d)


@PROPERTY
@given(calendars, instants, instants, durations, durations)
def test_add_is_monotone_in_both_arguments(
    cal: Calendar, s1: datetime, s2: datetime, d1: timedelta, d2: timedelta
) -> None:
    s1, s2 = in_utc(s1, s2)
    d1, d2 = sorted((d1, d2))
    assert cal.add(s1, d1) <= cal.add(s2, d1)
    assert cal.add(s1, d1) <= cal.add(s1, d2)


@PROPERTY
@given(calendars, instants, durations, durations)
def test_adding_twice_is_adding_the_sum(cal: Calendar, s: datetime, a: timedelta, b: timedelta) -> None:
    assert cal.add(cal.add(s, a), b) == cal.add(s, a + b)


@PROPERTY
@given(calendars, instants, durations)
def test_a_due_time_is_open_or_the_end_of_an_open_interval(cal: Calendar, s: datetime, d: timedelta) -> None:
    assume(d > timedelta(0))
    due = cal.add(s, d)
    assert cal.is_open(due - US)  # the last microsecond counted was open
    assert cal.is_open(due) or cal.between(due - US, due) == US


@PROPERTY
@given(calendars, instants, instants, instants)
def test_between_adds_up_over_consecutive_spans(cal: Calendar, a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = in_utc(a, b, c)
    assert cal.between(a, c) == cal.between(a, b) + cal.between(b, c)
    assert timedelta(0) <= cal.between(a, c) <= c - a
    assert cal.between(c, a) == timedelta(0) or a == c


@PROPERTY
@given(calendars, instants)
def test_is_open_agrees_with_between(cal: Calendar, t: datetime) -> None:
    assert cal.is_open(t) == (cal.between(t, t + US) == US)


@PROPERTY
@given(st.sampled_from(ZONES), instants, instants, durations)
def test_the_wall_clock_is_plain_addition(zone: str, s: datetime, t: datetime, d: timedelta) -> None:
    wall = Calendar.wall(zone)
    assert wall.add(s, d) == s.astimezone(UTC) + d
    assert wall.between(s, t) == max(t.astimezone(UTC) - s.astimezone(UTC), timedelta(0))
    assert wall.is_open(s)


@PROPERTY
@given(st.sampled_from(ZONES), instants, instants, durations)
def test_open_all_week_equals_the_wall_clock(zone: str, s: datetime, t: datetime, d: timedelta) -> None:
    """Counted in real time, 00:00-24:00 every day is every hour, whatever the zone's changes."""
    always, wall = Calendar(zone, ALWAYS), Calendar.wall(zone)
    assert always.add(s, d) == wall.add(s, d)
    assert always.between(s, t) == wall.between(s, t)


def minute_by_minute(cal: Calendar, start: datetime, minutes: int) -> datetime:
    """An independent reference: step whole UTC minutes, each open when its local wall time lies in
    a range of its weekday on a non-holiday (sound for whole-minute ranges away from DST hours)."""
    assert cal.hours is not None
    tz = ZoneInfo(cal.zone)
    at, left = start.astimezone(UTC), minutes
    while left:
        local = at.astimezone(tz)
        ranges = () if local.date() in cal.holidays else cal.hours.days[local.weekday()]
        wall = local.time().replace(tzinfo=None)
        if any(a <= wall and (b == END_OF_DAY or wall < b) for a, b in ranges):
            left -= 1
        at += MIN
    return at


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([office, dk, lunch, us]),
    st.builds(
        lambda m, z: (datetime(2026, 3, 1) + m * MIN).replace(tzinfo=z),
        st.integers(0, 60 * 24 * 330),
        st.sampled_from([UTC, CPH, NYC]),
    ),
    st.integers(1, 60 * 30),
)
def test_add_matches_counting_minute_by_minute(cal: Calendar, start: datetime, minutes: int) -> None:
    assert cal.add(start, minutes * MIN) == minute_by_minute(cal, start, minutes)
