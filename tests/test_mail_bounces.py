"""Bounces, end to end: alert mail goes out with a VERP envelope sender, the delivery report comes back
to cxbot's mailbox (Dovecot, by APPEND), and cxbot counts it, reports it once in Slack, stops mailing
the address after the limit, and mails it again once `cxbot addresses verify` says it was checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.domain import tokens
from bot.services import mail
from tests.conftest import REPLY_ADDRESS
from tests.mail_support import (
    METTE,
    ROUTE,
    SECRET,
    VEST_CHANNEL,
    alert_and_history,
    cli,
    dsn,
    folder,
    keep_log_config,  # noqa: F401 - a fixture
    mail_app,
    mail_rows,
    mailed_alert,
    message_ids,
    mid,
    new_alert,
    outbox,
    reply,
    retag,
)

CORPUS = Path(__file__).parent / "fixtures" / "mail"


async def state(bot: Any, address: str = ROUTE) -> Any:
    (found,) = await mail.address_states(bot.cx, [address]) or [None]
    return found


async def bounce(bot: Any, sent: Any, recipient: str = ROUTE, **kw: Any) -> bytes:
    """A delivery report for `sent`, to the envelope sender it went out with, read by cxbot."""
    raw = dsn(sent.mail_from, recipient, **kw)
    bot.dovecot.append(bot.mailbox, raw)
    assert await bot.read_mail() == 1
    return raw


def reports(slack: Any) -> list[Any]:
    """Slack messages that are no cards and no thread notes: the bounce reports."""
    return [c for c in slack.calls_to("chat.postMessage") if "thread_ts" not in c.body and "bounced" in c.body.get("text", "")]


# ---- recording a bounce ---------------------------------------------------------------------------


async def test_a_delivery_report_to_the_verp_address_records_one_bounce_for_that_address(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    assert sent.mail_from == tokens.plus_address(REPLY_ADDRESS, tokens.bounce_tag(SECRET, ROUTE))
    raw = await bounce(mailbot, sent)
    found = await state(mailbot)
    assert (found.bounces, found.last_status, found.flagged, found.suppressed) == (1, "5.1.1", True, False)
    assert found.last_bounce_at == mailbot.cx.clock.now()
    assert message_ids(folder(mailbot, "Processed")) == [mid(raw)]
    assert folder(mailbot, "Rejected") == [] and folder(mailbot, "INBOX") == []
    # A bounce is no reply: the alert and its history are untouched, nobody is answered.
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status.value == "new" and len(history) == 1
    await mailbot.deliver()
    assert len(mailbot.smtp.messages) == 1


async def test_the_same_delivery_report_read_twice_counts_once(mailbot):
    _, sent = await mailed_alert(mailbot)
    raw = await bounce(mailbot, sent)
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await mailbot.read_mail()
    assert (await state(mailbot)).bounces == 1
    assert len(folder(mailbot, "Processed")) == 2


async def test_a_bounce_is_reported_once_in_the_dealers_slack_channel(cx, db_url, smtp, mailbox, dovecot, slack, example_dealers):
    async with mail_app(db_url, cx, smtp, mailbox, dovecot, slack=slack) as bot:
        _, sent = await mailed_alert(bot)
        assert reports(slack) == []
        await bounce(bot, sent)
        await bot.deliver()
        (report,) = reports(slack)
        assert report.body["channel"] == VEST_CHANNEL
        assert ROUTE in report.body["text"] and "5.1.1" in report.body["text"]
        assert f"cxbot addresses verify {ROUTE}" in report.body["text"]

        _, later = await mailed_alert(bot, "r-2")
        await bounce(bot, later)
        await bot.deliver()
        assert len(reports(slack)) == 1  # the second bounce is counted, not reported again
        assert (await state(bot)).bounces == 2


async def test_after_three_bounces_no_more_mail_goes_to_the_address_until_it_is_verified(mailbot, keep_log_config, db_url):
    for i in range(3):
        _, sent = await mailed_alert(mailbot, f"r-{i}")
        await bounce(mailbot, sent)
    assert (await state(mailbot)).suppressed

    # The fourth alert's mail is not sent; its row fails with a reason naming the way out.
    alert_id = await new_alert(mailbot, "r-3")
    await mailbot.deliver()
    assert len(mailbot.smtp.to(ROUTE)) == 3
    (row,) = [r for r in await mail_rows(mailbot, ROUTE) if r.alert_id == alert_id]
    assert row.status == "failed"
    assert f"{ROUTE} bounced 3 times" in row.last_error and f"cxbot addresses verify {ROUTE}" in row.last_error

    listed = await cli(db_url, "addresses", "list")
    assert listed.exit_code == 0, listed.output
    (line,) = [x for x in listed.stdout.splitlines() if ROUTE in x]
    assert "SUPPRESSED" in line and "bounces 3" in line and "5.1.1" in line

    verified = await cli(db_url, "addresses", "verify", ROUTE.upper())
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.strip() == f"{ROUTE} verified: mail goes there again"
    found = await state(mailbot)
    assert (found.bounces, found.suppressed) == (0, False)

    again, sent = await mailed_alert(mailbot, "r-4")
    assert sent.rcpt_tos == [ROUTE]
    listed = await cli(db_url, "addresses", "list")
    assert ROUTE not in listed.stdout


async def test_verifying_an_address_cxbot_never_mailed_says_so(mailbot, keep_log_config, db_url):
    r = await cli(db_url, "addresses", "verify", "nobody@nowhere.example")
    assert r.exit_code == 1
    assert "cxbot has never sent mail to nobody@nowhere.example" in r.stderr
    r = await cli(db_url, "addresses", "list")
    assert r.exit_code == 0 and r.stdout.strip() == "no address has bounced"


async def test_the_bounce_limit_is_a_setting(cx, db_url, smtp, mailbox, dovecot, example_dealers):
    async with mail_app(db_url, cx, smtp, mailbox, dovecot, bounce_limit=1) as bot:
        _, sent = await mailed_alert(bot)
        await bounce(bot, sent)
        assert (await state(bot)).suppressed
        alert_id = await new_alert(bot, "r-2")
        await bot.deliver()
        (row,) = [r for r in await mail_rows(bot, ROUTE) if r.alert_id == alert_id]
        assert row.status == "failed" and "bounced once;" in row.last_error
        assert len(smtp.to(ROUTE)) == 1


async def test_a_bounced_address_does_not_hold_up_mail_to_others(mailbot):
    for i in range(3):
        _, sent = await mailed_alert(mailbot, f"r-{i}")
        await bounce(mailbot, sent)
    _, de_sent = await mailed_alert(mailbot, "r-de", to="kundenbetreuung@autohaus-brandt.example", dealer_id="DE-2001")
    assert de_sent.rcpt_tos == ["kundenbetreuung@autohaus-brandt.example"]


async def test_answers_to_a_person_whose_address_bounced_too_often_are_not_sent(mailbot):
    """The bounce record is per address, for every mail cxbot sends: confirmations too."""
    alert_id, sent = await mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, "Igangværende\nVenter på værkstedet."))
    await mailbot.read_mail()
    await mailbot.deliver()
    (confirmation,) = mailbot.smtp.to(METTE)
    for i in range(3):
        await bounce(mailbot, confirmation, METTE, message_id=f"<dsn-{i}@mx.example>")
    assert (await state(mailbot, METTE)).suppressed
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, "Løst\nAnne fik ny tid."))
    await mailbot.read_mail()
    await mailbot.deliver()
    assert len(mailbot.smtp.to(METTE)) == 1
    (row,) = [r for r in await mail_rows(mailbot, METTE) if r.status == "failed"]
    assert "cxbot addresses verify" in row.last_error


# ---- what is no bounce -----------------------------------------------------------------------------------


async def test_a_delay_report_changes_nothing(mailbot):
    _, sent = await mailed_alert(mailbot)
    raw = await bounce(mailbot, sent, status="4.4.1", action="delayed")
    assert await state(mailbot) is not None and (await state(mailbot)).bounces == 0
    assert message_ids(folder(mailbot, "Processed")) == [mid(raw)]
    _, sent = await mailed_alert(mailbot, "r-2")
    assert sent.rcpt_tos == [ROUTE]


async def test_a_bounce_with_an_unknown_tag_is_rejected(mailbot):
    _, sent = await mailed_alert(mailbot)
    unknown = tokens.plus_address(REPLY_ADDRESS, tokens.bounce_tag(b"some-other-secret-0123456789", ROUTE))
    raw = dsn(unknown, "peter.old@autohuset-vest.example")
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await mailbot.read_mail()
    assert message_ids(folder(mailbot, "Rejected")) == [mid(raw)]
    assert await mail.address_states(mailbot.cx) == []


async def test_a_forged_bounce_with_an_unknown_tag_does_not_count_against_a_real_address(mailbot):
    """Anyone can write a delivery report naming an address cxbot mails; only cxbot's own VERP tag
    says which address a bounce is about, so a report with a tag cxbot never made counts for nothing."""
    _, sent = await mailed_alert(mailbot)
    forged = tokens.plus_address(REPLY_ADDRESS, "b-" + "a" * 20)
    for i in range(3):
        mailbot.dovecot.append(mailbot.mailbox, dsn(forged, ROUTE, message_id=f"<forged-{i}@evil.example>"))
    await mailbot.read_mail()
    assert len(folder(mailbot, "Rejected")) == 3
    assert (await state(mailbot)).bounces == 0
    _, sent = await mailed_alert(mailbot, "r-2")
    assert sent.rcpt_tos == [ROUTE]


async def test_a_bounce_for_an_address_cxbot_never_mailed_is_rejected(mailbot):
    await mailed_alert(mailbot)
    raw = dsn(REPLY_ADDRESS, "stranger@nowhere.example")  # no tag at all
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await mailbot.read_mail()
    assert message_ids(folder(mailbot, "Rejected")) == [mid(raw)]
    assert await mail.address_states(mailbot.cx) == []


# ---- the corpus's bounces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, counted",
    [
        ("53_bounce_postfix_dsn_5_1_1.eml", True),
        ("54_bounce_exchange_ndr_two_recipients.eml", True),
        ("55_bounce_delayed_4_4_1_not_permanent.eml", False),
        ("56_bounce_exim_plain_text.eml", True),
    ],
)
async def test_the_corpus_bounces_sent_back_to_a_verp_address(mailbot, name, counted):
    _, sent = await mailed_alert(mailbot)
    raw = retag((CORPUS / name).read_bytes(), sent.mail_from.split("+", 1)[1].split("@")[0])
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await mailbot.read_mail()
    assert (await state(mailbot)).bounces == (1 if counted else 0)
    assert message_ids(folder(mailbot, "Processed")) == [mid(raw)]


async def test_without_slack_a_bounce_is_recorded_and_nothing_is_queued_for_slack(mailbot):
    _, sent = await mailed_alert(mailbot)
    await bounce(mailbot, sent)
    assert (await state(mailbot)).bounces == 1
    assert [r for r in await outbox(mailbot) if r.action == "slack.text"] == []
