"""Alert mail out through the real SMTP fake: subject, parts, language, the tags that bring replies and
bounces back, escaping, retries through the outbox, TLS and AUTH — and the fallback to mail for a
dealer Slack cannot reach."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.domain import tokens
from bot.domain.values import Status
from tests.conftest import REPLY_ADDRESS, mail_settings
from tests.fakes.slack_payloads import app_uninstalled_event
from tests.fakes.slack_signing import event
from tests.mail_support import (
    CAMILLA,
    DE_ROUTE,
    IDA,
    LEEDS,
    LEEDS_ROUTE,
    METTE,
    OEST,
    OEST_CHANNEL,
    OEST_TEAM,
    OLE,
    RITA,
    ROUTE,
    SECRET,
    alert_and_history,
    app_with,
    eventually,
    folder,
    html,
    keep_log_config,  # noqa: F401 - a fixture
    load_extra_dealers,
    mail_app,
    mail_rows,
    mailed_alert,
    new_alert,
    outbox,
    plain,
    reply,
    tag_of,
    with_smtp,
)

SMTP_USER, SMTP_PASSWORD = "cxbot-relay", "relay-password-0123"


# ---- what an alert mail looks like ----------------------------------------------------------------


async def test_alert_mail_goes_to_each_route_address_with_subject_parts_and_tags(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    msg = sent.message
    assert sent.rcpt_tos == [ROUTE]
    assert msg["Subject"] == f"[cx {alert_id}] Hot Alert – Autohuset Vest – NPS 3"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Auto-Submitted"] == "auto-generated"  # out-of-office answers are not sent back

    # Reply-To: cxbot's mailbox with a tag for this alert and this recipient, which verifies.
    tag = tag_of(msg)
    assert str(msg["Reply-To"]) == tokens.plus_address(REPLY_ADDRESS, tag)
    assert tokens.read_reply_tag(tag) == alert_id
    assert tokens.verify_reply_tag(SECRET, tag, [ROUTE]) == ROUTE
    assert tokens.verify_reply_tag(SECRET, tag, [METTE]) is None  # it names the address it went to

    # VERP: the envelope sender is cxbot's mailbox with a bounce tag for the recipient.
    assert sent.mail_from == tokens.plus_address(REPLY_ADDRESS, tokens.bounce_tag(SECRET, ROUTE))
    assert sent.mail_from.startswith("cxbot+b-")

    # The Message-ID is stored: a reply's In-Reply-To finds the alert.
    message_id = str(msg["Message-ID"]).strip().strip("<>")
    async with mailbot.cx.db.read() as tx:
        assert await tx.mail.alert_of_messages([message_id]) == alert_id
        assert await tx.mail.recipients_of(alert_id) == [ROUTE]
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "done" and row.action == "mail.alert"


async def test_a_route_with_several_addresses_gets_one_mail_each_with_its_own_tags(cx, db_url, smtp, example_dealers):
    await load_extra_dealers(
        cx,
        '[[dealers]]\ncode = "DK-1001"\nname = "Autohuset Vest"\ntype = "dealer"\ntime_zone = "Europe/Copenhagen"\n'
        'language = "da"\nslack_team = "T0AUTOVEST"\n'
        '  [[dealers.routes]]\n  slack_channel = "C0VESTKUNDE"\n  emails = ["kundeservice@autohuset-vest.example", "chef@autohuset-vest.example"]\n',
    )
    async with mail_app(db_url, cx, smtp) as bot:
        alert_id, first = await mailed_alert(bot)
    (to_chef,) = smtp.to("chef@autohuset-vest.example")
    assert len(smtp.messages) == 2 and all(m.rcpt_tos in ([ROUTE], ["chef@autohuset-vest.example"]) for m in smtp.messages)
    assert f"[cx {alert_id}]" in to_chef.message["Subject"]
    assert tag_of(first.message) != tag_of(to_chef.message)
    assert first.mail_from != to_chef.mail_from
    assert first.message["Message-ID"] != to_chef.message["Message-ID"]
    assert tokens.verify_reply_tag(SECRET, tag_of(to_chef.message), ["chef@autohuset-vest.example"]) == "chef@autohuset-vest.example"


async def test_the_alert_mail_speaks_danish_to_a_danish_dealer(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    text, page = plain(sent.message), html(sent.message)
    assert text.splitlines()[0].startswith("Sådan svarer du: svar på denne mail med LØST eller IGANGVÆRENDE på første linje")
    assert "<b>LØST</b>" in page and "<b>IGANGVÆRENDE</b>" in page
    assert "Kundens kommentar" in text and "Ingen ringede tilbage." in text
    assert 'lang="da"' in page


async def test_the_alert_mail_speaks_german_to_a_german_dealer(mailbot):
    alert_id, sent = await mailed_alert(
        mailbot, "r-de", to=DE_ROUTE, dealer_id="DE-2001", nps=2, comment="Niemand hat zurückgerufen."
    )
    assert sent.message["Subject"] == f"[cx {alert_id}] Hot Alert – Autohaus Brandt – NPS 2"
    text = plain(sent.message)
    assert "So antworten Sie: Antworten Sie auf diese Mail mit ERLEDIGT oder IN BEARBEITUNG in der ersten Zeile" in text
    assert "Kommentar des Kunden" in text
    assert "<b>ERLEDIGT</b>" in html(sent.message)


async def test_the_alert_mail_speaks_english_to_an_english_dealer(cx, db_url, smtp, example_dealers):
    await load_extra_dealers(cx)
    async with mail_app(db_url, cx, smtp) as bot:
        alert_id, sent = await mailed_alert(bot, "r-gb", to=LEEDS_ROUTE, dealer_id=LEEDS, nps=1, comment="Nobody called.")
    assert sent.message["Subject"] == f"[cx {alert_id}] Hot Alert – Mazda Leeds – NPS 1"
    text = plain(sent.message)
    assert text.startswith("How to answer: reply to this mail with RESOLVED or ONGOING on the first line, then your note")
    assert "The customer's comment" in text and "Nobody called." in text


async def test_customer_text_is_escaped_in_the_html_part(mailbot):
    hostile = 'Værkstedet <script>alert("x")</script> & <b>fed</b> "citat"'
    alert_id, sent = await mailed_alert(
        mailbot, comment=hostile, customer={"id": "K-x", "name": "<img src=x onerror=alert(1)> & Co", "email": "x@example.net"}
    )
    page = html(sent.message)
    assert "<script>" not in page and "<img" not in page and "<b>fed</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;fed&lt;/b&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; Co" in page
    assert hostile in plain(sent.message)  # the plain part shows what the customer wrote, as written


# ---- retries through the outbox -------------------------------------------------------------------


async def test_a_temporary_smtp_refusal_is_retried_and_the_mail_arrives_once(mailbot, smtp, clock):
    smtp.refuse("rcpt", 451, times=1)
    alert_id = await new_alert(mailbot)
    await mailbot.deliver()
    assert smtp.to(ROUTE) == []
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "pending" and row.attempts == 1
    assert "451" in row.last_error and "deferred" in row.last_error

    await mailbot.deliver()  # not due yet: nothing is resent early
    assert smtp.to(ROUTE) == []
    clock.advance(seconds=3)
    await mailbot.deliver()
    (sent,) = smtp.to(ROUTE)
    assert f"[cx {alert_id}]" in sent.message["Subject"]
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "done"
    clock.advance(minutes=30)
    await mailbot.deliver()
    assert len(smtp.to(ROUTE)) == 1


async def test_a_temporary_refusal_of_the_message_is_retried_too(mailbot, smtp, clock):
    smtp.refuse("data", 452, times=1)
    await new_alert(mailbot)
    await mailbot.deliver()
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "pending" and "452" in row.last_error
    clock.advance(seconds=3)
    await mailbot.deliver()
    assert len(smtp.to(ROUTE)) == 1


async def test_an_smtp_server_that_is_down_for_a_while_delays_mail_and_never_loses_it(mailbot, smtp, clock):
    await smtp.down()
    alert_id = await new_alert(mailbot)
    for _ in range(4):  # down across several retries, each later than the one before
        await mailbot.deliver()
        clock.advance(minutes=1)
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "pending" and row.attempts == 4
    assert f"cannot reach the mail server {smtp.host}:{smtp.port}" in row.last_error
    assert row.next_attempt_at > clock.now() - timedelta(minutes=1)

    clock.advance(hours=6)  # hours later, still pending (the default gives up after 48 h)
    await mailbot.deliver()
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "pending"

    await smtp.up()
    clock.advance(minutes=15)
    await mailbot.deliver()
    (sent,) = smtp.to(ROUTE)
    assert f"[cx {alert_id}]" in sent.message["Subject"]
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "done"
    clock.advance(hours=1)
    await mailbot.deliver()
    assert len(smtp.to(ROUTE)) == 1


async def test_a_permanent_recipient_refusal_marks_the_mail_failed_with_the_reason(mailbot, smtp, clock):
    smtp.refuse("rcpt", 550, address=ROUTE)
    alert_id = await new_alert(mailbot)
    await mailbot.deliver()
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "failed"
    assert row.last_error == f"the mail server refused the recipient: {ROUTE}: 550 5.1.1 No such user here"
    clock.advance(hours=1)
    await mailbot.deliver()
    assert smtp.to(ROUTE) == [] and (await mail_rows(mailbot, ROUTE))[0].status == "failed"

    # The connection is still good for the next mail (another dealer's).
    de_alert, sent = await mailed_alert(mailbot, "r-de", to=DE_ROUTE, dealer_id="DE-2001")
    assert de_alert != alert_id and sent.rcpt_tos == [DE_ROUTE]


async def test_a_permanent_refusal_of_the_message_marks_it_failed(mailbot, smtp):
    smtp.refuse("data", 554, "5.7.1 Message rejected as spam")
    await new_alert(mailbot)
    await mailbot.deliver()
    (row,) = await mail_rows(mailbot, ROUTE)
    assert row.status == "failed" and "554 5.7.1 Message rejected as spam" in row.last_error


# ---- TLS and AUTH -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
async def test_mail_goes_over_tls_with_a_login(cx, db_url, smtp, make_smtp, smtp_tls, example_dealers, tls):
    server = await make_smtp(tls=tls, username=SMTP_USER, password=SMTP_PASSWORD)
    settings = with_smtp(
        mail_settings(db_url, smtp),
        host=server.host, port=server.port, tls=tls, ca_file=str(smtp_tls.ca_pem), username=SMTP_USER, password=SMTP_PASSWORD,
    )
    async with app_with(settings, cx, server) as bot:
        alert_id, sent = await mailed_alert(bot)
    assert sent.tls is True and sent.auth_user == SMTP_USER
    assert f"[cx {alert_id}]" in sent.message["Subject"]
    assert smtp.messages == []  # the plain server was not used


async def test_a_wrong_smtp_password_is_retried_with_a_clear_reason_and_never_hangs(cx, db_url, smtp, make_smtp, smtp_tls, example_dealers, clock):
    server = await make_smtp(tls="starttls", username=SMTP_USER, password=SMTP_PASSWORD)
    settings = with_smtp(
        mail_settings(db_url, smtp),
        host=server.host, port=server.port, tls="starttls", ca_file=str(smtp_tls.ca_pem), username=SMTP_USER, password="wrong",
        timeout_seconds=30,
    )
    async with app_with(settings, cx, server) as bot:
        await new_alert(bot)
        await asyncio.wait_for(bot.deliver(), timeout=10)  # answered 535 at once: no wait for a timeout
        (row,) = await mail_rows(bot, ROUTE)
        assert row.status == "pending" and row.attempts == 1
        assert "refused cxbot's login (535)" in row.last_error and "CXBOT_SMTP_USERNAME" in row.last_error
        assert "wrong" not in row.last_error  # never the password
    assert server.messages == [] and server.auth_failures >= 1


async def test_an_untrusted_certificate_is_a_clear_reason_and_the_mail_waits(cx, db_url, smtp, make_smtp, example_dealers, clock):
    server = await make_smtp(tls="implicit")
    settings = with_smtp(mail_settings(db_url, smtp), host=server.host, port=server.port, tls="implicit")  # no CA file
    async with app_with(settings, cx, server) as bot:
        await new_alert(bot)
        await asyncio.wait_for(bot.deliver(), timeout=10)
        (row,) = await mail_rows(bot, ROUTE)
    assert row.status == "pending"
    assert f"cannot reach the mail server {server.host}:{server.port}" in row.last_error
    assert "certificate verify failed" in row.last_error
    assert server.messages == []


async def test_starttls_is_not_used_when_the_setting_says_none(cx, db_url, make_smtp, example_dealers):
    """aiosmtplib would upgrade whenever offered; the setting decides. A server that offers STARTTLS
    but does not require it gets the mail in plain text when CXBOT_SMTP_TLS=none."""
    server = await make_smtp(tls="starttls", require_starttls=False)
    settings = mail_settings(db_url, server)
    async with app_with(settings, cx, server) as bot:
        _, sent = await mailed_alert(bot)
    assert sent.tls is False


# ---- fallback: a dealer Slack cannot reach gets its alerts by mail --------------------------------


async def test_a_dealer_without_slack_or_mail_route_gets_its_alerts_by_mail_to_staff_and_managers(cx, db_url, smtp, mailbox, dovecot, example_dealers):
    await load_extra_dealers(cx)
    async with mail_app(db_url, cx, smtp, mailbox, dovecot) as bot:  # Slack not configured
        alert_id = await new_alert(bot, dealer_id=OEST)
        await bot.deliver()
        assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == sorted([IDA, OLE])  # not the regional (Rita)
        assert smtp.to(RITA) == []
        (card,) = [r for r in await outbox(bot) if r.action == "slack.card"]
        assert card.status == "failed" and card.last_error == "Slack is not configured"
        assert card.alert_id == alert_id

        # Each person's mail has a tag of their own, and a colleague can answer the other's mail.
        (to_ida,) = smtp.to(IDA)
        bot.dovecot.append(bot.mailbox, reply(to_ida.message, OLE, "Løst\nOle ringede til kunden.", name="Ole Bak"))
        await bot.read_mail()
        alert, history = await alert_and_history(bot, alert_id)
        assert alert.status is Status.RESOLVED and history[-1].actor == f"email:{OLE}"
        assert len(folder(bot, "Processed")) == 1


async def test_after_the_app_is_uninstalled_new_alerts_go_by_mail_and_the_card_is_kept_failed(cx, db_url, smtp, slack, example_dealers):
    await load_extra_dealers(cx)
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        before = await new_alert(bot, "r-before", dealer_id=OEST)
        await bot.deliver()
        assert [c.body["channel"] for c in slack.calls_to("chat.postMessage")] == [OEST_CHANNEL]
        assert smtp.messages == []  # on Slack, and the route names no addresses: no mail

        r = await bot.slack_request(event(app_uninstalled_event(OEST_TEAM)))
        assert r.status_code == 200
        await eventually(lambda: _removed(bot, OEST_TEAM))

        after = await new_alert(bot, "r-after", dealer_id=OEST)
        await bot.deliver()
        assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == sorted([IDA, OLE])
        assert all(f"[cx {after}]" in m.message["Subject"] for m in smtp.messages)
        cards = [r for r in await outbox(bot) if r.action == "slack.card" and r.alert_id == after]
        assert [(c.status, "removed" in (c.last_error or "")) for c in cards] == [("failed", True)]
        assert len(slack.calls_to("chat.postMessage")) == 1  # nothing more went to the removed workspace
        # The first alert is untouched and still on its card.
        assert (await alert_and_history(bot, before))[0].status is Status.NEW


async def test_an_alert_whose_card_was_waiting_when_the_app_was_uninstalled_is_mailed(cx, db_url, smtp, slack, example_dealers):
    """Nothing lost in the switch: the card that could no longer be posted is replaced by mail."""
    await load_extra_dealers(cx)
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        waiting = await new_alert(bot, "r-waiting", dealer_id=OEST)  # queued, not yet delivered
        r = await bot.slack_request(event(app_uninstalled_event(OEST_TEAM)))
        assert r.status_code == 200
        await eventually(lambda: _removed(bot, OEST_TEAM))
        await bot.deliver()
        cards = [r for r in await outbox(bot) if r.action == "slack.card" and r.alert_id == waiting]
        assert [c.status for c in cards] == ["failed"]
        assert slack.calls_to("chat.postMessage") == []
        assert sorted(r for m in smtp.messages for r in m.rcpt_tos) == sorted([IDA, OLE])


async def test_a_dealer_with_a_mail_route_gets_mail_there_not_at_its_staff(mailbot, smtp):
    """DK-1001 without Slack: its route has an address, so the alert goes there only."""
    await mailed_alert(mailbot)
    assert [r for m in smtp.messages for r in m.rcpt_tos] == [ROUTE]
    assert smtp.to(METTE) == [] and smtp.to(CAMILLA) == []


async def _removed(bot: Any, team: str) -> bool:
    async with bot.cx.db.read() as tx:
        return team in await tx.slack.removed_teams()


# ---- settings: a wrong one stops the CLI with one line naming it ------------------------------------------

_FROM = {"CXBOT_MAIL_FROM": "cxbot <cxbot@cx.mazda-importer.example>"}
_SECRET = {"CXBOT_MAIL_SECRET": "a-long-enough-mail-secret-0123"}
_SMTP = {"CXBOT_SMTP_HOST": "127.0.0.1", "CXBOT_PUBLIC_URL": "https://cx.mazda-importer.example"}
_IMAP = {"CXBOT_IMAP_HOST": "127.0.0.1"}


@pytest.mark.parametrize(
    "env, named",
    [
        ({**_SMTP, **_SECRET}, "CXBOT_MAIL_FROM"),
        ({**_SMTP, **_SECRET, "CXBOT_MAIL_FROM": "cxbot without an address"}, "CXBOT_MAIL_FROM"),
        ({**_SMTP, **_FROM}, "CXBOT_MAIL_SECRET"),
        ({**_SMTP, **_FROM, "CXBOT_MAIL_SECRET": "short"}, "CXBOT_MAIL_SECRET"),
        ({**_IMAP, **_SECRET}, "CXBOT_IMAP_USERNAME"),
        ({**_IMAP, **_SECRET, "CXBOT_IMAP_USERNAME": "cxbot"}, "CXBOT_IMAP_PASSWORD"),
        ({**_IMAP, **_FROM}, "CXBOT_MAIL_SECRET"),
        ({**_SMTP, **_FROM, **_SECRET, "CXBOT_SMTP_TLS": "bogus"}, "CXBOT_SMTP_TLS"),
        ({**_IMAP, **_SECRET, "CXBOT_IMAP_TLS": "ssl"}, "CXBOT_IMAP_TLS"),
        ({**_SMTP, **_FROM, **_SECRET, "CXBOT_SMTP_PORT": "70000"}, "CXBOT_SMTP_PORT"),
        ({**_SMTP, **_FROM, **_SECRET, "CXBOT_SMTP_USERNAME": "relay"}, "CXBOT_SMTP_PASSWORD"),
        ({**_SMTP, **_FROM, **_SECRET, "CXBOT_MAIL_BOUNCE_LIMIT": "0"}, "CXBOT_MAIL_BOUNCE_LIMIT"),
        ({**_SMTP, **_FROM, **_SECRET, "CXBOT_MAIL_BOUNCE_LIMIT": "10"}, "CXBOT_MAIL_BOUNCE_LIMIT"),
    ],
    ids=[
        "smtp-without-from", "from-without-address", "smtp-without-secret", "short-secret", "imap-without-user",
        "imap-without-password", "imap-without-secret", "smtp-tls-bogus", "imap-tls-bogus", "smtp-port", "smtp-user-without-password",
        "bounce-limit-0", "bounce-limit-10",
    ],
)
def test_a_missing_or_wrong_mail_setting_stops_the_cli_with_one_line_naming_it(tmp_path, keep_log_config, env, named):
    r = CliRunner().invoke(main, ["alerts", "list"], env={"CXBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cx.db", **env}, catch_exceptions=False)
    assert r.exit_code == 2, (r.stdout, r.stderr)
    (line,) = r.stderr.splitlines()
    assert line.startswith("cxbot: ") and named in line, line
    assert _SECRET["CXBOT_MAIL_SECRET"] not in line and "Traceback" not in r.stderr
    assert not (tmp_path / "cx.db").exists()  # stopped before touching the database


def test_complete_mail_settings_are_accepted(tmp_path, keep_log_config):
    env = {
        "CXBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cx.db", **_SMTP, **_FROM, **_SECRET, **_IMAP,
        "CXBOT_IMAP_USERNAME": "cxbot", "CXBOT_IMAP_PASSWORD": "imap-password", "CXBOT_SMTP_TLS": "starttls",
        "CXBOT_MAIL_BOUNCE_LIMIT": "9",
    }
    r = CliRunner().invoke(main, ["alerts", "list"], env=env, catch_exceptions=False)
    assert r.exit_code == 0, (r.stdout, r.stderr)
