"""Helpers shared by the mail tests: alerts mailed through the real intake API and SMTP fake, replies
and bounces written the way mail clients and mail servers write them, and read-backs of what the
database, the mailbox folders and the fake servers recorded."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from bot.domain import tokens
from bot.domain.values import Alert, HistoryEntry
from bot.services import Context, dealers
from handlers.dealer_file import parse_toml
from storage.repositories.outbox import OutboxItem
from tests.conftest import MAIL_SECRET, REPLY_ADDRESS, mail_settings, response, running

SECRET = MAIL_SECRET.encode()

# The example dealers (bot/examples/dealers.toml).
ROUTE = "kundeservice@autohuset-vest.example"  # DK-1001's route address: a shared mailbox, no person
DE_ROUTE = "kundenbetreuung@autohaus-brandt.example"  # DE-2001
METTE = "mette.kjaer@autohuset-vest.example"  # DK-1001 staff
JONAS = "jonas.holm@autohuset-vest.example"  # DK-1001 staff
LARS = "lars.ostergaard@autohuset-vest.example"  # DK-1001 manager
CAMILLA = "camilla.berg@mazda-importer.example"  # regional: every dealer
SABINE = "sabine.krueger@autohaus-brandt.example"  # DE-2001 staff: a known person of another dealer
STRANGER = "someone@elsewhere.example"
VEST_TEAM, VEST_CHANNEL = "T0AUTOVEST", "C0VESTKUNDE"

# Dealers the examples lack: one with a Slack route only (the fallback), one that writes English.
EXTRA_DEALERS = """
[[dealers]]
code = "DK-7001"
name = "Bilhuset Øst"
type = "dealer"
time_zone = "Europe/Copenhagen"
language = "da"
slack_team = "T0BILOEST"

  [[dealers.routes]]
  slack_channel = "C0OESTCX"

[[dealers]]
code = "GB-3001"
name = "Mazda Leeds"
type = "dealer"
time_zone = "Europe/London"
language = "en"

  [[dealers.routes]]
  emails = ["service@mazda-leeds.example"]

[[people]]
name = "Ida Holm"
email = "ida.holm@biloest.example"
grants = { "DK-7001" = "staff" }

[[people]]
name = "Ole Bak"
email = "ole.bak@biloest.example"
grants = { "DK-7001" = "manager" }

[[people]]
name = "Rita Regional"
email = "rita.regional@mazda-importer.example"
grants = { "DK-7001" = "regional" }

[[people]]
name = "Daniel Carter"
email = "daniel.carter@mazda-leeds.example"
grants = { "GB-3001" = "staff" }
"""
OEST, OEST_TEAM, OEST_CHANNEL = "DK-7001", "T0BILOEST", "C0OESTCX"
IDA, OLE, RITA = "ida.holm@biloest.example", "ole.bak@biloest.example", "rita.regional@mazda-importer.example"
LEEDS, LEEDS_ROUTE, DANIEL = "GB-3001", "service@mazda-leeds.example", "daniel.carter@mazda-leeds.example"


async def load_extra_dealers(cx: Context, text: str = EXTRA_DEALERS) -> None:
    """More dealers and people through the real service (loading is an upsert: the examples stay)."""
    await dealers.load(cx, parse_toml(text))


# ---- the app ------------------------------------------------------------------------------------


@asynccontextmanager
async def mail_app(
    db_url: str, cx: Context, smtp: Any, mailbox: Any = None, dovecot: Any = None, slack: Any = None, **mail: Any
) -> AsyncIterator[Any]:
    """cxbot with mail (and Slack through the fake when `slack` is given), the dispatcher left to the test."""
    settings = mail_settings(db_url, smtp, mailbox, dovecot, slack_url=slack.url if slack is not None else None, **mail)
    async with running(settings, cx, slack) as bot:
        bot.smtp, bot.mailbox, bot.dovecot = smtp, mailbox, dovecot
        yield bot


@asynccontextmanager
async def app_with(settings: Any, cx: Context, smtp: Any, slack: Any = None) -> AsyncIterator[Any]:
    """cxbot with settings made by the test (other SMTP settings, say)."""
    async with running(settings, cx, slack) as bot:
        bot.smtp = smtp
        yield bot


def with_smtp(settings: Any, **smtp: Any) -> Any:
    from bot.settings import SmtpSettings

    return dataclasses.replace(settings, smtp=SmtpSettings(**smtp))


# ---- alerts by mail -----------------------------------------------------------------------------


async def new_alert(bot: Any, id_: str = "r-1", **over: Any) -> str:
    """The Hot Alert an unhappy response raises, through the intake API (not yet delivered)."""
    body = {"nps": 3, "comment": "Ingen ringede tilbage.", "customer": {"id": f"K-{id_}", "name": "Anne Sørensen", "email": "anne@example.net"}}
    body.update(over)
    r = await bot.post("/api/v1/responses", response(id_, **body))
    assert r.status_code == 202, r.text
    hot = [a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-")]
    assert hot, r.json()
    return str(hot[0])


async def mailed_alert(bot: Any, id_: str = "r-1", to: str = ROUTE, **over: Any) -> tuple[str, Any]:
    """A Hot Alert mailed to `to`: (alert id, the SmtpMessage as the server received it)."""
    alert_id = await new_alert(bot, id_, **over)
    await bot.deliver()
    sent = [m for m in bot.smtp.to(to) if f"[cx {alert_id}]" in m.message["Subject"] and not m.message["Subject"].startswith("Re:")]
    assert len(sent) == 1, f"{len(sent)} alert mails of {alert_id} to {to}"
    return alert_id, sent[0]


def tag_of(message: EmailMessage) -> str:
    """The reply tag in an alert mail's Reply-To."""
    m = re.match(r"cxbot\+([^@]+)@", str(message["Reply-To"]))
    assert m, message["Reply-To"]
    return m.group(1)


def tagged(tag: str) -> str:
    return tokens.plus_address(REPLY_ADDRESS, tag)


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


# ---- replies ------------------------------------------------------------------------------------


def reply(
    original: EmailMessage | None,
    sender: str,
    body: str,
    *,
    name: str = "Mette Kjær",
    to: str | None = None,
    subject: str | None = None,
    message_id: str | None = None,
    references: bool = True,
    subtype: str = "plain",
    cte: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A reply as a mail client sends it: to the alert mail's Reply-To, quoting it in `body`."""
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to if to is not None else str(original["Reply-To"]) if original is not None else REPLY_ADDRESS
    msg["Subject"] = subject if subject is not None else f"SV: {original['Subject']}" if original is not None else "SV: hej"
    msg["Date"] = format_datetime(datetime(2026, 11, 2, 10, 5, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain=sender.partition("@")[2] or "example.net")
    if original is not None and references:
        msg["In-Reply-To"] = original["Message-ID"]
        msg["References"] = original["Message-ID"]
    for k, v in (headers or {}).items():
        msg[k] = v
    if cte:
        msg.set_content(body, subtype=subtype, cte=cte)
    else:
        msg.set_content(body, subtype=subtype)
    return bytes(msg)


def quoted(original: EmailMessage) -> str:
    """The alert mail's text as a quoting client puts it under an answer ("> …")."""
    return "\n".join("> " + line if line else ">" for line in plain(original).splitlines())


def retag(raw: bytes, new_tag: str) -> bytes:
    """A corpus mail sent to cxbot+<new_tag>@… instead of the tag it was written with."""
    return re.sub(rb"cxbot\+[a-z0-9.-]+@", b"cxbot+" + new_tag.encode() + b"@", raw, flags=re.IGNORECASE)


def dsn(
    to: str,
    recipient: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    message_id: str | None = None,
    original_subject: str = "[cx HA-1] Hot Alert",
) -> bytes:
    """A delivery-status notification (RFC 3464, multipart/report) as Postfix writes one."""
    boundary = "dsn-boundary-42"
    mid = message_id or make_msgid(domain="mx.cx.mazda-importer.example")
    diagnostic = "550 5.1.1 User unknown" if status.startswith("5") else "451 4.4.1 Connection timed out"
    text = f"""\
From: MAILER-DAEMON@mx.cx.mazda-importer.example (Mail Delivery System)
To: {to}
Subject: {'Undelivered Mail Returned to Sender' if action == 'failed' else 'Delayed Mail (still being retried)'}
Date: Mon, 02 Nov 2026 10:15:31 +0000
Message-ID: {mid}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=utf-8

This is the mail system at host mx.cx.mazda-importer.example.

<{recipient}>: host mx.example said: {diagnostic}

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.cx.mazda-importer.example
Arrival-Date: Mon, 02 Nov 2026 10:15:30 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: cxbot <{REPLY_ADDRESS}>
To: {recipient}
Subject: {original_subject}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode()


# ---- reading back -------------------------------------------------------------------------------


async def alert_and_history(bot: Any, alert_id: str) -> tuple[Alert, list[HistoryEntry]]:
    async with bot.cx.db.read() as tx:
        alert = await tx.alerts.get(alert_id)
        history = await tx.history.of(alert_id)
    assert alert is not None
    return alert, history


async def outbox(bot: Any, status: str | None = None) -> list[OutboxItem]:
    async with bot.cx.db.read() as tx:
        rows = await tx.outbox.listing(status, 1000)
    return sorted(rows, key=lambda r: r.id)


async def mail_rows(bot: Any, to: str) -> list[OutboxItem]:
    return [r for r in await outbox(bot) if r.action.startswith("mail.") and r.payload.get("to") == to.lower()]


async def snapshot(bot: Any, alert_id: str) -> tuple[Any, ...]:
    """What a refused reply must leave alone: the alert, its history, the outbox (answers to the
    sender aside: a known sender is told why)."""
    alert, history = await alert_and_history(bot, alert_id)
    return alert, history, [(r.id, r.status, r.action) for r in await outbox(bot) if r.action != "mail.note"]


def folder(bot: Any, name: str) -> list[bytes]:
    return list(bot.dovecot.folder(bot.mailbox, name))


def mid(raw: bytes) -> str:
    """A message's Message-ID without <> and folding, as compared across the tests."""
    from email import message_from_bytes, policy

    return " ".join(str(message_from_bytes(raw, policy=policy.default)["Message-ID"] or "").split()).strip("<> ")


def message_ids(raws: list[bytes]) -> list[str]:
    return [mid(r) for r in raws]


def answers_to(bot: Any, address: str) -> list[Any]:
    """cxbot's answers to a reply (confirmation, comment kept, refusal): subject starts with Re:."""
    return [m for m in bot.smtp.to(address) if str(m.message["Subject"]).startswith("Re: [cx ")]


async def eventually(check: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        await asyncio.sleep(interval)


# ---- the command line ---------------------------------------------------------------------------


async def cli(db_url: str, *args: str, **env: str) -> Result:
    """`cxbot …` through click's runner, in a thread: the command runs its own event loop."""
    from bot.cli import main

    saved = structlog.get_config()
    try:
        return await asyncio.to_thread(
            CliRunner().invoke, main, list(args), env={"CXBOT_DATABASE_URL": db_url, **env}, catch_exceptions=False
        )
    finally:
        structlog.configure(**saved)  # the command pointed structlog at the runner's closed stream


@pytest.fixture
def keep_log_config() -> Any:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


async def many_alerts(bot: Any, n: int, prefix: str = "b", **over: Any) -> list[str]:
    """`n` Hot Alerts raised by one intake request, in the order of their responses."""
    body = {"nps": 3, "comment": "Ingen ringede tilbage."}
    body.update(over)
    items = [response(f"{prefix}-{i}", customer={"id": f"K-{prefix}-{i}", "name": f"Kunde {i}"}, **body) for i in range(n)]
    r = await bot.post("/api/v1/responses", {"responses": items})
    assert r.status_code == 202, r.text
    hot = {a["response_id"]: a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-")}
    return [hot[f"{prefix}-{i}"] for i in range(n)]


def alert_mails(bot: Any, to: str = ROUTE) -> dict[str, Any]:
    """The alert mails sent to `to`, by alert id."""
    out: dict[str, Any] = {}
    for m in bot.smtp.to(to):
        found = re.match(r"\[cx ([A-Z]{2}-\d+)\]", str(m.message["Subject"]))
        if found:
            out[found.group(1)] = m
    return out
