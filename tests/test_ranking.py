"""The ranking list: order, ties and dealers without a value; filters; who sees which rows; the
table, CSV and Excel reports from the command line and the HTTP API; and `/cx ranking`. Figures
come from the hand-computed month in tests/kpi_support.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from bot.domain.errors import InvalidInput
from bot.domain.kpi import (
    PERIOD_FORMS,
    RANK_COLUMNS,
    AlertFigures,
    DealerKpi,
    NpsFigures,
    RankingFilter,
    ResultFilter,
    Window,
    rank,
    rank_column,
)
from bot.domain.values import Actor, DealerType, Kind, Scope
from bot.services import Context, keys, kpi
from tests.conftest import Api
from tests.fakes.clock import FrozenClock
from tests.kpi_support import ADMIN, build_october, october
from tests.slack_support import BRANDT, CAMILLA, METTE, NOBODY, SABINE, command

METTE_USER = Actor.slack("T0AUTOVEST", METTE)
BOM = "\ufeff"

# ---- the rule, on made-up figures ---------------------------------------------------------------

_W = Window("2026-10", date(2026, 10, 1), date(2026, 10, 31), "UTC", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def dealer(code: str, due: int = 0, on_time: int = 0, open_: int = 0, handled: int = 0, hours: float = 0) -> DealerKpi:
    f = AlertFigures(due=due, on_time=on_time, open=open_, handled=handled, handling_seconds=hours * 3600)
    return DealerKpi(code, code, None, None, DealerType.DEALER, _W, f, {}, NpsFigures())


def order(rows: Any) -> list[tuple[int | None, str]]:
    return [(r.rank, r.kpi.code) for r in rows]


def test_best_first_ties_by_dealer_code_and_dealers_without_a_value_last() -> None:
    kpis = [dealer("C", 3, 2), dealer("A", 6, 4), dealer("B", 4, 4), dealer("E"), dealer("D", 2, 0)]
    # C and A both 66.7 % (2/3, 4/6): the code decides; E has nothing due, so no place.
    assert order(rank(kpis, rank_column("on_time_pct"))) == [(1, "B"), (2, "A"), (3, "C"), (4, "D"), (None, "E")]


def test_lower_is_better_for_handling_time_and_open_alerts() -> None:
    kpis = [dealer("A", handled=2, hours=10), dealer("B", handled=1, hours=3), dealer("C", open_=5), dealer("D", open_=1)]
    assert order(rank(kpis, rank_column("avg_handling_hours"))) == [(1, "B"), (2, "A"), (None, "C"), (None, "D")]
    assert order(rank(kpis, rank_column("open-alerts"))) == [(1, "A"), (2, "B"), (3, "D"), (4, "C")]  # zero open counts too


def test_the_columns_table() -> None:
    assert {name: (c.best_high, c.label) for name, c in RANK_COLUMNS.items()} == {
        "on_time_pct": (True, "On time %"),
        "nps": (True, "NPS"),
        "nps_avg": (True, "Average NPS answer"),
        "avg_handling_hours": (False, "Avg. hours to first handling"),
        "open_alerts": (False, "Open alerts"),
        "overdue_alerts": (False, "Overdue alerts"),
        "escalated": (False, "Escalated alerts"),
        "late": (False, "Late alerts"),
    }
    assert rank_column(None).name == "on_time_pct" and rank_column(" NPS ").name == "nps"
    with pytest.raises(ValueError, match="'speed' is not a ranking column; use one of on_time_pct, nps, nps_avg"):
        rank_column("speed")


# ---- the service on the hand-computed month ---------------------------------------------------


@pytest.fixture
async def month(cx: Context, clock: FrozenClock, example_dealers: None) -> Any:
    return await october(cx, clock)


async def ranked(cx: Context, column: str | None, actor: Actor = ADMIN, **filters: Any) -> list[tuple[int | None, str, Any]]:
    r = await kpi.ranking(cx, actor, column, "2026-10", RankingFilter(**filters))
    return [(row.rank, row.kpi.code, row.value) for row in r.rows]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("on_time_pct", [(1, "DE-2001", 66.7), (2, "DK-1001", 42.9), (None, "DK-5001", None)]),
        ("nps", [(1, "DK-5001", 100.0), (2, "DK-1001", 57.1), (3, "DE-2001", 50.0)]),
        ("nps_avg", [(1, "DK-5001", 10.0), (2, "DE-2001", 8.0), (3, "DK-1001", 7.9)]),
        ("avg_handling_hours", [(1, "DK-1001", 64.2), (2, "DE-2001", 100.0), (None, "DK-5001", None)]),
        ("open_alerts", [(1, "DK-5001", 0), (2, "DE-2001", 2), (3, "DK-1001", 4)]),
        ("overdue_alerts", [(1, "DE-2001", 0), (2, "DK-5001", 0), (3, "DK-1001", 1)]),
        ("escalated", [(1, "DE-2001", 0), (2, "DK-5001", 0), (3, "DK-1001", 1)]),
        ("late", [(1, "DK-5001", 0), (2, "DE-2001", 1), (3, "DK-1001", 4)]),
    ],
)
async def test_every_column_ranks_the_month(cx: Context, month: Any, column: str, expected: list[Any]) -> None:
    assert await ranked(cx, column) == expected


async def test_filters_by_type_region_brand_kind_and_segment(cx: Context, month: Any) -> None:
    assert await ranked(cx, None, type=DealerType.SERVICE_PARTNER) == [(None, "DK-5001", None)]
    assert [c for _, c, _ in await ranked(cx, None, type=DealerType.DEALER)] == ["DE-2001", "DK-1001"]
    assert await ranked(cx, None, region="midtjylland") == [(1, "DK-1001", 42.9)]
    assert len(await ranked(cx, None, brand="MAZDA")) == 3 and await ranked(cx, None, brand="Kia") == []
    assert await ranked(cx, "avg_handling_hours", kind=Kind.HOT_ALERT) == [(1, "DK-1001", 50.3), (2, "DE-2001", 100.0), (None, "DK-5001", None)]
    # Segment 2: service answers about segment-2 cars and the alerts they raised; the tie goes by code.
    seg2 = ResultFilter(segment=2)
    assert await ranked(cx, "nps", results=seg2) == [(1, "DK-1001", 100.0), (2, "DK-5001", 100.0), (None, "DE-2001", None)]
    assert await ranked(cx, "on_time_pct", results=seg2) == [(1, "DK-1001", 0.0), (None, "DE-2001", None), (None, "DK-5001", None)]


async def test_a_user_sees_their_own_dealers_place_among_all(cx: Context, month: Any) -> None:
    r = await kpi.ranking(cx, METTE_USER, None, "2026-10")
    assert [(row.rank, row.kpi.code) for row in r.rows] == [(2, "DK-1001")]
    assert (r.ranked, r.dealers, r.period, r.column.name) == (2, 3, "2026-10", "on_time_pct")
    assert (await kpi.ranking(cx, Actor.slack("T0AUTOVEST", NOBODY), "nps", "2026-10")).rows == []


async def test_a_bad_column_and_period_are_both_named(cx: Context, example_dealers: None) -> None:
    with pytest.raises(InvalidInput) as e:
        await kpi.ranking(cx, ADMIN, "speed", "soon")
    assert [p.field for p in e.value.problems] == ["column", "period"]
    with pytest.raises(InvalidInput, match="segment"):
        await kpi.ranking(cx, ADMIN, None, None, RankingFilter(results=ResultFilter(segment=0)))


# ---- reports from the command line -------------------------------------------------------------


def cli(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env={"CXBOT_DATABASE_URL": db_url}, catch_exceptions=False)


NPS_CSV = [
    ["Rank", "Dealer code", "Dealer name", "Region", "Type", "Alerts due", "On time %", "NPS"],
    ["1", "DK-5001", "Fyns Bilservice", "Syddanmark", "Service partner", "0", "", "100.0"],
    ["2", "DK-1001", "Autohuset Vest", "Midtjylland", "Dealer", "7", "42.9", "57.1"],
    ["3", "DE-2001", "Autohaus Brandt", "Nord", "Dealer", "3", "66.7", "50.0"],
]


def test_report_ranking_as_a_table_csv_and_xlsx(db_url: str, tmp_path: Path) -> None:
    build_october(db_url)
    r = cli(db_url, "report", "ranking", "--period", "2026-10")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Ranking by On time % — 2026-10 · 2 of 3 dealers ranked"
    assert lines[1].split() == ["RANK", "CODE", "NAME", "REGION", "TYPE", "DUE", "ON", "TIME", "%"]
    assert lines[2].split() == ["1", "DE-2001", "Autohaus", "Brandt", "Nord", "Dealer", "3", "66.7"]
    assert lines[4].split() == ["–", "DK-5001", "Fyns", "Bilservice", "Syddanmark", "Service", "partner", "0", "–"]

    r = cli(db_url, "report", "ranking", "--period", "2026-10", "--column", "avg_handling_hours", "--type", "dealer", "--region", "Nord")
    assert r.stdout.splitlines()[0] == "Ranking by Avg. hours to first handling — 2026-10 — type dealer, region Nord · 1 of 1 dealers ranked"
    assert r.stdout.splitlines()[2].split()[-2:] == ["100.0", "h"]

    r = cli(db_url, "report", "ranking", "--period", "2026-10", "--column", "nps", "--format", "csv")
    assert r.exit_code == 0 and list(csv.reader(io.StringIO(r.stdout))) == NPS_CSV
    out = tmp_path / "ranking.csv"
    r = cli(db_url, "report", "ranking", "--period", "2026-10", "--column", "nps", "--format", "csv", "--output", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr == f"3 of 3 dealers ranked by NPS, 2026-10: written to {out}\n"
    assert out.read_text(encoding="utf-8").startswith(BOM)  # Excel then reads "Ø" as Ø
    assert list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig")))) == NPS_CSV

    book = tmp_path / "ranking.xlsx"
    r = cli(db_url, "report", "ranking", "--period", "2026-10", "--column", "avg_handling_hours", "--format", "xlsx", "--output", str(book))
    assert r.exit_code == 0, r.stderr
    wb = load_workbook(book)
    assert wb.sheetnames == ["Ranking", "About"]
    ws = wb["Ranking"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows == [
        ["Rank", "Dealer code", "Dealer name", "Region", "Type", "Alerts due", "On time %", "Avg. hours to first handling"],
        [1, "DK-1001", "Autohuset Vest", "Midtjylland", "Dealer", 7, 0.429, 64.2],
        [2, "DE-2001", "Autohaus Brandt", "Nord", "Dealer", 3, 0.667, 100.0],
        [None, "DK-5001", "Fyns Bilservice", "Syddanmark", "Service partner", 0, None, None],
    ]
    assert all(c.font.bold for c in ws[1]) and not any(c.font.bold for c in ws[2])
    assert ws["G2"].number_format == "0.0%" and ws["H2"].number_format == "0.0" and ws["F2"].number_format == "0"
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H4"
    assert all(ws.column_dimensions[c].width >= len(str(ws[f"{c}1"].value)) for c in "ABCDEFGH")
    assert ws.column_dimensions["H"].width >= len("Avg. hours to first handling")
    about = {r[0]: r[1] for r in wb["About"].iter_rows(values_only=True)}
    assert about["Period"].startswith("2026-10") and about["Ranking by"].startswith("Avg. hours to first handling (lower is better")


def test_report_ranking_refuses_bad_options_in_one_line(db_url: str) -> None:
    r = cli(db_url, "report", "ranking", "--format", "xlsx")
    assert r.exit_code == 2 and "--format xlsx needs --output FILE.xlsx" in r.stderr
    r = cli(db_url, "report", "ranking", "--column", "speed")
    assert r.exit_code == 1 and r.stderr.startswith("cxbot: column: 'speed' is not a ranking column; use one of on_time_pct, nps")
    r = cli(db_url, "report", "ranking", "--period", "Q4")
    assert r.exit_code == 1 and r.stderr == f"cxbot: period: 'Q4' is not a period; use {PERIOD_FORMS}\n"


# ---- the HTTP API ----------------------------------------------------------------------------

CSV_URL = "/api/v1/reports/ranking.csv"


async def test_api_ranking_csv_is_a_download(api: Api, month: Any) -> None:
    r = await api.get(CSV_URL, params={"column": "nps", "period": "2026-10"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="ranking-nps-2026-10.csv"'
    assert r.content.startswith(BOM.encode())
    assert list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")))) == NPS_CSV

    r = await api.get(CSV_URL, params={"period": "2026-10", "type": "service_partner"})
    assert list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:] == [["", "DK-5001", "Fyns Bilservice", "Syddanmark", "Service partner", "0", ""]]
    r = await api.get(CSV_URL, params={"column": "nps", "period": "2026-10", "segment": "2", "region": "MIDTJYLLAND", "brand": "mazda"})
    assert list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1:] == [["1", "DK-1001", "Autohuset Vest", "Midtjylland", "Dealer", "1", "0.0", "100.0"]]


async def test_api_ranking_with_a_dealer_scoped_key_shows_only_its_row(api: Api, cx: Context, month: Any) -> None:
    _, key = await keys.create(cx, "vest dashboard", Scope.READ, ["DK-1001"])
    r = await api.get(CSV_URL, key=key, params={"column": "nps", "period": "2026-10"})
    assert r.status_code == 200
    assert list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")))) == [NPS_CSV[0], NPS_CSV[2]]  # place 2 of all three
    _, intake_key = await keys.create(cx, "platform", Scope.INTAKE, None)
    assert (await api.get(CSV_URL, key=intake_key)).status_code == 403
    assert (await api.get(CSV_URL, key=None)).status_code == 401


async def test_api_ranking_refuses_a_bad_column_period_or_type(api: Api, example_dealers: None) -> None:
    r = await api.get(CSV_URL, params={"column": "speed", "period": "Q4"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["column", "period"]
    assert "use one of on_time_pct" in r.json()["errors"][0]["message"]
    assert (await api.get(CSV_URL, params={"type": "garage"})).status_code == 422


async def test_api_ranking_xlsx_opens_in_openpyxl(api: Api, month: Any) -> None:
    r = await api.get("/api/v1/reports/ranking.xlsx", params={"period": "2026-10"})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="ranking-on-time-pct-2026-10.xlsx"'
    ws = load_workbook(io.BytesIO(r.content))["Ranking"]
    assert [c.value for c in ws[2]] == [1, "DE-2001", "Autohaus Brandt", "Nord", "Dealer", 3, 0.667]


# ---- /cx ranking -----------------------------------------------------------------------------


@pytest.fixture
async def slack_month(bot: Any, clock: FrozenClock) -> Any:
    return await october(bot.cx, clock)


async def test_cx_ranking_shows_the_users_dealers_with_their_place_among_all(bot: Any, slack_month: Any) -> None:
    assert (await command(bot, "ranking 2026-10"))["text"].splitlines() == [
        "*Ranking by On time %* — 2026-10 · places among all 2 ranked dealers",
        "2. *Autohuset Vest* (DK-1001) — on time 42.9% of 7 due",
    ]
    assert (await command(bot, "ranking nps 2026-10"))["text"].splitlines()[1:] == [
        "2. *Autohuset Vest* (DK-1001) — on time 42.9% of 7 due · NPS: 57.1",
    ]
    assert (await command(bot, "Ranking 2026-10 avg-handling-hours"))["text"].splitlines()[1].endswith("· Avg. hours to first handling: 64.2 h")
    sabine = (await command(bot, "ranking 2026-10", team=BRANDT, user=SABINE))["text"]
    assert sabine.splitlines()[1:] == ["1. *Autohaus Brandt* (DE-2001) — on time 66.7% of 3 due"]
    camilla = (await command(bot, "ranking open_alerts 2026-10", user=CAMILLA))["text"]
    assert camilla.splitlines()[1:] == [
        "1. *Fyns Bilservice* (DK-5001) — on time – of 0 due · Open alerts: 0",
        "3. *Autohuset Vest* (DK-1001) — on time 42.9% of 7 due · Open alerts: 4",
    ]
    assert (await command(bot, "ranking", user=NOBODY))["text"].endswith("None of your dealers is in it.")


@pytest.mark.parametrize("words", ["ranking speed", "ranking nps fast", "ranking speed 2026-10"])
async def test_cx_ranking_answers_a_bad_column_in_one_line(bot: Any, words: str) -> None:
    text = (await command(bot, words))["text"]
    assert "\n" not in text and "is not a ranking column; use one of `on_time_pct`, `nps`" in text and PERIOD_FORMS in text


@pytest.mark.parametrize("words", ["ranking 2026-13", "ranking nps 2025-W53"])
async def test_cx_ranking_answers_a_bad_period_in_one_line(bot: Any, words: str) -> None:
    text = (await command(bot, words))["text"]
    assert "\n" not in text and "is not a period" in text and text.endswith(PERIOD_FORMS)


async def test_help_lists_kpi_and_ranking(bot: Any) -> None:
    text = (await command(bot, "help"))["text"]
    assert "`/cx kpi [DEALER]" in text and "`/cx ranking [COLUMN] [PERIOD]`" in text
