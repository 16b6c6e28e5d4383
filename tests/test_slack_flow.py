"""Alerts to Slack and back: the card, the buttons, the modal, the thread."""

from __future__ import annotations

import json

from bot.domain.values import Status
from notifications.slack import ids
from tests.conftest import response
from tests.fakes.slack_payloads import block_actions, view_submission
from tests.fakes.slack_signing import interactivity

TEAM, CHANNEL = "T0AUTOVEST", "C0VESTKUNDE"
METTE = "U0METTEKJ"


async def _posted_alert(bot, **over):
    r = await bot.post("/api/v1/responses", response(nps=3, comment="Ingen ringede.", **over))
    assert r.status_code == 202, r.text
    assert await bot.deliver() >= 1
    post = bot.slack_api.last("chat.postMessage")
    return r.json()["alerts"][0]["id"], post


async def test_hot_alert_is_posted_to_the_dealer_channel_once(bot):
    alert_id, post = await _posted_alert(bot)
    assert alert_id == "HA-1"
    assert post.body["channel"] == CHANNEL
    assert "HA-1" in post.body["text"]
    # The detractor from the same response shows on the Hot Alert's card, not as a second message.
    assert len(bot.slack_api.calls_to("chat.postMessage")) == 1
    assert "Detractor" in json.dumps(post.body["blocks"])
    assert await bot.deliver() == 0


async def test_resolving_from_modal_updates_message_and_thread(bot):
    alert_id, post = await _posted_alert(bot)
    ts = post.response["ts"]
    click = block_actions(TEAM, METTE, ids.RESOLVED, alert_id, CHANNEL, ts)
    r = await bot.slack_request(interactivity(click))
    assert r.status_code == 200
    opened = await bot.slack_api.wait_for("views.open")
    view = opened[0].body["view"]
    assert view["callback_id"] == ids.STATUS_MODAL

    submit = view_submission(TEAM, METTE, ids.STATUS_MODAL, view["private_metadata"], {ids.NOTE_BLOCK: {ids.NOTE_INPUT: "Called Anne; new date Friday"}})
    r = await bot.slack_request(interactivity(submit))
    assert r.status_code == 200 and r.content in (b"", b"{}") or r.json() == {}
    async with bot.cx.db.read() as tx:
        alert = await tx.alerts.get(alert_id)
        history = await tx.history.of(alert_id)
    assert alert.status is Status.RESOLVED
    assert history[-1].channel.value == "slack" and history[-1].actor == f"slack:{TEAM}/{METTE}"
    await bot.deliver()
    update = bot.slack_api.last("chat.update")
    assert update.body["ts"] == ts
    note = bot.slack_api.last("chat.postMessage")
    assert note.body["thread_ts"] == ts
    assert "Called Anne" in json.dumps(note.body["blocks"], ensure_ascii=False)
