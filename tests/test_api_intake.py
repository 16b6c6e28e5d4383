"""POST /api/v1/responses over a real HTTP server: every answer code, every bad-input case, the
alert rules, the detractor flag and anonymous answers, as a survey platform sees them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.domain.rules import DealerRules, Rules
from bot.domain.values import Scope
from bot.services import Context, keys
from tests.conftest import Api, response
from tests.fakes.clock import FrozenClock

pytestmark = pytest.mark.usefixtures("example_dealers")

PATH = "/api/v1/responses"
NOW = "2026-11-02T09:00:00Z"  # the FrozenClock's start: every alert's created_at
HA_DUE = "2026-11-04T09:00:00Z"  # + 48 hours
SO_DUE = "2026-11-09T09:00:00Z"  # + 7 days


# --- helpers ---------------------------------------------------------------------------------


def batch(*items: dict[str, Any]) -> dict[str, Any]:
    return {"responses": list(items)}


def lost_sales(id_: str, **over: Any) -> dict[str, Any]:
    """A lost-sales prospect who requested a test drive, did not buy, and wants contact."""
    body = response(
        id_,
        survey="lost_sales",
        customer={"id": f"P-{id_}", "name": "Mikkel Friis", "email": "mikkel@example.net"},
        submitted_at="2026-11-01T10:00:00+01:00",
        test_drive_requested_at="2026-09-20T12:00:00+02:00",
        test_drive_source="website",
        nps=None,
        answers={"still_considering": True, "wants_contact": True},
    )
    body.update(over)
    return body


async def stored(cx: Context, response_id: str) -> Any | None:
    async with cx.db.read() as tx:
        return await tx.responses.get(response_id)


async def all_alerts(api: Api, **filters: Any) -> list[dict[str, Any]]:
    r = await api.get("/api/v1/alerts", params={"limit": 500, **filters})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def customer(api: Api, customer_id: str, dealer: str = "DK-1001") -> dict[str, Any]:
    r = await api.get(f"/api/v1/dealers/{dealer}/customers/{customer_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def accepted(api: Api, body: Any) -> dict[str, Any]:
    r = await api.post(PATH, body)
    assert r.status_code == 202, r.text
    out: dict[str, Any] = r.json()
    return out


def kinds(answer: dict[str, Any]) -> list[str]:
    return sorted(a["kind"] for a in answer["alerts"])


def errors(r: httpx.Response) -> list[tuple[int | None, str]]:
    assert r.status_code == 422, r.text
    return [(e["index"], e["field"]) for e in r.json()["errors"]]


async def make_key(cx: Context, scope: Scope, dealers: list[str] | None = None) -> str:
    _, key = await keys.create(cx, f"test {scope}", scope, dealers)
    return key


# --- 202 / 200 -------------------------------------------------------------------------------


async def test_new_response_is_accepted_with_202_listing_the_alerts_it_raised(api: Api, cx: Context) -> None:
    r = await api.post(PATH, response("r-1", nps=3))

    assert r.status_code == 202
    assert r.json() == {
        "accepted": 1,
        "duplicates": 0,
        "alerts": [
            {"id": "HA-1", "kind": "hot_alert", "response_id": "r-1", "due_at": HA_DUE},
            {"id": "DT-1", "kind": "detractor", "response_id": "r-1", "due_at": None},
        ],
    }
    assert (await stored(cx, "r-1")) is not None


async def test_batch_of_new_responses_is_accepted_and_counted(api: Api, cx: Context) -> None:
    answer = await accepted(api, batch(response("r-1"), response("r-2", customer={"id": "K-2"}), response("r-3", dealer_id="DE-2001")))

    assert answer == {"accepted": 3, "duplicates": 0, "alerts": []}
    for id_ in ("r-1", "r-2", "r-3"):
        assert (await stored(cx, id_)) is not None


async def test_resending_the_same_response_answers_200_and_creates_nothing(api: Api) -> None:
    first = await accepted(api, response("r-1", nps=2))
    assert len(first["alerts"]) == 2

    again = await api.post(PATH, response("r-1", nps=2))

    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 1, "alerts": []}
    assert len(await all_alerts(api)) == 2


async def test_resending_a_whole_batch_answers_200_with_every_item_a_duplicate(api: Api) -> None:
    body = batch(response("r-1", nps=4), response("r-2", customer={"id": "K-2"}))
    await accepted(api, body)

    again = await api.post(PATH, body)

    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 2, "alerts": []}


async def test_batch_with_known_and_new_ids_is_202_counting_the_duplicates(api: Api) -> None:
    await accepted(api, response("r-1"))

    answer = await accepted(api, batch(response("r-1"), response("r-2", nps=5, customer={"id": "K-2"})))

    assert answer["accepted"] == 1 and answer["duplicates"] == 1
    assert {a["response_id"] for a in answer["alerts"]} == {"r-2"}


async def test_same_response_twice_in_one_batch_is_stored_once(api: Api) -> None:
    answer = await accepted(api, batch(response("r-1", nps=1), response("r-1", nps=1)))

    assert answer["accepted"] == 1 and answer["duplicates"] == 1
    assert kinds(answer) == ["detractor", "hot_alert"]


async def test_the_same_batch_posted_concurrently_is_stored_once(api: Api) -> None:
    body = batch(*[response(f"r-{i}", customer={"id": f"K-{i}"}, nps=3) for i in range(40)])

    answers = await asyncio.gather(*[api.post(PATH, body) for _ in range(4)])

    assert sorted(r.status_code for r in answers) == [200, 200, 200, 202], [r.text[:300] for r in answers]
    assert sorted(r.json()["accepted"] for r in answers) == [0, 0, 0, 40]
    assert len(await all_alerts(api, kind="hot_alert")) == 40
    assert len(await all_alerts(api, kind="detractor")) == 40


async def test_concurrent_answers_of_one_customer_leave_the_flag_on_the_newest(api: Api) -> None:
    bodies = [response(f"r-{i}", nps=2 if i % 2 else 9, submitted_at=f"2026-10-{10 + i}T10:00:00+00:00") for i in range(8)]

    answers = await asyncio.gather(*[api.post(PATH, b) for b in bodies])

    assert [r.status_code for r in answers] == [202] * 8
    card = await customer(api, "K-1")
    assert card["detractor"] is True and card["detractor_response_id"] == "r-7"
    assert [a["status"] for a in await all_alerts(api, kind="detractor") if a["status"] != "resolved"] == ["new"]


# --- 409 -------------------------------------------------------------------------------------


async def test_known_id_with_different_content_is_409_naming_it_and_storing_nothing(api: Api, cx: Context) -> None:
    await accepted(api, response("r-1", nps=9))

    r = await api.post(PATH, batch(response("r-2", nps=1, customer={"id": "K-2"}), response("r-1", nps=3)))

    assert r.status_code == 409
    assert r.json()["ids"] == ["r-1"]
    assert "r-1" in r.json()["error"]
    assert (await stored(cx, "r-2")) is None
    assert (await stored(cx, "r-1")).nps == 9  # type: ignore[union-attr]
    assert await all_alerts(api) == []


async def test_same_id_twice_in_one_batch_with_different_content_is_409(api: Api, cx: Context) -> None:
    r = await api.post(PATH, batch(response("r-0", customer={"id": "K-0"}), response("r-1", nps=9), response("r-1", nps=2)))

    assert r.status_code == 409
    assert r.json()["ids"] == ["r-1"]
    assert (await stored(cx, "r-0")) is None
    assert (await stored(cx, "r-1")) is None
    assert await all_alerts(api) == []


# --- 401 / 403 -------------------------------------------------------------------------------


async def test_missing_key_is_401(api: Api, cx: Context) -> None:
    r = await api.post(PATH, response("r-1"), key=None)

    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert (await stored(cx, "r-1")) is None


async def test_wrong_key_is_401(api: Api, cx: Context) -> None:
    for wrong in ("not-a-key-at-all-0000", "cxk_madeup0000000000000000000000000000000"):
        r = await api.post(PATH, response("r-1"), key=wrong)
        assert r.status_code == 401, wrong
    assert (await stored(cx, "r-1")) is None


async def test_revoked_key_is_401(api: Api, cx: Context) -> None:
    info, key = await keys.create(cx, "platform", Scope.INTAKE, None)
    assert (await api.post(PATH, response("r-1"), key=key)).status_code == 202

    await keys.revoke(cx, info.id)

    r = await api.post(PATH, response("r-2", customer={"id": "K-2"}), key=key)
    assert r.status_code == 401
    assert (await stored(cx, "r-2")) is None


async def test_key_for_one_dealer_posting_for_its_dealer_is_accepted(api: Api) -> None:
    key = await make_key(cx=api.cx, scope=Scope.INTAKE, dealers=["DK-1001"])

    r = await api.post(PATH, response("r-1"), key=key)

    assert r.status_code == 202


async def test_key_for_one_dealer_posting_for_another_dealer_is_403_and_stores_nothing(api: Api, cx: Context) -> None:
    key = await make_key(cx, Scope.INTAKE, ["DK-1001"])

    r = await api.post(PATH, batch(response("r-1"), response("r-2", dealer_id="DE-2001", nps=0)), key=key)

    assert r.status_code == 403
    assert "DE-2001" in r.json()["error"]
    assert (await stored(cx, "r-1")) is None and (await stored(cx, "r-2")) is None


async def test_read_key_cannot_post_responses(api: Api, cx: Context) -> None:
    key = await make_key(cx, Scope.READ)

    r = await api.post(PATH, response("r-1"), key=key)

    assert r.status_code == 403
    assert (await stored(cx, "r-1")) is None


async def test_intake_key_cannot_read_alerts_or_customers(api: Api) -> None:
    key = await make_key(api.cx, Scope.INTAKE)
    await accepted(api, response("r-1", nps=1))

    for path in ("/api/v1/alerts", "/api/v1/alerts/HA-1", "/api/v1/dealers/DK-1001/customers/K-1"):
        r = await api.get(path, key=key)
        assert r.status_code == 403, path


async def test_admin_key_may_post_responses(api: Api) -> None:
    key = await make_key(api.cx, Scope.ADMIN)

    assert (await api.post(PATH, response("r-1"), key=key)).status_code == 202


# --- 413 -------------------------------------------------------------------------------------


async def test_body_over_the_size_limit_is_413(api: Api, cx: Context) -> None:
    items = [response(f"r-{i}", comment="x" * 19_000, customer={"id": f"K-{i}"}) for i in range(240)]
    raw = json.dumps(batch(*items)).encode()
    assert len(raw) > 4 * 1024 * 1024

    r = await api.client.post(PATH, content=raw, headers={**api.auth(), "Content-Type": "application/json"})

    assert r.status_code == 413
    assert (await stored(cx, "r-0")) is None


async def test_streamed_body_without_length_over_the_limit_is_413(api: Api, cx: Context) -> None:
    item = json.dumps(response("r-1", comment="y" * 19_000)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"responses": ['
        for i in range(240):
            yield (b"," if i else b"") + item
        yield b"]}"

    r = await api.client.post(PATH, content=chunks(), headers={**api.auth(), "Content-Type": "application/json"})

    assert "content-length" not in r.request.headers
    assert r.status_code == 413
    assert (await stored(cx, "r-1")) is None


@pytest.mark.parametrize(("extra", "status"), [(0, 202), (1, 413)])
async def test_body_limit_is_exactly_4_mib(api: Api, extra: int, status: int) -> None:
    raw = json.dumps(response("r-1")).encode()
    raw += b" " * (4 * 1024 * 1024 - len(raw) + extra)  # JSON allows trailing whitespace

    r = await api.client.post(PATH, content=raw, headers={**api.auth(), "Content-Type": "application/json"})

    assert r.status_code == status, r.text[:200]


async def test_body_just_under_the_limit_is_accepted(api: Api) -> None:
    items = [response(f"r-{i}", comment="z" * 19_000, customer={"id": f"K-{i}"}) for i in range(200)]
    raw = json.dumps(batch(*items)).encode()
    assert len(raw) < 4 * 1024 * 1024

    r = await api.client.post(PATH, content=raw, headers={**api.auth(), "Content-Type": "application/json"})

    assert r.status_code == 202
    assert r.json()["accepted"] == 200


# --- 422 -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"dealer_id": "XX-9999"}, "dealer_id"),
        ({"nps": 11}, "nps"),
        ({"nps": -1}, "nps"),
        ({"nps": "7"}, "nps"),
        ({"nps": 7.5}, "nps"),
        ({"anonymous": "yes"}, "anonymous"),
        ({"publish_consent": 1}, "publish_consent"),
        ({"survey": "aftersales"}, "survey"),
        ({"submitted_at": "yesterday"}, "submitted_at"),
        ({"submitted_at": "2026-11-01T10:00:00"}, "submitted_at"),
        ({"submitted_at": "2026-02-30T10:00:00+01:00"}, "submitted_at"),
        ({"purchase_date": "2026-13-01"}, "purchase_date"),
        ({"segment": 2}, "segment"),
        ({"survey": "service", "segment": 4}, "segment"),
        ({"scores": {"overall": 0}}, "scores.overall"),
        ({"scores": {"overall": 6}}, "scores.overall"),
        ({"scores": {"overall": "5"}}, "scores.overall"),
        ({"answers": {"contact_requested": "yes"}}, "answers.contact_requested"),
        ({"mood": "grumpy"}, "mood"),
        ({"customer": {"id": "K-1", "email": "not-an-address"}}, "customer.email"),
        ({"customer": {"name": "No Id"}}, "customer.id"),
        ({"customer": {"id": "K-1", "shoe_size": 44}}, "customer.shoe_size"),
        ({"test_drive_requested_at": "2026-09-20T12:00:00"}, "test_drive_requested_at"),
    ],
)
async def test_one_wrong_field_is_422_naming_that_field(api: Api, cx: Context, over: dict[str, Any], field: str) -> None:
    r = await api.post(PATH, response("r-1", **over))

    assert errors(r) == [(0, field)]
    assert r.json()["errors"][0]["message"]
    assert (await stored(cx, "r-1")) is None


@pytest.mark.parametrize(
    ("over", "fields"),
    [
        ({"comment": "Nice staff\u0000"}, ["comment"]),
        ({"id": "r-\u00001"}, ["id"]),
        ({"dealer_id": "DK-1001\u0000"}, ["dealer_id"]),
        ({"customer": {"id": "K-1", "name": "Anne\u0000"}}, ["customer.name"]),
        ({"answers": {"why": ["price", "\u0000"]}}, ["answers.why.1"]),
        ({"answers": {"wh\u0000y": "price"}}, ["answers"]),
        ({"nps": 11, "comment": "\u0000"}, ["comment", "nps"]),
    ],
)
async def test_text_with_a_nul_character_is_422_on_every_database(api: Api, cx: Context, over: dict[str, Any], fields: list[str]) -> None:
    r = await api.post(PATH, response("r-1", **over))

    assert sorted(errors(r)) == [(0, f) for f in fields]
    assert all("NUL" in e["message"] for e in r.json()["errors"] if e["field"] != "nps")
    assert await all_alerts(api) == []


async def test_missing_id_is_422(api: Api) -> None:
    body = response("r-1")
    del body["id"]

    r = await api.post(PATH, body)

    assert errors(r) == [(0, "id")]
    assert r.json()["errors"][0]["message"] == "is required"


async def test_naive_datetime_message_asks_for_an_offset(api: Api) -> None:
    r = await api.post(PATH, response("r-1", submitted_at="2026-11-01T10:00:00"))

    assert errors(r) == [(0, "submitted_at")]
    assert "offset" in r.json()["errors"][0]["message"]


async def test_unknown_dealer_message_names_the_dealer(api: Api) -> None:
    r = await api.post(PATH, response("r-1", dealer_id="XX-9999"))

    assert errors(r) == [(0, "dealer_id")]
    assert "XX-9999" in r.json()["errors"][0]["message"]


async def test_every_wrong_field_of_one_response_is_listed(api: Api, cx: Context) -> None:
    body = response("r-1", nps=11, survey="aftersales", anonymous="yes", submitted_at="soon", scores={"overall": 9})
    del body["customer"]

    r = await api.post(PATH, body)

    assert sorted(errors(r)) == sorted(
        [(0, "nps"), (0, "survey"), (0, "anonymous"), (0, "submitted_at"), (0, "scores.overall"), (0, "customer")]
    )
    assert (await stored(cx, "r-1")) is None


async def test_survey_specific_checks_are_listed_alongside_other_wrong_fields(api: Api) -> None:
    r = await api.post(PATH, response("r-1", nps=11, segment=2, answers={"wants_contact": "no"}))

    assert sorted(errors(r)) == [(0, "answers.wants_contact"), (0, "nps"), (0, "segment")]


async def test_unknown_dealer_is_listed_alongside_other_wrong_fields(api: Api) -> None:
    r = await api.post(PATH, response("r-1", dealer_id="XX-9999", nps=11))

    assert sorted(errors(r)) == [(0, "dealer_id"), (0, "nps")]


async def test_wrong_fields_in_several_items_are_indexed_by_position(api: Api) -> None:
    r = await api.post(
        PATH,
        batch(
            response("r-0"),
            response("r-1", nps=11, customer={"id": "K-1"}),
            response("r-2", customer={"id": "K-2"}),
            response("r-3", dealer_id="XX-1", customer={"id": "K-3"}),
            "not an object",
        ),
    )

    assert errors(r) == [(1, "nps"), (3, "dealer_id"), (4, "body")]


async def test_batch_with_one_bad_item_stores_nothing(api: Api, cx: Context) -> None:
    r = await api.post(PATH, batch(response("r-0", nps=1), response("r-1", nps=12, customer={"id": "K-2"})))

    assert errors(r) == [(1, "nps")]
    assert (await stored(cx, "r-0")) is None
    assert (await api.get("/api/v1/dealers/DK-1001/customers/K-1")).status_code == 404
    assert await all_alerts(api) == []


async def test_batch_whose_only_problem_is_an_unknown_dealer_stores_nothing(api: Api, cx: Context) -> None:
    r = await api.post(PATH, batch(response("r-0", nps=1), response("r-1", dealer_id="XX-1")))

    assert errors(r) == [(1, "dealer_id")]
    assert (await stored(cx, "r-0")) is None
    assert await all_alerts(api) == []


# NaN and a lone surrogate are not JSON (Python's own parser would take them, and PostgreSQL
# would then refuse to store them).
@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"id": "r-1",}', b'{"id": "r-1", "nps": NaN}', b'{"id": "r-1", "comment": "\\ud800"}'])
async def test_body_that_is_not_json_is_422(api: Api, raw: bytes) -> None:
    r = await api.client.post(PATH, content=raw, headers={**api.auth(), "Content-Type": "application/json"})

    assert errors(r) == [(None, "body")]


@pytest.mark.parametrize("body", [[response("r-1")], "r-1", 42, None])
async def test_body_that_is_not_a_response_or_batch_object_is_422(api: Api, cx: Context, body: Any) -> None:
    r = await api.client.post(PATH, content=json.dumps(body), headers={**api.auth(), "Content-Type": "application/json"})

    assert errors(r) == [(None, "body")]
    assert (await stored(cx, "r-1")) is None


async def test_empty_batch_is_422(api: Api) -> None:
    r = await api.post(PATH, batch())

    assert errors(r) == [(None, "responses")]


async def test_batch_that_is_not_a_list_is_422(api: Api) -> None:
    r = await api.post(PATH, {"responses": response("r-1")})

    assert errors(r) == [(None, "responses")]


async def test_batch_with_an_extra_top_level_field_is_422(api: Api, cx: Context) -> None:
    r = await api.post(PATH, {"responses": [response("r-1")], "source": "medallia"})

    assert errors(r) == [(None, "source")]
    assert (await stored(cx, "r-1")) is None


async def test_batch_of_1001_responses_is_422_and_1000_are_accepted(api: Api, cx: Context) -> None:
    items = [response(f"r-{i}", customer={"id": f"K-{i}"}) for i in range(1001)]

    r = await api.post(PATH, batch(*items))
    assert errors(r) == [(None, "responses")]
    assert "1001" in r.json()["errors"][0]["message"]
    assert (await stored(cx, "r-0")) is None

    ok = await accepted(api, batch(*items[:1000]))
    assert ok["accepted"] == 1000


# --- Hot Alert -------------------------------------------------------------------------------


@pytest.mark.parametrize("nps", [0, 3, 6])
async def test_nps_6_or_below_raises_a_hot_alert(api: Api, nps: int) -> None:
    answer = await accepted(api, response("r-1", nps=nps))

    hot = [a for a in answer["alerts"] if a["kind"] == "hot_alert"]
    assert hot == [{"id": "HA-1", "kind": "hot_alert", "response_id": "r-1", "due_at": HA_DUE}]


@pytest.mark.parametrize("nps", [7, 8, 10])
async def test_nps_7_or_above_with_good_scores_raises_nothing(api: Api, nps: int) -> None:
    answer = await accepted(api, response("r-1", nps=nps, scores={"overall": 4, "handover": 3, "staff": 5}))

    assert answer["alerts"] == []
    assert await all_alerts(api) == []


@pytest.mark.parametrize("score", [1, 2])
async def test_any_score_of_2_or_below_raises_a_hot_alert(api: Api, score: int) -> None:
    answer = await accepted(api, response("r-1", nps=9, scores={"overall": 5, "workshop": score}))

    assert kinds(answer) == ["hot_alert"]


async def test_contact_request_raises_a_hot_alert_even_with_top_marks(api: Api) -> None:
    answer = await accepted(api, response("r-1", nps=10, scores={"overall": 5}, answers={"contact_requested": True}))

    assert kinds(answer) == ["hot_alert"]


async def test_contact_request_false_raises_nothing(api: Api) -> None:
    answer = await accepted(api, response("r-1", nps=10, answers={"contact_requested": False}))

    assert answer["alerts"] == []


async def test_service_survey_raises_hot_alerts_too(api: Api) -> None:
    answer = await accepted(api, response("r-1", survey="service", segment=2, dealer_id="DK-5001", nps=9, scores={"repair": 1}))

    assert answer["alerts"] == [{"id": "HA-1", "kind": "hot_alert", "response_id": "r-1", "due_at": HA_DUE}]


async def test_lost_sales_survey_never_raises_a_hot_alert(api: Api) -> None:
    answer = await accepted(api, lost_sales("r-1", nps=2, scores={"test_drive": 1}, answers={"contact_requested": True}))

    assert "hot_alert" not in kinds(answer)


async def test_one_response_failing_every_hot_alert_rule_raises_one_hot_alert(api: Api) -> None:
    answer = await accepted(api, response("r-1", nps=0, scores={"overall": 1, "staff": 1}, answers={"contact_requested": True}))

    assert kinds(answer) == ["detractor", "hot_alert"]
    hot = await all_alerts(api, kind="hot_alert")
    assert len(hot) == 1


async def test_hot_alert_history_says_why_it_was_raised(api: Api) -> None:
    await accepted(api, response("r-1", nps=4, scores={"overall": 2}, answers={"contact_requested": True}))

    alert = (await api.get("/api/v1/alerts/HA-1")).json()
    created = alert["history"][0]
    assert created["event"] == "created" and created["channel"] == "system"
    assert "NPS 4" in created["note"] and "overall 2" in created["note"] and "contacted" in created["note"]


# --- Sales Opportunity -----------------------------------------------------------------------


async def test_lost_sales_prospect_still_considering_and_wanting_contact_is_a_sales_opportunity(api: Api) -> None:
    answer = await accepted(api, lost_sales("r-1"))

    assert answer["alerts"] == [{"id": "SO-1", "kind": "sales_opportunity", "response_id": "r-1", "due_at": SO_DUE}]


@pytest.mark.parametrize(
    "answers",
    [
        {"still_considering": False, "wants_contact": True},
        {"still_considering": True, "wants_contact": False},
        {"still_considering": True},
        {"wants_contact": True},
        {},
    ],
)
async def test_no_sales_opportunity_without_yes_to_both_questions(api: Api, answers: dict[str, Any]) -> None:
    answer = await accepted(api, lost_sales("r-1", answers=answers))

    assert answer["alerts"] == []


async def test_no_sales_opportunity_without_a_test_drive_request(api: Api) -> None:
    body = lost_sales("r-1")
    del body["test_drive_requested_at"]

    assert (await accepted(api, body))["alerts"] == []


@pytest.mark.parametrize("field", ["purchased_at", "ordered_at"])
async def test_no_sales_opportunity_when_bought_between_request_and_answer(api: Api, field: str) -> None:
    answer = await accepted(api, lost_sales("r-1", **{field: "2026-10-05T14:00:00+02:00"}))

    assert answer["alerts"] == []


@pytest.mark.parametrize("field", ["purchased_at", "ordered_at"])
async def test_purchase_before_the_test_drive_request_still_allows_a_sales_opportunity(api: Api, field: str) -> None:
    answer = await accepted(api, lost_sales("r-1", **{field: "2024-03-01T10:00:00+01:00"}))

    assert kinds(answer) == ["sales_opportunity"]


async def test_no_sales_opportunity_when_the_request_is_older_than_the_look_back(api: Api) -> None:
    answer = await accepted(api, lost_sales("r-1", test_drive_requested_at="2026-03-01T10:00:00+01:00"))

    assert answer["alerts"] == []


async def test_no_sales_opportunity_when_the_request_is_after_the_answer(api: Api) -> None:
    answer = await accepted(api, lost_sales("r-1", test_drive_requested_at="2026-11-01T12:00:00+01:00"))

    assert answer["alerts"] == []


async def test_sales_survey_with_lost_sales_answers_is_no_sales_opportunity(api: Api) -> None:
    body = lost_sales("r-1", survey="sales", nps=9)

    assert (await accepted(api, body))["alerts"] == []


async def test_lost_sales_detractor_raises_a_sales_opportunity_and_a_detractor_alert(api: Api) -> None:
    answer = await accepted(api, lost_sales("r-1", nps=2))

    assert kinds(answer) == ["detractor", "sales_opportunity"]


# --- due times -------------------------------------------------------------------------------


async def test_due_at_is_created_at_plus_the_kinds_due_time(api: Api, clock: FrozenClock) -> None:
    clock.advance(hours=5, minutes=30)
    answer = await accepted(api, batch(response("r-1", nps=2), lost_sales("r-2")))

    due = {a["kind"]: a["due_at"] for a in answer["alerts"]}
    assert due == {
        "hot_alert": "2026-11-04T14:30:00Z",
        "detractor": None,
        "sales_opportunity": "2026-11-09T14:30:00Z",
    }
    for a in answer["alerts"]:
        shown = (await api.get(f"/api/v1/alerts/{a['id']}")).json()
        assert shown["created_at"] == "2026-11-02T14:30:00Z"
        assert shown["due_at"] == a["due_at"]


# --- Detractor (seed 004) --------------------------------------------------------------------


def company_answer(id_: str, contact: str, nps: int, submitted_at: str) -> dict[str, Any]:
    return response(
        id_,
        survey="service",
        submitted_at=submitted_at,
        customer={"id": "C-77", "kind": "company", "name": "Vestjysk Vognmand ApS", "email": "info@vognmand.example"},
        contact={"name": contact, "email": f"{contact.lower()}@vognmand.example"},
        nps=nps,
    )


async def test_detractor_flag_is_on_the_company_and_cleared_by_a_colleagues_newer_answer(api: Api, clock: FrozenClock) -> None:
    bob = await accepted(api, company_answer("r-bob", "Bob", 3, "2026-10-01T10:00:00+02:00"))
    dt = next(a for a in bob["alerts"] if a["kind"] == "detractor")
    card = await customer(api, "C-77")
    assert card["detractor"] is True and card["detractor_response_id"] == "r-bob"
    assert [a["id"] for a in card["open_alerts"] if a["kind"] == "detractor"] == [dt["id"]]

    clock.advance(days=14)
    cindy = await accepted(api, company_answer("r-cindy", "Cindy", 10, "2026-10-15T10:00:00+02:00"))

    assert cindy["alerts"] == []
    card = await customer(api, "C-77")
    assert card["detractor"] is False and card["detractor_response_id"] is None
    assert all(a["kind"] != "detractor" for a in card["open_alerts"])
    closed = (await api.get(f"/api/v1/alerts/{dt['id']}")).json()
    assert closed["status"] == "resolved"
    assert closed["resolved_at"] == "2026-11-16T09:00:00Z"
    assert closed["handled_at"] is None  # the system closing it is not staff handling it
    last = closed["history"][-1]
    assert last["channel"] == "system" and last["old_status"] == "new" and last["new_status"] == "resolved"
    assert "r-cindy" in last["note"] and "NPS 10" in last["note"]


async def test_older_answer_arriving_late_never_clears_the_flag(api: Api) -> None:
    await accepted(api, company_answer("r-new", "Bob", 2, "2026-10-20T10:00:00+02:00"))

    late = await accepted(api, company_answer("r-old", "Cindy", 10, "2026-10-01T10:00:00+02:00"))

    assert late["alerts"] == []
    card = await customer(api, "C-77")
    assert card["detractor"] is True and card["detractor_response_id"] == "r-new"
    assert [a["status"] for a in await all_alerts(api, kind="detractor")] == ["new"]


async def test_older_detractor_answer_arriving_late_never_sets_the_flag(api: Api) -> None:
    await accepted(api, company_answer("r-new", "Cindy", 9, "2026-10-20T10:00:00+02:00"))

    late = await accepted(api, company_answer("r-old", "Bob", 1, "2026-10-01T10:00:00+02:00"))

    assert kinds(late) == ["hot_alert"]  # the answer itself still raises its own alert
    assert (await customer(api, "C-77"))["detractor"] is False
    assert await all_alerts(api, kind="detractor") == []


async def test_newest_answer_in_a_batch_decides_whatever_its_position(api: Api) -> None:
    answer = await accepted(
        api,
        batch(
            company_answer("r-new", "Cindy", 9, "2026-10-20T10:00:00+02:00"),
            company_answer("r-old", "Bob", 1, "2026-10-01T10:00:00+02:00"),
        ),
    )

    assert kinds(answer) == ["hot_alert"]
    assert (await customer(api, "C-77"))["detractor"] is False


async def test_tie_on_submitted_at_goes_to_the_later_arrival(api: Api) -> None:
    at = "2026-10-01T10:00:00+02:00"
    await accepted(api, company_answer("r-1", "Bob", 3, at))

    await accepted(api, company_answer("r-2", "Cindy", 8, at))

    assert (await customer(api, "C-77"))["detractor"] is False
    assert [a["status"] for a in await all_alerts(api, kind="detractor")] == ["resolved"]


async def test_no_second_detractor_alert_while_one_is_open(api: Api, clock: FrozenClock) -> None:
    await accepted(api, company_answer("r-1", "Bob", 3, "2026-10-01T10:00:00+02:00"))
    clock.advance(days=3)

    second = await accepted(api, company_answer("r-2", "Cindy", 5, "2026-10-04T10:00:00+02:00"))

    assert kinds(second) == ["hot_alert"]
    assert len(await all_alerts(api, kind="detractor")) == 1
    assert (await customer(api, "C-77"))["detractor_response_id"] == "r-2"


async def test_no_second_detractor_alert_while_one_is_ongoing(api: Api) -> None:
    await accepted(api, company_answer("r-1", "Bob", 3, "2026-10-01T10:00:00+02:00"))
    r = await api.post("/api/v1/alerts/DT-1/status", {"status": "ongoing", "note": "Called Bob; meeting booked"})
    assert r.status_code == 200

    second = await accepted(api, company_answer("r-2", "Cindy", 4, "2026-10-04T10:00:00+02:00"))

    assert "detractor" not in kinds(second)
    assert len(await all_alerts(api, kind="detractor")) == 1


async def test_new_detractor_alert_opens_after_the_flag_was_cleared(api: Api) -> None:
    await accepted(api, company_answer("r-1", "Bob", 3, "2026-10-01T10:00:00+02:00"))
    await accepted(api, company_answer("r-2", "Cindy", 10, "2026-10-15T10:00:00+02:00"))

    third = await accepted(api, company_answer("r-3", "Bob", 2, "2026-10-30T10:00:00+01:00"))

    assert [a["id"] for a in third["alerts"] if a["kind"] == "detractor"] == ["DT-2"]
    dts = {a["id"]: a["status"] for a in await all_alerts(api, kind="detractor")}
    assert dts == {"DT-1": "resolved", "DT-2": "new"}


async def test_staff_resolving_a_detractor_alert_keeps_the_flag(api: Api) -> None:
    await accepted(api, company_answer("r-1", "Bob", 3, "2026-10-01T10:00:00+02:00"))

    r = await api.post("/api/v1/alerts/DT-1/status", {"status": "resolved", "note": "Apologised; free service offered"})

    assert r.status_code == 200
    assert (await customer(api, "C-77"))["detractor"] is True


async def test_answer_without_nps_leaves_the_flag_alone(api: Api) -> None:
    await accepted(api, company_answer("r-1", "Bob", 3, "2026-10-01T10:00:00+02:00"))

    later = company_answer("r-2", "Cindy", 10, "2026-10-15T10:00:00+02:00")
    later["nps"] = None
    await accepted(api, later)

    assert (await customer(api, "C-77"))["detractor"] is True
    assert [a["status"] for a in await all_alerts(api, kind="detractor")] == ["new"]


async def test_detractor_flag_is_per_dealer_customer(api: Api) -> None:
    await accepted(api, response("r-1", nps=2))

    await accepted(api, response("r-2", dealer_id="DE-2001", nps=10))  # same customer id, other dealer

    assert (await customer(api, "K-1"))["detractor"] is True
    assert (await customer(api, "K-1", dealer="DE-2001"))["detractor"] is False


@pytest.mark.parametrize("rules", [Rules(dealers={"DE-2001": DealerRules(detractor_max_nps=7)})])
async def test_dealer_may_count_nps_7_as_a_detractor(api: Api) -> None:
    here = await accepted(api, response("r-1", dealer_id="DE-2001", nps=7))
    there = await accepted(api, response("r-2", dealer_id="DK-1001", nps=7))

    assert kinds(here) == ["detractor"]
    assert there["alerts"] == []


# --- one alert per kind per response ---------------------------------------------------------


async def test_one_response_never_raises_two_alerts_of_one_kind(api: Api) -> None:
    answer = await accepted(
        api,
        batch(
            response("r-1", nps=0, scores={"a": 1, "b": 1}, answers={"contact_requested": True}),
            lost_sales("r-2", nps=1),
            response("r-3", nps=2, customer={"id": "K-3"}, survey="service", scores={"a": 2}),
        ),
    )

    pairs = [(a["response_id"], a["kind"]) for a in answer["alerts"]]
    assert len(pairs) == len(set(pairs))
    assert sorted(pairs) == sorted(
        [
            ("r-1", "hot_alert"),
            ("r-1", "detractor"),
            ("r-2", "sales_opportunity"),
            ("r-2", "detractor"),
            ("r-3", "hot_alert"),
            ("r-3", "detractor"),
        ]
    )
    assert len({a["id"] for a in answer["alerts"]}) == 6


# --- anonymous answers (seed 000) ------------------------------------------------------------


def named_answer(id_: str, **over: Any) -> dict[str, Any]:
    return response(
        id_,
        customer={
            "id": "K-1",
            "kind": "person",
            "name": "Anne Sørensen",
            "email": "anne@example.net",
            "phones": {"home": "+45 11 11 11 11", "work": "+45 22 22 22 22", "mobile": "+45 33 33 33 33"},
            "language": "da",
        },
        contact={"name": "Anne Sørensen", "email": "anne@example.net", "phone": "+45 33 33 33 33"},
        purchase_date="2026-09-12",
        **over,
    )


NO_PHONES = {"home": None, "work": None, "mobile": None}


async def test_anonymous_answer_stores_no_personal_data(api: Api, cx: Context) -> None:
    await accepted(api, named_answer("r-1", anonymous=True, nps=4))

    card = await customer(api, "K-1")
    assert card["name"] == "Anonymous" and card["anonymized"] is True
    assert card["email"] is None and card["phones"] == NO_PHONES
    assert [r["purchase_date"] for r in card["latest_responses"]] == [None]
    row = await stored(cx, "r-1")
    assert row is not None
    assert (row.contact_name, row.contact_email, row.contact_phone, row.purchase_date) == (None, None, None, None)
    detail = await api.get("/api/v1/alerts/HA-1")
    assert "Anne" not in detail.text and "anne@" not in detail.text


async def test_anonymous_answer_deletes_what_was_stored_before(api: Api, cx: Context) -> None:
    await accepted(api, named_answer("r-1", nps=9, submitted_at="2026-10-01T10:00:00+02:00"))
    before = await customer(api, "K-1")
    assert before["name"] == "Anne Sørensen" and before["phones"]["mobile"] == "+45 33 33 33 33"
    assert before["latest_responses"][0]["purchase_date"] == "2026-09-12"

    await accepted(api, named_answer("r-2", anonymous=True, nps=8))

    card = await customer(api, "K-1")
    assert card["name"] == "Anonymous" and card["email"] is None and card["phones"] == NO_PHONES
    assert [(r["id"], r["purchase_date"], r["service_date"]) for r in card["latest_responses"]] == [
        ("r-2", None, None),
        ("r-1", None, None),
    ]
    old = await stored(cx, "r-1")
    assert old is not None and (old.contact_name, old.contact_email, old.contact_phone) == (None, None, None)


async def test_anonymous_customer_stays_anonymous_on_a_later_named_answer(api: Api, cx: Context) -> None:
    await accepted(api, named_answer("r-1", anonymous=True, nps=8))

    await accepted(api, named_answer("r-2", nps=3, submitted_at="2026-11-01T12:00:00+01:00"))

    card = await customer(api, "K-1")
    assert card["name"] == "Anonymous" and card["anonymized"] is True
    assert card["email"] is None and card["phones"] == NO_PHONES
    assert all(r["purchase_date"] is None for r in card["latest_responses"])
    later = await stored(cx, "r-2")
    assert later is not None and (later.contact_name, later.contact_email) == (None, None)
    detail = await api.get("/api/v1/alerts/HA-1")
    assert detail.status_code == 200 and "Anne" not in detail.text


async def test_anonymous_and_named_answers_in_one_batch_keep_nothing_personal(api: Api) -> None:
    await accepted(
        api,
        batch(
            named_answer("r-1", anonymous=True, submitted_at="2026-10-01T10:00:00+02:00"),
            named_answer("r-2", submitted_at="2026-10-15T10:00:00+02:00"),
        ),
    )

    card = await customer(api, "K-1")
    assert card["name"] == "Anonymous" and card["email"] is None and card["phones"] == NO_PHONES
    assert all(r["purchase_date"] is None for r in card["latest_responses"])


async def test_anonymizing_one_customer_leaves_others_alone(api: Api) -> None:
    await accepted(api, named_answer("r-1", nps=9))
    await accepted(api, response("r-2", customer={"id": "K-2", "name": "Bo Jensen"}, purchase_date="2026-08-01"))

    await accepted(api, named_answer("r-3", anonymous=True))

    other = await customer(api, "K-2")
    assert other["name"] == "Bo Jensen" and other["latest_responses"][0]["purchase_date"] == "2026-08-01"


async def test_resending_an_anonymous_answer_is_a_duplicate(api: Api) -> None:
    await accepted(api, named_answer("r-1", anonymous=True, nps=3))

    again = await api.post(PATH, named_answer("r-1", anonymous=True, nps=3))

    assert again.status_code == 200 and again.json()["duplicates"] == 1


async def test_intake_moves_with_the_clock_not_the_wall(api: Api, clock: FrozenClock) -> None:
    clock.advance(timedelta(days=30))

    answer = await accepted(api, response("r-1", nps=5))

    assert {a["due_at"] for a in answer["alerts"] if a["kind"] == "hot_alert"} == {"2026-12-04T09:00:00Z"}
