"""Plain-text lines for the terminal, shared by the CLI and the demo."""

from __future__ import annotations

from datetime import datetime

from bot.domain.values import Alert


def when(v: datetime | None) -> str:
    return v.strftime("%Y-%m-%d %H:%M UTC") if v else "-"


def alert_line(a: Alert, now: datetime) -> str:
    flags = " OVERDUE" if a.overdue(now) else ""
    if a.escalation_level:
        flags += f" ESCALATED({a.escalation_level})"
    return f"{a.id:<8} {a.kind.title:<18} {a.status:<9} {a.dealer:<10} {a.customer_id or '-':<14} due {when(a.due_at):<21}{flags}"
