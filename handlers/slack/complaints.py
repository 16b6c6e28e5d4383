"""`/cx complaint` opens the complaint form; its submission registers the complaint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain import complaints as C
from bot.domain.errors import InvalidInput, NotAllowed, Refused
from bot.domain.values import Actor
from bot.services import Context, complaints
from bot.services.alerts import AlreadyApplied
from handlers.slack.status import slack_actor
from notifications.slack import ids
from notifications.slack.complaint_form import ComplaintFormMeta, complaint_already_registered, complaint_form, complaint_registered

# Where each field's problem is shown in the form.
BLOCK_OF = {
    C.DEALER: ids.COMPLAINT_DEALER_BLOCK,
    C.CUSTOMER_ID: ids.COMPLAINT_CUSTOMER_BLOCK,
    C.CUSTOMER_NAME: ids.COMPLAINT_NAME_BLOCK,
    C.CUSTOMER_PHONE: ids.COMPLAINT_PHONE_BLOCK,
    C.CUSTOMER_EMAIL: ids.COMPLAINT_EMAIL_BLOCK,
    C.VIA: ids.COMPLAINT_VIA_BLOCK,
    C.RECEIVED_AT: ids.COMPLAINT_RECEIVED_BLOCK,
    C.DESCRIPTION: ids.COMPLAINT_DESCRIPTION_BLOCK,
}


async def open_form(cx: Context, ack: Any, command: dict[str, Any], client: Any, args: list[str]) -> None:
    """The form lists the dealers the user may act for; a user granted to none is told so and
    gets no form. Opening a modal is one of the two Slack calls made directly (its trigger
    expires in 3 s)."""
    actor = Actor.slack(command.get("team_id", ""), command.get("user_id", ""))
    dealers = await complaints.dealers_for(cx, actor)
    if not dealers:
        await ack(text="Not allowed: you act for no dealer in this workspace, so you cannot register complaints here.", response_type="ephemeral")
        return
    await ack()
    await client.views_open(trigger_id=command["trigger_id"], view=complaint_form(dealers, " ".join(args) or None))


def _value(values: dict[str, Any], block: str) -> Any:
    state = (values.get(block) or {}).get(ids.COMPLAINT_INPUT) or {}
    if "selected_option" in state:
        return (state.get("selected_option") or {}).get("value")
    if "selected_date_time" in state:
        at = state.get("selected_date_time")
        return datetime.fromtimestamp(int(at), UTC) if at is not None else None
    return state.get("value")


class ComplaintHandlers:
    def __init__(self, cx: Context) -> None:
        self.cx = cx

    async def submit(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = (view.get("state") or {}).get("values") or {}
        meta = ComplaintFormMeta.decode(view.get("private_metadata") or "")
        # The metadata is ours but comes back through Slack: the service checks the grant again.
        dealer = meta.dealer or _value(values, ids.COMPLAINT_DEALER_BLOCK)
        errors_at = ids.COMPLAINT_DEALER_BLOCK if meta.dealer is None else ids.COMPLAINT_CUSTOMER_BLOCK
        try:
            c = C.parse_complaint(
                dealer=dealer,
                customer_id=_value(values, ids.COMPLAINT_CUSTOMER_BLOCK),
                customer_name=_value(values, ids.COMPLAINT_NAME_BLOCK),
                customer_phone=_value(values, ids.COMPLAINT_PHONE_BLOCK),
                customer_email=_value(values, ids.COMPLAINT_EMAIL_BLOCK),
                received_via=_value(values, ids.COMPLAINT_VIA_BLOCK),
                received_at=_value(values, ids.COMPLAINT_RECEIVED_BLOCK),
                description=_value(values, ids.COMPLAINT_DESCRIPTION_BLOCK),
                now=self.cx.clock.now(),
            )
            alert = await complaints.register(self.cx, slack_actor(body), c, once=f"view:{view.get('id')}:{view.get('hash')}")
        except AlreadyApplied:
            await ack(response_action="update", view=complaint_already_registered())
            return
        except InvalidInput as why:
            errors: dict[str, str] = {}
            for p in why.problems:
                block = BLOCK_OF.get(p.field, ids.COMPLAINT_DESCRIPTION_BLOCK)
                block = errors_at if block == ids.COMPLAINT_DEALER_BLOCK else block
                errors.setdefault(block, p.message)
            await ack(response_action="errors", errors=errors)
            return
        except Refused as why:
            # Modal errors are plain text: no mrkdwn escaping.
            message = f"Not allowed: {why.message}" if isinstance(why, NotAllowed) else why.message
            await ack(response_action="errors", errors={errors_at: message})
            return
        await ack(response_action="update", view=complaint_registered(alert.id, alert.dealer, alert.due_at))


def register(app: AsyncApp, cx: Context) -> None:
    h = ComplaintHandlers(cx)
    app.view(ids.COMPLAINT_MODAL)(h.submit)
