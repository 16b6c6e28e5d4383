"""Replies in an alert card's thread: a status word sets the status with the rest as the note;
anything else is kept as a comment on the alert. Replies arrive as `message` events."""

from __future__ import annotations

import re
from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp

from bot.domain.errors import Refused
from bot.domain.values import Actor
from bot.services import Context, replies
from handlers.slack.answers import refusal

log = structlog.get_logger()

IGNORED_SUBTYPES = {"message_changed", "message_deleted", "bot_message", "channel_join", "channel_leave"}
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s,:]*")


def typed_text(raw: str) -> str:
    """What the person typed: Slack sends `&`, `<`, `>` as entities and may start a reply with a
    mention of the bot (`@cxbot resolved …`)."""
    text = _LEADING_MENTION.sub("", raw)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class ThreadHandlers:
    def __init__(self, cx: Context) -> None:
        self.cx = cx

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == event.get("ts") or event.get("bot_id") or event.get("subtype") in IGNORED_SUBTYPES:
            return  # not a reply in a thread, or cxbot's (or another bot's) own message
        team = event.get("team") or body.get("team_id") or ""
        user = event.get("user") or ""
        actor = Actor.slack(team, user)
        key = f"event:{body.get('event_id') or event.get('client_msg_id') or event.get('ts')}"
        try:
            result = await replies.thread_reply(self.cx, actor, event["channel"], thread_ts, typed_text(event.get("text") or ""), key)
        except Refused as why:
            if await replies.first_refusal(self.cx, key):  # a retried event is not answered twice
                await client.chat_postEphemeral(channel=event["channel"], user=user, thread_ts=thread_ts, text=refusal(why))
            return
        log.info("slack_thread_reply", outcome=result.outcome.value, alert_id=result.alert_id, team_id=team, user_id=user)


def register(app: AsyncApp, cx: Context) -> None:
    h = ThreadHandlers(cx)
    app.event("message")(h.on_message)
