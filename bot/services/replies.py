"""Free-text answers to an alert (a Slack thread reply; an email reply in a later issue):
a status word first sets the status with the rest as the note, anything else is a comment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.errors import NoteRequired
from bot.domain.outbound import Action, to_slack
from bot.domain.status_words import read_status
from bot.domain.values import Actor
from bot.services import Context, alerts


class Outcome(StrEnum):
    NOT_AN_ALERT = "not_an_alert"  # a thread cxbot does not know
    STATUS = "status"
    COMMENT = "comment"
    NOTE_NEEDED = "note_needed"
    REPEATED = "repeated"  # the same event again (Slack retried it)


@dataclass(frozen=True)
class ReplyResult:
    outcome: Outcome
    alert_id: str | None = None


NOTE_NEEDED = (
    "A note is needed to change the status: reply with the word and what was done, "
    "e.g. `resolved – called the customer, new appointment Friday`."
)


async def thread_reply(cx: Context, actor: Actor, channel: str, thread_ts: str, text: str, event_key: str) -> ReplyResult:
    """A reply in an alert's thread. Refusals (not allowed, invalid move) propagate as `Refused`."""
    async with cx.db.read() as tx:
        alert_id = await tx.slack.alert_of_thread(channel, thread_ts)
        receipt = await tx.slack.receipt(alert_id) if alert_id else None
    if alert_id is None or receipt is None:
        return ReplyResult(Outcome.NOT_AN_ALERT)
    read = read_status(text, cx.rules.status_words)
    try:
        if read.status is not None:
            try:
                await alerts.change_status(cx, alert_id, actor, read.status, read.note, once=event_key)
            except NoteRequired:
                # Tell them in the thread (via the outbox, like every message cxbot posts).
                async with cx.db.transaction() as tx:
                    if not await tx.slack.first_time(event_key, cx.clock.now()):
                        return ReplyResult(Outcome.REPEATED, alert_id)
                    await tx.outbox.enqueue(
                        [to_slack(Action.SLACK_TEXT, receipt.team_id, receipt.channel_id, alert_id, text=NOTE_NEEDED)],
                        cx.clock.now(),
                    )
                cx.wake()
                return ReplyResult(Outcome.NOTE_NEEDED, alert_id)
            return ReplyResult(Outcome.STATUS, alert_id)
        await alerts.comment(cx, alert_id, actor, text, once=event_key)
        return ReplyResult(Outcome.COMMENT, alert_id)
    except alerts.AlreadyApplied:
        return ReplyResult(Outcome.REPEATED, alert_id)


async def first_refusal(cx: Context, event_key: str) -> bool:
    """Remember that this event was refused; False when it was before (Slack retried it)."""
    async with cx.db.transaction() as tx:
        return await tx.slack.first_time(f"refused:{event_key}", cx.clock.now())
