"""Mail that comes back: replies to alert mails (status word + note, or a comment), bounces, and
auto-replies; and the bounce records behind "no more mail to that address"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Sequence

import structlog

from bot.domain.errors import NoteRequired, Refused
from bot.domain.mail import ParsedReply
from bot.domain.outbound import Action, Outbound, to_mail, to_slack
from bot.domain.status import AlertChange, clean_note, parse_alert_id, transition
from bot.domain.tokens import is_bounce_tag, read_reply_tag, verify_reply_tag
from bot.domain.values import Actor, Channel, HistoryEntry, HistoryEvent
from bot.services import Context, alerts, routing

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
    # A known refusal travels as its code too, so the answer is written in the dealer's language.
    code = REFUSAL_CODES.get(text)
    return to_mail(Action.MAIL_NOTE, to, alert_id, kind=kind, text=text, in_reply_to=in_reply_to, **({"reason": code} if code else {}))


NO_TAG = "the reply did not come back to the address in the alert mail; reply to the alert mail itself"
NOT_GRANTED = "you are not granted to the alert's dealer, so you cannot change it"
NOTE_NEEDED = "a note is needed: reply with the status word on the first line and, after it, what was done"
REFUSAL_CODES = {NO_TAG: "no_tag", NOT_GRANTED: "not_granted", NOTE_NEEDED: "note_needed"}


async def apply_reply(cx: Context, mail: ParsedReply) -> Verdict:
    return (await apply_replies(cx, [mail]))[0]


async def apply_replies(cx: Context, mails: Sequence[ParsedReply]) -> list[Verdict]:
    """Apply messages from the mailbox, in order. A change needs a valid reply tag for the alert
    (it names the alert and the address its mail went to) and a sender who may act for the alert's
    dealer — a granted person, the dealer's shared mailbox, whoever an escalation reached — not
    necessarily the address the mail went to. Otherwise nothing changes; a known sender is told why,
    strangers get no answer. The replies of one batch are applied in one transaction that also
    stores their Message-IDs, so a message read twice (a crash before it was moved) is never
    applied twice, and the database is asked a handful of questions per batch, not per reply."""
    verdicts: list[Verdict | None] = [None] * len(mails)
    replies: list[int] = []
    for i, m in enumerate(mails):
        if m.bounce is not None:
            verdicts[i] = await _bounce(cx, m)
        elif m.auto_reply:
            verdicts[i] = Verdict(Folder.REJECTED, "auto-reply: ignored, never answered")
        elif not m.sender:
            verdicts[i] = Verdict(Folder.REJECTED, "no sender address")
        else:
            replies.append(i)
    if replies:
        await _apply_batch(cx, mails, replies, verdicts)
    return [v if v is not None else Verdict(Folder.REJECTED, "not handled") for v in verdicts]


async def _apply_batch(cx: Context, mails: Sequence[ParsedReply], todo: list[int], verdicts: list[Verdict | None]) -> None:
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        by_reference = await tx.mail.alerts_of_messages([ref for i in todo for ref in mails[i].references])
        alert_of = {i: _alert_of(mails[i], by_reference) for i in todo}
        ids = sorted({a for a in alert_of.values() if a})
        state = await tx.alerts.get_many(ids, lock=True)  # sorted: concurrent batches lock in one order
        recipients = await tx.mail.recipients_of_many(ids)
        senders = sorted({mails[i].sender or "" for i in todo})
        people = await tx.people.by_emails(senders)
        may_act = await tx.dealers.of_addresses(senders)
        keys = {i: f"mail:{mails[i].message_id}" for i in todo if mails[i].message_id}
        seen = await tx.slack.seen([*keys.values(), *(f"mail-answered:{mails[i].message_id}" for i in keys)])

        changes: list[tuple[AlertChange, str]] = []
        entries: list[HistoryEntry] = []
        notes: list[Outbound] = []
        remember: list[str] = []
        for i in todo:
            m = mails[i]
            sender = m.sender or ""
            alert = state.get(alert_of[i] or "")
            if alert is None:
                verdicts[i] = Verdict(Folder.REJECTED, "not about a known alert")
                continue
            if i in keys and keys[i] in seen:
                verdicts[i] = Verdict(Folder.PROCESSED, "applied before (read again after a restart)", alert.id)
                continue
            dealers = may_act.get(sender, set())
            known = sender in people or bool(dealers)
            tag = next((t for t in m.tags if read_reply_tag(t) == alert.id), None)
            reason = None
            if tag is None or verify_reply_tag(cx.mail_secret, tag, recipients.get(alert.id, [])) is None:
                # Without a valid tag an answer would confirm the alert and name its dealer: only
                # someone who may act for that dealer gets one (Slack never confirms another's alert).
                reason, known = NO_TAG, alert.dealer in dealers
            elif alert.dealer not in dealers:
                reason = NOT_GRANTED
            else:
                person = people.get(sender)
                actor = Actor(Channel.EMAIL, sender, frozenset(dealers), person.id if person else None, person.name if person else None)
                try:
                    if m.status is None:
                        entries.append(HistoryEntry(alert.id, now, Channel.EMAIL, actor.label, HistoryEvent.COMMENT, None, None, clean_note(m.text), actor.person_id))
                        notes.append(_note(sender, alert.id, "comment", m.text.strip(), m.message_id))
                        verdicts[i] = Verdict(Folder.PROCESSED, "kept as a comment", alert.id)
                    else:
                        change = transition(alert, actor, m.status, m.note, at=now, person_id=actor.person_id)
                        state[alert.id] = change.after  # a second reply in the batch sees this one
                        changes.append((change, alerts.display(actor)))
                        entries.append(change.entry)
                        notes.append(_note(sender, alert.id, "confirm", m.note, m.message_id))
                        verdicts[i] = Verdict(Folder.PROCESSED, f"set {m.status}", alert.id)
                except NoteRequired:
                    reason = NOTE_NEEDED
                except Refused as why:
                    reason = why.message
            if reason is None:
                if i in keys:
                    remember.append(keys[i])
                    seen.add(keys[i])  # the same message twice in one batch: applied once
                continue
            answered = f"mail-answered:{m.message_id}"
            if known and answered not in seen:
                notes.append(_note(sender, alert.id, "refused", reason, m.message_id))
                if m.message_id:
                    remember.append(answered)
                    seen.add(answered)
            log.info("mail_reply_rejected", alert_id=alert.id, known_sender=known, reason=reason)
            verdicts[i] = Verdict(Folder.REJECTED, reason, alert.id)

        await tx.alerts.save_many([c.after for c, _ in changes if state[c.after.id] is c.after], now)
        await tx.history.append(entries)
        await tx.slack.remember(remember, now)
        updates = await routing.after_changes(tx, [c for c, _ in changes], [by for _, by in changes], cx.channels)
        await tx.outbox.enqueue([*updates, *notes], now)
    if changes or notes:
        cx.wake()


def _alert_of(mail: ParsedReply, by_reference: dict[str, str]) -> str | None:
    """The alert a reply is about: its reply tag, else the mail it answers, else the subject tag."""
    for tag in mail.tags:
        claimed = read_reply_tag(tag)
        if claimed:
            return claimed
    found = next((by_reference[r] for r in mail.references if r in by_reference), None)
    if found:
        return found
    if mail.subject_alert:
        try:
            kind, number = parse_alert_id(mail.subject_alert)
        except Refused:
            return None
        return f"{kind.prefix}-{number}"
    return None


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
        bounce_tags = [tag for tag in mail.tags if is_bounce_tag(tag)]
        for tag in bounce_tags:
            row = await tx.mail.by_tag(tag)
            if row is not None:
                addresses.append(row.email)
        if bounce_tags and not addresses:
            # A tag cxbot never made: anyone can write a report naming an address cxbot mails.
            return Verdict(Folder.REJECTED, "a bounce with a tag cxbot did not make")
        if not addresses:  # no VERP tag: trust only addresses cxbot actually wrote to
            for r in b.recipients:
                if await tx.mail.address(r) is not None:
                    addresses.append(r.lower())
        if not addresses:
            return Verdict(Folder.REJECTED, "a bounce for an address cxbot does not know")
        if mail.message_id and not await tx.slack.first_time(f"bounce:{mail.message_id}", now):
            return Verdict(Folder.PROCESSED, "bounce counted before")
        reports: list[Outbound] = []
        failed: list[str] = []
        for address in sorted(set(addresses)):
            await tx.mail.bounced(address, now, b.status, b.diagnostic)
            # A lost-sales invitation that bounced failed to deliver (seed 000's list shows it).
            failed += await tx.invitations.fail_sent_to(address, now - timedelta(days=cx.lost_sales.link_days), now)
            row = await tx.mail.address(address)
            if row is not None and row.reported_at is None:
                reports += await _report(tx, address, row, cx)
                await tx.mail.reported(address, now)
        await tx.outbox.enqueue(reports, now)
    if reports:
        cx.wake()
    log.info("mail_bounced", addresses=len(set(addresses)), status=b.status, invitations_failed=len(failed))
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
