"""Pure renderer: the Slack warning that an activity was opened for a detractor customer (seed 004, ID559)."""

from __future__ import annotations

from typing import Any

from bot.domain.detractors import ActivityType, ActivityWarning
from notifications.slack.blocks import SURVEY, SlackMessage, slack_date
from notifications.slack.escape import clip, escape_mrkdwn, plain

ACTIVITY = {
    ActivityType.SERVICE_CALL: "Service call",
    ActivityType.WORKSHOP_BOOKING: "Workshop booking",
    ActivityType.SALES_ORDER: "Sales order",
    ActivityType.PURCHASE: "Purchase",
}


def activity_warning(w: ActivityWarning) -> SlackMessage:
    """Who the customer is, their last score and comment, what was opened, and what to do about it.
    Customer and dealer-system text goes in plain_text objects: Slack shows it exactly as typed."""
    what = ACTIVITY[w.type]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"⚠️ Detractor: {what.lower()} opened for {w.customer_name}", 150)},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "This customer's most recent answer was a detractor score. "
                "*Give this customer a perfect experience* — from the first call to the final outcome.",
            },
        },
    ]
    customer = f"Customer: {w.customer_name} ({w.customer_id}" + (f", no. {w.customer_number}" if w.customer_number else "") + ")"
    facts = [customer, f"{what}: {w.reference}"]
    if w.assignee:
        facts.append(f"Assigned to: {w.assignee}")
    if w.nps is not None:
        answered = f", {w.answered_at:%Y-%m-%d}" if w.answered_at else ""
        survey = f" · {SURVEY.get(w.survey, w.survey)}" if w.survey else ""
        facts.append(f"Last answer: NPS {w.nps} / 10{survey}{answered}")
    if w.contact_name:
        facts.append(f"Answered by: {w.contact_name}")
    blocks.append({"type": "section", "fields": [plain(f, 1900) for f in facts]})
    if w.comment and w.comment.strip():
        blocks.append({"type": "section", "text": plain(f"“{w.comment.strip()}”")})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Opened {slack_date(w.opened_at)} · {escape_mrkdwn(w.dealer_name)}"}]})
    nps = f", NPS {w.nps}" if w.nps is not None else ""
    text = f"Detractor: {what.lower()} {clip(w.reference, 100)} opened for {w.customer_name}{nps}"
    return SlackMessage(escape_mrkdwn(text), blocks)
