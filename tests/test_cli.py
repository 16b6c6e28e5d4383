"""The `cxbot` command line, run as a user runs it: click's runner in this process (on SQLite and
PostgreSQL), and a real `python -m bot` process where exit codes, tracebacks and signals matter.
The commands call asyncio.run themselves, so these tests are plain functions."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result
from sqlalchemy import text

from bot.cli import main
from bot.domain.values import Scope
from bot.services import Context
from bot.services.keys import KeyRing
from bot.settings import load_settings
from storage.database import Database
from tests.fakes.clock import FrozenClock

EXAMPLES = Path(str(resources.files("bot").joinpath("examples")))
DEALERS_TOML = EXAMPLES / "dealers.toml"


@pytest.fixture(autouse=True)
def _keep_log_config() -> Iterator[None]:
    """Each command configures structlog to write to the runner's stderr; later tests must not
    inherit a stream the runner has closed."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def cli(db_url: str | None, *args: str, **env: str) -> Result:
    environment = {"CXBOT_DATABASE_URL": db_url} if db_url else {}
    return CliRunner().invoke(main, list(args), env={**environment, **env}, catch_exceptions=False)


def ok(db_url: str, *args: str) -> Result:
    r = cli(db_url, *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r


def lines(s: str) -> list[str]:
    return [line for line in s.splitlines() if line.strip()]


def query(db_url: str, sql: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        db = Database(db_url)
        try:
            async with db.read() as tx:
                return [tuple(r) for r in (await tx.conn.execute(text(sql))).all()]
        finally:
            await db.close()

    return asyncio.run(go())


def alerts_json(db_url: str, *filters: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(ok(db_url, "alerts", "list", "--json", *filters).stdout)]


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


# ---- dealers load ----------------------------------------------------------------------------


def test_loading_the_example_dealers_adds_them_and_a_second_load_changes_nothing(db_url: str) -> None:
    first = ok(db_url, "dealers", "load", str(DEALERS_TOML))
    out = lines(first.stdout)
    assert {line for line in out if line.startswith("added")} >= {
        "added    dealer DK-1001",
        "added    dealer DE-2001",
        "added    dealer DK-5001",
        "added    person camilla.berg@mazda-importer.example",
    }
    assert out[-1] == "11 added, 0 changed, 0 unchanged"

    again = ok(db_url, "dealers", "load", str(DEALERS_TOML))
    assert lines(again.stdout) == ["0 added, 0 changed, 11 unchanged"]
    assert query(db_url, "SELECT count(*) FROM dealers") == [(3,)]
    assert query(db_url, "SELECT count(*) FROM people") == [(8,)]


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        ('name = "Autohuset Vest"', 'name = "Autohuset Vest Aarhus"', "changed  dealer DK-1001: name Autohuset Vest → Autohuset Vest Aarhus"),
        (
            'email = "jonas.holm@autohuset-vest.example"\nslack = ["T0AUTOVEST/U0JONASHO"]\ngrants = { "DK-1001" = "staff" }',
            'email = "jonas.holm@autohuset-vest.example"\nslack = ["T0AUTOVEST/U0JONASHO"]\ngrants = { "DK-1001" = "manager", "DK-5001" = "staff" }',
            "changed  person jonas.holm@autohuset-vest.example: grants DK-1001=manager, DK-5001=staff",
        ),
        ('slack_channel = "C0VESTSALG"', 'slack_channel = "C0VESTLEADS"', "changed  dealer DK-1001: routing"),
        ('slack_channel = "C0BRANDTLEAD"', 'slack_channel = "C0BRANDTCHEF"', "changed  dealer DE-2001: escalation"),
    ],
    ids=["dealer-name", "person-grants", "routing", "escalation"],
)
def test_an_edited_dealer_file_reports_exactly_the_change(db_url: str, tmp_path: Path, old: str, new: str, reported: str) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    source = DEALERS_TOML.read_text(encoding="utf-8")
    assert source.count(old) == 1
    edited = write(tmp_path / "dealers.toml", source.replace(old, new))

    out = lines(ok(db_url, "dealers", "load", str(edited)).stdout)
    assert out == [reported, "0 added, 1 changed, 10 unchanged"]
    # Stored, so loading the edited file again is quiet and the original file reverts it.
    assert lines(ok(db_url, "dealers", "load", str(edited)).stdout) == ["0 added, 0 changed, 11 unchanged"]
    assert "1 changed" in ok(db_url, "dealers", "load", str(DEALERS_TOML)).stdout


def test_an_edit_is_stored(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    source = DEALERS_TOML.read_text(encoding="utf-8")
    edited = source.replace('name = "Autohuset Vest"', 'name = "Autohuset Vest Aarhus"').replace('"C0VESTSALG"', '"C0VESTLEADS"')
    ok(db_url, "dealers", "load", str(write(tmp_path / "dealers.toml", edited)))
    listed = {d["code"]: d for d in map(json.loads, lines(ok(db_url, "dealers", "list", "--json").stdout))}
    assert listed["DK-1001"]["name"] == "Autohuset Vest Aarhus"
    channels = query(db_url, "SELECT kind, slack_channel FROM routes WHERE dealer_code = 'DK-1001' ORDER BY kind")
    assert dict(channels) == {"complaint": "C0VESTKUNDE", "detractor": "C0VESTKUNDE", "hot_alert": "C0VESTKUNDE", "sales_opportunity": "C0VESTLEADS"}


def test_dealers_and_people_load_from_csv_files(db_url: str) -> None:
    refused = cli(db_url, "dealers", "load", str(EXAMPLES / "people.csv"))
    assert refused.exit_code == 1
    assert "cxbot: grants: unknown dealer 'DE-2002': add it to the file or load it first" in lines(refused.stderr)

    dealers = lines(ok(db_url, "dealers", "load", str(EXAMPLES / "dealers.csv")).stdout)
    assert dealers == ["added    dealer DK-1002", "added    dealer DE-2002", "added    dealer DE-5002", "3 added, 0 changed, 0 unchanged"]
    people = lines(ok(db_url, "dealers", "load", str(EXAMPLES / "people.csv")).stdout)
    assert people[-1] == "6 added, 0 changed, 0 unchanged"
    assert lines(ok(db_url, "dealers", "load", str(EXAMPLES / "people.csv")).stdout) == ["0 added, 0 changed, 6 unchanged"]

    listed = {d["code"]: d for d in map(json.loads, lines(ok(db_url, "dealers", "list", "--json").stdout))}
    assert set(listed) == {"DK-1002", "DE-2002", "DE-5002"}
    assert listed["DE-5002"]["type"] == "service_partner" and listed["DE-5002"]["people"] == 2
    assert listed["DE-2002"]["people"] == 3
    emails = query(db_url, "SELECT emails FROM routes WHERE dealer_code = 'DE-2002' AND kind = 'hot_alert'")
    assert [json.loads(e) if isinstance(e, str) else e for (e,) in emails] == [["kundendienst@autohaus-seidel.example", "verkauf@autohaus-seidel.example"]]


BAD_DEALER_FILES = [
    ("zone.toml", '[[dealers]]\ncode = "DK-1001"\nname = "Autohuset Vest"\ntime_zone = "Europe/Nowhere"\n', "cxbot: dealers.0.time_zone: unknown time zone 'Europe/Nowhere'"),
    (
        "role.toml",
        '[[dealers]]\ncode = "DK-1001"\nname = "Autohuset Vest"\n[[people]]\nname = "Mette Kjær"\nemail = "mette@vest.example"\ngrants = { "DK-1001" = "boss" }\n',
        "cxbot: people.0.grants.DK-1001: Input should be 'staff', 'manager', 'regional' or 'admin'",
    ),
    (
        "grant.toml",
        '[[dealers]]\ncode = "DK-1001"\nname = "Autohuset Vest"\n[[people]]\nname = "Mette Kjær"\nemail = "mette@vest.example"\ngrants = { "DK-9999" = "staff" }\n',
        "cxbot: grants: unknown dealer 'DK-9999': add it to the file or load it first",
    ),
    ("twice.toml", '[[dealers]]\ncode = "DK-1001"\nname = "A"\n[[dealers]]\ncode = "DK-1001"\nname = "B"\n', "cxbot: dealers.1.code: dealer 'DK-1001' appears twice"),
    ("broken.toml", '[[dealers]\ncode = "DK-1001"\n', "cxbot: file: is not valid TOML"),
    ("column.csv", "code,name,colour\nDK-1001,Autohuset Vest,red\n", "cxbot: header: unknown column 'colour' in a dealers CSV"),
    ("rows.csv", "code,name,time_zone\nDK-1001,Autohuset Vest,UTC\nDK-1002,Bilhuset Nord,Mars/Base\n", "cxbot: line 3: time_zone: unknown time zone 'Mars/Base'"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_DEALER_FILES, ids=[n for n, _, _ in BAD_DEALER_FILES])
def test_a_bad_dealer_file_names_the_problem_and_stores_nothing(db_url: str, tmp_path: Path, name: str, content: str, message: str) -> None:
    r = cli(db_url, "dealers", "load", str(write(tmp_path / name, content)))
    assert r.exit_code == 1
    assert any(line.startswith(message) for line in lines(r.stderr)), r.stderr
    assert r.stdout == ""
    assert query(db_url, "SELECT count(*) FROM dealers") == [(0,)]
    assert query(db_url, "SELECT count(*) FROM people") == [(0,)]


def test_a_bad_edit_leaves_the_stored_dealers_as_they_were(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    source = DEALERS_TOML.read_text(encoding="utf-8")
    bad = source.replace('name = "Autohuset Vest"', 'name = "Renamed"').replace('grants = { "DK-5001" = "manager" }', 'grants = { "DK-7777" = "manager" }')
    r = cli(db_url, "dealers", "load", str(write(tmp_path / "dealers.toml", bad)))
    assert r.exit_code == 1 and "unknown dealer 'DK-7777'" in r.stderr
    assert query(db_url, "SELECT name FROM dealers WHERE code = 'DK-1001'") == [("Autohuset Vest",)]


def test_a_missing_dealer_file_is_one_line(db_url: str, tmp_path: Path) -> None:
    r = cli(db_url, "dealers", "load", str(tmp_path / "nope.toml"))
    assert r.exit_code == 1
    assert lines(r.stderr) == [f"cxbot: file: cannot read {tmp_path / 'nope.toml'}: No such file or directory"]


# ---- dealers list ----------------------------------------------------------------------------


def test_dealers_list_as_a_table_and_as_json(db_url: str) -> None:
    assert "no dealers yet" in ok(db_url, "dealers", "list").stdout
    ok(db_url, "dealers", "load", str(DEALERS_TOML))

    table = lines(ok(db_url, "dealers", "list").stdout)
    assert table[0].split() == ["CODE", "NAME", "BRAND", "REGION", "TYPE", "TIME", "ZONE", "LANG", "PEOPLE"]
    assert [row.split()[0] for row in table[1:]] == ["DE-2001", "DK-1001", "DK-5001"]
    assert re.search(r"^DK-5001\s+Fyns Bilservice\s+Mazda\s+Syddanmark\s+service_partner\s+Europe/Copenhagen\s+da\s+3$", table[3])

    rows = [json.loads(line) for line in lines(ok(db_url, "dealers", "list", "--json").stdout)]
    assert rows[1] == {
        "code": "DK-1001", "name": "Autohuset Vest", "brand": "Mazda", "region": "Midtjylland", "type": "dealer",
        "time_zone": "Europe/Copenhagen", "language": "da", "people": 4,
    }  # fmt: skip
    assert {r["code"]: r["people"] for r in rows} == {"DE-2001": 3, "DK-1001": 4, "DK-5001": 3}


# ---- keys ------------------------------------------------------------------------------------


def test_a_key_is_printed_once_and_only_its_hash_is_stored(db_url: str) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    created = ok(db_url, "keys", "create", "--scope", "intake", "--dealer", "DK-1001", "--name", "survey platform")
    [key] = lines(created.stdout)  # stdout is the key alone, so `KEY=$(cxbot keys create …)` works
    assert key.startswith("cxk_") and len(key) > 40
    assert "not shown again" in created.stderr and key not in created.stderr

    listed = ok(db_url, "keys", "list").stdout
    assert key not in listed and key[4:] not in listed
    [row] = lines(listed)
    assert row.split()[:4] == ["1", "intake", "DK-1001", "active"] and row.endswith("survey platform")

    stored = query(db_url, "SELECT * FROM api_keys")
    assert len(stored) == 1
    assert not any(key in str(cell) or key[4:] in str(cell) for cell in stored[0])
    assert query(db_url, "SELECT key_hash FROM api_keys") == [(hashlib.sha256(key.encode()).hexdigest(),)]

    async def who(presented: str) -> Any:
        db = Database(db_url)
        try:
            return await KeyRing([]).authenticate(Context(db=db, rules=load_settings().rules, clock=FrozenClock()), presented)
        finally:
            await db.close()

    principal = asyncio.run(who(key))
    assert principal.scope is Scope.INTAKE and principal.actor.dealers == frozenset({"DK-1001"})

    assert lines(ok(db_url, "keys", "revoke", "1").stdout) == ["key 1 revoked"]
    assert "revoked" in ok(db_url, "keys", "list").stdout
    assert asyncio.run(who(key)) is None
    again = cli(db_url, "keys", "revoke", "1")
    assert again.exit_code == 1 and lines(again.stderr) == ["cxbot: No active key 1."]


def test_a_key_for_an_unknown_dealer_is_refused(db_url: str) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    r = cli(db_url, "keys", "create", "--scope", "read", "--dealer", "DK-1001", "--dealer", "XX-9")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert lines(r.stderr) == ["cxbot: dealer: unknown dealer 'XX-9'"]
    assert lines(ok(db_url, "keys", "list").stdout) == ["no stored keys"]


# ---- alerts ----------------------------------------------------------------------------------


@pytest.fixture
def with_alerts(db_url: str) -> str:
    """The example dealers and the example responses, loaded through the CLI."""
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    ok(db_url, "import", "responses", str(EXAMPLES / "responses.csv"))
    return db_url


def test_alerts_list_filters_by_status_kind_and_dealer(with_alerts: str) -> None:
    db_url = with_alerts
    every = alerts_json(db_url)
    assert len(every) == 12
    assert {(a["kind"], a["dealer_id"]) for a in every} >= {("hot_alert", "DE-2001"), ("sales_opportunity", "DK-1001"), ("detractor", "DK-5001")}
    assert all(a["status"] == "new" for a in every)

    hot_de = alerts_json(db_url, "--kind", "hot_alert", "--dealer", "DE-2001")
    assert {a["id"] for a in hot_de} == {a["id"] for a in every if a["kind"] == "hot_alert" and a["dealer_id"] == "DE-2001"}
    assert len(hot_de) == 3
    assert [a["id"] for a in alerts_json(db_url, "--kind", "sales_opportunity")] == ["SO-2", "SO-1"]  # newest first

    ok(db_url, "alerts", "set", "SO-1", "ongoing", "--note", "Ringede til Mikkel, ny prøvetur lørdag")
    assert [a["id"] for a in alerts_json(db_url, "--status", "ongoing")] == ["SO-1"]
    assert len(alerts_json(db_url, "--status", "new")) == 11
    assert alerts_json(db_url, "--status", "resolved") == []

    text_lines = lines(ok(db_url, "alerts", "list", "--dealer", "DK-5001").stdout)
    assert text_lines and all(" DK-5001 " in line for line in text_lines)
    assert {line.split()[0] for line in text_lines} == {a["id"] for a in every if a["dealer_id"] == "DK-5001"}
    assert lines(ok(db_url, "alerts", "list", "--dealer", "XX-9").stdout) == ["no alerts match"]


def test_alerts_show_prints_the_alert_and_its_history(with_alerts: str) -> None:
    db_url = with_alerts
    [ha] = [a for a in alerts_json(db_url, "--kind", "hot_alert") if a["customer_id"] == "K-11902"]
    note = "Ringede til Niels Thomsen.\nNy gennemgang af navigationen aftalt torsdag."
    assert lines(ok(db_url, "alerts", "set", ha["id"], "ongoing", "--note", note).stdout) == [f"{ha['id']}: new → ongoing"]

    out = ok(db_url, "alerts", "show", ha["id"].lower().replace("-", "")).stdout  # "ha1" works too
    assert out.splitlines()[0] == f"{ha['id']}  Hot Alert — Autohuset Vest (DK-1001)"
    assert "customer   Niels Thomsen (K-11902)" in out
    assert "response   sales-2026-1002" in out
    assert re.search(r"^status\s+ongoing$", out, re.M)
    assert re.search(r"^handled\s+\S+ \S+ UTC\s+on time$", out, re.M)
    history = out.split("history\n", 1)[1].splitlines()
    assert re.match(r"^  \S+ \S+ UTC  system system\s+- → new$", history[0])
    assert "NPS 4" in history[1]
    assert re.match(r"^  \S+ \S+ UTC  cli\s+\S+\s+new → ongoing$", history[2])
    assert history[3:] == ["      Ringede til Niels Thomsen.", "      Ny gennemgang af navigationen aftalt torsdag."]


def test_an_anonymous_customer_shows_without_a_name(with_alerts: str) -> None:
    [ha] = [a for a in alerts_json(with_alerts, "--kind", "hot_alert") if a["customer_id"] == "C-90311"]
    out = ok(with_alerts, "alerts", "show", ha["id"]).stdout
    assert "Jürgen" not in out and "Schäfer" not in out
    assert query(with_alerts, "SELECT name, email FROM customers WHERE customer_id = 'C-90311'") == [(None, None)]


def test_alerts_set_moves_through_the_states_and_refuses_what_is_not_allowed(with_alerts: str) -> None:
    db_url = with_alerts
    ok(db_url, "alerts", "set", "HA-1", "ongoing", "--note", "Called the customer")

    for args in (["--note", ""], ["--note", "   "], []):
        r = cli(db_url, "alerts", "set", "HA-1", "resolved", *args)
        assert r.exit_code == 1, args
        assert lines(r.stderr) == ["cxbot: A note is required: say who contacted the customer and what was agreed."]
    assert alerts_json(db_url, "--kind", "hot_alert", "--status", "ongoing")[0]["id"] == "HA-1"

    assert lines(ok(db_url, "alerts", "set", "HA-1", "resolved", "--note", "New date agreed").stdout) == ["HA-1: ongoing → resolved"]
    twice = cli(db_url, "alerts", "set", "HA-1", "resolved", "--note", "Again")
    assert twice.exit_code == 1 and lines(twice.stderr) == ["cxbot: HA-1 is resolved; it cannot be set resolved."]
    assert lines(ok(db_url, "alerts", "set", "HA-1", "ongoing", "--note", "Customer called back").stdout) == ["HA-1: resolved → ongoing"]

    unknown = cli(db_url, "alerts", "set", "HA-999", "ongoing", "--note", "x")
    assert unknown.exit_code == 1 and lines(unknown.stderr) == ["cxbot: No alert 'HA-999'."]
    nonsense = cli(db_url, "alerts", "show", "banana")
    assert nonsense.exit_code == 1 and "is not an alert id like HA-12" in nonsense.stderr
    missing = cli(db_url, "alerts", "show", "SO-99")
    assert missing.exit_code == 1 and lines(missing.stderr) == ["cxbot: No alert 'SO-99'."]
    statuses = query(db_url, "SELECT new_status FROM alert_history WHERE alert_id = 'HA-1' ORDER BY id")
    assert [s for (s,) in statuses] == ["new", "ongoing", "resolved", "ongoing"]


# ---- import responses ------------------------------------------------------------------------

HEADER = "id,survey,dealer_id,submitted_at,customer.id,customer.name,nps,scores.overall,comment,answers.contact_requested\n"
BAD_ROWS = (
    HEADER  # line 1
    + 'ok-1,sales,DK-1001,2026-10-06T09:14:00+02:00,K-1,Anne Sørensen,2,5,"Bilen var ikke klar.\n'  # 2
    + 'Ingen ringede til mig.",true\n'  # 3
    + "bad-2,sales,DK-1001,2026-10-06T10:00:00+02:00,K-2,Bo Nielsen,11,5,ok,false\n"  # 4
    + 'bad-3,sales,XX-9,2026-10-06T10:00:00+02:00,K-3,Ida Holm,3,5,"to\n'  # 5
    + 'linjer",false\n'  # 6
    + "bad-4,service,DE-2001,2026-10-06,C-1,Uwe Brandt,3,1,x,false\n"  # 7
    + "\n"  # 8
    + 'ok-5,service,DE-2001,2026-10-07T08:00:00+02:00,C-5,Eva Krüger,9,5,"Alles gut,\n'  # 9
    + '""danke""!",false\n'  # 10
    + "bad-6,sales,DK-1001,2026-10-06T10:00:00+02:00,K-6,Mads Berg,4,5,x,maybe\n"  # 11
    + "bad-7,sales,DK-1001\n"  # 12
    + 'bad-8,sales,DK-1001,2026-10-06T10:00:00+02:00,K-8,Lis,9,7,"three\nline\ncomment",false\n'  # 13-15
)


def test_import_stores_valid_rows_and_reports_each_bad_row_by_line(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    r = cli(db_url, "import", "responses", str(write(tmp_path / "responses.csv", BAD_ROWS)))
    assert r.exit_code == 1
    out = lines(r.stdout)
    report = [re.match(r"^line (\d+): ([\w.]+): (.+)$", line) for line in out[:-1]]
    assert all(report), out
    assert [(int(m[1]), m[2]) for m in report if m] == [
        (4, "nps"),
        (5, "dealer_id"),
        (7, "submitted_at"),
        (11, "answers.contact_requested"),
        (12, "row"),
        (13, "scores.overall"),
    ]
    messages = [m[3] for m in report if m]
    assert "10" in messages[0]
    assert messages[1] == "unknown dealer 'XX-9'"
    assert "UTC offset" in messages[2]
    assert "true or false" in messages[3]
    assert messages[4] == "has 3 cells; the header has 10"
    assert "5" in messages[5]
    assert out[-1] == "2 stored, 0 already known, 6 rejected, 2 alerts raised"

    assert sorted(query(db_url, "SELECT id FROM responses")) == [("ok-1",), ("ok-5",)]
    assert sorted(query(db_url, "SELECT customer_id FROM customers")) == [("C-5",), ("K-1",)]
    assert query(db_url, "SELECT comment FROM responses WHERE id = 'ok-5'") == [('Alles gut,\n"danke"!',)]
    assert sorted((a["kind"], a["customer_id"]) for a in alerts_json(db_url)) == [("detractor", "K-1"), ("hot_alert", "K-1")]

    again = cli(db_url, "import", "responses", str(tmp_path / "responses.csv"))
    assert again.exit_code == 1
    assert lines(again.stdout)[-1] == "0 stored, 2 already known, 6 rejected, 0 alerts raised"
    assert len(alerts_json(db_url)) == 2


def test_a_known_id_with_different_content_is_rejected_on_its_own_line(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    first = HEADER + "r-1,sales,DK-1001,2026-10-06T09:14:00+02:00,K-1,Anne,9,5,fint,false\n"
    ok(db_url, "import", "responses", str(write(tmp_path / "a.csv", first)))
    second = (
        HEADER
        + "r-2,sales,DK-1001,2026-10-06T09:14:00+02:00,K-2,Bo,nine,5,x,false\n"  # 2: rejected while parsing
        + "r-1,sales,DK-1001,2026-10-06T09:14:00+02:00,K-1,Anne,3,5,fint,false\n"  # 3: conflicts with the stored r-1
        + "r-3,sales,DK-1001,2026-10-06T09:14:00+02:00,K-3,Ida,10,5,super,false\n"  # 4: fine
    )
    r = cli(db_url, "import", "responses", str(write(tmp_path / "b.csv", second)))
    assert r.exit_code == 1
    out = lines(r.stdout)
    assert [line.split(":")[0] + ":" + line.split(":")[1] for line in out[:-1]] == ["line 2: nps", "line 3: id"]
    assert out[1] == "line 3: id: response 'r-1' is already stored with different content"
    assert out[-1] == "1 stored, 0 already known, 2 rejected, 0 alerts raised"
    assert query(db_url, "SELECT nps FROM responses WHERE id = 'r-1'") == [(9,)]


def test_importing_the_example_responses_and_importing_them_again(db_url: str) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    first = ok(db_url, "import", "responses", str(EXAMPLES / "responses.csv"))
    assert lines(first.stdout) == ["15 stored, 0 already known, 0 rejected, 12 alerts raised"]
    assert "importing" in first.stderr  # the progress bar goes to stderr, not into the report
    kinds = sorted({a["kind"] for a in alerts_json(db_url)})
    assert kinds == ["detractor", "hot_alert", "sales_opportunity"]
    # The lost-sales prospect who still considers buying and wants contact is a sales opportunity.
    assert {a["customer_id"] for a in alerts_json(db_url, "--kind", "sales_opportunity")} == {"P-40211", "P-50418"}
    # Bob answered 3, then his colleague Cindy 10 for the same company: no detractor flag remains.
    assert "F-7001" not in {a["customer_id"] for a in alerts_json(db_url, "--kind", "detractor")}

    again = ok(db_url, "import", "responses", str(EXAMPLES / "responses.csv"))
    assert lines(again.stdout) == ["0 stored, 15 already known, 0 rejected, 0 alerts raised"]
    assert len(alerts_json(db_url)) == 12


def test_a_csv_with_an_unknown_column_stops_before_any_row(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    content = "id,survey,dealer_id,submitted_at,customer.id,customer.shoe_size,nps\nr-1,sales,DK-1001,2026-10-06T09:14:00+02:00,K-1,44,2\n"
    r = cli(db_url, "import", "responses", str(write(tmp_path / "r.csv", content)))
    assert r.exit_code == 1
    assert [line for line in lines(r.stderr) if line.startswith("cxbot:")] == ["cxbot: header: unknown column 'customer.shoe_size'"]
    assert "stored" not in r.stdout
    assert query(db_url, "SELECT count(*) FROM responses") == [(0,)]


def test_an_empty_csv_says_so(db_url: str, tmp_path: Path) -> None:
    r = cli(db_url, "import", "responses", str(write(tmp_path / "r.csv", "")))
    assert r.exit_code == 1
    assert "cxbot: header: the file is empty" in lines(r.stderr)


# ---- demo ------------------------------------------------------------------------------------


def test_demo_on_an_empty_database_shows_the_alerts_and_how_to_start_the_server(db_url: str) -> None:
    first = ok(db_url, "demo")
    out = first.stdout
    raised = re.findall(r"^  (\w\w-\d+)\s+raised for (\S+) at (\S+)", out, re.M)
    assert len(raised) >= 5
    assert {dealer for _, _, dealer in raised} == {"DK-1001", "DE-2001", "DK-5001"}
    assert any(i.startswith("HA-") for i, _, _ in raised) and any(i.startswith("SO-") for i, _, _ in raised)
    assert re.search(r"^Alerts of the example dealers \((\d+)\):$", out, re.M)
    assert re.search(r"^\s+\S*\s*serve$", out, re.M), out  # the command that starts the server
    assert "CXBOT_API_KEYS" in out and "/api/v1/alerts" in out
    stored = alerts_json(db_url)
    assert {a["id"] for a in stored} == {i for i, _, _ in raised}

    # Nothing configured to send with: nothing waits in the outbox for `serve` to mark failed.
    pending = lines(ok(db_url, "outbox", "list", "--status", "pending").stdout)
    assert len(pending) == 1 and "pending" not in pending[0], pending  # the counts line, no rows

    second = ok(db_url, "demo")
    assert "raised for" not in second.stdout
    assert "already fed by an earlier demo run" in second.stdout
    assert "0 added, 0 changed, 11 unchanged" in second.stdout
    assert len(alerts_json(db_url)) == len(stored)


# ---- settings --------------------------------------------------------------------------------


def one_line_naming(r: Result, name: str) -> None:
    assert r.exit_code == 2, (r.stdout, r.stderr)
    [line] = lines(r.stderr)
    assert line.startswith(f"cxbot: {name}") or f" {name}" in line, line
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"CXBOT_HTTP_PORT": "abc"}, "CXBOT_HTTP_PORT"),
        ({"CXBOT_DATABASE_URL": "mysql://x"}, "CXBOT_DATABASE_URL"),
        ({"CXBOT_RULES_HOT_ALERT_MAX_SCORE": "9"}, "CXBOT_RULES_HOT_ALERT_MAX_SCORE"),
    ],
    ids=["port", "database", "rules-env"],
)
def test_a_wrong_setting_is_one_line_naming_it(db_url: str, env: dict[str, str], name: str) -> None:
    one_line_naming(cli(db_url, "dealers", "list", **env), name)


def test_a_missing_or_broken_config_file_is_one_line(db_url: str, tmp_path: Path) -> None:
    missing = cli(db_url, "alerts", "list", CXBOT_CONFIG=str(tmp_path / "nope.toml"))
    one_line_naming(missing, "CXBOT_CONFIG")
    assert "nope.toml" in missing.stderr
    broken = cli(db_url, "alerts", "list", CXBOT_CONFIG=str(write(tmp_path / "cxbot.toml", "[rules\ndetractor_max_nps = 7\n")))
    one_line_naming(broken, "CXBOT_CONFIG")
    assert "not valid TOML" in broken.stderr


def test_a_rule_out_of_range_in_the_config_file_is_one_line(db_url: str, tmp_path: Path) -> None:
    config = write(tmp_path / "cxbot.toml", "[rules]\ndetractor_max_nps = 11\n")
    r = cli(db_url, "alerts", "list", CXBOT_CONFIG=str(config))
    one_line_naming(r, "CXBOT_RULES_DETRACTOR_MAX_NPS")
    assert "11" in r.stderr


def test_the_environment_wins_over_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write(tmp_path / "cxbot.toml", "[rules]\ndetractor_max_nps = 7\nhot_alert_max_nps = 5\n")
    monkeypatch.setenv("CXBOT_CONFIG", str(config))
    from_file = load_settings().rules
    assert (from_file.detractor_max_nps, from_file.hot_alert_max_nps) == (7, 5)
    monkeypatch.setenv("CXBOT_RULES_DETRACTOR_MAX_NPS", "6")
    both = load_settings().rules
    assert (both.detractor_max_nps, both.hot_alert_max_nps) == (6, 5)


# ---- a real process --------------------------------------------------------------------------


def cxbot(*args: str, cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CXBOT_")}
    return subprocess.run([sys.executable, "-m", "bot", *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def one_line(p: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in p.stderr, p.stderr
    [line] = lines(p.stderr)
    return line


def test_the_real_entry_point_collects_young_objects_less_often_with_start_up_frozen(tmp_path: Path) -> None:
    # `python -m bot` itself, with a line at exit reporting what the collector was left with.
    probe = (
        "import atexit, gc, runpy, sys; "
        "atexit.register(lambda: print('gc', gc.get_threshold()[0], gc.isenabled(), gc.get_freeze_count() > 10000)); "
        "sys.argv = ['cxbot', '--help']; runpy.run_module('bot', run_name='__main__')"
    )
    p = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1] == "gc 10000 True True"


def test_a_wrong_setting_in_a_real_process_is_one_line_and_no_traceback(tmp_path: Path) -> None:
    port = cxbot("dealers", "list", cwd=tmp_path, CXBOT_HTTP_PORT="abc")
    assert port.returncode == 2
    assert one_line(port).startswith("cxbot: CXBOT_HTTP_PORT")

    config = write(tmp_path / "cxbot.toml", "[rules]\ndetractor_max_nps = 11\n")
    rules = cxbot("serve", cwd=tmp_path, CXBOT_CONFIG=str(config))
    assert rules.returncode == 2
    assert "CXBOT_RULES_DETRACTOR_MAX_NPS" in one_line(rules)

    url = cxbot("alerts", "list", cwd=tmp_path, CXBOT_DATABASE_URL="mysql://x")
    assert url.returncode == 2
    assert one_line(url).startswith("cxbot: CXBOT_DATABASE_URL")
    assert not (tmp_path / "cxbot.db").exists()


def test_an_unreachable_postgresql_is_one_line_naming_it(tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        p = cxbot("alerts", "list", cwd=tmp_path, timeout=30, CXBOT_DATABASE_URL=f"postgresql+asyncpg://cx:s3cret@127.0.0.1:{port}/cxbot")
    assert p.returncode != 0
    line = one_line(p)
    assert f"postgresql+asyncpg://cx:***@127.0.0.1:{port}/cxbot" in line
    assert "s3cret" not in p.stderr + p.stdout


def test_serve_refuses_a_taken_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = cxbot("serve", cwd=tmp_path, CXBOT_HTTP_PORT=str(port), CXBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'cx.db'}")
    assert p.returncode == 2
    line = one_line(p)
    assert line.startswith("cxbot: CXBOT_HTTP_PORT") and str(port) in line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_serve_answers_healthz_within_two_seconds_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """The goal is /healthz within 2 s of start on this 2-core machine. Other test runs share it
    and stretch wall-clock time by 2x or more, so the 2 s bound is on the server's own CPU time
    until it answers (steady under load); wall-clock time only has to stay sane."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CXBOT_")}
    env = {**clean, "CXBOT_HTTP_PORT": str(port), "CXBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cx.db'}"}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        answer: tuple[int, dict[str, Any]] | None = None
        while answer is None and time.monotonic() - started < 15 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                    answer = resp.status, json.loads(resp.read())
            except OSError:
                time.sleep(0.02)
        elapsed = time.monotonic() - started
        assert answer is not None, f"no answer from /healthz within 15 s; exit code {proc.poll()}"
        cpu = cpu_seconds(proc.pid)
        assert answer == (200, {"status": "ok", "database": "ok"})
        assert cpu < 2.0, f"/healthz answered after {cpu:.2f} s of server CPU time ({elapsed:.2f} s wall clock)"
        assert elapsed < 10, f"/healthz answered {elapsed:.2f} s after start"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "serving" in err and str(port) in err
