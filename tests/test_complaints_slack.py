"""`/cx complaint` through signed Slack requests against the fake Slack Web API: the form offers the
dealers the user acts for, its submission registers the complaint once, wrong fields are shown
at their place in the form, and the complaint is then handled from its card like any alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.domain.values import Channel, HistoryEvent, Status
from notifications.slack import ids
from tests.fakes.slack_payloads import view_submission
from tests.fakes.slack_signing import interactivity, slash_command
from tests.slack_support import CAMILLA, METTE, NOBODY, VEST, VEST_CHANNEL, card_of, click, interpreted_strings, metadata, plain_of, submission


async def cx_complaint(bot: Any, user: str, text: str = "complaint") -> Any:
    before = len(bot.slack_api.calls_to("views.open"))
    r = await bot.slack_request(slash_command(team_id=VEST, user_id=user, channel_id=VEST_CHANNEL, text=text, command="/cx"))
    assert r.status_code == 200, r.text
    return r, before


async def opened_form(bot: Any, user: str, text: str = "complaint") -> dict[str, Any]:
    r, before = await cx_complaint(bot, user, text)
    assert r.content in (b"", b"{}") or r.json() == {}  # no text: the form is the answer
    opened = await bot.slack_api.wait_for("views.open", before + 1)
    view: dict[str, Any] = opened[-1].body["view"]
    if isinstance(view, str):
        view = json.loads(view)
    assert view["callback_id"] == ids.COMPLAINT_MODAL
    return view


def _picked(kind: str, value: str | None) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": value or "", "emoji": True}, "value": value} if value else None
    return {"type": kind, "selected_option": option}


def form(dealer: str | None = None, **over: Any) -> dict[str, dict[str, Any]]:
    """The form's state as Slack sends it on submit."""
    values: dict[str, Any] = {
        ids.COMPLAINT_CUSTOMER_BLOCK: "K-77",
        ids.COMPLAINT_NAME_BLOCK: "Anne Sørensen",
        ids.COMPLAINT_PHONE_BLOCK: "+45 20 30 40 50",
        ids.COMPLAINT_EMAIL_BLOCK: None,
        ids.COMPLAINT_VIA_BLOCK: _picked("radio_buttons", "phone"),
        ids.COMPLAINT_RECEIVED_BLOCK: {"type": "datetimepicker", "selected_date_time": None},
        ids.COMPLAINT_DESCRIPTION_BLOCK: "Kunden ringede: bilen larmer stadig efter værkstedsbesøget.",
    }
    if dealer is not None:
        values[ids.COMPLAINT_DEALER_BLOCK] = _picked("static_select", dealer)
    values.update(over)
    return {block: {ids.COMPLAINT_INPUT: state} for block, state in values.items()}


async def submit(bot: Any, user: str, view: dict[str, Any], values: dict[str, Any], **kw: Any) -> dict[str, Any]:
    payload = view_submission(VEST, user, ids.COMPLAINT_MODAL, view["private_metadata"], values, **kw)
    r = await bot.slack_request(interactivity(payload))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def counts(bot: Any) -> tuple[int, int]:
    from sqlalchemy import text

    async with bot.cx.db.read() as tx:
        return (int(await tx.conn.scalar(text("SELECT count(*) FROM alerts"))), int(await tx.conn.scalar(text("SELECT count(*) FROM complaints"))))


def labels(view: dict[str, Any]) -> list[str]:
    return [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]


async def test_the_form_offers_the_dealers_the_user_acts_for(bot: Any) -> None:
    mette = await opened_form(bot, METTE, "complaint K-77")
    # Mette acts for Autohuset Vest only: no dealer to choose; the customer id typed after the command is filled in.
    assert "Dealer" not in labels(mette) and "Dealer: Autohuset Vest (DK-1001)" in plain_of(mette["blocks"])
    assert json.loads(mette["private_metadata"]) == {"dealer": "DK-1001"}
    customer = next(b for b in mette["blocks"] if b.get("block_id") == ids.COMPLAINT_CUSTOMER_BLOCK)
    assert customer["element"]["initial_value"] == "K-77"
    via = next(b for b in mette["blocks"] if b.get("block_id") == ids.COMPLAINT_VIA_BLOCK)
    assert [o["value"] for o in via["element"]["options"]] == ["phone", "email", "in_person", "letter", "other"]
    assert labels(mette) == ["Customer id", "Customer name", "Customer phone", "Customer email", "Received", "Received at", "The complaint"]

    # Camilla (importer) acts here for the dealers this workspace serves: not Autohaus Brandt's.
    camilla = await opened_form(bot, CAMILLA)
    select = next(b for b in camilla["blocks"] if b.get("block_id") == ids.COMPLAINT_DEALER_BLOCK)
    assert [o["value"] for o in select["element"]["options"]] == ["DK-1001", "DK-5001"]
    assert json.loads(camilla["private_metadata"]) == {"dealer": None}


async def test_someone_who_acts_for_no_dealer_gets_no_form(bot: Any) -> None:
    r, before = await cx_complaint(bot, NOBODY)
    answer = r.json()
    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("Not allowed: you act for no dealer")
    assert len(bot.slack_api.calls_to("views.open")) == before


async def test_submitting_registers_the_complaint_once_and_posts_its_card(bot: Any, slack: Any) -> None:
    view = await opened_form(bot, METTE)
    received = int(datetime(2026, 11, 2, 8, 15, tzinfo=UTC).timestamp())
    values = form(**{ids.COMPLAINT_RECEIVED_BLOCK: {"type": "datetimepicker", "selected_date_time": received}})
    payload = view_submission(VEST, METTE, ids.COMPLAINT_MODAL, view["private_metadata"], values)
    r = await bot.slack_request(interactivity(payload))
    answer = r.json()
    assert answer["response_action"] == "update" and "CO-1" in json.dumps(answer["view"])
    assert await counts(bot) == (1, 1)

    # The same submission again (a double click, a retry): nothing new.
    again = await bot.slack_request(interactivity(payload), retry_num=1)
    assert "registered already" in json.dumps(again.json()["view"])
    assert await counts(bot) == (1, 1)

    async with bot.cx.db.read() as tx:
        row = await tx.complaints.get("CO-1")
        history = await tx.history.of("CO-1")
    assert (row.registered_by, row.received_via, row.received_at.isoformat()) == ("Mette Kjær", "phone", "2026-11-02T08:15:00+00:00")
    assert [(e.event, e.channel, e.actor) for e in history] == [
        (HistoryEvent.CREATED, Channel.SLACK, f"slack:{VEST}/{METTE}"),
        (HistoryEvent.COMMENT, Channel.SLACK, f"slack:{VEST}/{METTE}"),
    ]
    assert history[0].person_id is not None and history[1].note == "Kunden ringede: bilen larmer stadig efter værkstedsbesøget."

    await bot.deliver()
    card = card_of(slack, "CO-1")
    assert card.body["channel"] == VEST_CHANNEL
    assert any("registered by <@U0METTEKJ>" in t for t in interpreted_strings(card.body["blocks"]))

    # Handled from its card like any alert: Resolved opens the note form, the note is saved.
    ts = card.response["ts"]
    await bot.slack_request(click(bot, VEST, METTE, ids.RESOLVED, "CO-1", ts))
    await bot.slack_api.wait_for("views.open", 2)
    done = await bot.slack_request(interactivity(submission(VEST, METTE, metadata("CO-1", "resolved"), "Ringede til Anne; værkstedstid fredag.")))
    assert done.status_code == 200
    async with bot.cx.db.read() as tx:
        alert = await tx.alerts.get("CO-1")
    assert alert.status is Status.RESOLVED and alert.on_time is True


async def test_wrong_fields_are_shown_in_the_form_and_nothing_is_stored(bot: Any) -> None:
    view = await opened_form(bot, METTE)
    future = int(datetime(2026, 11, 5, tzinfo=UTC).timestamp())
    values = form(**{
        ids.COMPLAINT_CUSTOMER_BLOCK: " ",
        ids.COMPLAINT_EMAIL_BLOCK: "anne(at)example.net",
        ids.COMPLAINT_VIA_BLOCK: _picked("radio_buttons", None),
        ids.COMPLAINT_RECEIVED_BLOCK: {"type": "datetimepicker", "selected_date_time": future},
    })
    answer = await submit(bot, METTE, view, values)
    assert answer == {
        "response_action": "errors",
        "errors": {
            ids.COMPLAINT_CUSTOMER_BLOCK: "is required",
            ids.COMPLAINT_EMAIL_BLOCK: "is not an email address",
            ids.COMPLAINT_VIA_BLOCK: "is required: phone, email, in_person, letter, other",
            ids.COMPLAINT_RECEIVED_BLOCK: "2026-11-05T00:00:00+00:00 is in the future",
        },
    }
    assert await counts(bot) == (0, 0)
    # Corrected, the same form is accepted: a refused submission was not remembered as done.
    ok = await submit(bot, METTE, view, form())
    assert ok["response_action"] == "update"
    assert await counts(bot) == (1, 1)


async def test_a_dealer_the_user_does_not_act_for_is_refused(bot: Any) -> None:
    view = await opened_form(bot, CAMILLA)
    # DE-2001 is Camilla's, but not in this workspace; the select never offered it.
    answer = await submit(bot, CAMILLA, view, form(dealer="DE-2001"))
    assert answer["response_action"] == "errors"
    assert answer["errors"] == {ids.COMPLAINT_DEALER_BLOCK: "Not allowed: you may not register complaints for dealer 'DE-2001'"}
    # Mette's form names her dealer in its metadata; a forged one is checked again.
    mette = await opened_form(bot, METTE)
    forged = {**mette, "private_metadata": json.dumps({"dealer": "DK-5001"})}
    answer = await submit(bot, METTE, forged, form())
    assert answer["errors"] == {ids.COMPLAINT_CUSTOMER_BLOCK: "Not allowed: you may not register complaints for dealer 'DK-5001'"}
    assert await counts(bot) == (0, 0)
    ok = await submit(bot, CAMILLA, view, form(dealer="DK-5001"))
    assert ok["response_action"] == "update" and "DK-5001" in json.dumps(ok["view"])
