"""Unforgeable tags in cxbot's own mail addresses (plus addressing): a reply tag names an alert
and the address its mail went to; a bounce tag names the address a message was sent to (VERP)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from typing import Iterable

_REPLY = re.compile(r"^([a-z]{2}-\d{1,9})\.([a-z2-7]{16})$")
_BOUNCE = re.compile(r"^b-([a-z2-7]{20})$")


def _mac(secret: bytes, *parts: str, size: int) -> str:
    digest = hmac.new(secret, "\x1f".join(parts).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:size]


def reply_tag(secret: bytes, alert_id: str, recipient: str) -> str:
    """`ha-12.k7x2m9q4p1z8w3v6`: 80 bits of HMAC over the alert and the recipient's address."""
    return f"{alert_id.lower()}.{_mac(secret, 'reply', alert_id.upper(), recipient.lower(), size=16)}"


def read_reply_tag(tag: str) -> str | None:
    """The alert id a reply tag claims (not yet verified), e.g. "HA-12"."""
    m = _REPLY.match(tag.lower())
    return m.group(1).upper() if m else None


def verify_reply_tag(secret: bytes, tag: str, recipients: Iterable[str]) -> str | None:
    """The recipient (among those the alert's mail went to) whose tag this is, or None."""
    alert_id = read_reply_tag(tag)
    if alert_id is None:
        return None
    for r in recipients:
        if hmac.compare_digest(reply_tag(secret, alert_id, r), tag.lower()):
            return r.lower()
    return None


def bounce_tag(secret: bytes, address: str) -> str:
    """`b-…`: the envelope sender's tag, so every bounce names the address that bounced."""
    return f"b-{_mac(secret, 'bounce', address.lower(), size=20)}"


def is_bounce_tag(tag: str) -> bool:
    return _BOUNCE.match(tag.lower()) is not None


def plus_address(address: str, tag: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local}+{tag}@{domain}"


def survey_token(secret: bytes, invitation_id: str, expires: datetime) -> str:
    """A lost-sales survey link's token: the invitation, the end of its validity, and 130 bits of
    HMAC over both, so a link cannot be altered to name another invitation or last longer."""
    exp = str(int(expires.timestamp()))
    ident = base64.urlsafe_b64encode(invitation_id.encode()).decode().rstrip("=")
    return f"{ident}.{exp}.{_mac(secret, 'survey', invitation_id, exp, size=26)}"


def read_survey_token(secret: bytes, token: str) -> tuple[str, datetime] | None:
    """(invitation id, expiry) of a token cxbot signed; None for anything else."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[0]) > 200:
        return None
    try:
        invitation_id = base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(_mac(secret, "survey", invitation_id, parts[1], size=26), parts[2]):
        return None
    return invitation_id, datetime.fromtimestamp(int(parts[1]), UTC)
