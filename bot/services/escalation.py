"""Escalation and reminders: what is not handled in time reaches someone who will act."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from bot.domain.escalation import WALL, level_at
from bot.domain.values import SYSTEM, HistoryEntry, HistoryEvent
from bot.services import Context, routing

log = structlog.get_logger()


@dataclass(frozen=True)
class SweepResult:
    escalated: int
    reminded: int


async def sweep(cx: Context, batch: int = 500) -> SweepResult:
    """Escalate every unhandled alert past its next escalation time (once per level) and remind
    about every alert whose reminder time came. Each batch is one transaction that claims its rows,
    records the history and queues the notifications, so a crash mid-sweep loses nothing and a
    second replica never does the same work: its claim finds the rows already moved on. Alerts
    that fell due while cxbot was down are caught up here (level by level)."""
    escalated = reminded = 0
    while (n := await _escalate(cx, batch)) > 0:
        escalated += n
    while True:
        claimed, sent = await _remind(cx, batch)
        reminded += sent
        if not claimed:
            break
    if escalated or reminded:
        log.info("sweep_done", escalated=escalated, reminded=reminded)
        cx.wake()
    return SweepResult(escalated, reminded)


async def _escalate(cx: Context, batch: int) -> int:
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        claimed = await tx.schedule.claim_escalations(now, batch)
        if not claimed:
            return 0
        calendars = await tx.dealers.calendars([a.dealer for a in claimed])
        await tx.schedule.set_next_escalations(
            [
                (a.id, at)
                for a in claimed
                if (at := level_at(a.kind, a.due_at, a.escalation_level + 1, cx.rules, calendars.get(a.dealer, WALL))) is not None
            ]
        )
        await tx.history.append(
            [
                HistoryEntry(
                    a.id, now, SYSTEM.channel, SYSTEM.label, HistoryEvent.ESCALATED, None, None,
                    f"Escalated to level {a.escalation_level}: not handled by its due time "
                    f"{a.due_at:%Y-%m-%d %H:%M} UTC." if a.due_at else f"Escalated to level {a.escalation_level}.",
                )
                for a in claimed
            ]
        )
        await tx.outbox.enqueue(await routing.escalations(tx, claimed, cx.channels), now)
    for a in claimed:
        log.info("alert_escalated", alert_id=a.id, dealer=a.dealer, level=a.escalation_level)
    return len(claimed)


async def _remind(cx: Context, batch: int) -> tuple[int, int]:
    """(rows claimed, reminders sent)."""
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        claimed = await tx.schedule.claim_reminders(now, batch)
        if not claimed:
            return 0, 0
        # Past due already (cxbot was down): escalation speaks now, a reminder would only confuse.
        due = [a for a in claimed if a.due_at is not None and a.due_at > now]
        await tx.history.append(
            [
                HistoryEntry(a.id, now, SYSTEM.channel, SYSTEM.label, HistoryEvent.REMINDED, None, None, "Reminder sent: due soon and not handled yet.")
                for a in due
            ]
        )
        await tx.outbox.enqueue(await routing.reminders(tx, due, cx.channels), now)
    return len(claimed), len(due)
