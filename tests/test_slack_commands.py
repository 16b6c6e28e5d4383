"""The `/cx` slash command: every answer ephemeral, changes through the one status path."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.domain.values import Channel, HistoryEvent, Status
from tests.conftest import response
from tests.slack_support import (
    BRANDT,
    BRANDT_CHANNEL,
    CAMILLA,
    LARS,
    METTE,
    NOBODY,
    SABINE,
    VEST,
    VEST_CHANNEL,
    alert_and_history,
    card_of,
    command,
    new_alert,
    plain_of,
    posted_alert,
    snapshot,
)

SUBCOMMANDS = ("/cx resolve", "/cx ongoing", "/cx alert ", "/cx alerts", "/cx customer", "/cx help")


async def _de_alert(bot, id_="r-de"):
    r = await bot.post(
        "/api/v1/responses", response(id_, dealer_id="DE-2001", nps=2, customer={"id": "K-9", "name": "Jürgen Weiß"})
    )
    assert r.status_code == 202
    return next(a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-"))


# ---- help and unknown words -----------------------------------------------------------------------


async def test_help_lists_every_subcommand(bot):
    for text in ("help", "", "  HELP  "):
        answer = await command(bot, text)
        for usage in SUBCOMMANDS:
            assert usage in answer["text"]
        assert "resolved" in answer["text"] and "løst" in answer["text"]  # thread replies explained too


async def test_unknown_subcommand_says_so_and_shows_help(bot):
    answer = await command(bot, "frobnicate HA-1")
    assert answer["text"].startswith("I don't know `/cx frobnicate`")
    assert all(usage in answer["text"] for usage in SUBCOMMANDS)


async def test_unknown_subcommand_is_echoed_harmlessly(bot):
    answer = await command(bot, "<!channel>")
    assert "<!channel>" not in answer["text"] and "&lt;!channel&gt;" in answer["text"]


# ---- resolve / ongoing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "status", "word"),
    [
        ("resolve", Status.RESOLVED, "Resolved"),
        ("resolved", Status.RESOLVED, "Resolved"),
        ("ongoing", Status.ONGOING, "Ongoing"),
    ],
)
async def test_status_command_changes_the_alert_through_the_same_path_as_the_buttons(bot, verb, status, word):
    alert_id, ts = await posted_alert(bot)
    answer = await command(bot, f"{verb} {alert_id} Called her,  new date Friday")
    assert answer["text"] == f"*{alert_id}* is now *{word}*. The note is in the alert's thread."

    alert, history = await alert_and_history(bot, alert_id)
    assert alert.status is status
    last = history[-1]
    assert (last.event, last.old_status, last.new_status) == (HistoryEvent.STATUS, Status.NEW, status)
    assert last.note == "Called her, new date Friday"
    assert last.channel is Channel.SLACK and last.actor == f"slack:{VEST}/{METTE}"

    assert await bot.deliver() == 2
    update = bot.slack_api.last("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (VEST_CHANNEL, ts)
    assert f"Status: *{word}*" in json.dumps(update.body["blocks"])
    note = bot.slack_api.last("chat.postMessage")
    assert note.body["thread_ts"] == ts and "Called her, new date Friday" in plain_of(note.body["blocks"])


async def test_alert_ids_are_read_as_people_type_them(bot):
    alert_id, _ = await posted_alert(bot)
    answer = await command(bot, "ongoing ha1 Left a voicemail")
    assert answer["text"].startswith(f"*{alert_id}* is now *Ongoing*")


async def test_status_command_without_a_note_answers_with_the_usage_and_changes_nothing(bot):
    alert_id, _ = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    for text in ("resolve", "resolve HA-1", "ongoing HA-1", "resolve   HA-1    "):
        answer = await command(bot, text)
        verb = text.split()[0]
        assert "note" in answer["text"]
        assert f"`/cx {verb} ALERT-ID" in answer["text"]
        assert "\n" not in answer["text"]  # one line with the right usage
    assert await snapshot(bot, alert_id) == before
    assert await bot.deliver() == 0


async def test_status_command_for_an_unknown_alert_says_so(bot):
    alert_id, _ = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    answer = await command(bot, "resolve HA-999 Called her")
    assert answer["text"].startswith("Not allowed: there is no alert HA-999 that you may act on.")
    assert "Usage: `/cx resolve ALERT-ID" in answer["text"]
    answer = await command(bot, "resolve XYZ Called her")
    assert "'XYZ' is not an alert id" in answer["text"] and "Usage: `/cx resolve ALERT-ID" in answer["text"]
    assert await snapshot(bot, alert_id) == before


async def test_resolving_a_resolved_alert_is_refused_with_the_reason(bot):
    alert_id, _ = await posted_alert(bot)
    await command(bot, f"resolve {alert_id} Called her")
    before = await snapshot(bot, alert_id)
    answer = await command(bot, f"resolve {alert_id} Again")
    assert answer["text"].endswith("Nothing changed.") and "resolved" in answer["text"]
    assert await snapshot(bot, alert_id) == before
    # Reopening is allowed, with a note.
    answer = await command(bot, f"ongoing {alert_id} She called back")
    assert "*Ongoing*" in answer["text"]


# ---- alert / alerts -------------------------------------------------------------------------------


async def test_alert_shows_the_alert_and_its_recent_history(bot):
    alert_id, _ = await posted_alert(bot, scores={"overall": 1})
    await command(bot, f"ongoing {alert_id} Left a voicemail")
    answer = await command(bot, f"alert {alert_id}")
    text = answer["text"]
    assert f"*{alert_id}*" in text and "Hot Alert" in text and "DK-1001" in text and "Ongoing" in text
    assert "Anne Sørensen" in text and "Autohuset Vest" in text
    assert "NPS 3" in text and "overall 1/5" in text
    assert "> Ingen ringede tilbage." in text
    assert "New → Ongoing — Left a voicemail" in text and f"slack:{VEST}/{METTE}" in text


async def test_alert_and_alerts_with_wrong_usage_answer_with_the_usage(bot):
    await posted_alert(bot)
    for text in ("alert", "alert HA-1 HA-2"):
        assert (await command(bot, text))["text"] == "Usage: `/cx alert ALERT-ID` (e.g. `/cx alert HA-12`)"
    for text in ("alerts bogus", "alerts open overdue"):
        assert (await command(bot, text))["text"] == "Usage: `/cx alerts [open|overdue|escalated]`"


async def test_alert_unknown_id_says_so(bot):
    answer = await command(bot, "alert HA-42")
    assert "there is no alert HA-42 that you may see" in answer["text"]
    answer = await command(bot, "alert 42")
    assert "is not an alert id" in answer["text"] and "Usage: `/cx alert ALERT-ID`" in answer["text"]


async def test_alerts_lists_the_users_dealers_open_alerts(bot):
    dk = await new_alert(bot, "r-1")
    other = await new_alert(bot, "r-2", customer={"id": "K-2", "name": "Bo Ek"})
    de = await _de_alert(bot)
    for text in ("alerts", "alerts open", "alerts OPEN"):
        answer = await command(bot, text)
        assert answer["text"].startswith("*Open alerts*")
        assert f"*{dk}*" in answer["text"] and f"*{other}*" in answer["text"]
        assert f"*{de}*" not in answer["text"] and "DE-2001" not in answer["text"]
    await command(bot, f"resolve {dk} Called her")
    answer = await command(bot, "alerts")
    assert f"*{dk}*" not in answer["text"] and f"*{other}*" in answer["text"]
    # Sabine sees her dealer's only.
    answer = await command(bot, "alerts", team=BRANDT, user=SABINE, channel=BRANDT_CHANNEL)
    assert f"*{de}*" in answer["text"] and "DK-1001" not in answer["text"]


async def test_alerts_overdue_lists_unhandled_alerts_past_due(bot):
    dk = await new_alert(bot, "r-1")
    handled = await new_alert(bot, "r-2", customer={"id": "K-2", "name": "Bo Ek"})
    assert (await command(bot, "alerts overdue"))["text"] == "No overdue alerts for your dealers."
    await command(bot, f"ongoing {handled} Called, no answer")
    bot.cx.clock.advance(days=10)
    answer = await command(bot, "alerts overdue")
    assert answer["text"].startswith("*Overdue alerts*")
    assert f"*{dk}*" in answer["text"] and "*overdue*" in answer["text"]
    assert f"*{handled}*" not in answer["text"]


async def test_alerts_escalated_lists_escalated_open_alerts(bot):
    dk = await new_alert(bot, "r-1")
    assert (await command(bot, "alerts escalated"))["text"] == "No escalated alerts for your dealers."
    async with bot.cx.db.transaction() as tx:  # no escalation sweep in this slice: escalate in storage
        alert = await tx.alerts.get(dk)
        await tx.alerts.save(
            dataclasses.replace(alert, escalation_level=1, escalated_at=bot.cx.clock.now()), bot.cx.clock.now()
        )
    answer = await command(bot, "alerts escalated", user=LARS)
    assert (
        answer["text"].startswith("*Escalated alerts*")
        and f"*{dk}*" in answer["text"]
        and "escalated (level 1)" in answer["text"]
    )


# ---- customer -------------------------------------------------------------------------------------


async def test_customer_finds_by_name_email_or_id(bot):
    alert_id, _ = await posted_alert(
        bot,
        customer={
            "id": "K-1",
            "name": "Anne Sørensen",
            "email": "anne@example.net",
            "phones": {"mobile": "+45 20 30 40 50"},
        },
    )
    for query in ("Anne", "anne sørensen", "ANNE@example.net", "K-1"):
        answer = await command(bot, f"customer {query}")
        text = answer["text"]
        assert text.startswith("Anne Sørensen — Autohuset Vest (DK-1001), customer K-1"), query
        assert "Email: anne@example.net" in text and "+45 20 30 40 50" in text
        assert "NPS 3" in text and "Detractor" in text
        assert f"Open alerts: {alert_id}" in text


async def test_customer_shows_an_anonymous_customer_without_contact_details(bot):
    await posted_alert(
        bot,
        anonymous=True,
        customer={
            "id": "K-7",
            "name": "Bent Hansen",
            "email": "bent@example.net",
            "phones": {"home": "+45 86 00 00 00"},
        },
    )
    answer = await command(bot, "customer K-7")
    assert answer["text"].startswith("Anonymous — Autohuset Vest (DK-1001), customer K-7")
    for secret in ("Bent", "bent@example.net", "+45 86 00 00 00", "Email:", "Phone:"):
        assert secret not in answer["text"]
    # An anonymized customer is found by id only.
    assert (await command(bot, "customer Bent"))["text"].startswith("No customer of your dealers matches")


async def test_customer_with_no_match_or_no_query(bot):
    await posted_alert(bot)
    assert (await command(bot, "customer Nobody Atall"))[
        "text"
    ] == "No customer of your dealers matches “Nobody Atall”."
    answer = await command(bot, "customer")
    assert answer["text"] == "Usage: `/cx customer NAME | EMAIL | CUSTOMER-ID`"


async def test_customer_text_is_escaped(bot):
    await posted_alert(
        bot, comment="<!channel> *call me*", customer={"id": "K-66", "name": "Eve <@U123> <http://evil.example|x> & Co"}
    )
    answer = await command(bot, "customer K-66")
    for raw in ("<!channel>", "<@U123>", "<http", "*call me*"):
        assert raw not in answer["text"]
    assert "&amp;" in answer["text"]
    answer = await command(bot, "alert HA-1")
    for raw in ("<!channel>", "<@U123>", "<http", "*call me*"):
        assert raw not in answer["text"]


# ---- who may do what ------------------------------------------------------------------------------


@pytest.mark.parametrize(("team", "user"), [(BRANDT, SABINE), (VEST, NOBODY), (BRANDT, CAMILLA)])
async def test_commands_about_an_alert_the_user_may_not_see_are_refused_and_change_nothing(bot, team, user):
    alert_id, _ = await posted_alert(bot)
    before = await snapshot(bot, alert_id)
    for text in (f"resolve {alert_id} Called her", f"ongoing {alert_id} Called her"):
        answer = await command(bot, text, team=team, user=user)
        assert answer["text"].startswith(f"Not allowed: there is no alert {alert_id} that you may act on.")
    answer = await command(bot, f"alert {alert_id}", team=team, user=user)
    assert f"there is no alert {alert_id} that you may see" in answer["text"] and "Anne" not in answer["text"]
    answer = await command(bot, "customer Anne", team=team, user=user)
    assert answer["text"].startswith("No customer of your dealers matches")
    answer = await command(bot, "alerts", team=team, user=user)
    assert alert_id not in answer["text"]
    assert await snapshot(bot, alert_id) == before
    assert await bot.deliver() == 0


async def test_regional_user_sees_in_each_workspace_the_dealers_routed_there(bot):
    dk = await new_alert(bot, "r-1")
    de = await _de_alert(bot)
    await bot.deliver()
    in_vest = (await command(bot, "alerts", team=VEST, user=CAMILLA))["text"]
    in_brandt = (await command(bot, "alerts", team=BRANDT, user=CAMILLA, channel=BRANDT_CHANNEL))["text"]
    assert f"*{dk}*" in in_vest and f"*{de}*" not in in_vest
    assert f"*{de}*" in in_brandt and f"*{dk}*" not in in_brandt

    answer = await command(bot, f"ongoing {de} Spoke to the manager", team=BRANDT, user=CAMILLA, channel=BRANDT_CHANNEL)
    assert "*Ongoing*" in answer["text"]
    answer = await command(bot, f"ongoing {dk} Spoke to the manager", team=VEST, user=CAMILLA)
    assert "*Ongoing*" in answer["text"]
    _, history = await alert_and_history(bot, de)
    assert history[-1].actor == f"slack:{BRANDT}/{CAMILLA}"
    await bot.deliver()
    updated = {(c.body["channel"], c.body["ts"]) for c in bot.slack_api.calls_to("chat.update")}
    assert updated == {
        (VEST_CHANNEL, card_of(bot.slack_api, dk).response["ts"]),
        (BRANDT_CHANNEL, card_of(bot.slack_api, de).response["ts"]),
    }
