"""Requests from Slack: signatures, the card's buttons and modals, and who may use them."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.domain.values import Channel, HistoryEvent, Status
from notifications.slack import ids
from tests.conftest import SIGNING_SECRET, response
from tests.fakes.slack_signing import interactivity, sign
from tests.slack_support import (
    BRANDT,
    BRANDT_CHANNEL,
    CAMILLA,
    JONAS,
    METTE,
    NOBODY,
    SABINE,
    VEST,
    VEST_CHANNEL,
    alert_and_history,
    card_of,
    click,
    metadata,
    outbox,
    plain_of,
    posted_alert,
    snapshot,
    submission,
)


async def _open_modal(
    bot: Any, alert_id: str, ts: str, action: str = ids.RESOLVED, team: str = VEST, user: str = METTE
) -> dict[str, Any]:
    before = len(bot.slack_api.calls_to("views.open"))
    r = await bot.slack_request(click(bot, team, user, action, alert_id, ts))
    assert r.status_code == 200
    opened = await bot.slack_api.wait_for("views.open", before + 1)
    view: dict[str, Any] = opened[-1].body["view"]
    return view


async def _submit(
    bot: Any, view: dict[str, Any], note: str | None, team: str = VEST, user: str = METTE, **kw: Any
) -> Any:
    return await bot.slack_request(interactivity(submission(team, user, view["private_metadata"], note, **kw)))


def _acked(r: Any) -> bool:
    """A plain acknowledgement: the modal closes."""
    return r.status_code == 200 and (r.content in (b"", b"{}") or r.json() == {})


def _button_labels(blocks: list[dict[str, Any]]) -> list[str]:
    actions = next(b for b in blocks if b.get("block_id") == ids.ACTIONS_BLOCK)
    return [e["text"]["text"] for e in actions["elements"]]


# ---- signatures ---------------------------------------------------------------------------------


def _resolve_submission() -> tuple[bytes, str]:
    return interactivity(submission(VEST, METTE, metadata("HA-1", "resolved"), "Called her back"))


def _wrong_secret(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, sign("not-the-signing-secret", body)


def _changed_body(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = sign(SIGNING_SECRET, body)
    return body.replace(b"Called+her+back", b"Called+him+back"), headers


def _no_signature(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = sign(SIGNING_SECRET, body)
    del headers["X-Slack-Signature"]
    return body, headers


def _no_timestamp(body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = sign(SIGNING_SECRET, body)
    del headers["X-Slack-Request-Timestamp"]
    return body, headers


def _no_headers(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"Content-Type": "application/x-www-form-urlencoded"}


def _stale(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, sign(SIGNING_SECRET, body, int(time.time()) - 310)


def _from_the_future(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, sign(SIGNING_SECRET, body, int(time.time()) + 310)


FORGERIES = (_wrong_secret, _changed_body, _no_signature, _no_timestamp, _no_headers, _stale, _from_the_future)


async def test_request_that_slack_did_not_sign_is_refused_and_changes_nothing(bot):
    alert_id, _ = await posted_alert(bot)
    assert alert_id == "HA-1"
    before = await snapshot(bot, alert_id)
    calls = len(bot.slack_api.calls)
    for forge in FORGERIES:
        body, headers = forge(_resolve_submission()[0])
        r = await bot.client.post("/slack/events", content=body, headers=headers)
        assert r.status_code == 401, forge.__name__
        assert await snapshot(bot, alert_id) == before, forge.__name__
    assert await bot.deliver() == 0
    assert len(bot.slack_api.calls) == calls  # no Slack call either (no modal, no update, no note)


async def test_unsigned_button_click_opens_no_modal(bot):
    alert_id, ts = await posted_alert(bot)
    body, _ = click(bot, VEST, METTE, ids.RESOLVED, alert_id, ts)
    r = await bot.client.post("/slack/events", content=body, headers=sign("wrong", body))
    assert r.status_code == 401
    assert bot.slack_api.calls_to("views.open") == []


async def test_correctly_signed_request_is_accepted(bot):
    """The counterpart of the refusals above: the same submission, signed as Slack signs, applies."""
    alert_id, _ = await posted_alert(bot)
    r = await bot.slack_request(_resolve_submission())
    assert _acked(r)
    alert, _ = await alert_and_history(bot, alert_id)
    assert alert.status is Status.RESOLVED


# ---- button → modal → submission ----------------------------------------------------------------


async def test_resolved_button_opens_a_modal_asking_for_the_note(bot):
    alert_id, ts = await posted_alert(bot)
    payload_click = click(bot, VEST, METTE, ids.RESOLVED, alert_id, ts, trigger_id="1234.5678.trigger")
    r = await bot.slack_request(payload_click)
    assert r.status_code == 200
    opened = await bot.slack_api.wait_for("views.open")
    assert opened[0].body["trigger_id"] == "1234.5678.trigger"
    view = opened[0].body["view"]
    assert view["type"] == "modal" and view["callback_id"] == ids.STATUS_MODAL
    assert json.loads(view["private_metadata"]) == {"alert": alert_id, "status": "resolved"}
    assert alert_id in view["title"]["text"]
    note = next(b for b in view["blocks"] if b.get("block_id") == ids.NOTE_BLOCK)
    assert note["type"] == "input" and note["element"]["action_id"] == ids.NOTE_INPUT
    assert note["element"]["min_length"] == 1 and not note.get("optional", False)
    # Opening the modal changes nothing yet.
    alert, history = await alert_and_history(bot, alert_id)
    assert alert.status is Status.NEW and [e.event for e in history] == [HistoryEvent.CREATED]


async def test_submission_stores_status_and_note_updates_card_in_place_and_posts_note_in_thread(bot):
    alert_id, ts = await posted_alert(bot)
    view = await _open_modal(bot, alert_id, ts, ids.ONGOING)
    assert json.loads(view["private_metadata"])["status"] == "ongoing"
    r = await _submit(bot, view, "  Left a voicemail, will call again at 14  ")
    assert _acked(r)

    alert, history = await alert_and_history(bot, alert_id)
    assert alert.status is Status.ONGOING and alert.handled_at is not None
    last = history[-1]
    assert (last.event, last.old_status, last.new_status) == (HistoryEvent.STATUS, Status.NEW, Status.ONGOING)
    assert last.note == "Left a voicemail, will call again at 14"
    assert last.channel is Channel.SLACK and last.actor == f"slack:{VEST}/{METTE}" and last.person_id is not None

    posts = len(bot.slack_api.calls_to("chat.postMessage"))
    assert await bot.deliver() == 2
    update = bot.slack_api.last("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (VEST_CHANNEL, ts)
    shown = json.dumps(update.body["blocks"], ensure_ascii=False)
    assert "Status: *Ongoing*" in shown and f"<@{METTE}>" in shown
    assert _button_labels(update.body["blocks"]) == ["Ongoing", "Resolved", "Customer"]
    notes = bot.slack_api.calls_to("chat.postMessage")[posts:]
    assert len(notes) == 1
    assert (notes[0].body["channel"], notes[0].body["thread_ts"]) == (VEST_CHANNEL, ts)
    assert "Left a voicemail, will call again at 14" in plain_of(notes[0].body["blocks"])
    assert await bot.deliver() == 0


async def test_submission_without_a_note_is_refused_on_the_note_field_and_changes_nothing(bot):
    alert_id, ts = await posted_alert(bot)
    view = await _open_modal(bot, alert_id, ts)
    before = await snapshot(bot, alert_id)
    for note in (None, "", "   ", "\n\t \n"):
        r = await _submit(bot, view, note)
        assert r.status_code == 200
        answer = r.json()
        assert answer["response_action"] == "errors", note
        assert list(answer["errors"]) == [ids.NOTE_BLOCK]
        assert "note" in answer["errors"][ids.NOTE_BLOCK].lower()
        assert await snapshot(bot, alert_id) == before
    assert await bot.deliver() == 0
    # The same modal with a note still works afterwards (a refusal stores nothing, not even the view).
    assert _acked(await _submit(bot, view, "Called her"))


@pytest.mark.parametrize("status", ["resolved", "ongoing"])
async def test_the_same_view_submitted_twice_applies_once(bot, status):
    alert_id, ts = await posted_alert(bot)
    view = await _open_modal(bot, alert_id, ts, ids.RESOLVED if status == "resolved" else ids.ONGOING)
    body = interactivity(submission(VEST, METTE, view["private_metadata"], "Called her", view_id="V0TWICE"))
    first = await bot.slack_request(body)
    second = await bot.slack_request(body)
    assert _acked(first)
    assert _acked(second)  # applied already: the modal just closes, with no error for the user
    alert, history = await alert_and_history(bot, alert_id)
    assert alert.status is Status(status)
    assert [e.event for e in history].count(HistoryEvent.STATUS) == 1
    assert len(await outbox(bot, "pending")) == 2  # one card update, one thread note
    assert await bot.deliver() == 2


async def test_ongoing_then_resolved_then_reopened_from_the_resolved_card(bot):
    alert_id, ts = await posted_alert(bot)

    view = await _open_modal(bot, alert_id, ts, ids.ONGOING)
    assert _acked(await _submit(bot, view, "Called, no answer"))
    await bot.deliver()
    assert _button_labels(bot.slack_api.last("chat.update").body["blocks"]) == ["Ongoing", "Resolved", "Customer"]

    view = await _open_modal(bot, alert_id, ts, ids.RESOLVED, user=JONAS)
    assert _acked(await _submit(bot, view, "Reached her; new service date Friday", user=JONAS))
    alert, _ = await alert_and_history(bot, alert_id)
    assert alert.status is Status.RESOLVED and alert.resolved_at is not None
    await bot.deliver()
    resolved_card = bot.slack_api.last("chat.update").body
    assert resolved_card["ts"] == ts
    assert "Status: *Resolved*" in json.dumps(resolved_card["blocks"]) and f"<@{JONAS}>" in json.dumps(
        resolved_card["blocks"]
    )
    assert _button_labels(resolved_card["blocks"]) == ["Reopen", "Customer"]
    reopen = next(
        e
        for b in resolved_card["blocks"]
        if b.get("block_id") == ids.ACTIONS_BLOCK
        for e in b["elements"]
        if e["text"]["text"] == "Reopen"
    )
    assert reopen["action_id"] == ids.ONGOING and reopen["value"] == alert_id

    view = await _open_modal(bot, alert_id, ts, reopen["action_id"])
    assert view["title"]["text"].startswith("Reopen")
    assert _acked(await _submit(bot, view, "She called back: the date does not work"))
    alert, history = await alert_and_history(bot, alert_id)
    assert alert.status is Status.ONGOING and alert.resolved_at is None
    moves = [(e.old_status, e.new_status) for e in history if e.event is HistoryEvent.STATUS]
    assert moves == [(Status.NEW, Status.ONGOING), (Status.ONGOING, Status.RESOLVED), (Status.RESOLVED, Status.ONGOING)]
    await bot.deliver()
    assert _button_labels(bot.slack_api.last("chat.update").body["blocks"]) == ["Ongoing", "Resolved", "Customer"]
    assert {c.body["ts"] for c in bot.slack_api.calls_to("chat.update")} == {ts}
    threaded = [c for c in bot.slack_api.calls_to("chat.postMessage") if c.body.get("thread_ts") == ts]
    assert len(threaded) == 3


async def test_resolving_an_already_resolved_alert_from_a_stale_modal_is_refused(bot):
    alert_id, ts = await posted_alert(bot)
    first = await _open_modal(bot, alert_id, ts)
    second = await _open_modal(bot, alert_id, ts, user=JONAS)
    assert _acked(await _submit(bot, first, "Done"))
    before = await snapshot(bot, alert_id)
    r = await _submit(bot, second, "Done too", user=JONAS)
    assert r.json()["response_action"] == "errors" and ids.NOTE_BLOCK in r.json()["errors"]
    assert await snapshot(bot, alert_id) == before


# ---- the Customer button ------------------------------------------------------------------------


async def test_customer_button_opens_the_customer_record(bot):
    over = {
        "customer": {
            "id": "K-1",
            "name": "Anne Sørensen",
            "email": "anne@example.net",
            "phones": {"mobile": "+45 20 30 40 50"},
        }
    }
    alert_id, ts = await posted_alert(bot, **over)
    view = await _open_modal(bot, alert_id, ts, ids.CUSTOMER)
    assert view["callback_id"] == ids.CUSTOMER_MODAL and "submit" not in view
    lines = plain_of(view["blocks"])
    shown = "\n".join(lines)
    assert "Anne Sørensen" in lines[0] and "Autohuset Vest" in lines[0] and "K-1" in lines[0]
    assert "anne@example.net" in shown and "+45 20 30 40 50" in shown
    assert "NPS 3" in shown and "Detractor" in shown
    assert alert_id in shown  # among the open alerts
    alert, history = await alert_and_history(bot, alert_id)
    assert alert.status is Status.NEW and len(history) == 1


async def test_customer_button_shows_an_anonymous_customer_without_contact_details(bot):
    over = {
        "anonymous": True,
        "customer": {
            "id": "K-7",
            "name": "Bent Hansen",
            "email": "bent@example.net",
            "phones": {"mobile": "+45 11 22 33 44", "home": "+45 86 00 00 00"},
        },
        "contact": {"name": "Bent Hansen", "email": "bent@example.net", "phone": "+45 11 22 33 44"},
    }
    alert_id, ts = await posted_alert(bot, **over)
    card = card_of(bot.slack_api, alert_id)
    assert "Bent" not in json.dumps(card.body, ensure_ascii=False)
    view = await _open_modal(bot, alert_id, ts, ids.CUSTOMER)
    shown = "\n".join(plain_of(view["blocks"]))
    assert shown.startswith("Anonymous")
    for secret in (
        "Bent",
        "Hansen",
        "bent@example.net",
        "+45 11 22 33 44",
        "+45 86 00 00 00",
        "Email:",
        "Phone:",
        "Contact:",
    ):
        assert secret not in shown


# ---- who may do what ----------------------------------------------------------------------------


async def test_another_dealers_user_clicking_a_button_is_told_no_and_gets_no_modal(bot):
    alert_id, ts = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    for action in (ids.RESOLVED, ids.ONGOING, ids.CUSTOMER):
        r = await bot.slack_request(click(bot, BRANDT, SABINE, action, alert_id, ts))
        assert r.status_code == 200
    answers = await bot.slack_api.wait_for("response_url", 3)
    for a in answers:
        assert a.body["response_type"] == "ephemeral" and a.body["replace_original"] is False
        assert a.body["text"].startswith("Not allowed") and "HA-1" in a.body["text"]
        assert "Anne" not in a.body["text"]
    assert bot.slack_api.calls_to("views.open") == []
    assert await snapshot(bot, alert_id) == before


@pytest.mark.parametrize(("team", "user"), [(BRANDT, SABINE), (VEST, NOBODY), (BRANDT, CAMILLA)])
async def test_submission_by_someone_not_allowed_for_the_dealer_changes_nothing(bot, team, user):
    """Modal metadata is never trusted: a forged or replayed submission is checked again."""
    alert_id, _ = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    r = await bot.slack_request(interactivity(submission(team, user, metadata(alert_id, "resolved"), "Resolved by me")))
    answer = r.json()
    assert answer["response_action"] == "errors"
    assert "HA-1" in answer["errors"][ids.NOTE_BLOCK]
    assert await snapshot(bot, alert_id) == before
    assert await bot.deliver() == 0


async def test_unknown_slack_user_clicking_is_told_no(bot):
    alert_id, ts = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    await bot.slack_request(click(bot, VEST, NOBODY, ids.RESOLVED, alert_id, ts))
    (answer,) = await bot.slack_api.wait_for("response_url")
    assert answer.body["text"].startswith("Not allowed")
    assert bot.slack_api.calls_to("views.open") == []
    assert await snapshot(bot, alert_id) == before


async def test_regional_user_acts_in_her_workspace_on_her_dealers_alerts(bot):
    alert_id, ts = await posted_alert(bot)
    view = await _open_modal(bot, alert_id, ts, team=VEST, user=CAMILLA)
    assert _acked(await _submit(bot, view, "Spoke to the dealer's manager", team=VEST, user=CAMILLA))
    alert, history = await alert_and_history(bot, alert_id)
    assert alert.status is Status.RESOLVED and history[-1].actor == f"slack:{VEST}/{CAMILLA}"

    # … and in the other workspace on the alerts of the dealer routed there.
    r = await bot.post(
        "/api/v1/responses", response("r-de", dealer_id="DE-2001", nps=2, customer={"id": "K-9", "name": "Jürgen Weiß"})
    )
    de_alert = next(a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-"))
    await bot.deliver()
    de_ts = card_of(bot.slack_api, de_alert).response["ts"]
    view = await _open_modal(bot, de_alert, de_ts, team=BRANDT, user=CAMILLA)
    assert _acked(await _submit(bot, view, "Rückruf vereinbart", team=BRANDT, user=CAMILLA))
    alert, _ = await alert_and_history(bot, de_alert)
    assert alert.status is Status.RESOLVED


async def test_regional_user_cannot_act_on_an_alert_from_another_dealers_workspace(bot):
    """Camilla is granted DK-1001, but DK-1001 is routed to T0AUTOVEST: from T0BRANDTAH she may not."""
    alert_id, ts = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    await bot.slack_request(click(bot, BRANDT, CAMILLA, ids.RESOLVED, alert_id, ts, channel=BRANDT_CHANNEL))
    (answer,) = await bot.slack_api.wait_for("response_url")
    assert answer.body["text"].startswith("Not allowed")
    assert bot.slack_api.calls_to("views.open") == []
    assert await snapshot(bot, alert_id) == before
