"""The read side of the HTTP API over a real server: alert lists with filters and paging, one
alert with its history, status changes, customer records, the health check and the OpenAPI
document; and what a key limited to some dealers may see."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from bot.domain.values import Scope
from bot.services import Context, keys
from bot.app import build_api
from storage.database import Database
from tests.conftest import Api, response, settings_for
from tests.fakes.clock import FrozenClock

pytestmark = pytest.mark.usefixtures("example_dealers")

ALERTS = "/api/v1/alerts"
NOTE = "Called the customer; new appointment on Friday"


# --- helpers ---------------------------------------------------------------------------------


async def post(api: Api, *items: dict[str, Any]) -> list[dict[str, Any]]:
    r = await api.post("/api/v1/responses", {"responses": list(items)})
    assert r.status_code == 202, r.text
    alerts: list[dict[str, Any]] = r.json()["alerts"]
    return alerts


def hot(id_: str, dealer: str = "DK-1001", customer: str | None = None, **over: Any) -> dict[str, Any]:
    """A response raising a Hot Alert only (a low score, a promoter's NPS)."""
    return response(id_, **{"dealer_id": dealer, "customer": {"id": customer or f"K-{id_}"}, "nps": 9, "scores": {"overall": 1}, **over})


def opportunity(id_: str, dealer: str = "DK-1001") -> dict[str, Any]:
    return response(
        id_,
        survey="lost_sales",
        dealer_id=dealer,
        customer={"id": f"P-{id_}"},
        nps=None,
        test_drive_requested_at="2026-09-20T12:00:00+02:00",
        answers={"still_considering": True, "wants_contact": True},
    )


def detractor(id_: str, dealer: str = "DK-1001") -> dict[str, Any]:
    """A response raising a Detractor alert only (lost-sales answers raise no Hot Alert)."""
    return response(id_, survey="lost_sales", dealer_id=dealer, customer={"id": f"D-{id_}"}, nps=2)


async def listed(api: Api, key: str | None = None, **params: Any) -> dict[str, Any]:
    r = await api.get(ALERTS, params=params, **({"key": key} if key else {}))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def ids(api: Api, key: str | None = None, **params: Any) -> set[str]:
    return {a["id"] for a in (await listed(api, key, limit=500, **params))["items"]}


async def set_status(api: Api, alert_id: str, status: str, note: str | None = NOTE, key: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"status": status}
    if note is not None:
        body["note"] = note
    return await api.post(f"{ALERTS}/{alert_id}/status", body, **({"key": key} if key else {}))


async def make_key(cx: Context, scope: Scope, dealers: list[str] | None = None) -> str:
    _, key = await keys.create(cx, f"test {scope}", scope, dealers)
    return key


@pytest.fixture
async def mixed(api: Api, clock: FrozenClock) -> dict[str, list[str]]:
    """Alerts of every kind at two dealers, created at different times; some handled."""
    made: dict[str, list[str]] = {}

    def note(alerts: list[dict[str, Any]]) -> None:
        for a in alerts:
            made.setdefault(a["kind"], []).append(a["id"])

    note(await post(api, hot("r-1"), hot("r-2"), opportunity("r-3"), detractor("r-4")))  # HA-1 HA-2 SO-1 DT-1
    clock.advance(hours=1)
    note(await post(api, hot("r-5", dealer="DE-2001"), opportunity("r-6", dealer="DE-2001")))  # HA-3 SO-2
    clock.advance(hours=1)
    note(await post(api, hot("r-7", dealer="DK-5001", survey="service")))  # HA-4
    assert (await set_status(api, "HA-2", "ongoing")).status_code == 200
    assert (await set_status(api, "SO-2", "resolved")).status_code == 200
    return made


# --- GET /api/v1/alerts: filters -------------------------------------------------------------


async def test_alert_list_without_filters_has_every_alert_newest_first(api: Api, mixed: dict[str, list[str]]) -> None:
    body = await listed(api)

    assert body["next_cursor"] is None
    items = body["items"]
    assert {a["id"] for a in items} == {"HA-1", "HA-2", "HA-3", "HA-4", "SO-1", "SO-2", "DT-1"}
    created = [a["created_at"] for a in items]
    assert created == sorted(created, reverse=True)
    assert items[0]["id"] == "HA-4"
    first = next(a for a in items if a["id"] == "HA-1")
    assert first == {
        "id": "HA-1",
        "kind": "hot_alert",
        "status": "new",
        "dealer_id": "DK-1001",
        "customer_id": "K-r-1",
        "response_id": "r-1",
        "created_at": "2026-11-02T09:00:00Z",
        "due_at": "2026-11-04T09:00:00Z",
        "handled_at": None,
        "resolved_at": None,
        "overdue": False,
        "on_time": None,
        "escalation_level": 0,
        "escalated_at": None,
    }


async def test_alert_list_filters_by_status(api: Api, mixed: dict[str, list[str]]) -> None:
    assert await ids(api, status="new") == {"HA-1", "HA-3", "HA-4", "SO-1", "DT-1"}
    assert await ids(api, status="ongoing") == {"HA-2"}
    assert await ids(api, status="resolved") == {"SO-2"}


async def test_alert_list_filters_by_kind(api: Api, mixed: dict[str, list[str]]) -> None:
    assert await ids(api, kind="hot_alert") == {"HA-1", "HA-2", "HA-3", "HA-4"}
    assert await ids(api, kind="sales_opportunity") == {"SO-1", "SO-2"}
    assert await ids(api, kind="detractor") == {"DT-1"}
    assert await ids(api, kind="complaint") == set()


async def test_alert_list_filters_by_dealer(api: Api, mixed: dict[str, list[str]]) -> None:
    assert await ids(api, dealer_id="DK-1001") == {"HA-1", "HA-2", "SO-1", "DT-1"}
    assert await ids(api, dealer_id="DE-2001") == {"HA-3", "SO-2"}
    assert await ids(api, dealer_id="DK-5001") == {"HA-4"}
    assert await ids(api, dealer_id="XX-0000") == set()


async def test_alert_list_filters_combine(api: Api, mixed: dict[str, list[str]]) -> None:
    assert await ids(api, dealer_id="DK-1001", kind="hot_alert", status="new") == {"HA-1"}
    assert await ids(api, dealer_id="DE-2001", status="resolved", kind="sales_opportunity") == {"SO-2"}


async def test_overdue_lists_only_unhandled_alerts_past_due(api: Api, clock: FrozenClock, mixed: dict[str, list[str]]) -> None:
    assert await ids(api, overdue="true") == set()

    clock.advance(hours=47, minutes=30)  # now 49.5 h after HA-1, 48.5 h after HA-3, 47.5 h after HA-4
    # HA-2 was handled in time; HA-3 is Autohaus Brandt's, whose 48 hours count in its opening hours
    # (Mon–Fri 08–18, Sat 09–13 in the example file): it is due on Saturday.
    assert await ids(api, overdue="true") == {"HA-1"}

    clock.advance(days=6)
    assert await ids(api, overdue="true") == {"HA-1", "HA-3", "HA-4", "SO-1"}  # SO-2 resolved; DT has no due time
    items = (await listed(api, overdue="true"))["items"]
    assert all(a["overdue"] is True for a in items)
    assert await ids(api, overdue="true", kind="hot_alert", dealer_id="DK-1001") == {"HA-1"}


async def test_overdue_false_lists_everything(api: Api, clock: FrozenClock, mixed: dict[str, list[str]]) -> None:
    clock.advance(days=30)

    assert len(await ids(api, overdue="false")) == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "closed"}, "status"),
        ({"kind": "hot"}, "kind"),
        ({"overdue": "maybe"}, "overdue"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ],
)
async def test_bad_list_parameters_are_422_naming_the_parameter(api: Api, params: dict[str, Any], field: str) -> None:
    r = await api.get(ALERTS, params=params)

    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_nul_character_in_a_query_path_or_note_is_422_on_every_database(api: Api) -> None:
    await post(api, hot("r-1", customer="K-1"))

    answers = [
        await api.get(ALERTS, params={"dealer_id": "DK-1001\x00"}),
        await api.get("/api/v1/dealers/DK-1001%00/customers/K-1"),
        await api.get("/api/v1/dealers/DK-1001/customers/K-1%00"),
        await set_status(api, "HA-1", "ongoing", "Called\x00"),
    ]

    assert [r.status_code for r in answers] == [422] * 4
    assert [r.json()["errors"][0]["field"] for r in answers] == ["query", "path", "path", "note"]
    assert (await api.get(f"{ALERTS}/HA-1")).json()["status"] == "new"


# --- GET /api/v1/alerts: paging --------------------------------------------------------------


async def walk(api: Api, limit: int, key: str | None = None, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        q = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        body = await listed(api, key, **q)
        pages.append([a["id"] for a in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "paging never ends"


async def test_paging_visits_every_alert_once_in_order(api: Api, clock: FrozenClock) -> None:
    # 23 Hot Alerts in 5 batches: ties on created_at inside each batch, ids past HA-9 and HA-19.
    for start in range(0, 23, 5):
        await post(api, *[hot(f"r-{i}") for i in range(start, min(start + 5, 23))])
        clock.advance(minutes=10)
    everything = [a["id"] for a in (await listed(api, limit=500))["items"]]
    assert len(everything) == 23

    pages = await walk(api, limit=4)

    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 3]
    flat = [i for p in pages for i in p]
    assert flat == everything
    assert len(set(flat)) == 23


@pytest.mark.parametrize("limit", [1, 5, 10, 11])
async def test_last_page_has_no_next_cursor(api: Api, limit: int) -> None:
    await post(api, *[hot(f"r-{i}") for i in range(10)])

    pages = await walk(api, limit=limit)

    assert all(pages), "no page is empty"
    assert sorted(i for p in pages for i in p) == sorted(f"HA-{n}" for n in range(1, 11))
    assert len(pages) == -(-10 // limit)


async def test_paging_with_a_filter_keeps_the_filter(api: Api) -> None:
    await post(api, *[hot(f"r-{i}") for i in range(6)], *[opportunity(f"o-{i}") for i in range(5)])

    pages = await walk(api, limit=2, kind="sales_opportunity")

    assert sorted(i for p in pages for i in p) == [f"SO-{n}" for n in range(1, 6)]


async def test_alerts_created_while_paging_do_not_shift_later_pages(api: Api, clock: FrozenClock) -> None:
    await post(api, *[hot(f"r-{i}") for i in range(6)])
    first = await listed(api, limit=3)

    clock.advance(minutes=5)
    await post(api, hot("r-new"))  # newer: belongs before page one, not inside page two

    second = await listed(api, limit=3, cursor=first["next_cursor"])
    seen = [a["id"] for a in first["items"]] + [a["id"] for a in second["items"]]
    assert sorted(seen) == sorted(f"HA-{n}" for n in range(1, 7))
    assert second["next_cursor"] is None


async def test_paging_keeps_alerts_a_microsecond_apart_in_order(api: Api, clock: FrozenClock) -> None:
    for i in range(6):
        await post(api, hot(f"r-{i}"))
        clock.advance(microseconds=1)

    pages = await walk(api, limit=2)

    assert [i for p in pages for i in p] == [f"HA-{n}" for n in range(6, 0, -1)]


@pytest.mark.parametrize(
    "raw",
    ["2026-11-02T09:00:00|HA-5", "2026-11-02T09:00:00+00:00", "yesterday|HA-1", "|"],
)
async def test_cursor_not_given_out_by_the_server_is_422(api: Api, raw: str) -> None:
    await post(api, hot("r-1"))
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    r = await api.get(ALERTS, params={"cursor": cursor})

    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"]


# --- dealer-scoped keys ----------------------------------------------------------------------


async def test_dealer_scoped_key_lists_only_its_dealers_alerts(api: Api, cx: Context, mixed: dict[str, list[str]]) -> None:
    key = await make_key(cx, Scope.READ, ["DE-2001"])

    assert await ids(api, key) == {"HA-3", "SO-2"}
    assert await ids(api, key, dealer_id="DK-1001") == set()
    assert await ids(api, key, dealer_id="DE-2001", status="new") == {"HA-3"}


async def test_key_for_two_dealers_lists_both(api: Api, cx: Context, mixed: dict[str, list[str]]) -> None:
    key = await make_key(cx, Scope.READ, ["DE-2001", "DK-5001"])

    assert await ids(api, key) == {"HA-3", "SO-2", "HA-4"}
    assert [i for p in await walk(api, 1, key) for i in p] == ["HA-4", "SO-2", "HA-3"]


async def test_dealer_scoped_key_gets_404_for_another_dealers_alert(api: Api, cx: Context, mixed: dict[str, list[str]]) -> None:
    key = await make_key(cx, Scope.READ, ["DE-2001"])

    own = await api.get(f"{ALERTS}/HA-3", key=key)
    other = await api.get(f"{ALERTS}/HA-1", key=key)
    unknown = await api.get(f"{ALERTS}/HA-999", key=key)

    assert own.status_code == 200
    assert other.status_code == 404
    assert other.json() == {"error": "No alert 'HA-1'."}
    assert unknown.json() == {"error": "No alert 'HA-999'."}  # indistinguishable from a missing one


async def test_dealer_scoped_key_gets_404_for_another_dealers_customer(api: Api, cx: Context, mixed: dict[str, list[str]]) -> None:
    key = await make_key(cx, Scope.READ, ["DE-2001"])

    assert (await api.get("/api/v1/dealers/DE-2001/customers/K-r-5", key=key)).status_code == 200
    assert (await api.get("/api/v1/dealers/DK-1001/customers/K-r-1", key=key)).status_code == 404


async def test_reads_without_a_valid_key_are_401(api: Api, cx: Context, mixed: dict[str, list[str]]) -> None:
    info, revoked = await keys.create(cx, "old", Scope.READ, None)
    await keys.revoke(cx, info.id)
    paths = [ALERTS, f"{ALERTS}/HA-1", "/api/v1/dealers/DK-1001/customers/K-r-1"]

    for key in (None, "wrong-key-0000000000", revoked):
        for path in paths:
            r = await api.client.get(path, headers=api.auth(key) if key else {})
            assert r.status_code == 401, (key, path)
    r = await api.client.post(f"{ALERTS}/HA-1/status", json={"status": "ongoing", "note": NOTE})
    assert r.status_code == 401


# --- GET /api/v1/alerts/{id} -----------------------------------------------------------------


async def test_alert_detail_shows_the_alert_with_its_history(api: Api, clock: FrozenClock) -> None:
    await post(api, hot("r-1", customer="K-1", nps=4))
    clock.advance(hours=3)
    assert (await set_status(api, "HA-1", "ongoing", "Called Anne; she will bring the car in")).status_code == 200
    clock.advance(hours=2)
    assert (await set_status(api, "HA-1", "resolved", "Paint fixed; customer happy")).status_code == 200

    r = await api.get(f"{ALERTS}/HA-1")

    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "HA-1" and body["status"] == "resolved"
    assert body["dealer_id"] == "DK-1001" and body["dealer_name"] == "Autohuset Vest"
    assert body["handled_at"] == "2026-11-02T12:00:00Z" and body["resolved_at"] == "2026-11-02T14:00:00Z"
    assert body["on_time"] is True
    history = body["history"]
    assert [(h["event"], h["old_status"], h["new_status"]) for h in history] == [
        ("created", None, "new"),
        ("status", "new", "ongoing"),
        ("status", "ongoing", "resolved"),
    ]
    assert [h["at"] for h in history] == ["2026-11-02T09:00:00Z", "2026-11-02T12:00:00Z", "2026-11-02T14:00:00Z"]
    assert history[0]["channel"] == "system" and "NPS 4" in history[0]["note"]
    assert history[1] == {
        "at": "2026-11-02T12:00:00Z",
        "event": "status",
        "channel": "api",
        "actor": "api:bootstrap-1",
        "old_status": "new",
        "new_status": "ongoing",
        "note": "Called Anne; she will bring the car in",
    }
    assert history[2]["note"] == "Paint fixed; customer happy"


async def test_alert_detail_accepts_the_id_in_any_case_and_without_a_dash(api: Api) -> None:
    await post(api, hot("r-1"))

    for ref in ("ha-1", "HA1", "ha1"):
        r = await api.get(f"{ALERTS}/{ref}")
        assert r.status_code == 200, ref
        assert r.json()["id"] == "HA-1"


async def test_unknown_alert_is_404(api: Api) -> None:
    await post(api, hot("r-1"))

    for ref in ("HA-2", "SO-1", "DT-1", "CO-1"):
        r = await api.get(f"{ALERTS}/{ref}")
        assert r.status_code == 404, ref


async def test_malformed_alert_id_is_422(api: Api) -> None:
    r = await api.get(f"{ALERTS}/XY-1")

    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "id"


# --- POST /api/v1/alerts/{id}/status ---------------------------------------------------------


async def test_setting_ongoing_records_handling_and_clears_overdue(api: Api, clock: FrozenClock) -> None:
    await post(api, hot("r-1"))
    clock.advance(hours=50)
    assert (await ids(api, overdue="true")) == {"HA-1"}

    r = await set_status(api, "HA-1", "ongoing")

    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ongoing" and body["handled_at"] == "2026-11-04T11:00:00Z"
    assert body["overdue"] is False and body["on_time"] is False
    assert await ids(api, overdue="true") == set()


async def test_every_allowed_transition_is_accepted(api: Api) -> None:
    await post(api, hot("r-1"), hot("r-2"))

    steps = [("HA-1", "ongoing"), ("HA-1", "ongoing"), ("HA-1", "resolved"), ("HA-1", "ongoing"), ("HA-2", "resolved")]
    for alert_id, status in steps:
        r = await set_status(api, alert_id, status)
        assert r.status_code == 200, (alert_id, status, r.text)
        assert r.json()["status"] == status

    history = (await api.get(f"{ALERTS}/HA-1")).json()["history"]
    assert [h["new_status"] for h in history] == ["new", "ongoing", "ongoing", "resolved", "ongoing"]
    reopened = (await api.get(f"{ALERTS}/HA-1")).json()
    assert reopened["resolved_at"] is None


@pytest.mark.parametrize("note", [None, "", "   \n\t "])
async def test_status_change_without_a_note_is_422_and_changes_nothing(api: Api, note: str | None) -> None:
    await post(api, hot("r-1"))

    r = await set_status(api, "HA-1", "ongoing", note)

    assert r.status_code == 422, r.text
    alert = (await api.get(f"{ALERTS}/HA-1")).json()
    assert alert["status"] == "new" and alert["handled_at"] is None and len(alert["history"]) == 1


@pytest.mark.parametrize(("path", "to"), [(["resolved"], "resolved"), ([], "new"), (["ongoing"], "new")])
async def test_transition_not_allowed_is_409_and_changes_nothing(api: Api, path: list[str], to: str) -> None:
    await post(api, hot("r-1"))
    for status in path:
        assert (await set_status(api, "HA-1", status)).status_code == 200
    before = (await api.get(f"{ALERTS}/HA-1")).json()

    r = await set_status(api, "HA-1", to)

    assert r.status_code == 409, r.text
    assert "HA-1" in r.json()["error"]
    assert (await api.get(f"{ALERTS}/HA-1")).json() == before


async def test_unknown_status_word_is_422(api: Api) -> None:
    await post(api, hot("r-1"))

    r = await set_status(api, "HA-1", "done")

    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["status"]


async def test_status_change_with_an_extra_field_is_422(api: Api) -> None:
    await post(api, hot("r-1"))

    r = await api.post(f"{ALERTS}/HA-1/status", {"status": "ongoing", "note": NOTE, "by": "Mette"})

    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["by"]


async def test_status_change_of_unknown_alert_is_404(api: Api) -> None:
    r = await set_status(api, "HA-77", "ongoing")

    assert r.status_code == 404


async def test_status_change_needs_admin_scope(api: Api, cx: Context) -> None:
    await post(api, hot("r-1"))
    read = await make_key(cx, Scope.READ)
    intake = await make_key(cx, Scope.INTAKE)
    admin = await make_key(cx, Scope.ADMIN)

    assert (await set_status(api, "HA-1", "ongoing", key=read)).status_code == 403
    assert (await set_status(api, "HA-1", "ongoing", key=intake)).status_code == 403
    assert (await api.get(f"{ALERTS}/HA-1")).json()["status"] == "new"
    ok = await set_status(api, "HA-1", "ongoing", key=admin)
    assert ok.status_code == 200
    history = (await api.get(f"{ALERTS}/HA-1")).json()["history"]
    assert history[-1]["actor"].startswith("api:key-")


async def test_dealer_scoped_admin_key_cannot_change_another_dealers_alert(api: Api, cx: Context) -> None:
    await post(api, hot("r-1"), hot("r-2", dealer="DE-2001"))
    key = await make_key(cx, Scope.ADMIN, ["DE-2001"])

    other = await set_status(api, "HA-1", "resolved", key=key)
    own = await set_status(api, "HA-2", "resolved", key=key)

    assert other.status_code == 404
    assert (await api.get(f"{ALERTS}/HA-1")).json()["status"] == "new"
    assert own.status_code == 200


# --- GET /api/v1/dealers/{d}/customers/{c} ---------------------------------------------------


async def test_customer_record_shows_details_latest_responses_flag_and_open_alerts(api: Api, clock: FrozenClock) -> None:
    person = {
        "id": "K-9",
        "kind": "person",
        "name": "Jens Madsen",
        "email": "jens@example.net",
        "phones": {"mobile": "+45 40 00 00 00"},
        "language": "da",
        "customer_number": "100234",
        "salesperson_email": "mette.kjaer@autohuset-vest.example",
    }
    await post(api, response("r-1", customer=person, nps=8, submitted_at="2026-10-01T10:00:00+02:00", purchase_date="2026-09-01"))
    clock.advance(days=1)
    await post(api, response("r-2", customer={"id": "K-9"}, survey="service", segment=3, service_date="2026-10-20", nps=3, comment="Too slow", submitted_at="2026-10-25T10:00:00+02:00"))

    r = await api.get("/api/v1/dealers/DK-1001/customers/K-9")

    assert r.status_code == 200
    card = r.json()
    assert {k: card[k] for k in ("dealer_id", "customer_id", "name", "anonymized", "kind", "customer_number", "email", "language", "salesperson_email")} == {
        "dealer_id": "DK-1001",
        "customer_id": "K-9",
        "name": "Jens Madsen",
        "anonymized": False,
        "kind": "person",
        "customer_number": "100234",
        "email": "jens@example.net",
        "language": "da",
        "salesperson_email": "mette.kjaer@autohuset-vest.example",
    }
    assert card["phones"] == {"home": None, "work": None, "mobile": "+45 40 00 00 00"}
    assert card["detractor"] is True and card["detractor_response_id"] == "r-2"
    latest = card["latest_responses"]
    assert [r["id"] for r in latest] == ["r-2", "r-1"]
    assert latest[0] == {
        "id": "r-2",
        "survey": "service",
        "submitted_at": "2026-10-25T08:00:00Z",
        "nps": 3,
        "scores": {},
        "comment": "Too slow",
        "purchase_date": None,
        "service_date": "2026-10-20",
        "segment": 3,
    }
    assert latest[1]["purchase_date"] == "2026-09-01"
    assert sorted(a["id"] for a in card["open_alerts"]) == ["DT-1", "HA-1"]


async def test_customer_record_lists_open_alerts_only(api: Api) -> None:
    await post(api, hot("r-1", customer="K-1"), hot("r-2", customer="K-1", submitted_at="2026-11-01T11:00:00+01:00"))
    assert (await set_status(api, "HA-1", "resolved")).status_code == 200
    assert (await set_status(api, "HA-2", "ongoing")).status_code == 200

    card = (await api.get("/api/v1/dealers/DK-1001/customers/K-1")).json()

    assert [(a["id"], a["status"]) for a in card["open_alerts"]] == [("HA-2", "ongoing")]


async def test_customer_ids_are_per_dealer(api: Api) -> None:
    await post(api, hot("r-1", customer="K-1"), response("r-2", dealer_id="DE-2001", customer={"id": "K-1", "name": "Klaus Weber"}))

    dk = (await api.get("/api/v1/dealers/DK-1001/customers/K-1")).json()
    de = (await api.get("/api/v1/dealers/DE-2001/customers/K-1")).json()

    assert [r["id"] for r in dk["latest_responses"]] == ["r-1"] and len(dk["open_alerts"]) == 1
    assert de["name"] == "Klaus Weber" and [r["id"] for r in de["latest_responses"]] == ["r-2"] and de["open_alerts"] == []


async def test_unknown_customer_is_404(api: Api) -> None:
    await post(api, hot("r-1", customer="K-1"))

    for path in ("/api/v1/dealers/DK-1001/customers/K-2", "/api/v1/dealers/DE-2001/customers/K-1", "/api/v1/dealers/XX-1/customers/K-1"):
        r = await api.get(path)
        assert r.status_code == 404, path
        assert "error" in r.json()


# --- /healthz and /openapi.json --------------------------------------------------------------


async def test_healthz_answers_ok_without_a_key(api: Api) -> None:
    r = await api.client.get("/healthz")

    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # nothing listens on port 1
    cx = Context(db=Database(url), clock=FrozenClock())
    app = build_api(settings_for(url), cx)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cxbot") as client:
            r = await client.get("/healthz")
    finally:
        await cx.db.close()

    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"


def refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return own.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


async def test_openapi_document_lists_the_paths_and_the_response_schema(api: Api) -> None:
    r = await api.client.get("/openapi.json")

    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    assert {
        "/api/v1/responses",
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}",
        "/api/v1/alerts/{alert_id}/status",
        "/api/v1/dealers/{dealer_id}/customers/{customer_id}",
        "/healthz",
    } <= set(paths)
    intake = paths["/api/v1/responses"]["post"]
    assert {"200", "202", "401", "403", "409", "413", "422"} <= set(intake["responses"])
    schemas = doc["components"]["schemas"]
    wire = schemas["ResponseWire"]
    assert {"id", "survey", "dealer_id", "submitted_at", "customer"} <= set(wire["required"])
    assert {"nps", "scores", "answers", "anonymous", "segment", "contact", "purchase_date", "test_drive_requested_at"} <= set(wire["properties"])
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, f"dangling {ref}"
    assert "#/components/schemas/ResponseWire" in refs(intake)
