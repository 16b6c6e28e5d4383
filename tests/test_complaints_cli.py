"""`cxbot complaints add` and `cxbot complaints export` as an operator runs them (click's runner in
this process, on SQLite and PostgreSQL): a pasted mail from standard input or a file, wrong options
named, and the handling record as text, JSON and CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result
from sqlalchemy import text

from bot.cli import main
from storage.database import Database

DEALERS_TOML = Path(str(resources.files("bot").joinpath("examples"))) / "dealers.toml"
MAIL = "Fra: Anne Sørensen <anne@example.net>\r\nEmne: Støj\r\n\r\nHej,\r\nbilen larmer stadig.\r\n\r\n  Venlig hilsen\r\n  Anne\r\n"
RECEIVED = "2026-11-02T09:30:00+01:00"


@pytest.fixture(autouse=True)
def _keep_log_config() -> Iterator[None]:
    """Each command points structlog at the runner's stderr; later tests must not inherit it."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def cli(db_url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env={"CXBOT_DATABASE_URL": db_url}, input=input, catch_exceptions=False)


def ok(db_url: str, *args: str, input: str | None = None) -> Result:
    r = cli(db_url, *args, input=input)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r


def query(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        db = Database(db_url)
        try:
            async with db.read() as tx:
                return [tuple(r) for r in (await tx.conn.execute(text(sql))).all()]
        finally:
            await db.close()

    return asyncio.run(go())


@pytest.fixture
def dealers(db_url: str) -> str:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    return db_url


def add(db_url: str, *extra: str, input: str | None = None) -> Result:
    base = ["complaints", "add", "--dealer", "DK-1001", "--customer", "K-77", "--name", "Anne Sørensen", "--email", "anne@example.net",
            "--channel", "email", "--received-at", RECEIVED]
    return ok(db_url, *base, *extra, input=input)


def test_a_pasted_mail_from_standard_input_is_the_first_note(dealers: str) -> None:
    r = add(dealers, "--description-file", "-", "--registered-by", "Mette.Kjaer@autohuset-vest.example", input=MAIL)
    assert re.fullmatch(r"CO-1 registered for DK-1001, due \d{4}-\d\d-\d\d \d\d:\d\d UTC\n", r.stdout), r.stdout
    notes = query(dealers, "SELECT event, channel, note FROM alert_history WHERE alert_id = 'CO-1' ORDER BY id")
    assert notes[0][:2] == ("created", "cli") and "received by email on 2026-11-02 08:30 UTC; registered by Mette Kjær." in notes[0][2]
    assert notes[1] == ("comment", "cli", MAIL.replace("\r\n", "\n").strip())  # its lines and indents kept
    (row,) = query(dealers, "SELECT kind, status, customer_id FROM alerts")
    assert row == ("complaint", "new", "K-77")
    assert query(dealers, "SELECT registered_by, received_via, customer_email FROM complaints") == [("Mette Kjær", "email", "anne@example.net")]
    # The outbox holds the card and the route's mail for `cxbot serve` to send.
    assert sorted(a for (a,) in query(dealers, "SELECT action FROM outbox WHERE alert_id = 'CO-1'")) == ["mail.alert", "slack.card"]


def test_the_description_from_a_file_or_the_command_line(dealers: str, tmp_path: Path) -> None:
    path = tmp_path / "mail.txt"
    path.write_text("Klage modtaget per brev.\n", encoding="utf-8")
    add(dealers, "--description-file", str(path))
    r = add(dealers, "--description", "Ringede: bilen larmer.", "--json")
    assert json.loads(r.stdout)["id"] == "CO-2" and json.loads(r.stdout)["kind"] == "complaint"
    assert query(dealers, "SELECT note FROM alert_history WHERE event = 'comment' ORDER BY id") == [("Klage modtaget per brev.",), ("Ringede: bilen larmer.",)]


def test_wrong_options_are_named_and_nothing_is_stored(dealers: str) -> None:
    r = cli(dealers, "complaints", "add", "--dealer", "DK-1001", "--channel", "fax", "--email", "anne", "--received-at", "2026-11-02 09:30")
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        "cxbot: --customer: is required",
        "cxbot: --email: is not an email address",
        "cxbot: --description: is required",
        "cxbot: --channel: 'fax' is not one of phone, email, in_person, letter, other",
        "cxbot: --received-at: needs a UTC offset, e.g. 2026-11-02T09:30:00+01:00",
    ]
    r = cli(dealers, "complaints", "add", "--dealer", "XX-1", "--customer", "K-1", "--channel", "phone", "--description", "x")
    assert (r.exit_code, r.stderr) == (1, "cxbot: --dealer: unknown dealer 'XX-1'\n")
    r = cli(dealers, "complaints", "add", "--dealer", "DK-1001", "--customer", "K-1", "--channel", "phone", "--description", "x", "--received-at", "yesterday")
    assert (r.exit_code, r.stderr) == (1, "cxbot: --received-at: must be an ISO 8601 time with a UTC offset, e.g. 2026-11-02T09:30:00+01:00\n")
    r = cli(dealers, "complaints", "add", "--dealer", "DK-1001", "--customer", "K-1", "--channel", "phone", "--description", "x",
            "--registered-by", "sabine.krueger@autohaus-brandt.example")
    assert (r.exit_code, r.stderr) == (1, "cxbot: --registered-by: sabine.krueger@autohaus-brandt.example is not a person granted to dealer DK-1001\n")
    r = cli(dealers, "complaints", "add", "--dealer", "DK-1001", "--customer", "K-1", "--channel", "phone", "--description", "x", "--description-file", "-", input="y")
    assert r.exit_code == 2 and "give --description or --description-file, not both" in r.stderr
    assert query(dealers, "SELECT count(*) FROM alerts") == [(0,)] and query(dealers, "SELECT count(*) FROM outbox") == [(0,)]


def _handled(db_url: str) -> None:
    add(db_url, "--description-file", "-", "--phone", "+45 20 30 40 50", input=MAIL)
    ok(db_url, "alerts", "set", "CO-1", "ongoing", "--note", "Ringede til Anne;\nværkstedstid torsdag.")
    ok(db_url, "alerts", "set", "CO-1", "resolved", "--note", "=Støjen fundet og rettet.")


def test_the_export_is_the_complete_handling_record(dealers: str) -> None:
    _handled(dealers)
    out = ok(dealers, "complaints", "export", "co-1").stdout
    lines = out.splitlines()
    assert lines[:2] == ["External complaint CO-1 — handling record", "=" * 41]
    assert "Dealer          Autohuset Vest (DK-1001)" in lines
    assert "Customer        Anne Sørensen (customer id K-77)" in lines
    assert "Phone           +45 20 30 40 50" in lines and "Email           anne@example.net" in lines
    assert "Received        by email, 2026-11-02 09:30 CET" in lines
    assert "Status          resolved" in lines and any(re.fullmatch(r"First handled   \S+ \S+ CES?T \(on time\)", line) for line in lines)
    assert "Escalated       no" in lines
    # The complaint as it came in, indented, then four history entries in order with who and what.
    start = lines.index("The complaint as received")
    assert lines[start + 2 : start + 10] == ["    Fra: Anne Sørensen <anne@example.net>", "    Emne: Støj", "", "    Hej,", "    bilen larmer stadig.", "", "      Venlig hilsen", "      Anne"]
    assert "History (4 entries, times in Europe/Copenhagen)" in lines
    events = [line for line in lines if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T  ", line)]  # registered now: summer or winter time
    assert [re.sub(r"^\S+ \S+ CES?T  ", "", e) for e in events] == [
        f"registered as new — cli:{_user()} via cli",
        f"note — cli:{_user()} via cli",
        f"status new → ongoing — cli:{_user()} via cli",
        f"status ongoing → resolved — cli:{_user()} via cli",
    ]
    assert "    Ringede til Anne;" in lines and "    værkstedstid torsdag." in lines
    assert lines[-1].startswith("Exported ") and lines[-1].endswith("The history is append-only: entries are never changed or removed.")


def _user() -> str:
    import getpass

    return getpass.getuser()


def test_the_export_as_json_and_as_csv_for_a_spreadsheet(dealers: str, tmp_path: Path) -> None:
    _handled(dealers)
    record = json.loads(ok(dealers, "complaints", "export", "CO-1", "--format", "json").stdout)
    assert (record["id"], record["status"], record["complaint"]["received_via"], record["complaint"]["received_at"]) == ("CO-1", "resolved", "email", "2026-11-02T08:30:00Z")
    assert [(h["event"], h["new_status"]) for h in record["history"]] == [("created", "new"), ("comment", None), ("status", "ongoing"), ("status", "resolved")]
    assert record["history"][1]["note"] == MAIL.replace("\r\n", "\n").strip()

    path = tmp_path / "CO-1.csv"
    r = ok(dealers, "complaints", "export", "CO-1", "--format", "csv", "--output", str(path))
    assert r.stdout == "" and r.stderr == f"CO-1: handling record (4 history entries) written to {path}\n"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["event"], r["old_status"], r["new_status"]) for r in rows] == [("created", "", "new"), ("comment", "", ""), ("status", "new", "ongoing"), ("status", "ongoing", "resolved")]
    assert rows[1]["note"] == MAIL.replace("\r\n", "\n").strip() and rows[0]["at_local"].endswith(("CET", "CEST"))
    assert rows[3]["note"] == "'=Støjen fundet og rettet."  # never run as a formula


def test_only_complaints_that_exist_are_exported(dealers: str) -> None:
    r = cli(dealers, "complaints", "export", "CO-9")
    assert (r.exit_code, r.stderr) == (1, "cxbot: No alert 'CO-9'.\n")
    r = cli(dealers, "complaints", "export", "complaint-1")
    assert r.exit_code == 1 and "is not an alert id like HA-12" in r.stderr
