"""POST /api/v1/activities as a dealer system sends it, over the real HTTP server: every activity stored,
and one opened for a detractor warned at once in the dealer's detractor channel (the fake Slack Web API)
and by mail to the assignee (the SMTP fake), in the dealer's language, with customer text kept harmless;
retries warn once; bad input is refused field by field and stores nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.domain.detractors import ActivityType
from bot.domain.values import Scope
from bot.services import keys
from tests.conftest import response
from tests.mail_support import METTE, ROUTE, VEST_CHANNEL, html, mail_app, outbox, plain

PATH = "/api/v1/activities"
FYN_ROUTE = "vaerksted@fyns-bilservice.example"  # DK-5001: no Slack, detractors by mail
NAME = "Anne <@U0LARSOST> *Sørensen*"  # customer text that must never mention, link or format in Slack
COMMENT = "Bilen var ikke klar <!channel> og ingen ringede. <https://evil.example|klik her>"


def activity(reference: str = "SC-4711", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dealer_id": "DK-1001",
        "customer_id": "K-1",
        "type": "service_call",
        "reference": reference,
        "opened_at": "2026-11-02T10:15:00+01:00",
        "assignee_email": "Mette.Kjaer@autohuset-vest.example",
    }
    body.update(over)
    return body


async def answer(bot: Any, id_: str, customer: str = "K-1", nps: int = 3, **over: Any) -> None:
    body = response(id_, customer={"id": customer, "name": NAME, "customer_number": "100-42"}, nps=nps, comment=COMMENT, survey="service")
    body.update(over)
    r = await bot.post("/api/v1/responses", body)
    assert r.status_code in (200, 202), r.text


async def stored(bot: Any) -> list[Any]:
    async with bot.cx.db.read() as tx:
        rows = []
        for cid in ("K-1", "K-2", "K-9"):
            rows += await tx.activities.of_customer("DK-1001", cid)
    return rows


def warnings_posted(slack: Any) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if "Detractor:" in c.body["text"]]


def activity_mails(smtp: Any, to: str) -> list[Any]:
    return [m for m in smtp.to(to) if "Detraktor:" in str(m.message["Subject"])]


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text of a message: where Slack would act on <@…>, <!channel>, links and *bold*."""
    out = []
    for b in blocks:
        for part in [b.get("text"), *b.get("fields", []), *b.get("elements", [])]:
            if isinstance(part, dict) and part.get("type") == "mrkdwn":
                out.append(part["text"])
    return out


@pytest.fixture
async def bot(db_url, cx, smtp, slack, example_dealers):
    async with mail_app(db_url, cx, smtp, slack=slack) as b:
        yield b


async def test_activity_for_a_detractor_warns_the_channel_and_the_assignee_once(bot, slack, smtp) -> None:
    await answer(bot, "r-1")
    await bot.deliver()
    before = len(slack.calls_to("chat.postMessage"))

    r = await bot.post(PATH, activity())
    assert r.status_code == 202, r.text
    assert r.json() == {
        "accepted": 1,
        "duplicates": 0,
        "warned": [{"dealer_id": "DK-1001", "customer_id": "K-1", "type": "service_call", "reference": "SC-4711"}],
    }
    await bot.deliver()

    (post,) = warnings_posted(slack)
    assert len(slack.calls_to("chat.postMessage")) == before + 1
    assert post.body["channel"] == VEST_CHANNEL
    shown = str(post.body["blocks"])
    assert "NPS 3 / 10" in shown and "SC-4711" in shown and "Give this customer a perfect experience" in shown
    assert "Bilen var ikke klar" in shown and "100-42" in shown and METTE in shown
    # Customer text only in plain_text objects; the fallback text is escaped.
    for text in mrkdwn_texts(post.body["blocks"]) + [post.body["text"]]:
        assert "<@" not in text and "<!channel>" not in text and "<https://" not in text and "*Sørensen*" not in text
    header = post.body["blocks"][0]
    assert header["text"]["type"] == "plain_text" and NAME in header["text"]["text"]

    # The assignee (lower-cased) by mail, in the dealer's language; the route's address is not mailed:
    # the channel has it.
    (mail,) = activity_mails(smtp, METTE)
    assert str(mail.message["Subject"]) == f"[cx] Detraktor: Serviceopgave SC-4711 – {NAME}"
    text = plain(mail.message)
    assert "Serviceopgave SC-4711 er netop oprettet" in text and "Giv denne kunde en perfekt oplevelse" in text
    assert "NPS 3 / 10 · Serviceundersøgelse" in text and "Bilen var ikke klar <!channel>" in text
    assert "Oprettet: 02.11.2026 kl. 10:15 (Europe/Copenhagen)" in text
    page = html(mail.message)
    assert "Anne &lt;@U0LARSOST&gt; *Sørensen*" in page and "<@U0LARSOST>" not in page
    assert "&lt;https://evil.example|klik her&gt;" in page
    assert mail.message["Reply-To"] is None  # nothing to answer
    assert activity_mails(smtp, ROUTE) == []

    # The dealer system retries the same request: stored once, warned once.
    again = await bot.post(PATH, activity())
    assert again.status_code == 200 and again.json() == {"accepted": 0, "duplicates": 1, "warned": []}
    await bot.deliver()
    assert len(warnings_posted(slack)) == 1 and len(activity_mails(smtp, METTE)) == 1
    assert len(await stored(bot)) == 1


async def test_customer_not_flagged_or_unknown_gets_no_warning_but_the_activity_is_stored(bot, slack, smtp) -> None:
    await answer(bot, "r-happy", customer="K-2", nps=9)
    await bot.deliver()
    r = await bot.post(
        PATH,
        {"activities": [activity("SO-1", customer_id="K-2", type="sales_order"), activity("PU-7", customer_id="K-9", type="purchase", assignee_email=None)]},
    )
    assert r.status_code == 202 and r.json() == {"accepted": 2, "duplicates": 0, "warned": []}
    await bot.deliver()
    assert warnings_posted(slack) == [] and activity_mails(smtp, METTE) == []
    assert not [o for o in await outbox(bot) if "detractor_activity" in o.action]
    rows = {(a.customer_id, a.type, a.reference, a.assignee_email, a.warned_response_id) for a in await stored(bot)}
    assert rows == {("K-2", ActivityType.SALES_ORDER, "SO-1", METTE, None), ("K-9", ActivityType.PURCHASE, "PU-7", None, None)}
    # What the lost-sales rule will ask: orders and purchases of a customer.
    async with bot.cx.db.read() as tx:
        bought = await tx.activities.of_customer("DK-1001", "K-9", [ActivityType.SALES_ORDER, ActivityType.PURCHASE])
    assert [(a.reference, a.opened_at.isoformat()) for a in bought] == [("PU-7", "2026-11-02T09:15:00+00:00")]


async def test_a_batch_warns_only_for_its_detractors(bot, slack, smtp) -> None:
    await answer(bot, "r-bad", customer="K-1", nps=2)
    await answer(bot, "r-good", customer="K-2", nps=10)
    await bot.deliver()
    r = await bot.post(PATH, {"activities": [activity("WB-1", type="workshop_booking"), activity("WB-2", customer_id="K-2", type="workshop_booking")]})
    assert r.status_code == 202
    assert [w["reference"] for w in r.json()["warned"]] == ["WB-1"]
    await bot.deliver()
    (post,) = warnings_posted(slack)
    assert "WB-1" in str(post.body["blocks"]) and "NPS 2 / 10" in str(post.body["blocks"])
    assert len(activity_mails(smtp, METTE)) == 1


async def test_the_same_request_posted_concurrently_warns_once(bot, slack, smtp) -> None:
    await answer(bot, "r-1")
    body = {"activities": [activity("SC-1"), activity("SC-2")]}
    first, second = await asyncio.gather(bot.post(PATH, body), bot.post(PATH, body))
    assert sorted([first.status_code, second.status_code]) == [200, 202]
    assert sorted(len(x.json()["warned"]) for x in (first, second)) == [0, 2]
    await bot.deliver()
    assert len(warnings_posted(slack)) == 2 and len(activity_mails(smtp, METTE)) == 2
    assert len(await stored(bot)) == 2


async def test_a_dealer_without_slack_gets_the_warning_at_its_detractor_route_addresses(bot, slack, smtp) -> None:
    r = await bot.post("/api/v1/responses", response("r-fyn", dealer_id="DK-5001", customer={"id": "F-1", "name": "Ole Hansen"}, nps=1))
    assert r.status_code == 202
    r = await bot.post(PATH, activity("F-100", dealer_id="DK-5001", customer_id="F-1", type="purchase", assignee_email=None))
    assert r.status_code == 202 and len(r.json()["warned"]) == 1
    await bot.deliver()
    (mail,) = activity_mails(smtp, FYN_ROUTE)
    assert str(mail.message["Subject"]) == "[cx] Detraktor: Køb F-100 – Ole Hansen"
    assert warnings_posted(slack) == []


async def test_an_anonymous_detractor_is_shown_as_anonymous(bot, slack) -> None:
    await answer(bot, "r-anon", customer="K-2", nps=0, anonymous=True, contact={"name": "Bob Jensen"})
    r = await bot.post(PATH, activity("SC-9", customer_id="K-2"))
    assert len(r.json()["warned"]) == 1
    await bot.deliver()
    (post,) = warnings_posted(slack)
    shown = str(post.body["blocks"])
    assert "Anonymous" in shown and "Sørensen" not in shown and "Bob Jensen" not in shown


async def test_known_activity_with_other_content_is_409_and_the_batch_stores_nothing(bot) -> None:
    assert (await bot.post(PATH, activity("SC-1"))).status_code == 202
    r = await bot.post(PATH, {"activities": [activity("SC-2"), activity("SC-1", customer_id="K-2")]})
    assert r.status_code == 409
    assert r.json()["ids"] == ["DK-1001 service_call SC-1"]
    assert [a.reference for a in await stored(bot)] == ["SC-1"]
    twins = await bot.post(PATH, {"activities": [activity("SC-3"), activity("SC-3", opened_at="2026-11-03T08:00:00+01:00")]})
    assert twins.status_code == 409 and [a.reference for a in await stored(bot)] == ["SC-1"]


@pytest.mark.parametrize(
    "over,field,message",
    [
        ({"type": "phone_call"}, "type", "service_call"),
        ({"opened_at": "2026-11-02T10:15:00"}, "opened_at", "UTC offset"),
        ({"opened_at": "yesterday"}, "opened_at", "ISO 8601"),
        ({"assignee_email": "mette at vest"}, "assignee_email", "is not an email address"),
        ({"reference": "  "}, "reference", "at least 1 character"),
        ({"customer_id": None}, "customer_id", "valid string"),
        ({"dealer_id": "XX-0000"}, "dealer_id", "unknown dealer 'XX-0000'"),
        ({"notes": "hi"}, "notes", "is not a field of an activity"),
        ({"reference": "SC\x001"}, "reference", "NUL"),
    ],
)
async def test_each_wrong_field_is_422_naming_it_and_nothing_is_stored(bot, over, field, message) -> None:
    r = await bot.post(PATH, {"activities": [activity("OK-1"), {**activity("BAD-1"), **over}]})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, field)], errors
    assert message in errors[0]["message"]
    assert await stored(bot) == []


async def test_every_wrong_field_is_listed_and_a_missing_one_is_required(bot) -> None:
    r = await bot.post(PATH, {"dealer_id": "DK-1001", "type": "sale", "opened_at": "x"})
    assert r.status_code == 422
    assert sorted(e["field"] for e in r.json()["errors"]) == ["customer_id", "opened_at", "reference", "type"]
    assert {e["message"] for e in r.json()["errors"] if e["field"] in ("customer_id", "reference")} == {"is required"}


@pytest.mark.parametrize(
    "body,field",
    [([activity()], "body"), ({"activities": "SC-1"}, "activities"), ({"activities": []}, "activities"), ({"activities": [], "x": 1}, "x")],
)
async def test_bodies_that_are_not_an_activity_or_a_batch_are_422(bot, body, field) -> None:
    r = await bot.post(PATH, body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    bad = await bot.client.post(PATH, content=b"{not json", headers=bot.auth())
    assert bad.status_code == 422 and bad.json()["errors"][0] == {"index": None, "field": "body", "message": "is not valid JSON"}


async def test_keys_need_the_intake_scope_and_the_dealer(bot) -> None:
    assert (await bot.post(PATH, activity(), key=None)).status_code == 401
    _, read = await keys.create(bot.cx, "reader", Scope.READ, None)
    assert (await bot.post(PATH, activity(), key=read)).status_code == 403
    _, brandt = await keys.create(bot.cx, "brandt system", Scope.INTAKE, ["DE-2001"])
    r = await bot.post(PATH, activity(), key=brandt)
    assert r.status_code == 403 and "DK-1001" in r.json()["error"]
    _, vest = await keys.create(bot.cx, "vest system", Scope.INTAKE, ["DK-1001"])
    assert (await bot.post(PATH, activity(), key=vest)).status_code == 202
    assert [a.reference for a in await stored(bot)] == ["SC-4711"]
