"""Survey invitations (issue 8, part 1): POST /api/v1/invitations with the intake's auth and
all-or-nothing batches, idempotent by invitation id; the status order (every pair); answers that
name their invitation; anonymous answers; `cxbot import invitations`."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

from bot.domain.invitations import InvitationStatus, moves_forward
from bot.domain.values import Scope
from bot.services import Context, keys
from tests.conftest import Api, response
from tests.test_cli import DEALERS_TOML, _keep_log_config, cli, lines, ok, query, write  # noqa: F401 - the autouse fixture too


URL = "/api/v1/invitations"
S = InvitationStatus


@pytest.fixture
async def api(api: Api, example_dealers: None) -> Api:
    """The HTTP API with the example dealers loaded."""
    return api


def invitation(id_: str = "inv-1", **over: Any) -> dict[str, Any]:
    """A valid wire-format invitation of a sales customer of DK-1001, fields overridden."""
    body: dict[str, Any] = {
        "id": id_,
        "survey": "sales",
        "dealer_id": "DK-1001",
        "questionnaire": "CEMI Sales 2026",
        "language": "da",
        "purchase_date": "2026-10-01",
        "customer": {"id": "K-1", "name": "Anne Sørensen", "email": "anne@example.net"},
    }
    body.update(over)
    return body


async def post(api: Api, *items: dict[str, Any], key: str | None = None) -> Any:
    return await api.post(URL, {"invitations": list(items)}, **({"key": key} if key else {}))


async def stored(api: Api, id_: str) -> dict[str, Any]:
    r = await api.get(f"{URL}/{id_}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# ---- the status order ---------------------------------------------------------------------------

# (stored, reported) → does the report move the invitation? Written out, not derived.
ORDER = {
    (S.NOT_SENT, S.NOT_SENT): False, (S.NOT_SENT, S.SENT): True, (S.NOT_SENT, S.FAILED): True,
    (S.NOT_SENT, S.CLICKED): True, (S.NOT_SENT, S.SUBMITTED): True,
    (S.SENT, S.NOT_SENT): False, (S.SENT, S.SENT): False, (S.SENT, S.FAILED): True,
    (S.SENT, S.CLICKED): True, (S.SENT, S.SUBMITTED): True,
    (S.FAILED, S.NOT_SENT): False, (S.FAILED, S.SENT): False, (S.FAILED, S.FAILED): False,
    (S.FAILED, S.CLICKED): False, (S.FAILED, S.SUBMITTED): True,
    (S.CLICKED, S.NOT_SENT): False, (S.CLICKED, S.SENT): False, (S.CLICKED, S.FAILED): False,
    (S.CLICKED, S.CLICKED): False, (S.CLICKED, S.SUBMITTED): True,
    (S.SUBMITTED, S.NOT_SENT): False, (S.SUBMITTED, S.SENT): False, (S.SUBMITTED, S.FAILED): False,
    (S.SUBMITTED, S.CLICKED): False, (S.SUBMITTED, S.SUBMITTED): False,
}


def test_the_order_table_covers_every_pair() -> None:
    assert set(ORDER) == set(itertools.product(S, S))


@pytest.mark.parametrize("old,new", sorted(ORDER, key=str))
def test_a_status_moves_only_forward(old: S, new: S) -> None:
    assert moves_forward(old, new) is ORDER[(old, new)]


async def test_every_pair_of_reports_through_the_api(api: Api) -> None:
    """25 invitations, one per (stored, reported) pair: the first batch stores each in its first
    status, the second reports the second; each ends where the order says, with its times."""
    pairs = sorted(ORDER, key=str)
    first = [invitation(f"p-{i}", customer={"id": f"K-{i}"}, status=old.value, status_at="2026-10-02T08:00:00Z") for i, (old, _) in enumerate(pairs)]
    r = await post(api, *first)
    assert r.status_code == 202 and r.json() == {"accepted": 25, "updated": 0, "duplicates": 0}

    second = [invitation(f"p-{i}", customer={"id": f"K-{i}"}, status=new.value, status_at="2026-10-05T12:00:00Z") for i, (_, new) in enumerate(pairs)]
    r = await post(api, *second)
    moved = sum(ORDER.values())
    assert r.status_code == 202 and r.json() == {"accepted": 0, "updated": moved, "duplicates": 25 - moved}

    for i, (old, new) in enumerate(pairs):
        got = await stored(api, f"p-{i}")
        want = new if ORDER[(old, new)] else old
        assert got["status"] == want.value, (old, new)
        assert got["status_at"] == ("2026-10-05T12:00:00Z" if ORDER[(old, new)] else "2026-10-02T08:00:00Z")
        # The first status's time stays; the reported one's is recorded only when it moved.
        if old is not S.NOT_SENT:
            assert got[f"{old.value}_at"] == "2026-10-02T08:00:00Z"
        if new is not S.NOT_SENT and new is not old:
            assert got[f"{new.value}_at"] == ("2026-10-05T12:00:00Z" if ORDER[(old, new)] else None)


async def test_an_invitation_walks_its_life_and_late_reports_change_nothing(api: Api, clock: Any) -> None:
    r = await post(api, invitation())
    assert r.status_code == 202 and r.json() == {"accepted": 1, "updated": 0, "duplicates": 0}
    got = await stored(api, "inv-1")
    assert got["status"] == "not_sent" and got["recorded_at"] == got["status_at"] == "2026-11-02T09:00:00Z"
    assert (got["name"], got["email"], got["purchase_date"], got["language"], got["questionnaire"]) == (
        "Anne Sørensen", "anne@example.net", "2026-10-01", "da", "CEMI Sales 2026",
    )

    again = await post(api, invitation())
    assert again.status_code == 200 and again.json() == {"accepted": 0, "updated": 0, "duplicates": 1}

    clock.advance(hours=1)  # no status_at: the time cxbot hears of it
    assert (await post(api, invitation(status="sent"))).json()["updated"] == 1
    assert (await post(api, invitation(status="clicked", status_at="2026-11-03T18:00:00+01:00"))).json()["updated"] == 1
    late = await post(api, invitation(status="sent", status_at="2026-11-04T08:00:00Z"))
    assert late.status_code == 200 and late.json()["duplicates"] == 1
    failed = await post(api, invitation(status="failed"))
    assert failed.status_code == 200 and failed.json()["duplicates"] == 1

    got = await stored(api, "inv-1")
    assert got["status"] == "clicked"
    assert got["sent_at"] == "2026-11-02T10:00:00Z"
    assert got["clicked_at"] == got["status_at"] == "2026-11-03T17:00:00Z"
    assert got["failed_at"] is None

    assert (await post(api, invitation(status="submitted", status_at="2026-11-04T09:00:00Z"))).json()["updated"] == 1
    for late_status in ("clicked", "failed", "sent", "not_sent", "submitted"):
        r = await post(api, invitation(status=late_status, status_at="2026-11-09T09:00:00Z"))
        assert r.status_code == 200 and r.json()["duplicates"] == 1
    got = await stored(api, "inv-1")
    assert (got["status"], got["submitted_at"], got["status_at"]) == ("submitted", "2026-11-04T09:00:00Z", "2026-11-04T09:00:00Z")


async def test_a_first_report_past_sent_keeps_a_known_sent_time(api: Api) -> None:
    r = await post(api, invitation(status="Clicked", sent_at="2026-10-02T09:00:00+02:00", status_at="2026-10-03T10:00:00Z"))
    assert r.status_code == 202
    got = await stored(api, "inv-1")
    assert (got["status"], got["sent_at"], got["clicked_at"]) == ("clicked", "2026-10-02T07:00:00Z", "2026-10-03T10:00:00Z")


async def test_the_same_invitation_twice_in_one_batch_is_one_invitation(api: Api) -> None:
    r = await post(api, invitation(status="not_sent"), invitation(status="sent", status_at="2026-10-02T08:00:00Z"), invitation(status="not_sent"))
    assert r.status_code == 202 and r.json() == {"accepted": 1, "updated": 0, "duplicates": 0}
    got = await stored(api, "inv-1")
    assert (got["status"], got["sent_at"]) == ("sent", "2026-10-02T08:00:00Z")


# ---- all or nothing -------------------------------------------------------------------------------


async def test_a_batch_with_one_bad_item_stores_nothing_and_names_every_problem(api: Api) -> None:
    await post(api, invitation("known"))
    r = await post(
        api,
        invitation("a-1"),
        invitation("a-2", customer={"id": "K-2", "email": "not-an-address"}, status="opened"),
        invitation("a-3", dealer_id="XX-9"),
        invitation("a-4", status="not_sent", sent_at="2026-10-01T10:00:00Z", service_date="2026-10-01"),
        invitation("known", status="sent"),
    )
    assert r.status_code == 422
    errors = [(e["index"], e["field"]) for e in r.json()["errors"]]
    assert errors == [(1, "customer.email"), (1, "status"), (2, "dealer_id"), (3, "sent_at"), (3, "service_date")]
    messages = {(e["index"], e["field"]): e["message"] for e in r.json()["errors"]}
    assert messages[(2, "dealer_id")] == "unknown dealer 'XX-9'"
    assert messages[(3, "sent_at")] == "an invitation that is not sent has no sent time"
    assert messages[(3, "service_date")] == "give purchase_date or service_date, not both"
    assert (await stored(api, "known"))["status"] == "not_sent"  # the good report in the batch was not applied
    assert (await api.get(f"{URL}/a-1")).status_code == 404


async def test_an_unknown_field_and_a_bad_body_are_named(api: Api) -> None:
    r = await post(api, invitation(shoe_size=44))
    assert r.status_code == 422 and r.json()["errors"] == [{"index": 0, "field": "shoe_size", "message": "is not a field of an invitation"}]
    r = await api.post(URL, [1, 2])
    assert r.status_code == 422 and r.json()["errors"][0]["message"] == 'must be an invitation object or {"invitations": [...]}'
    r = await api.post(URL, {"invitations": []})
    assert r.status_code == 422 and r.json()["errors"][0] == {"index": None, "field": "invitations", "message": "must hold at least one invitation"}


async def test_a_known_id_for_another_customer_is_a_conflict_and_stores_nothing(api: Api) -> None:
    await post(api, invitation())
    r = await post(api, invitation("inv-2", customer={"id": "K-2"}), invitation(customer={"id": "K-9"}, status="sent"))
    assert r.status_code == 409 and r.json()["ids"] == ["inv-1"]
    assert (await api.get(f"{URL}/inv-2")).status_code == 404
    assert (await stored(api, "inv-1"))["status"] == "not_sent"


async def test_the_intake_keys_rules_apply(api: Api, cx: Context) -> None:
    _, read_key = await keys.create(cx, "reader", Scope.READ, None)
    _, vest_key = await keys.create(cx, "vest intake", Scope.INTAKE, ["DK-1001"])
    assert (await api.post(URL, invitation(), key=None)).status_code == 401
    assert (await post(api, invitation(), key=read_key)).status_code == 403
    r = await post(api, invitation(), invitation("inv-de", dealer_id="DE-2001"), key=vest_key)
    assert r.status_code == 403 and "DE-2001" in r.json()["error"]
    assert (await api.get(f"{URL}/inv-1")).status_code == 404
    assert (await post(api, invitation(), key=vest_key)).status_code == 202


async def test_the_body_and_batch_limits_hold(api: Api) -> None:
    r = await post(api, *[invitation(f"b-{i}", customer={"id": f"K-{i}"}) for i in range(1001)])
    assert r.status_code == 422 and "at most 1000" in r.json()["errors"][0]["message"]


# ---- answers and anonymity ------------------------------------------------------------------------


async def test_an_answer_naming_its_invitation_marks_it_submitted(api: Api) -> None:
    await post(api, invitation(status="clicked", status_at="2026-10-03T10:00:00Z"), invitation("inv-de", dealer_id="DE-2001", customer={"id": "K-7"}, status="sent"))
    r = await api.post(
        "/api/v1/responses",
        {"responses": [
            response("r-1", invitation_id="inv-1", submitted_at="2026-10-04T12:30:00+02:00"),
            response("r-2", customer={"id": "K-2"}, invitation_id="inv-de"),  # DK-1001's answer cannot submit DE-2001's invitation
            response("r-3", customer={"id": "K-3"}, invitation_id="never-heard-of"),
        ]},
    )
    assert r.status_code == 202 and r.json()["accepted"] == 3
    got = await stored(api, "inv-1")
    assert (got["status"], got["submitted_at"], got["status_at"]) == ("submitted", "2026-10-04T10:30:00Z", "2026-10-04T10:30:00Z")
    assert got["clicked_at"] == "2026-10-03T10:00:00Z"
    assert (await stored(api, "inv-de"))["status"] == "sent"

    again = await api.post("/api/v1/responses", response("r-1", invitation_id="inv-1", submitted_at="2026-10-04T12:30:00+02:00"))
    assert again.status_code == 200 and again.json()["duplicates"] == 1
    assert (await stored(api, "inv-1"))["submitted_at"] == "2026-10-04T10:30:00Z"


async def test_an_anonymous_answer_deletes_the_invitations_name_email_and_date(api: Api) -> None:
    await post(api, invitation(), invitation("inv-2", survey="service", service_date="2026-09-15", purchase_date=None, status="sent"))
    r = await api.post("/api/v1/responses", response("r-1", anonymous=True, invitation_id="inv-1"))
    assert r.status_code == 202
    for id_ in ("inv-1", "inv-2"):
        got = await stored(api, id_)
        assert (got["name"], got["email"], got["purchase_date"], got["anonymous"]) == ("Anonymous", None, None, True)
    assert await query_dates(api) == {("inv-1", None), ("inv-2", None)}  # gone from the table, not only hidden

    # A later invitation for the same customer stores no date and no name again.
    await post(api, invitation("inv-3", customer={"id": "K-1", "name": "Anne Sørensen", "email": "anne@example.net"}))
    got = await stored(api, "inv-3")
    assert (got["name"], got["email"], got["purchase_date"]) == ("Anonymous", None, None)
    assert await query_dates(api) == {("inv-1", None), ("inv-2", None), ("inv-3", None)}


async def query_dates(api: Api) -> set[tuple[str, Any]]:
    from sqlalchemy import text

    async with api.cx.db.read() as tx:
        return {tuple(r) for r in await tx.conn.execute(text("SELECT id, purchase_date FROM invitations"))}  # type: ignore[misc]


async def test_an_invitation_creates_the_customer_record_an_answer_later_fills_in(api: Api) -> None:
    await post(api, invitation(customer={"id": "K-1", "name": "Anne Sørensen"}))
    await api.post("/api/v1/responses", response("r-1", customer={"id": "K-1", "email": "anne.s@example.net"}))
    got = await stored(api, "inv-1")
    assert (got["name"], got["email"]) == ("Anne Sørensen", "anne.s@example.net")


async def test_the_openapi_document_describes_the_invitation_body(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    post_doc = doc["paths"][URL]["post"]
    assert {"200", "202", "401", "403", "409", "413", "422"} <= set(post_doc["responses"])
    wire = doc["components"]["schemas"]["InvitationWire"]
    assert {"id", "survey", "dealer_id", "customer"} <= set(wire["required"])
    assert {"status", "status_at", "sent_at", "purchase_date", "service_date", "language", "questionnaire"} <= set(wire["properties"])
    assert "invitation_id" in doc["components"]["schemas"]["ResponseWire"]["properties"]


# ---- cxbot import invitations ---------------------------------------------------------------------

HEADER = "id,survey,dealer_id,customer.id,customer.name,customer.email,purchase_date,service_date,language,questionnaire,status,status_at,sent_at\n"


def test_import_stores_valid_rows_reports_each_bad_row_and_a_bad_row_changes_nothing(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    first = (
        HEADER
        + "i-1,sales,DK-1001,K-1,Anne Sørensen,anne@example.net,2026-10-01,,da,CEMI Sales,Sent,2026-10-02T09:00:00+02:00,\n"
        + "i-2,service,DE-2001,K-2,Jürgen Weiß,jw@example.de,,2026-10-03,de,CEMI Service,not sent,,\n"
    )
    r = cli(db_url, "import", "invitations", str(write(tmp_path / "a.csv", first)))
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert lines(r.stdout) == ["2 stored, 0 moved forward, 0 unchanged, 0 rejected"]
    assert "importing" in r.stderr  # progress on stderr, the report on stdout

    second = (
        HEADER
        + "i-1,sales,DK-1001,K-1,,,,,,,clicked,2026-10-03T10:00,\n"  # 2: no UTC offset: i-1 stays sent
        + "i-2,service,DE-2001,K-2,,,,,,,sent,2026-10-04T08:00:00Z,\n"  # 3: moves forward
        + "i-3,sales,XX-9,K-3,Bo,bo@example.net,2026-10-01,,da,,not_sent,,\n"  # 4: unknown dealer
        + "i-4,sales,DK-1001,K-4,Ida,ida@example,2026-10-01,,da,,not_sent,,\n"  # 5: bad email
        + "i-5,sales,DK-1001,K-5,Eva,eva@example.net,2026-10-01,,da,,opened,,\n"  # 6: no such status
        + "i-2,service,DE-2001,K-9,,,,,,,clicked,,\n"  # 7: another customer: a conflict
        + "i-1,sales,DK-1001,K-1,,,,,,,sent,,\n"  # 8: already sent: unchanged
        + "i-6,lost_sales,DK-1001,P-6,Ole,ole@example.net,,,,Lost sales,not_sent\n"  # 9: a cell short
        + "i-7,lost_sales,DK-1001,P-7,Ole,ole@example.net,2026-08-01,,da,Lost sales,not_sent,,\n"  # 10: fine
    )
    r = cli(db_url, "import", "invitations", str(write(tmp_path / "b.csv", second)))
    assert r.exit_code == 1
    out = lines(r.stdout)
    report = [re.match(r"^line (\d+): ([\w.]+): (.+)$", line) for line in out[:-1]]
    assert all(report), out
    assert [(int(m[1]), m[2]) for m in report if m] == [
        (2, "status_at"), (4, "dealer_id"), (5, "customer.email"), (6, "status"), (7, "id"), (9, "row"),
    ]
    assert "UTC offset" in out[0]
    assert out[4] == "line 7: id: invitation 'i-2' is already recorded for another dealer, customer or survey"
    assert out[-1] == "1 stored, 1 moved forward, 1 unchanged, 6 rejected"
    assert sorted(query(db_url, "SELECT id, status FROM invitations")) == [("i-1", "sent"), ("i-2", "sent"), ("i-7", "not_sent")]
    assert query(db_url, "SELECT customer_id FROM invitations WHERE id = 'i-2'") == [("K-2",)]

    again = cli(db_url, "import", "invitations", str(tmp_path / "a.csv"))
    assert lines(again.stdout) == ["0 stored, 0 moved forward, 2 unchanged, 0 rejected"]


def test_an_invitation_file_with_an_unknown_column_stops_before_any_row(db_url: str, tmp_path: Path) -> None:
    ok(db_url, "dealers", "load", str(DEALERS_TOML))
    content = "id,survey,dealer_id,customer.id,nps\ni-1,sales,DK-1001,K-1,9\n"
    r = cli(db_url, "import", "invitations", str(write(tmp_path / "i.csv", content)))
    assert r.exit_code == 1
    assert "cxbot: header: unknown column 'nps'" in lines(r.stderr)
    assert query(db_url, "SELECT count(*) FROM invitations") == [(0,)]
