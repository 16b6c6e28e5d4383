"""The mail test servers behave like the real thing for the real clients: Dovecot for IMAPClient,
the aiosmtpd fake for aiosmtplib."""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
import pytest
from imapclient.exceptions import LoginError

from tests.fakes.dovecot import _POOL_BATCH as POOL_BATCH
from tests.fakes.dovecot import Dovecot, MailUser
from tests.fakes.smtp import FakeSmtp, SmtpTls

MakeSmtp = Callable[..., Awaitable[FakeSmtp]]


def raw_mail(subject: str = "Re: [CX-42] Kunde utilfreds", body: str = "Løst: ringede til kunden.") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Søren Sælger <soren@dealer.example>"
    msg["To"] = "alerts@cxbot.example"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="dealer.example")
    msg.set_content(body)
    return msg.as_bytes().replace(b"\n", b"\r\n")


def subjects(messages: list[bytes]) -> list[str]:
    from email import message_from_bytes, policy

    return [str(message_from_bytes(m, policy=policy.default)["Subject"]) for m in messages]


# ---- Dovecot ------------------------------------------------------------------------------------


def test_appended_message_reads_back_byte_for_byte_and_unseen(dovecot: Dovecot, mailbox: MailUser) -> None:
    raw = raw_mail()
    dovecot.append(mailbox, raw)
    assert dovecot.folder(mailbox, "INBOX") == [raw]
    with dovecot.client(mailbox) as c:
        c.select_folder("INBOX", readonly=True)
        assert c.search("UNSEEN") == c.search("ALL")  # BODY.PEEK[] left \Seen alone


def test_each_new_user_has_an_empty_mailbox_of_its_own(dovecot: Dovecot) -> None:
    users = [dovecot.new_user() for _ in range(5)]  # passwd-file re-read at once, same second included
    assert len({u.name for u in users}) == 5 and len({u.password for u in users}) == 5
    dovecot.append(users[0], raw_mail("first"))
    assert subjects(dovecot.folder(users[0], "INBOX")) == ["first"]
    for other in users[1:]:
        assert dovecot.folder(other, "INBOX") == []


def test_users_past_the_written_ahead_pool_can_log_in(dovecot: Dovecot) -> None:
    users = [dovecot.new_user() for _ in range(POOL_BATCH + 1)]  # runs past the first batch
    assert len({u.name for u in users}) == len(users)
    with dovecot.client(users[-1]) as c:
        assert c.folder_exists("INBOX")


def test_wrong_password_fails_fast_and_does_not_slow_later_logins(dovecot: Dovecot, mailbox: MailUser) -> None:
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(LoginError):
            dovecot.connect(MailUser(mailbox.name, "wrong"))
        assert time.monotonic() - started < 1.5  # Dovecot's own failure flush is ~0.5 s; no 4 s penalty
    started = time.monotonic()
    with dovecot.client(mailbox) as c:
        assert c.folder_exists("INBOX")
    assert time.monotonic() - started < 0.5


def test_folders_are_created_listed_and_missing_ones_read_empty(dovecot: Dovecot, mailbox: MailUser) -> None:
    assert dovecot.folders(mailbox) == ["INBOX"]
    with dovecot.client(mailbox) as c:
        c.create_folder("Processed")
    dovecot.append(mailbox, raw_mail("rejected one"), folder="Rejected")  # made on the way
    assert sorted(dovecot.folders(mailbox)) == ["INBOX", "Processed", "Rejected"]
    assert dovecot.folder(mailbox, "Processed") == []
    assert subjects(dovecot.folder(mailbox, "Rejected")) == ["rejected one"]
    assert dovecot.folder(mailbox, "No such folder") == []


def test_move_files_messages_in_another_folder(dovecot: Dovecot, mailbox: MailUser) -> None:
    for n in range(3):
        dovecot.append(mailbox, raw_mail(f"reply {n}"))
    with dovecot.client(mailbox) as c:
        assert b"MOVE" in c.capabilities()
        c.create_folder("Processed")
        c.select_folder("INBOX")
        uids = c.search("ALL")
        c.move(uids[:2], "Processed")
    assert subjects(dovecot.folder(mailbox, "Processed")) == ["reply 0", "reply 1"]
    assert subjects(dovecot.folder(mailbox, "INBOX")) == ["reply 2"]


def test_idle_wakes_within_two_seconds_of_an_append_elsewhere(dovecot: Dovecot, mailbox: MailUser) -> None:
    with dovecot.client(mailbox) as c:
        assert b"IDLE" in c.capabilities()
        c.select_folder("INBOX")
        c.idle()
        try:
            started = time.monotonic()
            dovecot.append(mailbox, raw_mail("wake up"))  # another connection
            responses = []
            while not any(r[1] == b"EXISTS" for r in responses) and time.monotonic() - started < 2.0:
                responses += c.idle_check(timeout=0.25)
            waited = time.monotonic() - started
        finally:
            c.idle_done()
    assert (1, b"EXISTS") in responses, responses
    assert waited < 2.0


def test_wait_for_polls_until_a_message_arrives(dovecot: Dovecot, mailbox: MailUser) -> None:
    dovecot.append(mailbox, raw_mail("late"))
    assert subjects(dovecot.wait_for(mailbox, "INBOX", 1, timeout=2)) == ["late"]
    with pytest.raises(AssertionError, match="wanted 2"):
        dovecot.wait_for(mailbox, "INBOX", 2, timeout=0.1)


# ---- SMTP ---------------------------------------------------------------------------------------


def alert_mail(to: str = "sales@dealer.example") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "cxbot <alerts@cxbot.example>"
    msg["To"] = to
    msg["Subject"] = "[CX-42] Utilfreds kunde: Anne Sørensen"
    msg.set_content("NPS 3 — ring venligst til kunden.")
    return msg


async def test_plain_send_is_collected_with_envelope_and_parsed_message(smtp: FakeSmtp) -> None:
    await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    [got] = await smtp.wait_for(1)
    assert got.mail_from == "alerts@cxbot.example"
    assert got.rcpt_tos == ["sales@dealer.example"]
    assert got.message["Subject"] == "[CX-42] Utilfreds kunde: Anne Sørensen"
    assert got.message.get_content().strip() == "NPS 3 — ring venligst til kunden."
    assert b"Subject:" in got.raw and not got.tls and got.auth_user is None
    assert smtp.to("SALES@dealer.example") == [got]


async def test_auth_accepts_the_right_password_and_refuses_a_wrong_one_at_once(make_smtp: MakeSmtp) -> None:
    smtp = await make_smtp(username="cxbot", password="s3cret")
    await aiosmtplib.send(
        alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, username="cxbot", password="s3cret"
    )
    assert [m.auth_user for m in smtp.messages] == ["cxbot"]

    started = time.monotonic()
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as wrong:
        await aiosmtplib.send(
            alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False,
            username="cxbot", password="nope", timeout=30,
        )
    assert wrong.value.code == 535 and time.monotonic() - started < 2
    with pytest.raises(aiosmtplib.SMTPResponseException) as anonymous:
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    assert anonymous.value.code == 530
    assert len(smtp.messages) == 1 and smtp.auth_failures >= 1  # aiosmtplib tries each mechanism


async def test_starttls_with_the_throwaway_ca(make_smtp: MakeSmtp, smtp_tls: SmtpTls) -> None:
    smtp = await make_smtp(tls="starttls", username="cxbot", password="s3cret")
    assert smtp.ca_pem == smtp_tls.ca_pem and smtp_tls.ca_pem.read_bytes().startswith(b"-----BEGIN CERTIFICATE")
    await aiosmtplib.send(
        alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=True, cert_bundle=str(smtp.ca_pem),
        username="cxbot", password="s3cret", timeout=5,
    )
    [got] = smtp.messages
    assert got.tls and got.auth_user == "cxbot"

    with pytest.raises(aiosmtplib.SMTPResponseException) as plain:  # STARTTLS is required before MAIL/AUTH
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    assert plain.value.code in (530, 538)
    with pytest.raises((ssl.SSLCertVerificationError, aiosmtplib.SMTPException)):  # a CA the client lacks
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=True, timeout=5)
    assert len(smtp.messages) == 1


async def test_implicit_tls_with_the_throwaway_ca(make_smtp: MakeSmtp, smtp_tls: SmtpTls) -> None:
    smtp = await make_smtp(tls="implicit", username="cxbot", password="s3cret")
    await aiosmtplib.send(
        alert_mail(), hostname=smtp.host, port=smtp.port, use_tls=True, tls_context=smtp_tls.client_context(),
        username="cxbot", password="s3cret", timeout=5,
    )
    [got] = smtp.messages
    assert got.tls and got.auth_user == "cxbot"
    with pytest.raises((ssl.SSLCertVerificationError, aiosmtplib.SMTPException)):
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, use_tls=True, timeout=5)


@pytest.mark.parametrize("code", [450, 550])
async def test_refused_recipient_raises_recipients_refused_with_the_code(smtp: FakeSmtp, code: int) -> None:
    smtp.refuse("rcpt", code)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    assert [r.code for r in refused.value.recipients] == [code]
    assert smtp.messages == []


@pytest.mark.parametrize("code", [451, 554])
async def test_refused_data_raises_data_error_with_the_code(smtp: FakeSmtp, code: int) -> None:
    smtp.refuse("data", code)
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    assert refused.value.code == code
    assert smtp.messages == []


async def test_refusal_can_be_limited_to_some_tries_or_one_address(smtp: FakeSmtp) -> None:
    smtp.refuse("data", 421, times=1)
    with pytest.raises(aiosmtplib.SMTPResponseException):
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    smtp.refuse("rcpt", 550, address="gone@dealer.example")
    errors, _ = await aiosmtplib.send(
        alert_mail(), recipients=["gone@dealer.example", "sales@dealer.example"],
        hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5,
    )
    assert errors["gone@dealer.example"].code == 550
    assert [m.rcpt_tos for m in smtp.messages] == [["sales@dealer.example"], ["sales@dealer.example"]]
    smtp.accept()
    await aiosmtplib.send(alert_mail("gone@dealer.example"), hostname=smtp.host, port=smtp.port, start_tls=False)
    assert len(smtp.to("gone@dealer.example")) == 1


async def test_down_refuses_connections_and_up_serves_the_same_port_again(smtp: FakeSmtp) -> None:
    port = smtp.port
    await smtp.down()
    started = time.monotonic()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=port, start_tls=False, timeout=5)
    assert time.monotonic() - started < 2
    await smtp.up()
    assert smtp.port == port
    await aiosmtplib.send(alert_mail(), hostname=smtp.host, port=port, start_tls=False, timeout=5)
    assert len(smtp.messages) == 1


async def test_down_drops_an_open_connection(smtp: FakeSmtp) -> None:
    client = aiosmtplib.SMTP(hostname=smtp.host, port=smtp.port, start_tls=False, timeout=5)
    await client.connect()
    await smtp.down()
    with pytest.raises(aiosmtplib.SMTPException):
        await client.send_message(alert_mail())
    client.close()
