"""When an alert is due, when it is reminded about, and when each escalation level falls due:
counted from the due time, in wall-clock or the dealer's business hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bot.domain.rules import Rules
from bot.domain.values import Kind


class Clockwork(Protocol):
    """What bot.domain.calendar.Calendar offers: adding hours, wall-clock or business hours."""

    def add(self, start: datetime, duration: timedelta) -> datetime: ...


class WallClock:
    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start.astimezone(UTC) + duration  # real hours, whatever zone `start` is written in


WALL = WallClock()


@dataclass(frozen=True)
class Schedule:
    due_at: datetime | None
    remind_at: datetime | None
    next_escalation_at: datetime | None


def schedule(kind: Kind, created_at: datetime, rules: Rules, calendar: Clockwork = WALL) -> Schedule:
    """The times of a new alert: due after the kind's due time (48 h for a Hot Alert), a reminder
    that long before due on the wall clock (once, only if that is after creation), level 1 at due
    plus its offset."""
    k = rules.kinds[kind]
    if k.due is None:
        return Schedule(None, None, None)
    due = calendar.add(created_at, k.due)
    remind = None
    if k.reminder_before_due is not None and k.reminder_before_due < k.due:
        remind = due - k.reminder_before_due
    return Schedule(due, remind, level_at(kind, due, 1, rules, calendar))


def level_at(kind: Kind, due_at: datetime | None, level: int, rules: Rules, calendar: Clockwork = WALL) -> datetime | None:
    """When escalation `level` (1, 2 …) falls due; None past the last level or with no due time."""
    offsets = rules.kinds[kind].escalation_after_due
    if due_at is None or not 1 <= level <= len(offsets):
        return None
    return calendar.add(due_at, offsets[level - 1])
