"""Outbound work a service asks for: rows of the outbox, delivered later by the dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    SLACK_CARD = "slack.card"  # post the alert's message
    SLACK_REFRESH = "slack.refresh"  # update the alert's message in place from its current state
    SLACK_THREAD_NOTE = "slack.note"  # a status change's note, in the message's thread
    SLACK_TEXT = "slack.text"  # a short text (in a thread when thread_of is set)
    SLACK_ESCALATION = "slack.escalation"  # the alert's card, posted again in an escalation channel
    SLACK_REVIEW = "slack.review"  # a public review's message, with Reply publicly / Approve (no alert)
    SLACK_REVIEW_REFRESH = "slack.review_refresh"  # update that message in place from the review's state
    MAIL_ALERT = "mail.alert"  # the alert, to one address
    MAIL_NOTE = "mail.note"  # an answer to a reply: confirmation, comment kept, or why nothing changed
    MAIL_DIGEST = "mail.digest"  # the weekly summary for a dealer's managers (no alert)
    # A detractor warning about a new activity (payload `activity`: its id), in the channel or by mail.
    SLACK_DETRACTOR_ACTIVITY = "slack.detractor_activity"
    MAIL_DETRACTOR_ACTIVITY = "mail.detractor_activity"
    MAIL_DETRACTOR_DIGEST = "mail.detractor_digest"  # the daily list of customers flagged and cleared
    # A lost-sales invitation (payload `invitation`, `customer`; `reminder` for the one reminder).
    MAIL_INVITATION = "mail.invitation"


@dataclass(frozen=True)
class Outbound:
    action: Action
    lane: str
    alert_id: str | None = None
    team_id: str | None = None
    channel_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    undeliverable: str | None = None  # known at once to be impossible: stored failed, with this reason


def slack_lane(team: str | None, channel: str) -> str:
    """Messages to one channel are delivered in the order they were decided."""
    return f"slack:{team or '-'}:{channel}"


def to_slack(action: Action, team: str | None, channel: str, alert_id: str | None = None, **payload: Any) -> Outbound:
    return Outbound(action, slack_lane(team, channel), alert_id, team, channel, dict(payload))


def to_mail(action: Action, address: str, alert_id: str | None = None, **payload: Any) -> Outbound:
    """Mail to one address, in the order decided for that address."""
    addr = address.strip().lower()
    return Outbound(action, f"mail:{addr}", alert_id, None, None, {"to": addr, **payload})
