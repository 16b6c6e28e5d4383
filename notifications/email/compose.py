"""Builds the MIME message for a rendered mail: headers that make replies and bounces find their
way back (tagged Reply-To, VERP envelope sender) and keep auto-responders quiet."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from datetime import datetime

from bot.domain.tokens import bounce_tag, plus_address, reply_tag
from notifications.email.render import Mail


@dataclass(frozen=True)
class MailIdentity:
    sender: str  # the From header, e.g. "cxbot <cxbot@cx.group.example>"
    reply_address: str  # the mailbox cxbot reads
    secret: bytes
    verp: bool = True

    @property
    def domain(self) -> str:
        return self.reply_address.rpartition("@")[2]


@dataclass(frozen=True)
class Composed:
    message: EmailMessage
    message_id: str  # without <>
    envelope_from: str
    verp_tag: str


def compose(mail: Mail, to: str, identity: MailIdentity, at: datetime, alert_id: str | None, in_reply_to: str | None = None) -> Composed:
    msg = EmailMessage()
    msgid = make_msgid(idstring="cx", domain=identity.domain)
    msg["Message-ID"] = msgid
    msg["Date"] = format_datetime(at)
    msg["From"] = identity.sender
    msg["To"] = to
    msg["Subject"] = mail.subject
    if alert_id:
        # Replies go to cxbot's mailbox with a tag naming the alert and this recipient.
        msg["Reply-To"] = plus_address(identity.reply_address, reply_tag(identity.secret, alert_id, to))
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    # Tell auto-responders this is machine mail, so out-of-office answers are not sent back.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "OOF, AutoReply"
    msg.set_content(mail.text)
    msg.add_alternative(mail.html, subtype="html")
    tag = bounce_tag(identity.secret, to)
    envelope = plus_address(identity.reply_address, tag) if identity.verp else identity.reply_address
    return Composed(msg, msgid.strip("<>"), envelope, tag)


def address_of(sender: str) -> str:
    return parseaddr(sender)[1]
