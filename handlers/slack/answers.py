"""How a refusal reads in Slack: one clear line, the same from buttons, threads and /cx."""

from __future__ import annotations

from bot.domain.errors import NotAllowed, NotFound, Refused, UnknownAlert
from notifications.slack.escape import escape_mrkdwn


def refusal(why: Refused, changing: bool = True) -> str:
    """`changing`: the request asked for a change (so say that nothing changed)."""
    if isinstance(why, UnknownAlert):
        # Never confirm that another dealer's alert exists.
        verb = "act on" if changing else "see"
        text = f"Not allowed: there is no alert {why.alert_id} that you may {verb}."
    elif isinstance(why, NotAllowed):
        text = f"Not allowed: {why.message}"
    elif isinstance(why, NotFound):
        text = why.message
    else:
        text = why.message
    text = escape_mrkdwn(text)
    return f"{text} Nothing changed." if changing and not isinstance(why, (UnknownAlert, NotAllowed)) and "Nothing changed" not in text else text
