"""External complaints through the HTTP API as a dealer system sends them: the CO alert with its
48-hour due time, the card in the dealer's Slack channel and the mail to the route, every wrong
field named, keys limited to their dealers, escalation and reminders like a Hot Alert, the on-time
KPI, and the handling record over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.domain.values import Actor, Channel, HistoryEvent, Kind, Scope, Status
from bot.services import Context, alerts, complaints, escalation, keys, kpi
from handlers.complaint_record import record_text
from tests.conftest import Api
from tests.fakes.clock import FrozenClock
from tests.mail_support import LARS, mail_app, plain, html
from tests.slack_support import METTE, VEST, interpreted_strings, plain_of

PATH = "/api/v1/complaints"
NOW = "2026-11-02T09:00:00Z"  # the FrozenClock's start
DUE = "2026-11-04T09:00:00Z"  # + 48 hours, like a Hot Alert
MAIL = """Fra: Anne Sørensen <anne@example.net>
Emne: Min bil

Hej,
bilen larmer stadig efter værkstedsbesøget den 28. oktober.
Ingen har ringet mig op.

Venlig hilsen
Anne"""


def complaint(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "dealer_id": "DK-1001",
        "customer": {"id": "K-77", "name": "Anne Sørensen", "email": "anne@example.net", "phone": "+45 20 30 40 50"},
        "received_via": "email",
        "received_at": "2026-11-02T09:30:00+01:00",
        "description": MAIL,
    }
    body.update(over)
    return body


async def stored(cx: Context, alert_id: str) -> tuple[Any, Any, list[Any]]:
    async with cx.db.read() as tx:
        return await tx.alerts.get(alert_id), await tx.complaints.get(alert_id), await tx.history.of(alert_id)


async def count(cx: Context, table: str) -> int:
    from sqlalchemy import text

    async with cx.db.read() as tx:
        return int(await tx.conn.scalar(text(f"SELECT count(*) FROM {table}")))


async def key_for(cx: Context, scope: Scope, *dealers: str) -> str:
    _, key = await keys.create(cx, f"test {scope}", scope, list(dealers) or None)
    return key


# ---- registering --------------------------------------------------------------------------


async def test_a_complaint_is_an_alert_of_its_own_kind_due_in_48_hours_with_the_mail_as_first_note(bot: Any, slack: Any) -> None:
    r = await bot.post(PATH, complaint())
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["id"], body["kind"], body["status"], body["dealer_id"], body["customer_id"]) == ("CO-1", "complaint", "new", "DK-1001", "K-77")
    assert (body["created_at"], body["due_at"], body["response_id"]) == (NOW, DUE, None)
    assert r.headers["Location"] == "/api/v1/complaints/CO-1"

    alert, row, history = await stored(bot.cx, "CO-1")
    assert alert.kind is Kind.COMPLAINT and alert.remind_at is not None and alert.next_escalation_at == alert.due_at
    assert (row.received_via, row.customer_name, row.customer_phone, row.registered_by) == ("email", "Anne Sørensen", "+45 20 30 40 50", "api:bootstrap-1")
    assert row.received_at.isoformat() == "2026-11-02T08:30:00+00:00"
    # The history starts with how it came in, then the pasted mail, kept exactly, as the first note.
    assert [(e.event, e.new_status) for e in history] == [(HistoryEvent.CREATED, Status.NEW), (HistoryEvent.COMMENT, None)]
    assert history[0].note == "External complaint about customer K-77, received by email on 2026-11-02 08:30 UTC; registered by api:bootstrap-1."
    assert history[1].note == MAIL and history[1].channel is Channel.API
    # A customer cxbot did not know gets a record, so look-ups and the Customer button find them.
    async with bot.cx.db.read() as tx:
        assert (await tx.customers.get("DK-1001", "K-77")).name == "Anne Sørensen"

    await bot.deliver()
    (card,) = [c for c in slack.calls_to("chat.postMessage") if "CO-1" in c.body["text"]]
    assert card.body["channel"] == "C0VESTKUNDE"  # DK-1001's default route covers complaints
    texts = plain_of(card.body["blocks"])
    assert "📣 External complaint CO-1 · Autohuset Vest" in texts
    assert "Customer: Anne Sørensen" in texts and "Phone: +45 20 30 40 50" in texts and "Email: anne@example.net" in texts
    assert MAIL in texts  # the complaint as received, shown as typed
    assert any("Received ✉️ by email <!date^" in t and "registered by api:bootstrap-1" in t for t in interpreted_strings(card.body["blocks"]))
    assert [e["action_id"] for b in card.body["blocks"] if b["type"] == "actions" for e in b["elements"]] == ["cx_ongoing", "cx_resolved", "cx_customer"]

    again = await bot.post(PATH, complaint(description="Second call about the same car."))
    assert again.json()["id"] == "CO-2"  # numbered on, never HA-…


async def test_customer_text_on_the_card_cannot_mention_link_or_format(bot: Any, slack: Any) -> None:
    nasty = "<!channel> *URGENT* <https://evil.example|click> _now_ <@U0LARSOST>"
    r = await bot.post(PATH, complaint(customer={"id": "K-9", "name": "<!here> Bob"}, description=nasty))
    assert r.status_code == 201, r.text
    await bot.deliver()
    (card,) = [c for c in slack.calls_to("chat.postMessage") if "CO-1" in c.body["text"]]
    assert nasty in plain_of(card.body["blocks"])
    interpreted = " ".join(interpreted_strings(card.body))
    assert "<!channel>" not in interpreted and "<!here>" not in interpreted and "evil.example" not in interpreted


async def test_a_known_customers_record_is_not_changed_by_a_complaint(api: Api, example_dealers: None) -> None:
    await api.post("/api/v1/responses", {"id": "r-1", "survey": "sales", "dealer_id": "DK-1001", "submitted_at": "2026-11-01T10:00:00+01:00",
                                         "customer": {"id": "K-77", "name": "Anne Sørensen", "email": "anne@example.net"}, "nps": 9})
    r = await api.post(PATH, complaint(customer={"id": "K-77", "name": "A. Sørensen"}))
    assert r.status_code == 201
    async with api.cx.db.read() as tx:
        c = await tx.customers.get("DK-1001", "K-77")
    assert (c.name, c.email, c.latest_nps) == ("Anne Sørensen", "anne@example.net", 9)
    record = (await api.get(f"{PATH}/CO-1")).json()
    assert record["complaint"]["customer_name"] == "A. Sørensen"  # as staff took it down


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"dealer_id": None}, "dealer_id", "is required"),
        ({"dealer_id": "XX-9999"}, "dealer_id", "unknown dealer 'XX-9999'"),
        ({"customer": None}, "customer.id", "is required"),
        ({"customer": {"id": "  "}}, "customer.id", "is required"),
        ({"customer": {"id": "K-1", "email": "not-an-address"}}, "customer.email", "is not an email address"),
        ({"customer": {"id": "K-1", "name": "x" * 201}}, "customer.name", "is 201 characters; at most 200"),
        ({"received_via": "fax"}, "received_via", "'fax' is not one of phone, email, in_person, letter, other"),
        ({"received_via": None}, "received_via", "is required: phone, email, in_person, letter, other"),
        ({"received_at": "2026-11-03T09:00:00Z"}, "received_at", "2026-11-03T09:00:00+00:00 is in the future"),
        ({"received_at": "2026-11-02T08:00:00"}, "received_at", "Input should have timezone info"),
        ({"description": "   \n "}, "description", "is required"),
        ({"description": "x" * 10_001}, "description", "is 10001 characters; at most 10000"),
        ({"description": "a\u0000b"}, "description", "must not contain the NUL character (\\u0000)"),
        ({"registered_by": "nobody@elsewhere.example"}, "registered_by", "nobody@elsewhere.example is not a person granted to dealer DK-1001"),
        ({"priority": "high"}, "priority", "Extra inputs are not permitted"),
    ],
)
async def test_a_wrong_field_is_named_and_nothing_is_stored(api: Api, example_dealers: None, change: dict[str, Any], field: str, message: str) -> None:
    body = {k: v for k, v in complaint(**change).items() if v is not None}
    r = await api.post(PATH, body)
    assert r.status_code == 422, r.text
    assert {"index": None, "field": field, "message": message} in r.json()["errors"]
    assert (await count(api.cx, "alerts"), await count(api.cx, "complaints"), await count(api.cx, "outbox")) == (0, 0, 0)


async def test_every_wrong_field_is_named_at_once(api: Api, example_dealers: None) -> None:
    r = await api.post(PATH, {"dealer_id": "DK-1001", "customer": {"email": "x"}, "received_via": "pigeon"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["customer.id", "customer.email", "description", "received_via"]


async def test_keys_are_limited_to_their_scope_and_dealers(api: Api, example_dealers: None) -> None:
    brandt = await key_for(api.cx, Scope.INTAKE, "DE-2001")
    r = await api.post(PATH, complaint(), key=brandt)
    assert r.status_code == 403 and r.json() == {"error": "this key is not allowed for dealer 'DK-1001'"}
    reader = await key_for(api.cx, Scope.READ)
    assert (await api.post(PATH, complaint(), key=reader)).status_code == 403
    assert (await api.post(PATH, complaint(), key=None)).status_code == 401
    assert await count(api.cx, "alerts") == 0

    ok = await api.post(PATH, complaint(dealer_id="DE-2001", registered_by="sabine.krueger@autohaus-brandt.example"), key=brandt)
    assert ok.status_code == 201, ok.text
    _, row, history = await stored(api.cx, ok.json()["id"])
    # Who took it, by name, for the ISO record; the key stays the actor of the history.
    assert row.registered_by == "Sabine Krüger" and history[0].actor.startswith("api:key-") and history[0].person_id == row.person_id
    # The handling record: read scope, and only for the key's dealers.
    assert (await api.get(f"{PATH}/{ok.json()['id']}", key=reader)).status_code == 200
    vest_reader = await key_for(api.cx, Scope.READ, "DK-1001")
    assert (await api.get(f"{PATH}/{ok.json()['id']}", key=vest_reader)).status_code == 404


# ---- handled like a Hot Alert -------------------------------------------------------------


async def test_an_unhandled_complaint_is_reminded_about_then_escalated_to_the_managers(
    db_url: str, cx: Context, clock: FrozenClock, smtp: Any, slack: Any, example_dealers: None
) -> None:
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        r = await bot.post(PATH, complaint(received_via="phone", description="Kunden ringede: bilen larmer stadig."))
        alert_id = r.json()["id"]
        await bot.deliver()
        card = next(c for c in slack.calls_to("chat.postMessage") if alert_id in c.body["text"])
        (mail,) = [m for m in smtp.to("kundeservice@autohuset-vest.example") if f"[cx {alert_id}]" in str(m.message["Subject"])]
        assert str(mail.message["Subject"]) == f"[cx {alert_id}] Ekstern klage – Autohuset Vest"
        text = plain(mail.message)
        assert "Modtaget: telefonisk, 02.11.2026 kl. 09:30 (Europe/Copenhagen)" in text
        assert "Registreret af: api:bootstrap-1" in text and "Kunden ringede: bilen larmer stadig." in text
        assert "Hvorfor:" not in text  # the complaint speaks for itself

        clock.advance(hours=24, minutes=1)  # 24 hours before due
        assert (await escalation.sweep(bot.cx)).reminded == 1
        await bot.deliver()
        threaded = [c for c in slack.calls_to("chat.postMessage") if c.body.get("thread_ts") == card.response["ts"]]
        assert len(threaded) == 1 and "Reminder" in threaded[0].body["text"]

        clock.advance(hours=24)  # past due
        assert (await escalation.sweep(bot.cx)).escalated == 1
        await bot.deliver()
        (esc,) = [m for m in smtp.to(LARS) if f"[cx {alert_id}]" in str(m.message["Subject"])]
        assert "ESKALERET (niveau 1)" in str(esc.message["Subject"])
        updated = [c for c in slack.calls_to("chat.update") if c.body["ts"] == card.response["ts"]]
        assert updated and "Escalated (level 1)" in json.dumps(updated[-1].body["blocks"])
        alert, _, history = await stored(bot.cx, alert_id)
        assert alert.escalation_level == 1 and [e.event for e in history][-2:] == [HistoryEvent.REMINDED, HistoryEvent.ESCALATED]
        # The handling record shows what cxbot did on its own too.
        doc = record_text(await complaints.record(bot.cx, Actor(Channel.CLI, "test"), alert_id), clock.now())
        assert "reminder sent — system via system" in doc and "escalated — system via system" in doc
        assert "Escalated       level 1, 2026-11-04 10:01 CET" in doc


async def test_a_mail_only_dealer_gets_the_complaint_at_its_complaint_route_in_its_language(
    db_url: str, cx: Context, smtp: Any, example_dealers: None
) -> None:
    async with mail_app(db_url, cx, smtp) as bot:
        r = await bot.post(PATH, complaint(dealer_id="DK-5001", received_via="in_person", description="Kom ind i butikken <b>vred</b>."))
        assert r.status_code == 201, r.text
        await bot.deliver()
        (mail,) = smtp.to("vaerksted@fyns-bilservice.example")
        assert str(mail.message["Subject"]) == f"[cx {r.json()['id']}] Ekstern klage – Fyns Bilservice"
        assert "Modtaget: personligt" in plain(mail.message)
        assert "Kom ind i butikken &lt;b&gt;vred&lt;/b&gt;." in html(mail.message)  # autoescaped


async def test_complaints_count_in_the_on_time_kpi(api: Api, clock: FrozenClock, example_dealers: None) -> None:
    cx = api.cx
    on_time = (await api.post(PATH, complaint())).json()["id"]
    late = (await api.post(PATH, complaint(customer={"id": "K-78"}))).json()["id"]
    clock.advance(hours=2)
    await alerts.change_status(cx, on_time, Actor.slack(VEST, METTE), Status.ONGOING, "Ringede til Anne, ny tid fredag.")
    clock.advance(hours=50)
    await alerts.change_status(cx, late, Actor.slack(VEST, METTE), Status.RESOLVED, "Undskyldte og fandt en løsning.")
    operator = Actor(Channel.CLI, "test")
    (k,) = await kpi.kpi(cx, operator, "DK-1001", "2026-11", Kind.COMPLAINT)
    assert (k.total.due, k.total.on_time, k.total.late, k.total.on_time_pct, k.total.handled) == (2, 1, 1, 50.0, 2)
    (everything,) = await kpi.kpi(cx, operator, "DK-1001", "2026-11")
    assert everything.kinds[Kind.COMPLAINT].due == 2 and everything.total.due == 2
    listed = (await api.get("/api/v1/kpi", params={"dealer_id": "DK-1001", "period": "2026-11", "kind": "complaint"})).json()["items"][0]
    assert listed["kinds"]["complaint"]["on_time_pct"] == 50.0 and listed["alerts"]["late"] == 1


# ---- the handling record over HTTP --------------------------------------------------------


async def test_the_handling_record_has_every_history_entry_with_who_made_it(api: Api, clock: FrozenClock, example_dealers: None) -> None:
    alert_id = (await api.post(PATH, complaint(registered_by="mette.kjaer@autohuset-vest.example"))).json()["id"]
    clock.advance(hours=3)
    await alerts.change_status(api.cx, alert_id, Actor.slack(VEST, METTE), Status.ONGOING, "Ringede til Anne; værkstedstid torsdag.")
    clock.advance(hours=30)
    await alerts.change_status(api.cx, alert_id, Actor.email("lars.ostergaard@autohuset-vest.example"), Status.RESOLVED, "Støjen fundet og rettet.")
    r = await api.get(f"{PATH}/{alert_id.lower()}")
    assert r.status_code == 200, r.text
    rec = r.json()
    assert (rec["id"], rec["status"], rec["on_time"], rec["dealer_name"]) == (alert_id, "resolved", True, "Autohuset Vest")
    assert rec["complaint"] | {"description": None} == {
        "customer_id": "K-77", "customer_name": "Anne Sørensen", "customer_email": "anne@example.net", "customer_phone": "+45 20 30 40 50",
        "received_via": "email", "received_at": "2026-11-02T08:30:00Z", "description": None, "registered_by": "Mette Kjær",
        "registered_at": NOW,
    }
    steps = [(h["event"], h["old_status"], h["new_status"], h["who"], h["channel"]) for h in rec["history"]]
    assert steps == [
        ("created", None, "new", "Mette Kjær", "api"),
        ("comment", None, None, "Mette Kjær", "api"),
        ("status", "new", "ongoing", "Mette Kjær", "slack"),
        ("status", "ongoing", "resolved", "Lars Østergaard", "email"),
    ]
    assert rec["history"][1]["note"] == MAIL and rec["history"][3]["at"] == "2026-11-03T18:00:00Z"

    hot = await api.post("/api/v1/responses", {"id": "r-2", "survey": "sales", "dealer_id": "DK-1001", "submitted_at": "2026-11-01T10:00:00+01:00",
                                               "customer": {"id": "K-2"}, "nps": 2})
    ha = next(a["id"] for a in hot.json()["alerts"] if a["kind"] == "hot_alert")
    r = await api.get(f"{PATH}/{ha}")
    assert r.status_code == 404 and r.json() == {"error": f"{ha} is a Hot Alert, not an external complaint."}
    assert (await api.get(f"{PATH}/CO-99")).status_code == 404
    assert (await api.get(f"{PATH}/nonsense")).status_code == 422
