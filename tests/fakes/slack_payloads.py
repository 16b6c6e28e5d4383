"""Realistic Slack payloads, shaped as Slack sends them (interactivity payloads and Events API envelopes).

``block_actions`` and ``view_submission`` return the interactivity payload (encode it with
``slack_signing.interactivity``); the ``*_event`` builders return a whole Events API envelope (encode it with
``slack_signing.event``, which passes an envelope through unchanged). Ids default to the fake Web API's
(``UBOT``, ``BBOT``, ``A0FAKEAPP``) so a payload and ``FakeSlack`` agree.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

from tests.fakes.slack_api import APP_ID, BOT_ID, BOT_USER_ID

__all__ = [
    "VERIFICATION_TOKEN",
    "app_uninstalled_event",
    "block_actions",
    "envelope",
    "new_event_id",
    "new_trigger_id",
    "new_ts",
    "thread_reply_event",
    "tokens_revoked_event",
    "view_submission",
]

VERIFICATION_TOKEN = "Jhj5dZrVaK7ZwHHjRyZWjbDl"  # the deprecated verification token Slack still sends
_seq = itertools.count(1)


def new_ts() -> str:
    """A message ``ts`` near now, unique within the run."""
    return f"{int(time.time())}.{next(_seq) % 1_000_000:06d}"


def new_trigger_id() -> str:
    n = next(_seq)
    return f"{1700000000000 + n}.{4200000000 + n}.{uuid.uuid4().hex}"


def new_event_id() -> str:
    return f"Ev{next(_seq):08d}{uuid.uuid4().hex[:4].upper()}"


def _user(team_id: str, user_id: str, user_name: str) -> dict[str, Any]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def block_actions(
    team_id: str,
    user_id: str,
    action_id: str,
    value: str,
    channel_id: str,
    message_ts: str,
    trigger_id: str | None = None,
    *,
    block_id: str = "alert_actions",
    button_text: str = "Resolved",
    user_name: str | None = None,
    team_domain: str | None = None,
    channel_name: str = "cx-alerts",
    api_app_id: str = APP_ID,
    message_text: str = "Hot Alert",
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """A button click on a bot message in a channel: the ``block_actions`` payload Slack posts."""
    user_name = user_name or user_id.lower()
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": message_text,
        "ts": message_ts,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": api_app_id,
        "team": team_id,
        "blocks": blocks if blocks is not None else [],
    }
    if thread_ts:
        message["thread_ts"] = thread_ts
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    return {
        "type": "block_actions",
        "user": _user(team_id, user_id, user_name),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain or team_id.lower()},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{team_id}/{next(_seq):013d}/{uuid.uuid4().hex[:24]}",
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def view_submission(
    team_id: str,
    user_id: str,
    callback_id: str,
    private_metadata: str,
    values: dict[str, dict[str, Any]],
    *,
    view_id: str | None = None,
    user_name: str | None = None,
    team_domain: str | None = None,
    api_app_id: str = APP_ID,
    title: str = "Update alert",
    blocks: list[dict[str, Any]] | None = None,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A modal's submit: the ``view_submission`` payload. ``values`` is ``{block_id: {action_id: state}}``
    as in ``view.state.values``; a plain string state is taken as a ``plain_text_input`` value."""
    view_id = view_id or f"V{next(_seq):010d}"
    state = {
        block: {
            action: ({"type": "plain_text_input", "value": v} if isinstance(v, str) or v is None else v)
            for action, v in actions.items()
        }
        for block, actions in values.items()
    }
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain or team_id.lower()},
        "user": _user(team_id, user_id, user_name or user_id.lower()),
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": blocks if blocks is not None else [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": state},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": {"type": "plain_text", "text": title, "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": {"type": "plain_text", "text": "Cancel", "emoji": True},
            "submit": {"type": "plain_text", "text": "Save", "emoji": True},
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": api_app_id,
            "external_id": "",
            "app_installed_team_id": team_id,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def envelope(
    event: dict[str, Any],
    *,
    team_id: str,
    event_id: str | None = None,
    api_app_id: str = APP_ID,
    event_time: int | None = None,
    authorized_user_id: str | None = BOT_USER_ID,
) -> dict[str, Any]:
    """The Events API ``event_callback`` envelope around one event. ``authorized_user_id=None`` leaves out
    ``authorizations`` (as in Slack's documented ``app_uninstalled`` / ``tokens_revoked`` examples)."""
    body: dict[str, Any] = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": event_time if event_time is not None else int(time.time()),
    }
    if authorized_user_id is not None:
        body["authorizations"] = [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": authorized_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ]
        body["is_ext_shared_channel"] = False
        body["event_context"] = f"4-{uuid.uuid4().hex}"
    return body


def thread_reply_event(
    team_id: str,
    channel: str,
    user: str,
    text: str,
    thread_ts: str,
    ts: str | None = None,
    *,
    event_id: str | None = None,
    channel_type: str = "channel",
) -> dict[str, Any]:
    """A person's reply in a message thread: a plain ``message`` event (no subtype) carrying ``thread_ts``."""
    ts = ts or new_ts()
    event = {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": thread_ts,
        "parent_user_id": BOT_USER_ID,
        "client_msg_id": str(uuid.uuid4()),
        "team": team_id,
        "blocks": [
            {
                "type": "rich_text",
                "block_id": uuid.uuid4().hex[:5],
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ],
        "channel": channel,
        "event_ts": ts,
        "channel_type": channel_type,
    }
    return envelope(event, team_id=team_id, event_id=event_id)


def app_uninstalled_event(team_id: str, *, event_id: str | None = None) -> dict[str, Any]:
    """The workspace removed the app."""
    return envelope({"type": "app_uninstalled"}, team_id=team_id, event_id=event_id, authorized_user_id=None)


def tokens_revoked_event(
    team_id: str,
    bot_ids: list[str] | tuple[str, ...] = (BOT_USER_ID,),
    *,
    user_ids: list[str] | tuple[str, ...] = (),
    event_id: str | None = None,
) -> dict[str, Any]:
    """Tokens were revoked. Slack lists the *user* ids of the revoked tokens' owners: ``tokens.bot`` holds
    bot user ids (``U…``), ``tokens.oauth`` the user ids of revoked user tokens."""
    event = {"type": "tokens_revoked", "tokens": {"oauth": list(user_ids), "bot": list(bot_ids)}}
    return envelope(event, team_id=team_id, event_id=event_id, authorized_user_id=None)
