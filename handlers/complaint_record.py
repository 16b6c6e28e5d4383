"""A complaint's handling record as a readable document, JSON or CSV (ISO documentation): shared
by `cxbot complaints export` and the HTTP API."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.complaints import ReceivedVia
from bot.domain.values import HistoryEvent
from bot.domain.views import ComplaintRecord, HandlingStep
from handlers.http.common import alert_json, history_json, iso

EVENT = {
    HistoryEvent.CREATED: "registered",
    HistoryEvent.STATUS: "status",
    HistoryEvent.COMMENT: "note",
    HistoryEvent.ESCALATED: "escalated",
    HistoryEvent.REMINDED: "reminder sent",
    HistoryEvent.ERASED: "personal data erased",
}
CSV_COLUMNS = ("alert_id", "at_utc", "at_local", "who", "actor", "channel", "event", "old_status", "new_status", "note")


def _local(at: datetime | None, zone: str) -> str:
    if at is None:
        return "-"
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _who(s: HandlingStep) -> str:
    return s.who if s.who == s.entry.actor else f"{s.who} ({s.entry.actor})"


def _what(s: HandlingStep) -> str:
    """`registered as new`, `status new → resolved`, `note`, `escalated` …"""
    e = s.entry
    if e.new_status is None:
        return EVENT.get(e.event, e.event.value)
    if e.old_status is None:
        return f"{EVENT.get(e.event, e.event.value)} as {e.new_status.value}"
    return f"status {e.old_status.value} → {e.new_status.value}"


def _indent(text: str, by: str = "    ") -> list[str]:
    return [by + line if line.strip() else "" for line in text.splitlines()] or [by]


def record_text(r: ComplaintRecord, now: datetime) -> str:
    """The record as a document a person reads or files: the complaint, where it stands, then
    every history entry in order, in the dealer's local time."""
    a, c, tz = r.alert, r.complaint, r.dealer_time_zone
    title = f"External complaint {a.id} — handling record"
    lines = [title, "=" * len(title)]

    def row(label: str, value: str) -> None:
        lines.append(f"{label:<15} {value}")

    row("Dealer", f"{r.dealer_name} ({a.dealer})")
    row("Customer", f"{r.customer_name} (customer id {c.customer_id})" if r.customer_name != c.customer_id else c.customer_id)
    if c.customer_phone:
        row("Phone", c.customer_phone)
    if c.customer_email:
        row("Email", c.customer_email)
    row("Received", f"{ReceivedVia(c.received_via).words}, {_local(c.received_at, tz)}")
    row("Registered", f"{_local(c.registered_at, tz)} by {c.registered_by}")
    row("Status", a.status.value)
    row("Due", _local(a.due_at, tz))
    handled = _local(a.handled_at, tz)
    if a.on_time is not None:
        handled += " (on time)" if a.on_time else " (late)"
    row("First handled", handled)
    row("Resolved", _local(a.resolved_at, tz))
    row("Escalated", f"level {a.escalation_level}, {_local(a.escalated_at, tz)}" if a.escalation_level else "no")
    lines += ["", "The complaint as received", "-------------------------", *_indent(c.description), ""]
    head = f"History ({len(r.steps)} entries, times in {tz})"
    lines += [head, "-" * len(head)]
    for s in r.steps:
        e = s.entry
        lines.append(f"{_local(e.at, tz)}  {_what(s)} — {_who(s)} via {e.channel.value}")
        lines += _indent(e.note)
    lines += ["", f"Exported {_local(now, 'UTC')}. The history is append-only: entries are never changed or removed."]
    return "\n".join(lines) + "\n"


def record_json(r: ComplaintRecord, now: datetime) -> dict[str, Any]:
    c = r.complaint
    return {
        **alert_json(r.alert, now),
        "dealer_name": r.dealer_name,
        "complaint": {
            "customer_id": c.customer_id,
            "customer_name": r.customer_name,
            "customer_email": c.customer_email,
            "customer_phone": c.customer_phone,
            "received_via": c.received_via,
            "received_at": iso(c.received_at),
            "description": c.description,
            "registered_by": c.registered_by,
            "registered_at": iso(c.registered_at),
        },
        "history": [{**history_json(s.entry), "who": s.who} for s in r.steps],
        "exported_at": iso(now),
    }


def _cell(text: str) -> str:
    """A spreadsheet must not run typed text as a formula (a pasted mail may start with "=")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def record_csv(r: ComplaintRecord) -> str:
    """One row per history entry (the complaint's own words are the first note). Typed text that
    a spreadsheet would read as a formula starts with an apostrophe."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for s in r.steps:
        e = s.entry
        w.writerow([
            r.alert.id, iso(e.at), _local(e.at, r.dealer_time_zone), _cell(s.who), _cell(e.actor), e.channel.value, e.event.value,
            e.old_status.value if e.old_status else "", e.new_status.value if e.new_status else "", _cell(e.note),
        ])
    return out.getvalue()
