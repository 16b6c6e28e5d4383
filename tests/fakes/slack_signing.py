"""Build request bodies as Slack builds them and sign them as Slack signs them.

Interactivity (``payload`` form field holding JSON) and slash commands are form-encoded; the Events API is
JSON. The signature is ``"v0=" + hex(HMAC-SHA256(secret, b"v0:" + timestamp + b":" + body))``::

    body, content_type = interactivity(block_actions(...))
    await http.post("/slack/events", content=body, headers=sign(SECRET, body))
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from tests.fakes.slack_api import APP_ID
from tests.fakes.slack_payloads import VERIFICATION_TOKEN, envelope, new_trigger_id

__all__ = [
    "FORM",
    "JSON",
    "event",
    "interactivity",
    "sign",
    "signature",
    "signed",
    "slash_command",
    "url_verification",
]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str | bytes, body: bytes, timestamp: int | str) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(key, base, hashlib.sha256).hexdigest()


def sign(
    secret: str | bytes,
    body: bytes,
    timestamp: int | None = None,
    *,
    content_type: str | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    """The headers Slack sends with ``body``: timestamp (now unless given), signature, content type (JSON when
    the body starts with ``{``, else form) and, for a redelivery, ``X-Slack-Retry-Num``/``-Reason``."""
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type or (JSON if body[:1] == b"{" else FORM),
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, body, ts),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def signed(
    secret: str | bytes, built: tuple[bytes, str], timestamp: int | None = None, **kw: Any
) -> tuple[bytes, dict[str, str]]:
    """``(body, headers)`` for a builder's ``(body, content_type)``: ``body, headers = signed(S, event(...))``."""
    body, content_type = built
    return body, sign(secret, body, timestamp, content_type=content_type, **kw)


def interactivity(payload: dict[str, Any]) -> tuple[bytes, str]:
    """Block actions, view submissions, shortcuts: one form field ``payload`` holding the JSON."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode(), FORM


def slash_command(**fields: str) -> tuple[bytes, str]:
    """A slash command invocation; give the fields that matter (``team_id``, ``user_id``, ``text``…)."""
    team_id = fields.get("team_id", "T0DEFAULT")
    channel_id = fields.get("channel_id", "C0CXALERTS")
    values = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_id.lower(),
        "channel_id": channel_id,
        "channel_name": "cx-alerts",
        "user_id": "U0STAFF",
        "user_name": "staff",
        "command": "/cx",
        "text": "",
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": f"https://hooks.slack.com/commands/{team_id}/{int(time.time() * 1000)}/{uuid.uuid4().hex[:24]}",
        "trigger_id": new_trigger_id(),
    }
    values.update(fields)
    return urlencode(values).encode(), FORM


def event(
    event: dict[str, Any],
    team_id: str = "T0DEFAULT",
    event_id: str | None = None,
    api_app_id: str = APP_ID,
    **envelope_kw: Any,
) -> tuple[bytes, str]:
    """An Events API delivery. ``event`` is the inner event, wrapped in an ``event_callback`` envelope; an
    envelope already built (``type == "event_callback"``, e.g. from ``slack_payloads``) is sent unchanged."""
    if event.get("type") == "event_callback":
        return _json(event), JSON
    return _json(envelope(event, team_id=team_id, event_id=event_id, api_app_id=api_app_id, **envelope_kw)), JSON


def url_verification(challenge: str) -> tuple[bytes, str]:
    """The handshake Slack sends when the Request URL is saved; the answer must echo ``challenge``."""
    return _json({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}), JSON
