"""The communication list (issue 8, part 2): GET /api/v1/invitations with its filters, paging,
counts per status and CSV download; `cxbot invitations list`; `/cx invitations` in Slack. Anonymous
customers show as "Anonymous" with no name, email or date everywhere."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain.invitations import InvitationFilter, InvitationStatus
from bot.domain.values import Scope
from bot.services import Context, dealers, keys
from handlers.dealer_file import parse_toml
from storage.database import Database
from storage.repositories.invitations import SentWindow
from tests.conftest import Api, response
from tests.slack_support import BRANDT, NOBODY, SABINE, command
from tests.test_cli import DEALERS_TOML, _keep_log_config, cli, lines, ok, write  # noqa: F401 - the autouse fixture too
from tests.test_migrations import assert_index_lookup, plan

URL = "/api/v1/invitations"
QUEENS = """
[[dealers]]
code = "US-3001"
name = "Mazda of Queens"
time_zone = "America/New_York"
language = "en"
"""


def inv(id_: str, customer: dict[str, Any], dealer: str = "DK-1001", **over: Any) -> dict[str, Any]:
    return {"id": id_, "survey": "sales", "dealer_id": dealer, "customer": customer, "language": "da", **over}


# Seven invitations: names with capitals outside ASCII, a sent time near midnight on two clocks,
# a name written to be a formula and a Slack mention, and a customer who answers anonymously.
INVITATIONS = [
    inv("v-1", {"id": "K-1", "name": "Lars Østergaard", "email": "lars@example.dk"}, purchase_date="2026-10-01",
        status="sent", status_at="2026-10-31T23:30:00Z"),  # 1 November, 00:30 in Copenhagen
    inv("v-2", {"id": "K-2", "name": "Anne Sørensen", "email": "Anne.S@Example.net"}, survey="service", service_date="2026-10-15",
        status="clicked", sent_at="2026-10-31T22:59:00Z", status_at="2026-11-01T12:00:00Z"),  # sent 31 October, 23:59
    inv("v-3", {"id": "K-3", "name": "Bo Berg", "email": "bo@example.net"}, purchase_date="2026-10-31", questionnaire="CEMI Sales"),
    inv("v-4", {"id": "K-4", "name": "=1+1 <!channel> *Eve*", "email": "eve@example.net"}, purchase_date="2026-10-16",
        status="failed", status_at="2026-11-01T08:00:00Z"),
    inv("v-5", {"id": "K-5", "name": "Carl Hemmelig", "email": "carl@example.net"}, purchase_date="2026-10-02", status="sent",
        status_at="2026-10-20T10:00:00Z"),
    inv("v-6", {"id": "K-6", "name": "Jürgen Weiß", "email": "jw@example.de"}, dealer="DE-2001", purchase_date="2026-10-01",
        language="de", status="sent", status_at="2026-11-01T03:00:00Z"),
    inv("v-7", {"id": "Q-7", "name": "Mary Lou", "email": "mary@example.com"}, dealer="US-3001", survey="lost_sales",
        purchase_date="2026-10-05", language="en", status="sent", status_at="2026-11-01T03:00:00Z"),  # 31 October, 23:00 in New York
]


async def load(api: Any) -> None:
    """The example dealers plus one in New York, the invitations, and Carl's anonymous answer."""
    await dealers.load(api.cx, parse_toml(QUEENS))
    for i, body in enumerate(INVITATIONS):
        api.cx.clock.advance(minutes=1)  # recorded one after another: v-7 is the newest
        r = await api.post(URL, body)
        assert r.status_code == 202, r.text
    r = await api.post("/api/v1/responses", response("r-5", customer={"id": "K-5"}, anonymous=True, invitation_id="v-5"))
    assert r.status_code == 202, r.text


@pytest.fixture
async def api(api: Api, example_dealers: None) -> AsyncIterator[Api]:
    await load(api)
    yield api


async def listed(api: Api, key: str | None = None, **params: Any) -> dict[str, Any]:
    r = await api.get(URL, params=params, **({"key": key} if key else {}))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def ids(api: Api, **params: Any) -> list[str]:
    return [i["id"] for i in (await listed(api, limit=500, **params))["items"]]


# ---- filters ------------------------------------------------------------------------------------


FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["v-7", "v-6", "v-5", "v-4", "v-3", "v-2", "v-1"]),  # newest first
    ({"dealer_id": "DK-1001"}, ["v-5", "v-4", "v-3", "v-2", "v-1"]),
    ({"status": "sent"}, ["v-7", "v-6", "v-1"]),
    ({"status": "submitted"}, ["v-5"]),
    ({"survey": "service"}, ["v-2"]),
    # free text: any case, letters outside ASCII too, over name, email and customer id
    ({"q": "østergaard"}, ["v-1"]),
    ({"q": "ØSTERGAARD"}, ["v-1"]),
    ({"q": "WEISS"}, []),  # lower case on both databases, not transliteration: ß is not ss
    ({"q": "weiß"}, ["v-6"]),
    ({"q": "anne.s@example.NET"}, ["v-2"]),
    ({"q": "k-3"}, ["v-3"]),
    ({"q": "Q-"}, ["v-7"]),
    ({"q": "%"}, []),  # a LIKE wildcard is a plain character
    ({"q": "hemmelig"}, []),  # an anonymous customer's name is gone
    ({"q": "K-5"}, ["v-5"]),  # their customer id is not
    ({"q": "  bo  "}, ["v-3"]),
    # purchase or service date, inclusive at both ends; an anonymous customer's date is gone
    ({"from": "2026-10-01", "to": "2026-10-15"}, ["v-7", "v-6", "v-2", "v-1"]),
    ({"date_field": "purchase", "from": "2026-10-16"}, ["v-4", "v-3"]),
    ({"to": "2026-09-30"}, []),
    ({"from": "2026-10-02", "to": "2026-10-02"}, []),
    # the day the message was sent, on the dealer's clock
    ({"date_field": "sent", "from": "2026-11-01", "to": "2026-11-01"}, ["v-6", "v-1"]),
    ({"date_field": "sent", "from": "2026-10-31", "to": "2026-10-31"}, ["v-7", "v-2"]),
    ({"date_field": "sent", "to": "2026-10-30"}, ["v-5"]),
    ({"date_field": "sent"}, ["v-7", "v-6", "v-5", "v-4", "v-3", "v-2", "v-1"]),  # no days: no date filter
    # together
    ({"dealer_id": "DK-1001", "date_field": "sent", "from": "2026-10-31", "status": "clicked", "q": "ANNE"}, ["v-2"]),
    ({"dealer_id": "DK-1001", "date_field": "sent", "from": "2026-11-01", "status": "clicked"}, []),
]


async def test_the_list_filters(api: Api) -> None:
    for params, expected in FILTERS:
        assert await ids(api, **params) == expected, params


async def test_an_item_shows_what_the_seed_lists_and_an_anonymous_customer_shows_none_of_it(api: Api) -> None:
    items = {i["id"]: i for i in (await listed(api))["items"]}
    assert items["v-2"] == {
        "id": "v-2", "dealer_id": "DK-1001", "survey": "service", "questionnaire": None, "language": "da", "customer_id": "K-2",
        "name": "Anne Sørensen", "email": "Anne.S@Example.net", "anonymous": False, "purchase_date": "2026-10-15",
        "status": "clicked", "status_label": "Clicked, not submitted", "status_at": "2026-11-01T12:00:00Z",
        "recorded_at": "2026-11-02T09:02:00Z", "sent_at": "2026-10-31T22:59:00Z", "failed_at": None,
        "clicked_at": "2026-11-01T12:00:00Z", "submitted_at": None, "not_sent_reason": None,  # it was sent
    }
    carl = items["v-5"]
    assert (carl["name"], carl["email"], carl["purchase_date"], carl["anonymous"]) == ("Anonymous", None, None, True)
    assert (carl["customer_id"], carl["status"], carl["submitted_at"]) == ("K-5", "submitted", "2026-11-01T09:00:00Z")


async def test_counts_cover_the_whole_filtered_set_and_pages_walk_it_once(api: Api) -> None:
    first = await listed(api, limit=2, dealer_id="DK-1001")
    assert first["total"] == 5
    assert first["counts"] == {"not_sent": 1, "sent": 1, "failed": 1, "clicked": 1, "submitted": 1}
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = await listed(api, limit=2, dealer_id="DK-1001", cursor=cursor)
        assert page["counts"] == first["counts"]  # every page tells the whole set
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["v-5", "v-4", "v-3", "v-2", "v-1"]

    sent = await listed(api, status="sent", limit=1)
    # The counts ignore the status filter (tabs per status); the total is what matches all of them.
    assert sent["total"] == 3 and sent["counts"]["sent"] == 3 and sent["counts"]["not_sent"] == 1
    assert len(sent["items"]) == 1 and sent["next_cursor"]

    assert (await listed(api, q="nobody-like-this"))["counts"] == {s.value: 0 for s in InvitationStatus}


async def test_bad_filters_are_named_and_answer_nothing_else(api: Api) -> None:
    cases = [
        ({"from": "2026-10-31", "to": "2026-10-01"}, "from"),
        ({"from": "31.10.2026"}, "from"),
        ({"date_field": "clicked"}, "date_field"),
        ({"status": "opened"}, "status"),
        ({"survey": "marketing"}, "survey"),
        ({"limit": 0}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"q": "x" * 201}, "q"),
        ({"dealer_id": "XX-9"}, "dealer_id"),
    ]
    for params, field in cases:
        r = await api.get(URL, params=params)
        assert r.status_code == 422, (params, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], (params, r.json())
    r = await api.get(URL, params={"from": "2026-10-31", "to": "2026-10-01"})
    assert r.json()["errors"][0]["message"] == "2026-10-31 is after to (2026-10-01)"


async def test_a_dealer_limited_key_sees_only_its_dealers(api: Api, cx: Context) -> None:
    _, vest = await keys.create(cx, "vest", Scope.READ, ["DK-1001"])
    _, intake_key = await keys.create(cx, "platform", Scope.INTAKE, None)
    assert [i["dealer_id"] for i in (await listed(api, key=vest))["items"]] == ["DK-1001"] * 5
    assert (await listed(api, key=vest))["total"] == 5
    r = await api.get(URL, params={"dealer_id": "DE-2001"}, key=vest)
    assert r.status_code == 403 and "DE-2001" in r.json()["error"]
    assert (await api.get(f"{URL}/v-6", key=vest)).status_code == 404
    assert (await api.get(f"{URL}.csv", key=vest)).text.count("DE-2001") == 0
    assert (await api.get(URL, key=intake_key)).status_code == 403
    assert (await api.get(URL, key=None)).status_code == 401


# ---- CSV ------------------------------------------------------------------------------------------


def rows_of(r: Any) -> list[list[str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="invitations-2026-11-02.csv"'
    assert r.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    return list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))


async def test_the_csv_download_three_ways_holds_every_matching_row(api: Api) -> None:
    by_format = rows_of(await api.get(URL, params={"format": "csv", "dealer_id": "DK-1001", "limit": 1}))
    by_accept = rows_of(await api.client.get(URL, params={"dealer_id": "DK-1001"}, headers={**api.auth(), "Accept": "text/csv"}))
    by_path = rows_of(await api.get(f"{URL}.csv", params={"dealer_id": "DK-1001"}))
    assert by_format == by_accept == by_path
    header, *rows = by_path
    assert header[:10] == ["Invitation ID", "Dealer", "Survey", "Questionnaire", "Language", "Customer ID", "Name", "Email", "Purchase or service date", "Status"]
    assert [r[0] for r in rows] == ["v-5", "v-4", "v-3", "v-2", "v-1"]  # every row, not one page
    table = {r[0]: dict(zip(header, r)) for r in rows}
    assert (table["v-5"]["Name"], table["v-5"]["Email"], table["v-5"]["Purchase or service date"]) == ("Anonymous", "", "")
    assert table["v-4"]["Name"] == "'=1+1 <!channel> *Eve*"  # not a formula in a spreadsheet
    assert (table["v-1"]["Name"], table["v-1"]["Status"], table["v-1"]["Sent"]) == ("Lars Østergaard", "Sent", "2026-10-31T23:30:00Z")
    assert table["v-3"]["Questionnaire"] == "CEMI Sales"

    assert rows_of(await api.get(f"{URL}.csv", params={"q": "nobody-like-this"})) == [header]
    assert (await api.get(f"{URL}.csv", params={"from": "2026-10-31", "to": "2026-10-01"})).status_code == 422
    # JSON stays the default for a client that takes both
    r = await api.client.get(URL, headers={**api.auth(), "Accept": "application/json, text/csv"})
    assert r.headers["content-type"] == "application/json"


async def test_the_csv_download_streams_a_list_longer_than_a_batch(api: Api) -> None:
    many = [inv(f"m-{i:04d}", {"id": f"M-{i}", "name": f"Kunde {i}"}, dealer="DK-5001") for i in range(1203)]
    for part in range(0, len(many), 1000):
        assert (await api.post(URL, {"invitations": many[part : part + 1000]})).status_code == 202
    rows = rows_of(await api.get(f"{URL}.csv", params={"dealer_id": "DK-5001"}))[1:]
    assert len(rows) == 1203 and len({r[0] for r in rows}) == 1203


# ---- the command line -----------------------------------------------------------------------------


@pytest.fixture
def loaded_db(db_url: str, tmp_path: Path) -> str:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    header = "id,survey,dealer_id,customer.id,customer.name,customer.email,purchase_date,language,status,status_at\n"
    rows = (
        "c-1,sales,DK-1001,K-1,Lars Østergaard,lars@example.dk,2026-10-01,da,sent,2026-10-31T23:30:00Z\n"
        "c-2,sales,DK-1001,K-2,Anne Sørensen,anne@example.net,2026-10-20,da,clicked,2026-11-01T12:00:00Z\n"
        "c-3,service,DE-2001,K-3,Jürgen Weiß,jw@example.de,2026-10-01,de,not_sent,\n"
    )
    ok(db_url, "import", "invitations", str(write(tmp_path / "inv.csv", header + rows)))
    return db_url


def test_cli_lists_with_the_same_filters_as_a_table_csv_and_json(loaded_db: str, tmp_path: Path) -> None:
    out = lines(ok(loaded_db, "invitations", "list").stdout)
    assert out[0] == "3 invitations (not_sent 1 · sent 1 · failed 0 · clicked 1 · submitted 0)"
    assert out[1].split()[:4] == ["INVITATION", "DEALER", "SURVEY", "CUSTOMER"]
    assert [line.split()[0] for line in out[2:]] == ["c-3", "c-2", "c-1"]

    out = lines(ok(loaded_db, "invitations", "list", "--dealer", "DK-1001", "-q", "ØSTER").stdout)
    assert [line.split()[0] for line in out[2:]] == ["c-1"] and "Lars Østergaard" in out[2]
    out = lines(ok(loaded_db, "invitations", "list", "--date-field", "sent", "--from", "2026-11-01", "--to", "2026-11-01").stdout)
    assert [line.split()[0] for line in out[2:]] == ["c-1"]  # 00:30 in Copenhagen
    out = lines(ok(loaded_db, "invitations", "list", "--from", "2026-10-02", "--status", "clicked").stdout)
    assert out[0].startswith("1 invitation (") and out[2].split()[0] == "c-2"
    out = lines(ok(loaded_db, "invitations", "list", "--limit", "1").stdout)
    assert len(out) == 4 and out[-1].startswith("…and 2 more")

    rows = list(csv.reader(io.StringIO(ok(loaded_db, "invitations", "list", "--format", "csv", "--survey", "sales").stdout)))
    assert rows[0][0] == "Invitation ID" and [r[0] for r in rows[1:]] == ["c-2", "c-1"]
    items = [json.loads(line) for line in lines(ok(loaded_db, "invitations", "list", "--format", "json").stdout)]
    assert [(i["id"], i["status"]) for i in items] == [("c-3", "not_sent"), ("c-2", "clicked"), ("c-1", "sent")]
    assert items[2]["sent_at"] == "2026-10-31T23:30:00Z"

    target = tmp_path / "list.csv"
    r = ok(loaded_db, "invitations", "list", "--format", "csv", "--output", str(target))
    assert target.read_bytes().startswith("\ufeff".encode()) and "3 invitations written to" in r.stderr


def test_cli_refuses_bad_filters_in_one_line(loaded_db: str) -> None:
    r = cli(loaded_db, "invitations", "list", "--from", "2026-11-02", "--to", "2026-11-01")
    assert r.exit_code == 1 and lines(r.stderr)[-1] == "cxbot: from: 2026-11-02 is after to (2026-11-01)"
    r = cli(loaded_db, "invitations", "list", "--dealer", "XX-9")
    assert r.exit_code == 1 and lines(r.stderr)[-1] == "cxbot: dealer_id: unknown dealer 'XX-9'"
    r = cli(loaded_db, "invitations", "list", "--from", "1 Nov")
    assert r.exit_code == 2 and "--from" in r.stderr
    r = cli(loaded_db, "invitations", "list", "--status", "opened")
    assert r.exit_code == 2 and "--status" in r.stderr


# ---- Slack ----------------------------------------------------------------------------------------


@pytest.fixture
async def slackbot(bot: Any) -> Any:
    await load(bot)
    return bot


async def test_slack_lists_the_users_dealers_invitations(slackbot: Any) -> None:
    text = (await command(slackbot, "invitations"))["text"]
    assert text.startswith("*Invitations*: 5 (not sent 1 · sent 1 · failed to deliver 1 · clicked, not submitted 1 · submitted 1)")
    listed_ids = [line.split("`")[1] for line in text.splitlines()[1:]]
    assert listed_ids == ["v-5", "v-4", "v-3", "v-2", "v-1"]  # Mette's dealer only: not v-6 (DE-2001) nor v-7
    assert "Jürgen" not in text and "Mary" not in text
    carl = next(line for line in text.splitlines() if "`v-5`" in line)
    assert "Anonymous" in carl and "Hemmelig" not in carl and "carl@" not in carl and "2026-10-02" not in carl
    eve = next(line for line in text.splitlines() if "`v-4`" in line)
    assert "<!channel>" not in eve and "&lt;!channel&gt;" in eve and "*Eve*" not in eve  # customer text cannot mention or format
    assert "*Failed to deliver*" in eve

    brandt = (await command(slackbot, "invitations", team=BRANDT, user=SABINE))["text"]
    assert [line.split("`")[1] for line in brandt.splitlines()[1:]] == ["v-6"]


async def test_slack_filters_by_status_and_text(slackbot: Any) -> None:
    text = (await command(slackbot, "invitations sent"))["text"]
    assert text.startswith("*Invitations* *sent*: 1") and "`v-1`" in text and "`v-2`" not in text
    text = (await command(slackbot, "invitations not sent"))["text"]
    assert text.splitlines()[1].startswith("• `v-3`")
    text = (await command(slackbot, "invitations clicked anne"))["text"]
    assert [line.split("`")[1] for line in text.splitlines()[1:]] == ["v-2"]
    text = (await command(slackbot, "invitations ØSTERGAARD"))["text"]
    assert [line.split("`")[1] for line in text.splitlines()[1:]] == ["v-1"]
    text = (await command(slackbot, "invitations submitted <!here>"))["text"]
    assert text == "No *submitted* invitations matching “&lt;!here&gt;” for your dealers."
    assert (await command(slackbot, "invitations", user=NOBODY))["text"] == "No invitations for your dealers."
    assert "/cx invitations" in (await command(slackbot, "help"))["text"]


# ---- a million invitations: the list's questions are index look-ups --------------------------------


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "plans.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    yield db
    await db.close()


async def test_the_lists_questions_use_their_indexes_on_sqlite(sqlite_db: Database) -> None:
    """The statements the repository really sends, for one dealer: by date, status, purchase date, sent day."""
    from datetime import UTC, date, datetime

    from sqlalchemy import event

    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sent.append((statement, parameters))

    event.listen(sqlite_db.reader.sync_engine, "before_cursor_execute", record)
    vest = frozenset({"DK-1001"})
    window = [SentWindow(("DK-1001",), datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 1, 23, tzinfo=UTC))]
    async with sqlite_db.read() as tx:
        await tx.invitations.find(InvitationFilter(vest), 51)
        await tx.invitations.find(InvitationFilter(vest, status=InvitationStatus.SENT), 51)
        await tx.invitations.find(InvitationFilter(vest, date_from=date(2026, 10, 1), date_to=date(2026, 10, 31)), 51)
        await tx.invitations.find(InvitationFilter(vest, date_field="sent", date_from=date(2026, 11, 1)), 51, sent=window)
        await tx.invitations.counts(InvitationFilter(vest))
        await tx.invitations.find(InvitationFilter(), 51)
    event.remove(sqlite_db.reader.sync_engine, "before_cursor_execute", record)

    selects = [(s, p) for s, p in sent if s.lstrip().upper().startswith("SELECT")]
    newest, by_status, by_purchase, by_sent, counts, everyone = selects
    assert_index_lookup(await plan(sqlite_db, *newest), "invitations", "ix_invitations_dealer_created")
    assert_index_lookup(await plan(sqlite_db, *by_status), "invitations", "ix_invitations_dealer_status_created")
    assert_index_lookup(await plan(sqlite_db, *by_purchase), "invitations", "ix_invitations_dealer_purchase")
    assert_index_lookup(await plan(sqlite_db, *by_sent), "invitations", "ix_invitations_dealer_sent")
    assert await plan(sqlite_db, *counts) == ["SEARCH invitations USING COVERING INDEX ix_invitations_dealer_status_created (dealer_code=?)"]
    steps = await plan(sqlite_db, *everyone)
    assert any("ix_invitations_created" in s for s in steps) and not any("TEMP B-TREE" in s for s in steps), steps
