"""Customer card and contact preferences (issue 8, part 5; seed 003): the intake's customer fields,
the card in `/cx customer`, the Customer button and the API, `cxbot customers set|verify`, bounce
rules for customer addresses, opt-out honoured by mail delivery and shown in the communication list,
and alerts sent to the customer's own salesperson or service advisor."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain.outbound import Action, to_mail
from notifications.slack import ids
from tests.conftest import response
from tests.mail_support import mail_app
from tests.slack_support import command, plain_of, posted_alert
from tests.test_cli import _keep_log_config, cli  # noqa: F401 - the autouse fixture too
from tests.test_slack_requests import _open_modal

CARD_URL = "/api/v1/dealers/DK-1001/customers/K-1"
METTE = "mette.kjaer@autohuset-vest.example"  # DK-1001 staff
JONAS = "jonas.holm@autohuset-vest.example"  # DK-1001 staff
ROUTE = "salg@autohuset-vest.example"


def customer(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "K-1",
        "name": "Anne Sørensen",
        "email": "anne@example.net",
        "phones": {"home": "+45 86 11 22 33", "work": "+45 70 10 20 30", "mobile": "+45 20 30 40 50"},
        "customer_number": "DMS-4711",
        "contact_name": "Peter Sørensen",
        "advisor_email": JONAS,
        "salesperson_email": METTE,
        "contact_methods": {"email": True, "phone": False},
        "preferred_contact": "sms",
        "best_time": "after 17:00",
        "language": "da",
    }
    body.update(over)
    return body


async def card(bot: Any) -> dict[str, Any]:
    r = await bot.get(CARD_URL)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def bounce(bot: Any, email: str, times: int) -> None:
    async with bot.cx.db.transaction() as tx:
        await tx.mail.remember(email, "tag" + email.split("@")[0][:8])
        for _ in range(times):
            await tx.mail.bounced(email, bot.cx.clock.now(), "5.1.1", "user unknown")


# ---- intake and the API ----------------------------------------------------------------------------


async def test_intake_stores_the_card_and_later_responses_lay_methods_over_the_stored_ones(bot):
    r = await bot.post("/api/v1/responses", response("r-1", customer=customer()))
    assert r.status_code == 202, r.text
    got = await card(bot)
    assert got["customer_number"] == "DMS-4711" and got["contact_name"] == "Peter Sørensen"
    assert got["phones"] == {"home": "+45 86 11 22 33", "work": "+45 70 10 20 30", "mobile": "+45 20 30 40 50"}
    assert got["contact_methods"] == {"email": True, "phone": False, "sms": True, "letter": True}
    assert (got["preferred_contact"], got["best_time"], got["advisor_email"], got["salesperson_email"]) == ("sms", "after 17:00", JONAS, METTE)
    assert got["last_verified_at"] is None and got["email_bounced"] is False

    # A later response that says only "no letters" keeps the phone opt-out and the preferences.
    later = {"id": "K-1", "contact_methods": {"letter": False}}
    r = await bot.post("/api/v1/responses", response("r-2", submitted_at="2026-11-02T10:00:00+01:00", customer=later))
    assert r.status_code == 202, r.text
    got = await card(bot)
    assert got["contact_methods"] == {"email": True, "phone": False, "sms": True, "letter": False}
    assert got["preferred_contact"] == "sms" and got["contact_name"] == "Peter Sørensen"


async def test_bad_customer_fields_are_each_named_and_nothing_is_stored(bot):
    bad = customer(preferred_contact="fax", contact_methods={"pigeon": True, "email": "yes"}, advisor_email="not-an-address")
    r = await bot.post("/api/v1/responses", response("r-1", customer=bad))
    assert r.status_code == 422
    text = r.text
    for field in ("preferred_contact", "pigeon", "advisor_email"):
        assert field in text, field
    assert (await bot.get(CARD_URL)).status_code == 404


async def test_an_anonymous_answer_keeps_no_contact_name(bot):
    await bot.post("/api/v1/responses", response("r-1", customer=customer()))
    r = await bot.post("/api/v1/responses", response("r-2", anonymous=True, submitted_at="2026-11-02T10:00:00+01:00", customer={"id": "K-1"}))
    assert r.status_code == 202, r.text
    got = await card(bot)
    assert got["name"] == "Anonymous" and got["contact_name"] is None and got["email"] is None
    answer = await command(bot, "customer K-1")
    assert "Peter" not in answer["text"] and "Contact methods" not in answer["text"]


# ---- Slack: /cx customer and the Customer button --------------------------------------------------


async def test_cx_customer_shows_the_card_with_the_preferred_method_starred(bot):
    await posted_alert(bot, customer=customer(contact_name="Peter <@U999> *bold*"))
    text = (await command(bot, "customer DMS-4711"))["text"]
    assert text.startswith("Anne Sørensen — Autohuset Vest (DK-1001), customer K-1, no. DMS-4711")
    assert "Contact: Peter &lt;@U999&gt;" in text
    assert "<@U999>" not in text
    assert "Email ✓" in text and "Phone ✗ off" in text and "★ SMS ✓" in text and "Letter ✓" in text
    assert "★ Preferred method of contact: SMS" in text
    assert "Best time to reach: after 17:00" in text and "Last verified: never" in text
    assert f"Salesperson: {METTE}" in text and f"Service advisor: {JONAS}" in text
    assert "home +45 86 11 22 33" in text and "work +45 70 10 20 30" in text and "mobile +45 20 30 40 50" in text


async def test_customer_button_marks_a_bounced_address_and_one_over_the_limit(bot):
    alert_id, ts = await posted_alert(bot, customer=customer())
    await bounce(bot, "anne@example.net", 1)
    shown = "\n".join(plain_of((await _open_modal(bot, alert_id, ts, ids.CUSTOMER))["blocks"]))
    assert "Email: anne@example.net ⚠️ bounced lately" in shown and "★ SMS" in shown
    await bounce(bot, "anne@example.net", 2)
    shown = "\n".join(plain_of((await _open_modal(bot, alert_id, ts, ids.CUSTOMER))["blocks"]))
    assert "Email: anne@example.net ⛔ bounced too often" in shown
    assert (await card(bot))["email_suppressed"] is True


# ---- the command line -----------------------------------------------------------------------------


async def test_cli_set_changes_preferences_and_verify_clears_the_bounce_flag(bot, db_url):
    alert_id, ts = await posted_alert(bot, customer=customer())
    await bounce(bot, "anne@example.net", 3)
    r = await asyncio.to_thread(
        cli, db_url, "customers", "set", "DK-1001", "K-1", "--preferred", "phone", "--phone-ok", "--no-email", "--best-time", "mornings", "--advisor", "",
    )
    assert r.exit_code == 0, (r.stdout, r.stderr)
    got = await card(bot)
    assert got["contact_methods"] == {"email": False, "phone": True, "sms": True, "letter": True}
    assert (got["preferred_contact"], got["best_time"], got["advisor_email"], got["salesperson_email"]) == ("phone", "mornings", None, METTE)
    assert got["email_bounced"] is True and got["email_suppressed"] is True

    r = await asyncio.to_thread(cli, db_url, "customers", "verify", "DK-1001", "K-1")
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert "bounce record of anne@example.net cleared" in r.stdout
    got = await card(bot)
    assert got["email_bounced"] is False and got["email_suppressed"] is False
    verified = got["last_verified_at"]  # the command line's own clock: now
    assert verified is not None and verified >= bot.cx.clock.now().isoformat()[:10]
    shown = "\n".join(plain_of((await _open_modal(bot, alert_id, ts, ids.CUSTOMER))["blocks"]))
    assert f"Last verified: {verified[:10]}" in shown and "★ Phone ✓" in shown and "Email ✗ off" in shown


async def test_cli_bad_input_names_the_problem_and_changes_nothing(bot, db_url):
    await bot.post("/api/v1/responses", response("r-1", customer=customer()))
    before = await card(bot)
    r = await asyncio.to_thread(cli, db_url, "customers", "set", "DK-1001", "K-1", "--preferred", "fax", "--no-phone", "--salesperson", "nobody")
    assert r.exit_code == 1
    assert "preferred: must be one of email, phone, sms, letter" in r.stderr and "salesperson: 'nobody' is not an email address" in r.stderr
    assert await card(bot) == before
    r = await asyncio.to_thread(cli, db_url, "customers", "set", "DK-1001", "K-404", "--no-phone")
    assert r.exit_code == 1 and "No customer 'K-404' at dealer 'DK-1001'" in r.stderr
    r = await asyncio.to_thread(cli, db_url, "customers", "set", "DK-1001", "K-1")
    assert r.exit_code == 1 and "nothing to change" in r.stderr
    r = await asyncio.to_thread(cli, db_url, "customers", "verify", "DE-2001", "K-1")
    assert r.exit_code == 1 and "No customer 'K-1' at dealer 'DE-2001'" in r.stderr


# ---- mail to customers and the communication list ------------------------------------------------


async def test_mail_to_an_opted_out_or_over_limit_customer_is_never_sent(db_url, cx, smtp, example_dealers):
    async with mail_app(db_url, cx, smtp) as bot:
        alert_id = await _hot_alert(bot, customer(contact_methods={"email": False}))
        await bot.deliver()
        before = len(smtp.to("anne@example.net"))

        async def mail_customer() -> int:
            async with bot.cx.db.transaction() as tx:
                await tx.outbox.enqueue([to_mail(Action.MAIL_ALERT, "anne@example.net", alert_id, customer=["DK-1001", "K-1"])], bot.cx.clock.now())
            await bot.deliver()
            return len(smtp.to("anne@example.net")) - before

        async def last_error() -> str:
            async with bot.cx.db.read() as tx:
                rows = [r for r in await tx.outbox.listing("failed", 100) if r.payload.get("to") == "anne@example.net"]
            return str(rows[0].last_error if rows else None)

        assert await mail_customer() == 0  # opted out
        assert "opted out of email" in await last_error()

        r = await asyncio.to_thread(cli, db_url, "customers", "set", "DK-1001", "K-1", "--email-ok")
        assert r.exit_code == 0, r.stderr
        assert await mail_customer() == 1  # opted in again: it goes

        await bounce(bot, "anne@example.net", 3)
        assert await mail_customer() == 1  # over the limit: nothing more
        assert "bounced 3 times" in await last_error()


async def _hot_alert(bot: Any, c: dict[str, Any], id_: str = "r-1", **over: Any) -> str:
    r = await bot.post("/api/v1/responses", response(id_, nps=3, comment="Ingen ringede.", customer=c, **over))
    assert r.status_code == 202, r.text
    return str(next(a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-")))


async def test_the_communication_list_says_why_an_invitation_was_not_sent(bot, db_url):
    invitation = {"survey": "sales", "dealer_id": "DK-1001", "language": "da", "purchase_date": "2026-10-01"}
    items = [
        {**invitation, "id": "inv-out", "customer": customer(id="K-out", email="out@example.net", contact_methods={"email": False})},
        {**invitation, "id": "inv-bounced", "customer": customer(id="K-b", email="bounced@example.net")},
        {**invitation, "id": "inv-ok", "customer": customer(id="K-ok", email="ok@example.net")},
        {**invitation, "id": "inv-sent", "status": "sent", "customer": customer(id="K-s", email="s@example.net", contact_methods={"email": False})},
    ]
    r = await bot.post("/api/v1/invitations", {"invitations": items})
    assert r.status_code == 202, r.text
    await bounce(bot, "bounced@example.net", 3)
    got = {i["id"]: i["not_sent_reason"] for i in (await bot.get("/api/v1/invitations")).json()["items"]}
    assert got["inv-out"] == "the customer opted out of email"
    assert got["inv-bounced"] == "the address bounced 3 times (limit 3); verify it first"
    assert got["inv-ok"] is None and got["inv-sent"] is None
    csv = (await bot.get("/api/v1/invitations", params={"format": "csv"})).text
    assert "Why not sent" in csv and "the customer opted out of email" in csv
    assert "opted out of email" in (await command(bot, "invitations"))["text"]
    r = await asyncio.to_thread(cli, db_url, "invitations", "list")
    assert r.exit_code == 0 and "(the customer opted out of email)" in r.stdout


# ---- the responsible salesperson or service advisor -----------------------------------------------


async def test_an_alert_also_goes_to_the_customers_own_salesperson_or_advisor_when_they_are_staff(db_url, cx, smtp, example_dealers):
    async with mail_app(db_url, cx, smtp) as bot:
        sales = await _hot_alert(bot, customer(salesperson_email=METTE.upper(), advisor_email=JONAS))
        service = await _hot_alert(bot, customer(id="K-2", salesperson_email=METTE, advisor_email=JONAS), "r-2", survey="service", service_date="2026-10-20")
        outsider = await _hot_alert(bot, customer(id="K-3", salesperson_email="someone@elsewhere.example", advisor_email=None), "r-3")
        await bot.deliver()

        def alerts_to(addr: str) -> set[str]:
            return {s for m in smtp.to(addr) for s in (sales, service, outsider) if f"[cx {s}]" in str(m.message["Subject"])}

        assert alerts_to(METTE) == {sales}
        assert alerts_to(JONAS) == {service}
        assert alerts_to("someone@elsewhere.example") == set()
        assert len([m for m in smtp.to(METTE) if f"[cx {sales}]" in str(m.message["Subject"])]) == 1
