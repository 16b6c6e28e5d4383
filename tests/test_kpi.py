"""The on-time KPI: periods in a dealer's time zone (ISO weeks, months, day ranges, DST), the
figures against a hand-computed month of alerts (tests/kpi_support.py), and the KPI through the
service, the command line, the HTTP API and `/cx kpi`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.domain.errors import InvalidInput, NotFound
from bot.domain.kpi import PERIOD_FORMS, AlertFigures, DealerKpi, NpsFigures, local_midnight, parse_period, zone
from bot.domain.values import Actor, Kind, Scope, Survey
from bot.services import Context, keys, kpi
from tests.conftest import Api
from tests.fakes.clock import FrozenClock
from tests.kpi_support import ADMIN, MID, build_october, first_half, october
from tests.slack_support import CAMILLA, METTE, NOBODY, SABINE, BRANDT, command

CPH = "Europe/Copenhagen"
METTE_USER = Actor.slack("T0AUTOVEST", METTE)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# ---- periods ------------------------------------------------------------------------------


def test_a_month_is_the_dealers_calendar_month_across_the_dst_change() -> None:
    w = parse_period("2026-10").window(CPH, utc(2026, 11, 23))
    assert (w.label, w.first_day, w.last_day) == ("2026-10", date(2026, 10, 1), date(2026, 10, 31))
    assert (w.start, w.end) == (utc(2026, 9, 30, 22), utc(2026, 10, 31, 23))  # CEST in, CET out
    assert w.end - w.start == timedelta(days=31, hours=1)  # the night of 25 October has 25 hours
    u = parse_period("2026-10").window("UTC", utc(2026, 11, 23))
    assert (u.start, u.end) == (utc(2026, 10, 1), utc(2026, 11, 1))


def test_a_week_across_the_spring_change_has_167_hours() -> None:
    w = parse_period("2026-W13").window(CPH, utc(2026, 11, 23))
    assert (w.first_day, w.last_day) == (date(2026, 3, 23), date(2026, 3, 29))
    assert (w.start, w.end) == (utc(2026, 3, 22, 23), utc(2026, 3, 29, 22))
    assert w.end - w.start == timedelta(hours=167)


def test_iso_week_53_exists_only_in_long_years() -> None:
    w = parse_period("2026-W53").window(CPH, utc(2026, 11, 23))
    assert (w.label, w.first_day, w.last_day) == ("2026-W53", date(2026, 12, 28), date(2027, 1, 3))
    assert parse_period("2020-w53").window("UTC", utc(2026, 1, 1)).first_day == date(2020, 12, 28)
    assert parse_period("2027-W01").window("UTC", utc(2026, 1, 1)).first_day == date(2027, 1, 4)
    with pytest.raises(ValueError, match="2025 has no ISO week 53"):
        parse_period("2025-W53")


def test_week_and_month_follow_the_clock_in_the_dealers_time_zone() -> None:
    sunday_night = utc(2026, 11, 1, 23, 30)  # Monday 00:30 in Copenhagen, still Sunday in UTC
    assert parse_period("week").window(CPH, sunday_night).label == "2026-W45"
    assert parse_period("week").window("UTC", sunday_night).label == "2026-W44"
    assert parse_period("month").window(CPH, sunday_night).label == "2026-11"
    assert parse_period(" Month ").window("UTC", utc(2026, 10, 31, 23, 30)).label == "2026-10"
    assert parse_period("month").window(CPH, utc(2026, 10, 31, 23, 30)).label == "2026-11"
    assert parse_period(None).window(CPH, sunday_night).label == "2026-11"  # the default: this month
    w = parse_period("week").window(CPH, utc(2026, 10, 28, 12))
    assert (w.first_day, w.last_day, w.start, w.end) == (date(2026, 10, 26), date(2026, 11, 1), utc(2026, 10, 25, 23), utc(2026, 11, 1, 23))


def test_a_day_range_includes_both_days() -> None:
    w = parse_period("2026-10-01..2026-10-31").window(CPH, utc(2026, 11, 23))
    assert (w.start, w.end, w.label) == (utc(2026, 9, 30, 22), utc(2026, 10, 31, 23), "2026-10-01..2026-10-31")
    one = parse_period("2026-10-25..2026-10-25").window(CPH, utc(2026, 11, 23))
    assert one.end - one.start == timedelta(hours=25)
    leap = parse_period("2028-02-28..2028-03-01").window("UTC", utc(2026, 1, 1))
    assert leap.end - leap.start == timedelta(days=3)


def test_a_skipped_midnight_starts_the_day_when_the_clocks_jump() -> None:
    # Chile moves its clocks from 24:00 to 01:00: 6 September 2026 has no midnight and 23 hours.
    santiago = zone("America/Santiago")
    assert local_midnight(date(2026, 9, 6), santiago) == utc(2026, 9, 6, 4)
    assert local_midnight(date(2026, 9, 6), santiago).astimezone(santiago).hour == 1
    w = parse_period("2026-09-06..2026-09-06").window("America/Santiago", utc(2026, 11, 23))
    assert w.end - w.start == timedelta(hours=23)


def test_an_unknown_time_zone_counts_as_utc() -> None:
    w = parse_period("2026-10").window("Mars/Olympus_Mons", utc(2026, 11, 23))
    assert (w.start, w.end) == (utc(2026, 10, 1), utc(2026, 11, 1))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("yesterday", ""),
        ("2026-13", "the month must be 01 to 12"),
        ("2026-00", "the month must be 01 to 12"),
        ("2026-W00", "2026 has no ISO week 0"),
        ("2026-W54", "2026 has no ISO week 54"),
        ("2026-W4", ""),
        ("2026-10-31..2026-10-01", "the last day is before the first"),
        ("2026-02-30..2026-03-01", "day is out of range"),
        ("2026-10-01..", ""),
        ("1969-12", "the year must be between"),
        ("2026/10", ""),
    ],
)
def test_a_bad_period_names_the_accepted_forms(text: str, why: str) -> None:
    with pytest.raises(ValueError) as e:
        parse_period(text)
    assert str(e.value).startswith(f"{text!r} is not a period")
    assert why in str(e.value) and str(e.value).endswith(PERIOD_FORMS)


# ---- figures against the hand-computed month ---------------------------------------------------


def figures(k: DealerKpi, kind: Kind | None = None) -> dict[str, Any]:
    f = k.total if kind is None else k.kinds[kind]
    return {
        "due": f.due, "on_time": f.on_time, "late": f.late, "pending": f.pending, "pct": f.on_time_pct,
        "escalated": f.escalated, "handled": f.handled, "avg_h": f.avg_handling_hours, "open": f.open, "overdue": f.overdue,
    }


def fig(due: int, on_time: int, late: int, pending: int, pct: float | None, escalated: int, handled: int, avg_h: float | None, open_: int, overdue: int) -> dict[str, Any]:
    return {
        "due": due, "on_time": on_time, "late": late, "pending": pending, "pct": pct,
        "escalated": escalated, "handled": handled, "avg_h": avg_h, "open": open_, "overdue": overdue,
    }


def nps(k: DealerKpi) -> tuple[int, int, int, float | None, float | None]:
    n = k.nps
    return n.answers, n.promoters, n.detractors, n.nps, n.average


async def by_code(cx: Context, period: str = "2026-10", actor: Actor = ADMIN, **kw: Any) -> dict[str, DealerKpi]:
    return {k.code: k for k in await kpi.kpi(cx, actor, None, period, **kw)}


@pytest.fixture
async def month(cx: Context, clock: FrozenClock, example_dealers: None) -> Any:
    return await october(cx, clock)


async def test_half_way_through_the_month_an_alert_not_yet_due_is_pending(cx: Context, clock: FrozenClock, example_dealers: None) -> None:
    await first_half(cx, clock)
    assert clock.now() == MID
    k = (await by_code(cx))["DK-1001"]
    # Hot Alerts due in October: f a b c e known (f a e on time; b late; c unhandled past due), d pending.
    assert figures(k, Kind.HOT_ALERT) == fig(5, 3, 2, 1, 60.0, 1, 5, 50.3, 3, 1)  # handled f g a b e: (47.5+96+24+72+12) / 5 h
    assert figures(k, Kind.SALES_OPPORTUNITY) == fig(1, 0, 1, 0, 0.0, 0, 1, 192.0, 1, 0)
    assert figures(k, Kind.DETRACTOR) == fig(0, 0, 0, 0, None, 0, 1, 6.0, 0, 0)  # no due time: never in the share
    assert figures(k) == fig(6, 3, 3, 1, 50.0, 1, 7, 64.2, 4, 1)  # 449.5 h / 7
    assert nps(k) == (6, 5, 1, 66.7, 7.8)  # a b c d e 9, DT 2: (5 − 1) / 6; 47 / 6


async def test_at_the_end_of_the_month_every_outcome_is_known(cx: Context, month: Any) -> None:
    ks = await by_code(cx)
    k = ks["DK-1001"]
    assert (k.window.start, k.window.end, k.window.label) == (utc(2026, 9, 30, 22), utc(2026, 10, 31, 23), "2026-10")
    # d became due (and was handled late on 1 November: late here, handled in November).
    assert figures(k, Kind.HOT_ALERT) == fig(6, 3, 3, 0, 50.0, 1, 5, 50.3, 3, 1)
    assert figures(k, Kind.SALES_OPPORTUNITY) == fig(1, 0, 1, 0, 0.0, 0, 1, 192.0, 1, 0)
    assert figures(k) == fig(7, 3, 4, 0, 42.9, 1, 7, 64.2, 4, 1)
    # + segment-1 NPS 8 at 31 Oct 23:30 local; the NPS 10 at 1 Nov 00:30 local is November's.
    assert nps(k) == (7, 5, 1, 57.1, 7.9)

    de = ks["DE-2001"]
    assert figures(de, Kind.HOT_ALERT) == fig(3, 2, 1, 0, 66.7, 0, 3, 100.0, 1, 0)  # (24 + 36 + 240) / 3
    assert figures(de, Kind.DETRACTOR) == fig(0, 0, 0, 0, None, 0, 0, None, 1, 0)
    assert figures(de) == fig(3, 2, 1, 0, 66.7, 0, 3, 100.0, 2, 0)
    assert nps(de) == (4, 3, 1, 50.0, 8.0)

    sp = ks["DK-5001"]
    assert sp.kinds == {} and sp.total == AlertFigures() and sp.total.on_time_pct is None
    assert nps(sp) == (1, 1, 0, 100.0, 10.0)
    assert list(ks) == ["DE-2001", "DK-1001", "DK-5001"]


async def test_the_dealers_time_zone_decides_what_falls_in_the_period(cx: Context, month: Any) -> None:
    """f (due 30 Sept 23:00Z, handled 22:30Z) is October's in Copenhagen; in UTC it would not be."""
    k = (await kpi.kpi(cx, ADMIN, "DK-1001", "2026-09-29..2026-09-30"))[0]
    assert (k.window.start, k.window.end) == (utc(2026, 9, 28, 22), utc(2026, 9, 30, 22))
    assert figures(k) == fig(1, 0, 1, 0, 0.0, 0, 0, None, 4, 1)  # only g (due 29 Sept 12:00Z, handled late)
    k = (await kpi.kpi(cx, ADMIN, "DK-1001", "2026-10-01..2026-10-01"))[0]
    assert (k.total.due, k.total.on_time, k.total.handled) == (1, 1, 2)  # f due and handled; g handled


async def test_a_week_and_the_current_month(cx: Context, month: Any) -> None:
    k = (await kpi.kpi(cx, ADMIN, "DK-1001", "2026-W44"))[0]  # 26 Oct – 1 Nov local
    assert figures(k) == fig(2, 1, 1, 0, 50.0, 0, 2, 41.0, 4, 1)  # d late, e on time; handled e 12 h, d 70 h
    assert nps(k) == (4, 3, 0, 75.0, 9.0)  # d e 9, segment-1 8, the NPS 10 of 1 Nov 00:30 local
    now = (await kpi.kpi(cx, ADMIN, "dk-1001", None))[0]  # this month: November
    assert now.window.label == "2026-11"
    assert figures(now) == fig(0, 0, 0, 0, None, 0, 1, 70.0, 4, 1)
    assert nps(now) == (1, 1, 0, 100.0, 10.0)


async def test_kind_survey_and_segment_narrow_the_figures(cx: Context, month: Any) -> None:
    hot = (await kpi.kpi(cx, ADMIN, "DK-1001", "2026-10", Kind.HOT_ALERT))[0]
    assert list(hot.kinds) == [Kind.HOT_ALERT] and figures(hot) == fig(6, 3, 3, 0, 50.0, 1, 5, 50.3, 3, 1)
    seg2 = await by_code(cx, segment=2)  # service answers for segment-2 cars, and the alerts they raised
    assert figures(seg2["DK-1001"]) == fig(1, 0, 1, 0, 0.0, 0, 1, 72.0, 0, 0)  # only b
    assert nps(seg2["DK-1001"]) == (1, 1, 0, 100.0, 9.0)
    assert nps(seg2["DK-5001"]) == (1, 1, 0, 100.0, 10.0) and seg2["DE-2001"].nps == NpsFigures()
    seg1 = await by_code(cx, segment=1)
    assert seg1["DK-1001"].total == AlertFigures() and nps(seg1["DK-1001"]) == (1, 0, 0, 0.0, 8.0)
    sales = await by_code(cx, survey=Survey.SALES)
    assert nps(sales["DK-1001"]) == (4, 4, 0, 100.0, 9.0)  # a c d e (f g in September, the 10 in November)
    assert figures(sales["DK-1001"]) == fig(5, 3, 2, 0, 60.0, 1, 4, 44.9, 3, 1)  # HA f a c d e; handled f g a e: 179.5 h / 4


async def test_a_user_sees_only_the_dealers_granted_to_them(cx: Context, month: Any) -> None:
    assert list(await by_code(cx, actor=METTE_USER)) == ["DK-1001"]
    with pytest.raises(NotFound, match="No dealer 'DE-2001' that you may see"):
        await kpi.kpi(cx, METTE_USER, "DE-2001", "2026-10")
    with pytest.raises(NotFound, match="No dealer 'XX-1' that you may see"):
        await kpi.kpi(cx, ADMIN, "XX-1", "2026-10")
    assert await kpi.kpi(cx, Actor.slack("T0AUTOVEST", NOBODY), None, "2026-10") == []


async def test_bad_input_is_refused_by_field(cx: Context, example_dealers: None) -> None:
    with pytest.raises(InvalidInput) as e:
        await kpi.kpi(cx, ADMIN, None, "last year")
    assert e.value.problems[0].field == "period" and PERIOD_FORMS in e.value.problems[0].message
    with pytest.raises(InvalidInput, match="segment: 4 is not a segment"):
        await kpi.kpi(cx, ADMIN, None, "month", segment=4)
    with pytest.raises(InvalidInput, match="segments are only known for service results"):
        await kpi.kpi(cx, ADMIN, None, "month", survey=Survey.SALES, segment=1)


# ---- the HTTP API ----------------------------------------------------------------------------


async def test_api_kpi_gives_every_figure_of_the_dealers_the_key_may_see(api: Api, cx: Context, month: Any) -> None:
    r = await api.get("/api/v1/kpi", params={"period": "2026-10"})
    assert r.status_code == 200, r.text
    items = {i["dealer_id"]: i for i in r.json()["items"]}
    assert list(items) == ["DE-2001", "DK-1001", "DK-5001"]
    dk = items["DK-1001"]
    assert dk["period"] == {
        "label": "2026-10", "first_day": "2026-10-01", "last_day": "2026-10-31", "time_zone": CPH,
        "start": "2026-09-30T22:00:00Z", "end": "2026-10-31T23:00:00Z",
    }
    assert dk["alerts"] == {
        "due": 7, "on_time": 3, "late": 4, "pending": 0, "on_time_pct": 42.9, "escalated": 1,
        "handled": 7, "avg_handling_hours": 64.2, "open": 4, "overdue": 1,
    }
    assert dk["kinds"]["hot_alert"]["on_time_pct"] == 50.0 and set(dk["kinds"]) == {"hot_alert", "sales_opportunity", "detractor"}
    assert dk["nps"] == {"nps": 57.1, "average": 7.9, "answers": 7, "promoters": 5, "detractors": 1}
    assert (dk["dealer_name"], dk["type"], dk["region"], dk["brand"]) == ("Autohuset Vest", "dealer", "Midtjylland", "Mazda")
    assert items["DK-5001"]["alerts"]["on_time_pct"] is None

    r = await api.get("/api/v1/kpi", params={"period": "2026-10", "dealer_id": "DE-2001", "kind": "hot_alert"})
    assert [i["dealer_id"] for i in r.json()["items"]] == ["DE-2001"]
    assert r.json()["items"][0]["alerts"]["avg_handling_hours"] == 100.0


async def test_api_kpi_with_a_dealer_scoped_key(api: Api, cx: Context, month: Any) -> None:
    _, key = await keys.create(cx, "brandt dashboard", Scope.READ, ["DE-2001"])
    r = await api.get("/api/v1/kpi", key=key, params={"period": "2026-10"})
    assert r.status_code == 200 and [i["dealer_id"] for i in r.json()["items"]] == ["DE-2001"]
    r = await api.get("/api/v1/kpi", key=key, params={"period": "2026-10", "dealer_id": "DK-1001"})
    assert r.status_code == 404 and r.json() == {"error": "No dealer 'DK-1001' that you may see."}
    _, intake_key = await keys.create(cx, "platform", Scope.INTAKE, None)
    assert (await api.get("/api/v1/kpi", key=intake_key)).status_code == 403
    assert (await api.get("/api/v1/kpi", key=None)).status_code == 401


async def test_api_kpi_refuses_a_bad_period_with_the_accepted_forms(api: Api, example_dealers: None) -> None:
    r = await api.get("/api/v1/kpi", params={"period": "2026-W99"})
    assert r.status_code == 422
    (problem,) = r.json()["errors"]
    assert problem["field"] == "period" and "2026 has no ISO week 99" in problem["message"] and PERIOD_FORMS in problem["message"]
    r = await api.get("/api/v1/kpi", params={"segment": "7"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "segment"


# ---- the command line ------------------------------------------------------------------------


def cli(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"CXBOT_DATABASE_URL": db_url}, catch_exceptions=False)


def test_report_kpi_as_json_and_as_a_table(db_url: str) -> None:
    build_october(db_url)
    r = cli(db_url, "report", "kpi", "--period", "2026-10", "--json")
    assert r.exit_code == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["dealer_id"] for x in rows] == ["DE-2001", "DK-1001", "DK-5001"]
    assert rows[1]["alerts"]["on_time_pct"] == 42.9 and rows[1]["alerts"]["due"] == 7 and rows[1]["nps"]["nps"] == 57.1

    r = cli(db_url, "report", "kpi", "--dealer", "DK-1001", "--period", "2026-10", "--kind", "hot_alert")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "DK-1001 Autohuset Vest — 2026-10 (2026-10-01 – 2026-10-31, Europe/Copenhagen)"
    assert lines[1].split() == ["KIND", "DUE", "ON", "TIME", "LATE", "PENDING", "ON", "TIME", "%", "HANDLED", "AVG", "H", "OPEN", "OVERDUE", "ESCALATED"]
    assert lines[2].split() == ["Hot", "Alert", "6", "3", "3", "0", "50.0", "5", "50.3", "3", "1", "1"]
    assert lines[3].split() == ["all", "kinds", "6", "3", "3", "0", "50.0", "5", "50.3", "3", "1", "1"]
    assert lines[4].strip() == "NPS 57.1 (average answer 7.9, 7 answers)"

    r = cli(db_url, "report", "kpi", "--period", "2026-14")
    assert r.exit_code == 1 and r.stderr == f"cxbot: period: '2026-14' is not a period: the month must be 01 to 12; use {PERIOD_FORMS}\n"
    r = cli(db_url, "report", "kpi", "--dealer", "NOPE-1")
    assert r.exit_code == 1 and r.stderr == "cxbot: No dealer 'NOPE-1' that you may see.\n"


# ---- /cx kpi ---------------------------------------------------------------------------------


@pytest.fixture
async def slack_month(bot: Any, clock: FrozenClock) -> Any:
    return await october(bot.cx, clock)


async def test_cx_kpi_shows_the_users_dealer(bot: Any, slack_month: Any) -> None:
    text = (await command(bot, "kpi 2026-10"))["text"]
    assert text.splitlines() == [
        "*Autohuset Vest* (DK-1001) — 2026-10 (01 Oct – 31 Oct 2026, Europe/Copenhagen)",
        "On time: *42.9%* (3 of 7 due; 4 late, 0 not yet due)",
        "First handling: 64.2 h on average (7 handled)",
        "Open now: 4 (1 overdue) · Escalated: 1",
        "NPS: 57.1 (average answer 7.9, 7 answers)",
        "On time by kind: Hot Alert 3/6 · Sales Opportunity 0/1",
    ]
    assert (await command(bot, "kpi DK-1001 2026-10"))["text"] == text
    week = (await command(bot, "KPI dk-1001 2026-w44"))["text"]
    assert "— 2026-W44 (26 Oct – 01 Nov 2026" in week and "On time: *50.0%* (1 of 2 due" in week
    default = (await command(bot, "kpi"))["text"]
    assert "— 2026-11 (01 Nov – 30 Nov 2026" in default and "NPS: 100.0 (average answer 10.0, 1 answer)" in default


async def test_cx_kpi_never_shows_another_dealer(bot: Any, slack_month: Any) -> None:
    text = (await command(bot, "kpi DE-2001 2026-10"))["text"]
    assert text == "No dealer 'DE-2001' that you may see."
    assert "Brandt" not in (await command(bot, "kpi 2026-10"))["text"]
    sabine = (await command(bot, "kpi 2026-10", team=BRANDT, user=SABINE))["text"]
    assert sabine.startswith("*Autohaus Brandt* (DE-2001)") and "On time: *66.7%* (2 of 3 due" in sabine
    camilla = (await command(bot, "kpi 2026-10", user=CAMILLA))["text"]  # regional; in this workspace
    assert "(DK-1001)" in camilla and "(DK-5001)" in camilla and "(DE-2001)" not in camilla
    assert (await command(bot, "kpi", user=NOBODY))["text"].startswith("You are not granted to any dealer")


@pytest.mark.parametrize("words", ["kpi 2026-13", "kpi DK-1001 2026-13", "kpi DK-1001 fortnight", "kpi 2025-W53"])
async def test_cx_kpi_answers_a_bad_period_in_one_line_with_the_forms(bot: Any, words: str) -> None:
    text = (await command(bot, words))["text"]
    assert "\n" not in text and "is not a period" in text and text.endswith(PERIOD_FORMS)


async def test_cx_kpi_with_an_unknown_word_mentions_the_periods(bot: Any) -> None:
    text = (await command(bot, "kpi fortnight"))["text"]
    assert "\n" not in text and text == f"No dealer 'fortnight' that you may see. Periods: {PERIOD_FORMS}."
    assert (await command(bot, "kpi a b c"))["text"].startswith("Usage: `/cx kpi [DEALER] [PERIOD]`")
