"""Customer and staff text made harmless for Slack's mrkdwn: no mentions, links or formatting."""

from __future__ import annotations

# Slack has no escape for formatting characters, so they become look-alikes that do not format.
_LOOKALIKE = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ʹ"})
_MAX = 2900  # section text allows 3,000 characters


def escape_mrkdwn(text: str) -> str:
    """`<!channel>`, `<@U123>`, `<http://x|y>` and `*bold*` all arrive as plain characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").translate(_LOOKALIKE)


def clip(text: str, limit: int = _MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, limit: int = _MAX) -> dict[str, object]:
    """A plain_text object: Slack shows it as typed, with no formatting, mentions or links."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": False}
