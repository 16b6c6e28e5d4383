"""The outbox dispatcher against the fake Slack: retries, Retry-After, permanent failures, per-channel
order, restarts, and running with no Slack at all."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from bot.services import Context
from bot.settings import OutboxSettings
from storage.database import Database
from tests.conftest import response, running, settings_for, slack_settings
from tests.fakes.slack_signing import event, interactivity
from tests.slack_support import (
    BRANDT_CHANNEL,
    METTE,
    VEST,
    VEST_CHANNEL,
    alert_and_history,
    card_of,
    command,
    eventually,
    metadata,
    new_alert,
    outbox,
    posted_alert,
    reply,
    submission,
)


async def _de_alert(bot: Any, id_: str = "r-de") -> str:
    r = await bot.post(
        "/api/v1/responses", response(id_, dealer_id="DE-2001", nps=2, customer={"id": "K-9", "name": "Jürgen Weiß"})
    )
    assert r.status_code == 202
    return next(a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-"))


def _cards(slack: Any, channel: str | None = None) -> list[Any]:
    """chat.postMessage calls for cards (not thread notes), in arrival order, with their outcome."""
    return [
        c
        for c in slack.calls_to("chat.postMessage")
        if "thread_ts" not in c.body and (channel is None or c.body["channel"] == channel)
    ]


def _alert_of(call: Any) -> str:
    return str(call.body["text"].split(" for ")[0].split()[-1])


async def _receipt(bot: Any, alert_id: str) -> Any:
    async with bot.cx.db.read() as tx:
        return await tx.slack.receipt(alert_id)


# ---- retries ----------------------------------------------------------------------------------------


async def test_429_with_retry_after_then_success_delivers_exactly_once(bot):
    alert_id = await new_alert(bot)
    bot.slack_api.fail("chat.postMessage", status=429, retry_after=30)
    assert await bot.deliver() == 0
    (row,) = await outbox(bot)
    assert row.status == "pending" and row.attempts == 1 and "429" in (row.last_error or "")
    assert row.next_attempt_at == bot.cx.clock.now() + timedelta(seconds=30)  # Slack's Retry-After, on cxbot's clock

    assert await bot.deliver() == 0  # not due yet: nothing is sent
    bot.cx.clock.advance(seconds=29)
    assert await bot.deliver() == 0
    assert len(bot.slack_api.calls_to("chat.postMessage")) == 1

    bot.cx.clock.advance(seconds=2)
    assert await bot.deliver() == 1
    posts = bot.slack_api.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [429, 200]
    assert [c.ok for c in posts].count(True) == 1 and _alert_of(posts[1]) == alert_id
    (row,) = await outbox(bot)
    assert row.status == "done" and row.done_at == bot.cx.clock.now()
    receipt = await _receipt(bot, alert_id)
    assert (receipt.channel_id, receipt.ts) == (VEST_CHANNEL, posts[1].response["ts"])
    bot.cx.clock.advance(hours=1)
    assert await bot.deliver() == 0
    assert len(bot.slack_api.calls_to("chat.postMessage")) == 2


async def test_server_errors_back_off_exponentially_then_deliver_once(bot):
    alert_id = await new_alert(bot)
    bot.slack_api.fail("chat.postMessage", status=500, times=2)
    assert await bot.deliver() == 0
    (row,) = await outbox(bot)
    assert row.next_attempt_at == bot.cx.clock.now() + timedelta(seconds=2) and "500" in (row.last_error or "")
    bot.cx.clock.advance(seconds=2)
    assert await bot.deliver() == 0  # the second 500
    (row,) = await outbox(bot)
    assert row.attempts == 2 and row.next_attempt_at == bot.cx.clock.now() + timedelta(seconds=4)
    bot.cx.clock.advance(seconds=3)
    assert await bot.deliver() == 0
    bot.cx.clock.advance(seconds=1)
    assert await bot.deliver() == 1
    posts = bot.slack_api.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [500, 500, 200] and _alert_of(posts[-1]) == alert_id
    assert len(_cards(bot.slack_api)) == 3 and sum(c.ok for c in posts) == 1


async def test_slack_errors_that_pass_are_retried(bot):
    await new_alert(bot)
    bot.slack_api.error("chat.postMessage", "service_unavailable")
    assert await bot.deliver() == 0
    bot.cx.clock.advance(seconds=2)
    assert await bot.deliver() == 1
    assert [c.ok for c in bot.slack_api.calls_to("chat.postMessage")] == [False, True]


async def test_a_row_that_keeps_failing_is_marked_failed_not_dropped(db_url, cx, slack, example_dealers):
    settings = dataclasses.replace(
        slack_settings(db_url, api_url=slack.url), outbox=OutboxSettings(max_attempts=3, backoff_seconds=1)
    )
    async with running(settings, cx, slack) as bot:
        await new_alert(bot)
        slack.fail("chat.postMessage", status=503, times=10)
        for _ in range(5):
            await bot.deliver()
            cx.clock.advance(minutes=1)
        (row,) = await outbox(bot)
        assert row.status == "failed" and row.attempts == 3
        assert row.last_error and row.last_error.startswith("gave up after 3 attempts") and "503" in row.last_error
        assert len(slack.calls_to("chat.postMessage")) == 3


# ---- permanent failures -----------------------------------------------------------------------------


async def test_channel_not_found_marks_the_row_failed_and_other_channels_keep_flowing(bot):
    def post(call: Any) -> dict[str, Any]:
        if call.body["channel"] == VEST_CHANNEL:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": call.body["channel"], "ts": bot.slack_api.next_ts()}

    bot.slack_api.answer("chat.postMessage", post)
    dk = await new_alert(bot, "r-1")
    de = await _de_alert(bot)
    assert await bot.deliver() == 2
    async with bot.cx.db.read() as tx:
        failed = await tx.outbox.listing("failed", 10)
        done = await tx.outbox.listing("done", 10)
    assert [(r.alert_id, r.channel_id) for r in failed] == [(dk, VEST_CHANNEL)]
    assert failed[0].last_error.startswith("channel_not_found: channel not found")
    assert [(r.alert_id, r.channel_id) for r in done] == [(de, BRANDT_CHANNEL)]
    assert await _receipt(bot, dk) is None and await _receipt(bot, de) is not None

    # Later rows of other channels flow; the failed one is not retried.
    de2 = await _de_alert(bot, "r-de-2")
    assert await bot.deliver() == 1
    assert [_alert_of(c) for c in _cards(bot.slack_api, BRANDT_CHANNEL)] == [de, de2]
    assert len(_cards(bot.slack_api, VEST_CHANNEL)) == 1
    bot.cx.clock.advance(hours=1)
    assert await bot.deliver() == 0
    assert len(_cards(bot.slack_api, VEST_CHANNEL)) == 1


async def test_update_of_a_message_that_was_never_posted_fails_with_the_reason(bot):
    bot.slack_api.error("chat.postMessage", "not_in_channel")
    alert_id = await new_alert(bot)
    await bot.deliver()
    answer = await command(bot, f"ongoing {alert_id} Called her")
    assert "*Ongoing*" in answer["text"]  # the change is stored even though its card is missing
    await bot.deliver()
    rows = await outbox(bot)
    assert [r.status for r in rows] == ["failed", "failed", "failed"]
    assert "/invite" in rows[0].last_error
    assert "never posted" in rows[1].last_error and "never posted" in rows[2].last_error
    assert bot.slack_api.calls_to("chat.update") == []


# ---- order ------------------------------------------------------------------------------------------


async def test_a_waiting_head_keeps_its_channels_later_rows_behind_it(bot):
    first = await new_alert(bot, "r-1")
    second = await new_alert(bot, "r-2", customer={"id": "K-2", "name": "Bo Ek"})
    bot.slack_api.fail("chat.postMessage", status=429, retry_after=60)
    assert await bot.deliver() == 0
    assert [(_alert_of(c), c.status) for c in _cards(bot.slack_api)] == [(first, 429)]

    # A change decided meanwhile queues behind the card in the same channel.
    await command(bot, f"ongoing {first} Called her")
    de = await _de_alert(bot)
    assert await bot.deliver() == 1  # another channel flows while this one waits
    assert [_alert_of(c) for c in _cards(bot.slack_api, BRANDT_CHANNEL)] == [de]
    assert len(bot.slack_api.calls_to("chat.postMessage")) == 2 and bot.slack_api.calls_to("chat.update") == []

    bot.cx.clock.advance(seconds=61)
    assert await bot.deliver() == 4
    vest = [c for c in bot.slack_api.calls if c.body.get("channel") == VEST_CHANNEL]
    sequence = [(c.method, c.body.get("thread_ts") is not None, c.status) for c in vest]
    assert sequence == [
        ("chat.postMessage", False, 429),  # first's card, rate limited
        ("chat.postMessage", False, 200),  # first's card
        ("chat.postMessage", False, 200),  # second's card
        ("chat.update", False, 200),  # first's card shows "Ongoing"
        ("chat.postMessage", True, 200),  # the note in first's thread
    ]
    assert [_alert_of(c) for c in vest[1:3]] == [first, second]
    first_ts = vest[1].response["ts"]
    assert vest[3].body["ts"] == first_ts and vest[4].body["thread_ts"] == first_ts


# ---- restarts ---------------------------------------------------------------------------------------


async def _second_runtime(db_url: str, bot: Any, slack: Any) -> Any:
    cx = Context(db=Database(db_url), rules=bot.cx.rules, clock=bot.cx.clock)
    return cx, running(slack_settings(db_url, api_url=slack.url), cx, slack)


async def test_rows_pending_at_a_restart_are_delivered_once_by_the_new_process(bot, db_url, slack):
    dk1 = await new_alert(bot, "r-1")
    dk2 = await new_alert(bot, "r-2", customer={"id": "K-2", "name": "Bo Ek"})
    de = await _de_alert(bot)
    assert slack.calls_to("chat.postMessage") == []
    cx, second = await _second_runtime(db_url, bot, slack)
    try:
        async with second as restarted:
            assert await restarted.deliver() == 3
            assert await restarted.deliver() == 0
    finally:
        await cx.db.close()
    assert await bot.deliver() == 0  # the first process finds nothing left either
    assert sorted(_alert_of(c) for c in _cards(slack)) == sorted([dk1, dk2, de])
    assert [_alert_of(c) for c in _cards(slack, VEST_CHANNEL)] == [dk1, dk2]
    assert {r.status for r in await outbox(bot)} == {"done"}


async def test_a_card_whose_receipt_was_stored_is_not_posted_again_after_a_restart(bot, db_url, slack):
    """A crash between storing the receipt and marking the row done: the restart must not post twice."""
    alert_id = await new_alert(bot)
    async with bot.cx.db.transaction() as tx:
        await tx.slack.record(alert_id, "card", VEST, VEST_CHANNEL, "1699999999.000001", bot.cx.clock.now())
    cx, second = await _second_runtime(db_url, bot, slack)
    try:
        async with second as restarted:
            assert await restarted.deliver() == 1
            assert slack.calls_to("chat.postMessage") == []
            (row,) = await outbox(restarted)
            assert row.status == "done"
            # The stored receipt is the card from now on: its thread and its updates.
            r = await restarted.slack_request(
                interactivity(submission(VEST, METTE, metadata(alert_id, "ongoing"), "Called her"))
            )
            assert r.status_code == 200
            await restarted.deliver()
    finally:
        await cx.db.close()
    assert slack.last("chat.update").body["ts"] == "1699999999.000001"
    assert slack.last("chat.postMessage").body["thread_ts"] == "1699999999.000001"


async def test_a_lane_leased_by_a_process_that_died_is_taken_over_when_the_lease_runs_out(bot):
    alert_id = await new_alert(bot)
    now = bot.cx.clock.now()
    async with bot.cx.db.transaction() as tx:
        (lane,) = await tx.outbox.due_lanes(now, 10)
        assert await tx.outbox.lease([lane], "crashed-replica", now, now + timedelta(seconds=60)) == [lane]
    assert await bot.deliver() == 0  # someone else holds it
    assert bot.slack_api.calls_to("chat.postMessage") == []
    bot.cx.clock.advance(seconds=61)
    assert await bot.deliver() == 1
    assert [_alert_of(c) for c in _cards(bot.slack_api)] == [alert_id]


async def test_thread_reply_after_a_restart_finds_the_card(bot, db_url, slack):
    alert_id, ts = await posted_alert(bot)
    cx, second = await _second_runtime(db_url, bot, slack)
    try:
        async with second as restarted:
            r = await restarted.slack_request(event(reply(VEST, METTE, "Resolved – called her", ts)))
            assert r.status_code == 200

            async def resolved() -> bool:
                alert, _ = await alert_and_history(restarted, alert_id)
                return alert.status.value == "resolved"

            await eventually(resolved)
    finally:
        await cx.db.close()
    assert card_of(slack, alert_id).response["ts"] == ts


# ---- no Slack at all --------------------------------------------------------------------------------


async def test_without_slack_settings_the_app_runs_and_marks_slack_routed_alerts_undeliverable(
    db_url, cx, slack, example_dealers
):
    async with running(settings_for(db_url), cx, slack) as bot:
        assert bot.runtime.slack_app is None
        r = await bot.client.post("/slack/events", content=b"{}", headers={"Content-Type": "application/json"})
        assert r.status_code == 404
        assert (await bot.client.get("/slack/install")).status_code == 404
        r = await bot.post("/api/v1/responses", response(nps=3, comment="Ingen ringede."))
        assert r.status_code == 202  # intake works as ever
        # The Slack-routed card is kept visible as failed with the reason, never silently dropped.
        (row,) = await outbox(bot)
        assert row.status == "failed" and row.action == "slack.card" and row.last_error == "Slack is not configured"
        assert await bot.deliver() == 0
        r = await bot.get("/api/v1/alerts/HA-1")
        assert r.status_code == 200
    assert slack.calls == []
