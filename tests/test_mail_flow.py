"""Alerts by mail and answers by mail: SMTP out, IMAP in, through the real servers."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from bot.domain.values import Status
from tests.conftest import response

METTE = "mette.kjaer@autohuset-vest.example"
ROUTE = "kundeservice@autohuset-vest.example"


def reply_to(original: EmailMessage, sender: str, body: str, subject: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Mette Kjær <{sender}>"
    msg["To"] = original["Reply-To"]
    msg["Subject"] = subject or f"SV: {original['Subject']}"
    msg["Message-ID"] = make_msgid(domain="autohuset-vest.example")
    msg["In-Reply-To"] = original["Message-ID"]
    msg["References"] = original["Message-ID"]
    msg.set_content(body)
    return bytes(msg)


async def _mailed_alert(bot):
    r = await bot.post("/api/v1/responses", response(nps=3, comment="Ingen ringede."))
    assert r.status_code == 202
    await bot.deliver()
    (sent,) = bot.smtp.to(ROUTE)
    return r.json()["alerts"][0]["id"], sent


async def test_alert_mail_is_sent_with_a_tagged_reply_address(mailbot):
    alert_id, sent = await _mailed_alert(mailbot)
    msg = sent.message
    assert msg["Subject"].startswith(f"[cx {alert_id}] Hot Alert – Autohuset Vest – NPS 3")
    assert msg["Reply-To"].startswith("cxbot+ha-1.") and msg["Reply-To"].endswith("@cx.mazda-importer.example")
    assert sent.mail_from.startswith("cxbot+b-")  # VERP: a bounce names this address
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    assert "LØST" in msg.get_body(("plain",)).get_content()  # the dealer's language: Danish


async def test_reply_with_status_word_resolves_and_is_filed_processed(mailbot):
    alert_id, sent = await _mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply_to(sent.message, METTE, "Løst\nRingede til Anne, ny tid fredag.\n\nMed venlig hilsen\nMette"))
    assert await mailbot.read_mail() == 1
    async with mailbot.cx.db.read() as tx:
        alert = await tx.alerts.get(alert_id)
        history = await tx.history.of(alert_id)
    assert alert.status is Status.RESOLVED
    assert history[-1].channel.value == "email" and history[-1].note == "Ringede til Anne, ny tid fredag."
    assert len(mailbot.dovecot.folder(mailbot.mailbox, "Processed")) == 1
    assert mailbot.dovecot.folder(mailbot.mailbox, "INBOX") == []
    await mailbot.deliver()
    (confirmation,) = mailbot.smtp.to(METTE)
    assert alert_id in confirmation.message["Subject"]


async def test_reply_from_a_stranger_changes_nothing_and_gets_no_answer(mailbot):
    alert_id, sent = await _mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply_to(sent.message, "someone@elsewhere.example", "Resolved\nDone."))
    assert await mailbot.read_mail() == 1
    async with mailbot.cx.db.read() as tx:
        assert (await tx.alerts.get(alert_id)).status is Status.NEW
    assert len(mailbot.dovecot.folder(mailbot.mailbox, "Rejected")) == 1
    await mailbot.deliver()
    assert mailbot.smtp.to("someone@elsewhere.example") == []
