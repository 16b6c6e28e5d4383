"""Status transitions of an alert and what "handled" means."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import InvalidInput, InvalidTransition, NoteRequired, Problem
from bot.domain.values import KIND_BY_PREFIX, Actor, Alert, HistoryEntry, HistoryEvent, Kind, Status

ALLOWED: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.NEW, Status.ONGOING),
        (Status.NEW, Status.RESOLVED),
        (Status.ONGOING, Status.ONGOING),  # a further note
        (Status.ONGOING, Status.RESOLVED),
        (Status.RESOLVED, Status.ONGOING),  # reopen
    }
)

MAX_NOTE = 10_000


@dataclass(frozen=True)
class AlertChange:
    before: Alert
    after: Alert
    entry: HistoryEntry


def clean_note(note: str | None) -> str:
    text = (note or "").strip()
    if not text:
        raise NoteRequired()
    if len(text) > MAX_NOTE:
        raise InvalidInput([Problem("note", f"is {len(text)} characters; at most {MAX_NOTE} are kept")])
    return text


def transition(alert: Alert, actor: Actor, to: Status, note: str | None, at: datetime, person_id: int | None = None) -> AlertChange:
    """Apply one status change: every change needs a note; the first change to ongoing or
    resolved sets `handled_at` (which the on-time KPI compares with `due_at`)."""
    text = clean_note(note)
    if (alert.status, to) not in ALLOWED:
        raise InvalidTransition(f"{alert.id} is {alert.status}; it cannot be set {to}.")
    after = dataclasses.replace(
        alert,
        status=to,
        handled_at=alert.handled_at or at,
        resolved_at=at if to is Status.RESOLVED else None,
    )
    entry = HistoryEntry(alert.id, at, actor.channel, actor.label, HistoryEvent.STATUS, alert.status, to, text, person_id)
    return AlertChange(alert, after, entry)


def system_close(alert: Alert, actor: Actor, note: str, at: datetime) -> AlertChange:
    """cxbot resolves an alert itself (a detractor flag cleared by a newer answer). It records why
    but does not count as staff handling it."""
    after = dataclasses.replace(alert, status=Status.RESOLVED, resolved_at=at)
    entry = HistoryEntry(alert.id, at, actor.channel, actor.label, HistoryEvent.STATUS, alert.status, Status.RESOLVED, note)
    return AlertChange(alert, after, entry)


_ID = re.compile(r"^\s*([A-Za-z]{2})-?(\d{1,9})\s*$")


def parse_alert_id(text: str) -> tuple[Kind, int]:
    """`HA-12`, `ha12` → (Kind.HOT_ALERT, 12)."""
    m = _ID.match(text)
    kind = KIND_BY_PREFIX.get(m.group(1).upper()) if m else None
    if m is None or kind is None:
        raise InvalidInput([Problem("id", f"{text!r} is not an alert id like HA-12, SO-7, DT-3 or CO-1")])
    return kind, int(m.group(2))


def alert_id(kind: Kind, number: int) -> str:
    return f"{kind.prefix}-{number}"


def normal_alert_id(text: str) -> str:
    return alert_id(*parse_alert_id(text))
