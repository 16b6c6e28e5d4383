"""The communication list (seed 000) as JSON, a terminal table and CSV: shared by the command line
and the HTTP API."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Iterable

from bot.domain.invitations import InvitationRow, InvitationStatus


def _iso(v: datetime | None) -> str | None:
    return v.isoformat().replace("+00:00", "Z") if v else None


def invitation_json(r: InvitationRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "dealer_id": r.dealer,
        "survey": r.survey.value,
        "questionnaire": r.questionnaire,
        "language": r.language,
        "customer_id": r.customer_id,
        "name": r.name,
        "email": r.email,
        "anonymous": r.anonymous,
        "purchase_date": r.purchase_date.isoformat() if r.purchase_date else None,
        "status": r.status.value,
        "status_label": r.status.label,
        "status_at": _iso(r.status_at),
        "recorded_at": _iso(r.recorded_at),
        "sent_at": _iso(r.sent_at),
        "failed_at": _iso(r.failed_at),
        "clicked_at": _iso(r.clicked_at),
        "submitted_at": _iso(r.submitted_at),
        "not_sent_reason": r.not_sent_reason,
    }


def counts_json(counts: dict[InvitationStatus, int]) -> dict[str, int]:
    return {s.value: counts.get(s, 0) for s in InvitationStatus}


def counts_line(counts: dict[InvitationStatus, int]) -> str:
    return " · ".join(f"{s.value} {counts.get(s, 0)}" for s in InvitationStatus)


# ---- CSV ------------------------------------------------------------------------------------

HEADER = [
    "Invitation ID", "Dealer", "Survey", "Questionnaire", "Language", "Customer ID", "Name", "Email",
    "Purchase or service date", "Status", "Status since", "Sent", "Failed", "Clicked", "Submitted", "Recorded",
    "Why not sent",
]


def _cell(v: Any) -> str:
    """A value for a spreadsheet. Customer text starting with = + - @ would be read as a formula
    by Excel, so it is quoted with a leading apostrophe (as OWASP advises)."""
    if v is None:
        return ""
    s = str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def csv_cells(r: InvitationRow) -> list[str]:
    return [
        _cell(x)
        for x in (
            r.id, r.dealer, r.survey.value, r.questionnaire, r.language, r.customer_id, r.name, r.email,
            r.purchase_date.isoformat() if r.purchase_date else None, r.status.label, _iso(r.status_at),
            _iso(r.sent_at), _iso(r.failed_at), _iso(r.clicked_at), _iso(r.submitted_at), _iso(r.recorded_at),
            r.not_sent_reason,
        )
    ]


def csv_lines(rows: Iterable[InvitationRow], header: bool = True) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    if header:
        w.writerow(HEADER)
    for r in rows:
        w.writerow(csv_cells(r))
    return out.getvalue()


# ---- a terminal table -------------------------------------------------------------------------


def table_line(r: InvitationRow) -> str:
    when = (r.purchase_date.isoformat() if r.purchase_date else "-")
    name = (r.name or "-")[:24]
    email = (r.email or "-")[:30]
    since = r.status_at.strftime("%Y-%m-%d %H:%M")
    return (
        f"{r.id[:20]:<20} {r.dealer:<10} {r.survey.value:<10} {r.customer_id[:14]:<14} {name:<24} {email:<30}"
        f" {when:<10} {(r.language or '-'):<5} {r.status.label:<22} {since}"
    ) + (f"  ({r.not_sent_reason})" if r.not_sent_reason else "")


TABLE_HEAD = (
    f"{'INVITATION':<20} {'DEALER':<10} {'SURVEY':<10} {'CUSTOMER':<14} {'NAME':<24} {'EMAIL':<30}"
    f" {'DATE':<10} {'LANG':<5} {'STATUS':<22} SINCE (UTC)"
)
