"""The alert card's buttons: Ongoing / Resolved open a modal asking for the note; the submission
changes the status; Customer shows the customer record."""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncApp

from bot.domain.errors import Refused
from bot.domain.values import Actor, Status
from bot.services import Context, alerts, lookups
from handlers.slack.answers import refusal
from notifications.slack import blocks, ids

log = structlog.get_logger()


def slack_actor(body: dict[str, Any]) -> Actor:
    """The Slack user of a request, known by (team, user): user ids are unique per workspace."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return Actor.slack(team, user.get("id", ""))


class StatusHandlers:
    def __init__(self, cx: Context) -> None:
        self.cx = cx

    async def open_status_modal(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any) -> None:
        await ack()
        to = Status.RESOLVED if action["action_id"] == ids.RESOLVED else Status.ONGOING
        try:
            view = await alerts.view(self.cx, str(action.get("value", "")), slack_actor(body))
        except Refused as why:
            await respond(text=refusal(why), response_type="ephemeral", replace_original=False)
            return
        # Opening a modal is one of the two Slack calls made directly (its trigger expires in 3 s).
        await client.views_open(trigger_id=body["trigger_id"], view=blocks.status_modal(view, to))

    async def submit_status(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = blocks.StatusModalMeta.decode(view.get("private_metadata") or "{}")
        note = ((view.get("state") or {}).get("values") or {}).get(ids.NOTE_BLOCK, {}).get(ids.NOTE_INPUT, {}).get("value")
        once = f"view:{view.get('id')}:{view.get('hash')}"
        try:
            await alerts.change_status(self.cx, meta.alert, slack_actor(body), meta.status, note, once=once)
        except alerts.AlreadyApplied:
            pass
        except Refused as why:
            await ack(response_action="errors", errors={ids.NOTE_BLOCK: why.message})
            return
        await ack()  # the message update and the thread note go through the outbox

    async def show_customer(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any) -> None:
        await ack()
        try:
            card = await lookups.customer_of_alert(self.cx, slack_actor(body), str(action.get("value", "")))
        except Refused as why:
            await respond(text=refusal(why, changing=False), response_type="ephemeral", replace_original=False)
            return
        await client.views_open(trigger_id=body["trigger_id"], view=blocks.customer_modal(card))


def register(app: AsyncApp, cx: Context) -> None:
    h = StatusHandlers(cx)
    app.action(ids.ONGOING)(h.open_status_modal)
    app.action(ids.RESOLVED)(h.open_status_modal)
    app.action(ids.CUSTOMER)(h.show_customer)
    app.view(ids.STATUS_MODAL)(h.submit_status)
