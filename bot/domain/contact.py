"""Contact preferences of a customer (seed 003): which ways of reaching them are on, which one
they prefer, and whether mail may go to their address at all."""

from __future__ import annotations

from typing import Any, Mapping

# The ways a dealer reaches a customer; each is on unless the customer turned it off.
METHODS = ("email", "phone", "sms", "letter")
METHOD_WORD = {"email": "Email", "phone": "Phone", "sms": "SMS", "letter": "Letter"}


def method_on(permissions: Mapping[str, Any] | None, method: str) -> bool:
    """Not told means on: only an explicit false turns a method off."""
    return (permissions or {}).get(method) is not False


def mail_refusal(email: str | None, permissions: Mapping[str, Any] | None, bounces: int, limit: int) -> str | None:
    """Why nothing may be emailed to the customer, or None when mail may go."""
    if not email:
        return "no email address"
    if not method_on(permissions, "email"):
        return "the customer opted out of email"
    if bounces >= limit:
        return f"the address bounced {bounces} times (limit {limit}); verify it first"
    return None
