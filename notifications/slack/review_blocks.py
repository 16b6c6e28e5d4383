"""Pure renderers for public reviews: the review's message in the dealer's channel and the modal
that asks for the public reply. Customer and reply text go in plain_text objects."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.reviews import REPLY_MAX, ReviewView
from notifications.slack import ids
from notifications.slack.blocks import SURVEY, SlackMessage, _button, _context, _scores, slack_date
from notifications.slack.escape import clip, escape_mrkdwn, plain


def who(label: str | None) -> str:
    """An actor label as mrkdwn: a Slack user as a mention, anyone else by name (escaped)."""
    if not label:
        return "someone"
    if label == "system":
        return "cxbot"
    channel, _, identity = label.partition(":")
    if channel == "slack" and "/" in identity:
        user = identity.split("/", 1)[1]
        if user.isalnum():
            return f"<@{user}>"
    return escape_mrkdwn(identity or label)


def _state_line(v: ReviewView) -> str:
    if v.withdrawn_at is not None:
        return "🚫 *Withdrawn*: never shown on your website."
    if v.published_at is None:
        return (
            f"🕒 *Not public yet*: published on your website {slack_date(v.publish_at)} unless you reply or approve it first."
        )
    if v.published_by == "system":
        how = "after the hold period"
    elif v.reply and v.replied_by == v.published_by:
        how = f"with the reply of {who(v.published_by)}"
    else:
        how = f"approved by {who(v.published_by)}"
    return f"✅ *Published* on your website {slack_date(v.published_at)}, {how}."


def review_message(v: ReviewView) -> SlackMessage:
    """What the customer wrote, how it will appear in public, the dealer's reply, and the buttons."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(f"⭐ Review {v.ref} · {v.dealer_name}", 150)}]
    facts = [f"Shown as: {v.author or 'Anonymous (no name)'}", f"{SURVEY.get(v.survey.value, v.survey.value)} · {v.submitted_at:%d %b %Y}"]
    if v.nps is not None:
        facts.append(f"NPS: {v.nps} / 10")
    if v.scores:
        facts.append(f"Scores: {_scores(dict(v.scores))}")
    blocks.append({"type": "section", "fields": [plain(f, 1900) for f in facts]})
    if v.comment and v.comment.strip():
        blocks.append({"type": "section", "text": plain(f"“{v.comment.strip()}”")})
    else:
        blocks.append(_context("No comment: only the score is published."))
    if v.reply:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Your public reply*"}})
        blocks.append({"type": "section", "text": plain(v.reply)})
        if v.replied_at is not None:
            blocks.append(_context(f"Replied by {who(v.replied_by)} {slack_date(v.replied_at)}"))
    blocks.append(_context(_state_line(v)))
    if v.withdrawn_at is None:
        buttons = [_button("Edit reply" if v.reply else "Reply publicly", ids.REVIEW_REPLY, str(v.id))]
        if v.published_at is None:
            buttons.append(_button("Approve", ids.REVIEW_APPROVE, str(v.id), "primary"))
        blocks.append({"type": "actions", "block_id": ids.REVIEW_ACTIONS_BLOCK, "elements": buttons})
    nps = f", NPS {v.nps}" if v.nps is not None else ""
    return SlackMessage(escape_mrkdwn(f"Review {v.ref} for {v.dealer_name}{nps}"), blocks)


def reply_modal(v: ReviewView) -> dict[str, Any]:
    """Asks for the public reply; an existing reply is there to edit."""
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.REVIEW_REPLY_INPUT,
        "multiline": True,
        "min_length": 1,
        "max_length": REPLY_MAX,
    }
    if v.reply:
        element["initial_value"] = v.reply
    comment = f"“{v.comment.strip()}”" if v.comment and v.comment.strip() else "(no comment, only the score)"
    return {
        "type": "modal",
        "callback_id": ids.REVIEW_MODAL,
        "private_metadata": json.dumps({"review": v.id}),
        "title": plain(f"Reply to {v.ref}", 24),
        "submit": plain("Publish reply"),
        "close": plain("Cancel"),
        "blocks": [
            {"type": "section", "text": plain(f"{v.author or 'Anonymous'}: {clip(comment, 2800)}")},
            _context("Your reply is shown on your website beside the customer's comment, and the review is published at once."),
            {
                "type": "input",
                "block_id": ids.REVIEW_REPLY_BLOCK,
                "label": plain("Public reply"),
                "hint": plain("Everyone can read this. Thank the customer; never name staff or give personal details."),
                "element": element,
            },
        ],
    }


def modal_review(private_metadata: str) -> int | None:
    """The review id the modal was opened for (checked again by the service)."""
    try:
        value = json.loads(private_metadata or "{}").get("review")
        return int(value) if value is not None else None
    except (ValueError, TypeError, AttributeError):
        return None
