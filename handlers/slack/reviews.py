"""A public review's buttons: Reply publicly opens a modal for the reply, whose submission
publishes it; Approve publishes the review at once without a reply."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain.errors import InvalidInput, Refused
from bot.services import Context, reviews
from bot.services.alerts import AlreadyApplied
from handlers.slack.answers import refusal
from handlers.slack.status import slack_actor
from notifications.slack import ids
from notifications.slack.review_blocks import modal_review, reply_modal


def _review_id(action: dict[str, Any]) -> str:
    return str(action.get("value", ""))


class ReviewHandlers:
    def __init__(self, cx: Context) -> None:
        self.cx = cx

    async def open_reply_modal(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any) -> None:
        await ack()
        try:
            view = await reviews.view(self.cx, _review_id(action), slack_actor(body))
        except Refused as why:
            await respond(text=refusal(why), response_type="ephemeral", replace_original=False)
            return
        # Opening a modal is made directly (its trigger expires in 3 s); the button value is only
        # a hint: the submission is checked again.
        await client.views_open(trigger_id=body["trigger_id"], view=reply_modal(view))

    async def submit_reply(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        review_id = modal_review(view.get("private_metadata") or "")
        if review_id is None:
            await ack(response_action="errors", errors={ids.REVIEW_REPLY_BLOCK: "This form was not opened by cxbot. Nothing changed."})
            return
        text = ((view.get("state") or {}).get("values") or {}).get(ids.REVIEW_REPLY_BLOCK, {}).get(ids.REVIEW_REPLY_INPUT, {}).get("value")
        once = f"view:{view.get('id')}:{view.get('hash')}"
        try:
            await reviews.reply(self.cx, review_id, slack_actor(body), text, once=once)
        except AlreadyApplied:
            pass
        except InvalidInput as why:
            await ack(response_action="errors", errors={ids.REVIEW_REPLY_BLOCK: f"The reply {why.problems[0].message}."})
            return
        except Refused as why:
            await ack(response_action="errors", errors={ids.REVIEW_REPLY_BLOCK: refusal(why)})
            return
        await ack()  # the message update goes through the outbox

    async def approve(self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        # Only the database write happens before the acknowledgement (Slack's 3 seconds).
        try:
            await reviews.approve(self.cx, _review_id(action), slack_actor(body), once=f"approve:{action.get('action_ts')}:{(body.get('user') or {}).get('id')}")
        except AlreadyApplied:
            await ack()
            return
        except Refused as why:
            await ack()
            await respond(text=refusal(why), response_type="ephemeral", replace_original=False)
            return
        await ack()


def register(app: AsyncApp, cx: Context) -> None:
    h = ReviewHandlers(cx)
    app.action(ids.REVIEW_REPLY)(h.open_reply_modal)
    app.action(ids.REVIEW_APPROVE)(h.approve)
    app.view(ids.REVIEW_MODAL)(h.submit_reply)
