"""Pure renderers: an alert, a note, a customer card as Block Kit messages and modals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.values import Alert, Kind, Status
from bot.domain.contact import METHOD_WORD
from bot.domain.views import AlertView, ComplaintDetails, CustomerCard
from notifications.slack import ids
from notifications.slack.escape import clip, escape_mrkdwn, plain

ICON = {Kind.HOT_ALERT: "🔥", Kind.SALES_OPPORTUNITY: "💰", Kind.DETRACTOR: "⚠️", Kind.COMPLAINT: "📣"}
SURVEY = {"sales": "Sales survey", "service": "Service survey", "lost_sales": "Lost-sales survey"}
STATUS_WORD = {Status.NEW: "New", Status.ONGOING: "Ongoing", Status.RESOLVED: "Resolved"}


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the plain-text fallback Slack shows in notifications
    blocks: list[dict[str, Any]]


def slack_date(at: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """Slack shows this in each reader's own time zone; the fallback is UTC."""
    return f"<!date^{int(at.timestamp())}^{fmt}|{at:%Y-%m-%d %H:%M} UTC>"


def _scores(scores: dict[str, int]) -> str:
    return " · ".join(f"{k.replace('_', ' ')} {v}/5" for k, v in sorted(scores.items()))


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id, "value": value}
    if style:
        b["style"] = style
    return b


def alert_message(v: AlertView) -> SlackMessage:
    """The alert's card: what happened, who the customer is, until when, and its buttons."""
    a = v.alert
    title = f"{ICON[a.kind]} {a.kind.title} {a.id} · {v.dealer_name}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(title, 150)}]
    facts = [f"Customer: {v.customer_name}"]
    if v.complaint is not None:
        facts += _complaint_facts(v.complaint)
    if v.survey:
        when = f" · {v.visit_date:%d %b %Y}" if v.visit_date else ""
        facts.append(f"{SURVEY.get(v.survey, v.survey)}{when}")
    if v.nps is not None:
        facts.append(f"NPS: {v.nps} / 10")
    if v.scores:
        facts.append(f"Scores: {_scores(v.scores)}")
    # Customer-given text goes in plain_text objects: Slack shows it exactly as typed.
    blocks.append({"type": "section", "fields": [plain(f, 1900) for f in facts]})
    if v.comment:
        blocks.append({"type": "section", "text": plain(f"“{v.comment.strip()}”")})
    if a.kind is Kind.DETRACTOR or v.with_detractor:
        flag = "is still flagged" if v.detractor else "is no longer flagged"
        blocks.append(_context(f"⚠️ *Detractor*: the customer {flag} — their most recent answer decides."))
    if v.complaint is not None:
        blocks += _complaint_blocks(v.complaint)
    elif v.reason:
        blocks.append(_context(escape_mrkdwn(v.reason)))
    times = []
    if a.due_at is not None:
        late = " — *overdue*" if a.handled_at is None and a.status is not Status.RESOLVED and a.escalation_level else ""
        times.append(f"⏰ Due {slack_date(a.due_at)}{late}")
    if a.escalation_level and a.escalated_at:
        times.append(f"🚨 Escalated (level {a.escalation_level}) {slack_date(a.escalated_at)}")
    if times:
        blocks.append(_context(*times))
    blocks.append(_context(_status_line(v)))
    buttons = [
        _button("Reopen" if a.status is Status.RESOLVED else "Ongoing", ids.ONGOING, a.id),
        *([] if a.status is Status.RESOLVED else [_button("Resolved", ids.RESOLVED, a.id, "primary")]),
        _button("Customer", ids.CUSTOMER, a.id),
    ]
    blocks.append({"type": "actions", "block_id": ids.ACTIONS_BLOCK, "elements": buttons})
    text = f"{a.kind.title} {a.id} for {v.dealer_name}: {v.customer_name}" + (f", NPS {v.nps}" if v.nps is not None else "")
    return SlackMessage(escape_mrkdwn(text), blocks)


VIA = {"phone": "📞 by phone", "email": "✉️ by email", "in_person": "🧍 in person", "letter": "📨 by letter", "other": "another way"}


def _complaint_facts(c: ComplaintDetails) -> list[str]:
    """How to reach the customer, as staff took it down (plain text: typed by people)."""
    facts = [f"Customer id: {c.customer_id}"]
    if c.customer_phone:
        facts.append(f"Phone: {c.customer_phone}")
    if c.customer_email:
        facts.append(f"Email: {c.customer_email}")
    return facts


def _complaint_blocks(c: ComplaintDetails) -> list[dict[str, Any]]:
    """The complaint in the words it came in, and how and when it came, who took it."""
    out: list[dict[str, Any]] = [{"type": "section", "text": plain(c.description)}]
    if len(c.description) > 2900:
        out.append(_context("The description is longer than a message holds: the whole text is the first note of the alert's history."))
    by = c.registered_in_slack or escape_mrkdwn(c.registered_by)
    out.append(_context(f"Received {VIA.get(c.received_via, escape_mrkdwn(c.received_via))} {slack_date(c.received_at)} · registered by {by}"))
    return out


def escalation_message(v: AlertView, level: int) -> SlackMessage:
    """The alert's card as posted to an escalation target, under a banner that says why."""
    msg = alert_message(v)
    due = f" by its due time {slack_date(v.alert.due_at)}" if v.alert.due_at else " in time"
    banner = {"type": "section", "text": {"type": "mrkdwn", "text": f"🚨 *Escalated to level {level}*: not handled{due}. You may act on it here."}}
    return SlackMessage(f"Escalated (level {level}): {msg.text}", [banner, *msg.blocks])


def _status_line(v: AlertView) -> str:
    a = v.alert
    line = f"Status: *{STATUS_WORD[a.status]}*"
    if v.last_change is not None and v.last_change_by:
        line += f" — {v.last_change_by}, {slack_date(v.last_change.at)}"
    return line


def note_message(payload: dict[str, Any]) -> SlackMessage:
    """A status change or remark, posted in the card's thread."""
    new = payload.get("new")
    by = payload.get("by") or "someone"
    alert = payload.get("alert", "")
    head = f"*{alert}* set *{STATUS_WORD[Status(new)]}* by {by}" if new else f"*{alert}*: note by {by}"
    note = str(payload.get("note") or "")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}, {"type": "section", "text": plain(note)}]
    return SlackMessage(escape_mrkdwn(f"{alert} {STATUS_WORD[Status(new)] if new else 'note'}: {clip(note, 200)}"), blocks)


def text_message(text: str) -> SlackMessage:
    """A short message from cxbot; `text` is cxbot's own mrkdwn."""
    return SlackMessage(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


@dataclass(frozen=True)
class StatusModalMeta:
    alert: str
    status: Status

    def encode(self) -> str:
        return json.dumps({"alert": self.alert, "status": self.status.value})

    @classmethod
    def decode(cls, raw: str) -> StatusModalMeta:
        data = json.loads(raw)
        return cls(str(data["alert"]), Status(data["status"]))


def status_modal(v: AlertView, to: Status) -> dict[str, Any]:
    """Asks for the note a status change needs."""
    a = v.alert
    verb = "Resolve" if to is Status.RESOLVED else ("Reopen" if a.status is Status.RESOLVED else "Set ongoing")
    hint = (
        "Who contacted the customer, what was agreed, and what happens next."
        if to is Status.ONGOING
        else "How was it resolved? Who contacted the customer and what was agreed?"
    )
    return {
        "type": "modal",
        "callback_id": ids.STATUS_MODAL,
        "private_metadata": StatusModalMeta(a.id, to).encode(),
        "title": plain(f"{verb} {a.id}", 24),
        "submit": plain("Save"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "section", "text": plain(f"{a.kind.title} {a.id} · {v.dealer_name} · {v.customer_name}")},
            {
                "type": "input",
                "block_id": ids.NOTE_BLOCK,
                "label": plain("Internal note"),
                "hint": plain(hint),
                "element": {"type": "plain_text_input", "action_id": ids.NOTE_INPUT, "multiline": True, "min_length": 1, "max_length": 3000},
            },
        ],
    }


def customer_lines(c: CustomerCard) -> list[str]:
    """The customer record as plain lines (no mrkdwn): used by the modal and by /cx."""
    lines = [f"{c.name} — {c.dealer_name} ({c.dealer}), customer {c.customer_id}" + (f", no. {c.customer_number}" if c.customer_number else "")]
    if not c.anonymized:
        if c.contact_name and c.contact_name != c.name:
            lines.append(f"Contact: {c.contact_name}" + (f", {c.contact_email}" if c.contact_email else "") + (f", {c.contact_phone}" if c.contact_phone else ""))
        if c.email:
            flag = " ⛔ bounced too often: nothing is emailed there until verified" if c.email_suppressed else " ⚠️ bounced lately: check the address" if c.email_bounced else ""
            lines.append(f"Email: {c.email}{flag}")
        phones = ", ".join(f"{k} {v}" for k, v in c.phones.items() if v)
        if phones:
            lines.append(f"Phone: {phones}")
    if c.language:
        lines.append(f"Language: {c.language}")
    if not c.anonymized:
        lines.extend(contact_preference_lines(c))
    if c.salesperson_email:
        lines.append(f"Salesperson: {c.salesperson_email}")
    if c.advisor_email:
        lines.append(f"Service advisor: {c.advisor_email}")
    lines.append("⚠️ Detractor: the most recent answer is a detractor score" if c.detractor else "Not flagged as a detractor")
    for r in c.latest[:3]:
        scores = f", {_scores(r.scores)}" if r.scores else ""
        nps = f"NPS {r.nps}" if r.nps is not None else "no NPS"
        lines.append(f"{r.submitted_at:%Y-%m-%d} {SURVEY.get(r.survey, r.survey)}: {nps}{scores}" + (f" — “{clip(r.comment, 300)}”" if r.comment else ""))
    if c.open_alerts:
        lines.append("Open alerts: " + ", ".join(f"{a.id} ({STATUS_WORD[a.status].lower()})" for a in c.open_alerts))
    else:
        lines.append("No open alerts")
    return lines


def contact_preference_lines(c: CustomerCard) -> list[str]:
    """Each contact method on (✓) or off (✗), the preferred one starred (★), when to call, and
    when the details were last verified (seed 003)."""
    methods = "  ".join(
        f"{'★ ' if m == c.preferred_contact else ''}{METHOD_WORD[m]} {'✓' if on else '✗ off'}" for m, on in c.methods.items()
    )
    lines = [f"Contact methods: {methods}"] if methods else []
    if c.preferred_contact:
        lines.append(f"★ Preferred method of contact: {METHOD_WORD.get(c.preferred_contact, c.preferred_contact)}")
    if c.best_time:
        lines.append(f"Best time to reach: {c.best_time}")
    lines.append(f"Last verified: {c.last_verified_at:%Y-%m-%d}" if c.last_verified_at else "Last verified: never")
    return lines


def customer_modal(c: CustomerCard) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": ids.CUSTOMER_MODAL,
        "title": plain("Customer", 24),
        "close": plain("Close"),
        "blocks": [{"type": "section", "text": plain(line)} for line in customer_lines(c)][:100],
    }


def alert_summary_line(a: Alert, now: datetime) -> str:
    """One line per alert for /cx lists (cxbot's own text: ids, kinds, times)."""
    flags = ""
    if a.overdue(now):
        flags += " · *overdue*"
    if a.escalation_level:
        flags += f" · escalated (level {a.escalation_level})"
    due = f" · due {slack_date(a.due_at)}" if a.due_at else ""
    return f"{ICON[a.kind]} *{a.id}* {a.kind.title} · {a.dealer} · {STATUS_WORD[a.status]}{due}{flags}"


def alert_text(v: AlertView, history: list[Any], now: datetime) -> str:
    """`/cx alert ID`: the alert and its recent history as one ephemeral message."""
    a = v.alert
    lines = [alert_summary_line(a, now), f"Customer: {escape_mrkdwn(v.customer_name)} · {escape_mrkdwn(v.dealer_name)}"]
    facts = []
    if v.nps is not None:
        facts.append(f"NPS {v.nps}")
    if v.scores:
        facts.append(_scores(v.scores))
    if facts:
        lines.append(escape_mrkdwn(" · ".join(facts)))
    if v.comment:
        lines.append("> " + escape_mrkdwn(clip(v.comment.strip(), 500)).replace("\n", "\n> "))
    if v.complaint is not None:
        lines.append(f"Received {VIA.get(v.complaint.received_via, '')} {slack_date(v.complaint.received_at)}")
    for e in history[-5:]:
        move = f"{STATUS_WORD[e.old_status] if e.old_status else '—'} → {STATUS_WORD[e.new_status]}" if e.new_status else e.event.value
        lines.append(f"• {slack_date(e.at, '{date_short} {time}')} {escape_mrkdwn(e.actor)}: {move} — {escape_mrkdwn(clip(e.note, 300))}")
    return "\n".join(lines)


HELP = """*cxbot* — `/cx` commands (answers only you can see):
• `/cx resolve HA-12 what was done…` — set an alert resolved with a note
• `/cx ongoing HA-12 what was done…` — set it ongoing with a note
• `/cx alert HA-12` — one alert with its recent history
• `/cx alerts [open|overdue|escalated]` — your dealers' alerts (default: open)
• `/cx customer NAME | EMAIL | CUSTOMER-ID` — contact details, latest answers, detractor flag, open alerts
• `/cx complaint` — register a complaint received by phone, email, letter or in person (opens a form)
• `/cx kpi [DEALER] [week|month|2026-W44|2026-10|2026-10-01..2026-10-31]` — alerts handled on time, handling time, open and escalated alerts, NPS (default: this month)
• `/cx ranking [COLUMN] [PERIOD]` — your dealers' places in the ranking (columns `on_time_pct`, `nps`, `nps_avg`, `avg_handling_hours`, `open_alerts`, `overdue_alerts`, `escalated`, `late`)
• `/cx invitations [not_sent|sent|failed|clicked|submitted] [NAME | EMAIL | CUSTOMER-ID]` — your dealers' survey invitations and where each stands
• `/cx help` — this list
You can also reply in an alert's thread starting with *resolved* or *ongoing* (or løst, erledigt, opgelost, löst, résolu, igangværende, in Bearbeitung…)."""
