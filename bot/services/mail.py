"""Mail that comes back: replies to alert mails (status word + note, or a comment), bounces, and
auto-replies; and the bounce records behind "no more mail to that address"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import structlog

from bot.domain.errors import NoteRequired, Refused, UnknownAlert
from bot.domain.mail import ParsedReply
from bot.domain.outbound import Action, Outbound, to_mail, to_slack
from bot.domain.status import parse_alert_id
from bot.domain.tokens import is_bounce_tag, read_reply_tag, verify_reply_tag
from bot.domain.values import Actor
from bot.services import Context, alerts

log = structlog.get_logger()


class Folder(StrEnum):
    PROCESSED = "processed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Verdict:
    """Where the message goes, and why (logged; never the mail's body)."""

    folder: Folder
    reason: str
    alert_id: str | None = None


def _note(to: str, alert_id: str, kind: str, text: str, in_reply_to: str | None) -> Outbound:
    return to_mail(Action.MAIL_NOTE, to, alert_id, kind=kind, text=text, in_reply_to=in_reply_to)


async def apply_reply(cx: Context, mail: ParsedReply) -> Verdict:
    """Apply one message from the mailbox. A change needs a valid reply tag for the alert (it names
    the alert and the address its mail went to) and a sender granted to the alert's dealer — not
    necessarily the address the mail went to. Otherwise nothing changes; a sender who is a known
    person is told why, strangers get no answer. Applying stores the Message-ID in the same
    transaction, so a message read twice (a crash before it was moved) is never applied twice."""
    if mail.bounce is not None:
        return await _bounce(cx, mail)
    if mail.auto_reply:
        return Verdict(Folder.REJECTED, "auto-reply: ignored, never answered")
    if not mail.sender:
        return Verdict(Folder.REJECTED, "no sender address")
    alert_id = await _alert_of(cx, mail)
    if alert_id is None:
        return Verdict(Folder.REJECTED, "not about a known alert")
    key = f"mail:{mail.message_id or ''}"
    async with cx.db.read() as tx:
        recipients = await tx.mail.recipients_of(alert_id)
        known = await tx.people.by_email(mail.sender)
    tag = next((t for t in mail.tags if read_reply_tag(t) == alert_id), None)
    if tag is None or verify_reply_tag(cx.mail_secret, tag, recipients) is None:
        return await _refuse(cx, mail, alert_id, known, "the reply did not come back to the address in the alert mail; reply to the alert mail itself")
    actor = Actor.email(mail.sender)
    try:
        if mail.status is None:
            text = mail.text.strip()
            also = [_note(mail.sender, alert_id, "comment", text, mail.message_id)]
            await alerts.comment(cx, alert_id, actor, text, once=key if mail.message_id else None, also=also)
            return Verdict(Folder.PROCESSED, "kept as a comment", alert_id)
        also = [_note(mail.sender, alert_id, "confirm", mail.note, mail.message_id)]
        await alerts.change_status(cx, alert_id, actor, mail.status, mail.note, once=key if mail.message_id else None, also=also)
        return Verdict(Folder.PROCESSED, f"set {mail.status}", alert_id)
    except alerts.AlreadyApplied:
        return Verdict(Folder.PROCESSED, "applied before (read again after a restart)", alert_id)
    except UnknownAlert:
        return await _refuse(cx, mail, alert_id, known, "you are not granted to the alert's dealer, so you cannot change it")
    except NoteRequired:
        return await _refuse(cx, mail, alert_id, known, "a note is needed: reply with the status word on the first line and, after it, what was done")
    except Refused as why:
        return await _refuse(cx, mail, alert_id, known, why.message)


async def _alert_of(cx: Context, mail: ParsedReply) -> str | None:
    """The alert a reply is about: its reply tag, else the mail it answers, else the subject tag."""
    for tag in mail.tags:
        claimed = read_reply_tag(tag)
        if claimed:
            return claimed
    async with cx.db.read() as tx:
        found = await tx.mail.alert_of_messages(list(mail.references))
    if found:
        return found
    if mail.subject_alert:
        try:
            kind, number = parse_alert_id(mail.subject_alert)
        except Refused:
            return None
        return f"{kind.prefix}-{number}"
    return None


async def _refuse(cx: Context, mail: ParsedReply, alert_id: str, known: Any, reason: str) -> Verdict:
    """Nothing changes. A known person gets a short answer (once per message); strangers none."""
    if known is not None and mail.sender:
        key = f"mail-answered:{mail.message_id or ''}"
        async with cx.db.transaction() as tx:
            exists = await tx.alerts.get(alert_id) is not None
            if exists and (not mail.message_id or await tx.slack.first_time(key, cx.clock.now())):
                await tx.outbox.enqueue([_note(mail.sender, alert_id, "refused", reason, mail.message_id)], cx.clock.now())
        cx.wake()
    log.info("mail_reply_rejected", alert_id=alert_id, known_sender=known is not None, reason=reason)
    return Verdict(Folder.REJECTED, reason, alert_id)


# ---- bounces --------------------------------------------------------------------------------


async def _bounce(cx: Context, mail: ParsedReply) -> Verdict:
    """Seed 003: one bounce record per address; flagged for a while; after the limit, no more mail
    to it until verified. The dealer's channel hears about a newly bounced address once."""
    assert mail.bounce is not None
    b = mail.bounce
    if not (b.status or "").startswith("5"):
        return Verdict(Folder.PROCESSED, f"delivery delayed ({b.status or 'no status'}): not a bounce")
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        addresses: list[str] = []
        for tag in mail.tags:
            if is_bounce_tag(tag):
                row = await tx.mail.by_tag(tag)
                if row is not None:
                    addresses.append(row.email)
        if not addresses:  # no VERP tag: trust only addresses cxbot actually wrote to
            for r in b.recipients:
                if await tx.mail.address(r) is not None:
                    addresses.append(r.lower())
        if not addresses:
            return Verdict(Folder.REJECTED, "a bounce for an address cxbot does not know")
        if mail.message_id and not await tx.slack.first_time(f"bounce:{mail.message_id}", now):
            return Verdict(Folder.PROCESSED, "bounce counted before")
        reports: list[Outbound] = []
        for address in sorted(set(addresses)):
            await tx.mail.bounced(address, now, b.status, b.diagnostic)
            row = await tx.mail.address(address)
            if row is not None and row.reported_at is None:
                reports += await _report(tx, address, row, cx)
                await tx.mail.reported(address, now)
        await tx.outbox.enqueue(reports, now)
    if reports:
        cx.wake()
    log.info("mail_bounced", addresses=len(set(addresses)), status=b.status)
    return Verdict(Folder.PROCESSED, f"bounce recorded ({b.status})")


async def _report(tx: Any, address: str, row: Any, cx: Context) -> list[Outbound]:
    """A line in the Slack channel of each dealer the address belongs to (staff or routing)."""
    dealers = await tx.dealers.of_address(address)
    routes = await tx.dealers.routes_of(sorted(dealers))
    text = (
        f":warning: Mail to {address} bounced ({row.last_status or 'permanent failure'}). The address is flagged for "
        f"{cx.bounce_flag_days} days; after {cx.bounce_limit} bounces nothing more is sent to it until it is verified "
        f"again (`cxbot addresses verify {address}`)."
    )
    out = []
    for dealer in sorted(dealers):
        route = next((r for (d, _), r in sorted(routes.items()) if d == dealer and r.slack_channel), None)
        if route is not None and "slack" in cx.channels:
            out.append(to_slack(Action.SLACK_TEXT, route.slack_team, route.slack_channel, None, text=text))
    return out


@dataclass(frozen=True)
class AddressState:
    email: str
    bounces: int
    last_bounce_at: datetime | None
    last_status: str | None
    flagged: bool
    suppressed: bool


async def address_states(cx: Context, emails: list[str] | None = None) -> list[AddressState]:
    """Bounce records (all addresses that ever bounced, or the ones asked about)."""
    now = cx.clock.now()
    async with cx.db.read() as tx:
        rows = await tx.mail.bounced_addresses(emails)
    since = now - timedelta(days=cx.bounce_flag_days)
    return [
        AddressState(
            r.email,
            r.bounces,
            r.last_bounce_at,
            r.last_status,
            flagged=r.bounces > 0 and r.last_bounce_at is not None and r.last_bounce_at >= since,
            suppressed=r.bounces >= cx.bounce_limit,
        )
        for r in rows
    ]


async def verify_address(cx: Context, email: str) -> bool:
    """Someone checked the address: clear its flag and its count, so mail goes there again."""
    async with cx.db.transaction() as tx:
        return await tx.mail.verify(email, cx.clock.now())


async def hold_mailbox(cx: Context, name: str, owner: str, seconds: float) -> bool:
    """One replica reads a mailbox at a time: take or renew the lease on it."""
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        return await tx.mail.take_lease(name, owner, now, now + timedelta(seconds=seconds))


async def release_mailbox(cx: Context, name: str, owner: str) -> None:
    async with cx.db.transaction() as tx:
        await tx.mail.drop_lease(name, owner)
