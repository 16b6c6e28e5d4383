"""Alerts to Slack and back: the card, the buttons, the modal, the thread."""

from __future__ import annotations

import json

import pytest

from bot.domain.values import HistoryEvent, Status
from notifications.slack import ids
from tests.conftest import response
from tests.fakes.slack_payloads import block_actions, envelope, view_submission
from tests.fakes.slack_signing import event, interactivity
from tests.slack_support import (
    BRANDT,
    CAMILLA,
    NOBODY,
    SABINE,
    VEST,
    alert_and_history,
    click,
    eventually,
    interpreted_strings,
    metadata,
    mrkdwn_of,
    outbox,
    plain_of,
    posted_alert,
    reply,
    send_reply,
    settle,
    snapshot,
    submission,
)

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


# ---- thread replies -----------------------------------------------------------------------------


async def _status_becomes(bot, alert_id, status):
    async def check():
        alert, history = await alert_and_history(bot, alert_id)
        return history if alert.status is status else None

    return await eventually(check)


async def _history_grows(bot, alert_id, to):
    async def check():
        _, history = await alert_and_history(bot, alert_id)
        return history if len(history) >= to else None

    return await eventually(check)


@pytest.mark.parametrize(
    ("text", "status", "note"),
    [
        ("Resolved – called her", Status.RESOLVED, "called her"),
        ("resolved: called her, new date Friday", Status.RESOLVED, "called her, new date Friday"),
        ("Løst – kunden er ringet op, ny tid fredag", Status.RESOLVED, "kunden er ringet op, ny tid fredag"),
        ("in Bearbeitung – Rückruf morgen um 10", Status.ONGOING, "Rückruf morgen um 10"),
        ("Ongoing. Left a voicemail", Status.ONGOING, "Left a voicemail"),
    ],
)
async def test_thread_reply_starting_with_a_status_word_sets_it_with_the_rest_as_note(bot, text, status, note):
    alert_id, ts = await posted_alert(bot)
    await send_reply(bot, VEST, METTE, text, ts)
    history = await _status_becomes(bot, alert_id, status)
    last = history[-1]
    assert (last.event, last.new_status, last.note) == (HistoryEvent.STATUS, status, note)
    assert last.channel.value == "slack" and last.actor == f"slack:{VEST}/{METTE}"
    assert await bot.deliver() == 2
    assert bot.slack_api.last("chat.update").body["ts"] == ts
    thread_note = bot.slack_api.last("chat.postMessage")
    assert thread_note.body["thread_ts"] == ts and note in plain_of(thread_note.body["blocks"])


async def test_status_word_without_a_note_changes_nothing_and_the_bot_asks_for_one_in_the_thread(bot):
    alert_id, ts = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    texts = ["Resolved", "resolved.", "  LØST!  ", "in Bearbeitung –"]
    for text in texts:
        await send_reply(bot, VEST, METTE, text, ts)
    rows = await eventually(lambda: _pending_texts(bot, len(texts)))
    assert {r.alert_id for r in rows} == {alert_id}
    alert, history = await alert_and_history(bot, alert_id)
    assert (alert, history) == before[:2]
    assert await bot.deliver() == len(texts)
    answers = bot.slack_api.calls_to("chat.postMessage")[1:]
    assert len(answers) == len(texts)
    for answer in answers:
        assert answer.body["channel"] == CHANNEL and answer.body["thread_ts"] == ts
        assert "note is needed" in answer.body["text"]
    assert bot.slack_api.calls_to("chat.update") == []


async def _pending_texts(bot, count):
    rows = [r for r in await outbox(bot, "pending") if r.action == "slack.text"]
    return rows if len(rows) >= count else None


COMMENTS = (
    "not resolved yet, waiting",
    "Resolved? She has not called back",
    "Resolved – not yet.",
    "ikke løst endnu",
    "noch nicht erledigt",
    "Lost the customer to another dealer",
    "Tried to call twice, no answer",
)


async def test_any_other_thread_reply_is_kept_as_a_comment_and_the_status_stays(bot):
    alert_id, ts = await posted_alert(bot)
    for n, text in enumerate(COMMENTS, start=2):
        await send_reply(bot, VEST, METTE, text, ts)
        history = await _history_grows(bot, alert_id, n)  # one at a time: the history keeps their order
        last = history[-1]
        assert (last.event, last.old_status, last.new_status, last.note) == (HistoryEvent.COMMENT, None, None, text)
        assert last.channel.value == "slack" and last.actor == f"slack:{VEST}/{METTE}"
    alert, _ = await alert_and_history(bot, alert_id)
    assert alert.status is Status.NEW and alert.handled_at is None
    assert await bot.deliver() == 0  # a comment is kept, not announced


async def test_a_retried_event_applies_once(bot):
    alert_id, ts = await posted_alert(bot)
    body = reply(VEST, METTE, "Resolved – called her", ts, event_id="Ev0RETRIED01")
    first = await bot.slack_request(event(body))
    again = await bot.slack_request(event(body), retry_num=1)
    third = await bot.slack_request(event(body), retry_num=2)
    assert first.status_code == again.status_code == third.status_code == 200
    await _status_becomes(bot, alert_id, Status.RESOLVED)
    await settle(bot, ts)
    _, history = await alert_and_history(bot, alert_id)
    assert [e.event for e in history].count(HistoryEvent.STATUS) == 1
    assert len(await outbox(bot, "pending")) == 2
    # The repeats are not answered with an error either (the change was applied).
    assert [c.body["user"] for c in bot.slack_api.calls_to("chat.postEphemeral")] == [NOBODY]


async def test_a_retried_comment_is_kept_once(bot):
    alert_id, ts = await posted_alert(bot)
    body = reply(VEST, METTE, "Tried twice, no answer", ts)
    await bot.slack_request(event(body))
    await bot.slack_request(event(body), retry_num=1)
    await _history_grows(bot, alert_id, 2)
    await settle(bot, ts)
    _, history = await alert_and_history(bot, alert_id)
    assert [e.event for e in history] == [HistoryEvent.CREATED, HistoryEvent.COMMENT]


def _edited(ts, thread_ts, text):
    return {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": CHANNEL,
        "ts": "1700009999.000100",
        "event_ts": "1700009999.000100",
        "message": {
            "type": "message",
            "user": METTE,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "edited": {"user": METTE, "ts": "1700009999.000100"},
        },
        "previous_message": {
            "type": "message", "user": METTE, "text": "Tried to call", "ts": ts, "thread_ts": thread_ts
        },
    }


async def test_replies_by_bots_edits_and_other_threads_are_ignored(bot):
    alert_id, ts = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    other_bot = reply(VEST, METTE, "Resolved – by a bot", ts)
    other_bot["event"].update({"subtype": "bot_message", "bot_id": "B0OTHERBOT", "username": "zapier"})
    own = reply(VEST, "UBOT", "Resolved – cxbot's own", ts)
    own["event"]["bot_id"] = "BBOT"
    edited = envelope(_edited("1700000001.000001", ts, "Resolved – edited in"), team_id=VEST)
    edited_in_thread = envelope(
        {**_edited("1700000001.000002", ts, "Resolved – edited"), "thread_ts": ts}, team_id=VEST
    )
    elsewhere = reply(VEST, METTE, "Resolved – in some other thread", "1699999999.000001")
    top_level = reply(VEST, METTE, "Resolved – not in a thread", ts)
    top_level["event"].pop("thread_ts")
    for body in (other_bot, own, edited, edited_in_thread, elsewhere, top_level):
        r = await bot.slack_request(event(body))
        assert r.status_code == 200
    await settle(bot, ts)
    assert await snapshot(bot, alert_id) == before
    assert [c.body["user"] for c in bot.slack_api.calls_to("chat.postEphemeral")] == [NOBODY]


@pytest.mark.parametrize(("team", "user"), [(BRANDT, SABINE), (VEST, NOBODY), (BRANDT, CAMILLA)])
async def test_thread_reply_by_someone_not_allowed_changes_nothing_and_tells_them(bot, team, user):
    alert_id, ts = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    texts = ["Resolved – called her", "Just a comment"]
    for n, text in enumerate(texts, start=1):
        await send_reply(bot, team, user, text, ts)
        answers = await bot.slack_api.wait_for("chat.postEphemeral", n)
        answer = answers[-1]
        assert answer.body["user"] == user and answer.body["channel"] == CHANNEL and answer.body["thread_ts"] == ts
        assert answer.body["text"].startswith("Not allowed") and alert_id in answer.body["text"]
    assert await snapshot(bot, alert_id) == before


async def test_regional_user_replies_in_her_workspace(bot):
    alert_id, ts = await posted_alert(bot)
    await send_reply(bot, VEST, CAMILLA, "Ongoing – escalated to the dealer principal", ts)
    history = await _status_becomes(bot, alert_id, Status.ONGOING)
    assert history[-1].actor == f"slack:{VEST}/{CAMILLA}"


# ---- escaping -----------------------------------------------------------------------------------

HOSTILE = "<!channel> <!here> hi <@U123> see <http://evil.example|click> *bold* _it_ ~strike~ & `code`"
RAW = ("<!channel>", "<!here>", "<@U123>", "<http", "*bold*", "_it_", "~strike~")


def _assert_harmless(texts):
    for t in texts:
        for raw in RAW:
            assert raw not in t, f"{raw!r} reaches Slack unescaped in {t!r}"


def _assert_harmless_message(body):
    """The fallback text and every mrkdwn field escaped; raw text only where Slack never reads it."""
    _assert_harmless(mrkdwn_of(body))
    _assert_harmless(interpreted_strings({"text": body.get("text"), "blocks": body.get("blocks")}))


async def test_hostile_customer_text_cannot_ping_link_or_format(bot):
    name = "Eve <!here> <@U123> *VIP* & Co"
    customer = {"id": "K-66", "name": name, "email": "eve@example.net"}
    alert_id, ts = await posted_alert(bot, comment=HOSTILE, customer=customer)
    card = bot.slack_api.last("chat.postMessage").body
    _assert_harmless_message(card)
    assert "&amp;" in card["text"] and "&lt;!here&gt;" in card["text"]
    # Customer text shown as typed lives only in plain_text objects, which Slack never interprets.
    plain = plain_of(card["blocks"])
    assert any(HOSTILE in t for t in plain) and any(name in t for t in plain)

    # The modals (status and customer record), the card after a change and its thread note too.
    for action in (ids.RESOLVED, ids.CUSTOMER):
        await bot.slack_request(click(bot, VEST, METTE, action, alert_id, ts))
    for opened in await bot.slack_api.wait_for("views.open", 2):
        _assert_harmless(interpreted_strings(opened.body["view"]))
        assert any(name in t for t in plain_of(opened.body["view"]))
    await send_reply(bot, VEST, METTE, "Ongoing – called", ts)
    await _status_becomes(bot, alert_id, Status.ONGOING)
    await bot.deliver()
    _assert_harmless_message(bot.slack_api.last("chat.update").body)
    _assert_harmless_message(bot.slack_api.last("chat.postMessage").body)


async def test_hostile_note_in_a_thread_reply_is_posted_harmless(bot):
    alert_id, ts = await posted_alert(bot)
    await send_reply(bot, VEST, METTE, "Resolved – " + HOSTILE, ts)
    history = await _status_becomes(bot, alert_id, Status.RESOLVED)
    assert history[-1].note == HOSTILE  # stored as typed
    await bot.deliver()
    note = bot.slack_api.last("chat.postMessage").body
    assert note["thread_ts"] == ts
    _assert_harmless_message(note)
    assert HOSTILE in plain_of(note["blocks"])
    _assert_harmless_message(bot.slack_api.last("chat.update").body)


async def test_hostile_note_in_a_modal_is_posted_harmless(bot):
    alert_id, _ = await posted_alert(bot)
    r = await bot.slack_request(interactivity(submission(VEST, METTE, metadata(alert_id, "ongoing"), HOSTILE)))
    assert r.status_code == 200
    await bot.deliver()
    note = bot.slack_api.last("chat.postMessage").body
    _assert_harmless_message(note)
    assert HOSTILE in plain_of(note["blocks"])
