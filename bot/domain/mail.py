"""A mail cxbot read from its mailbox, as the parser found it (no I/O; the service judges it)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.values import Status


@dataclass(frozen=True)
class Bounce:
    recipients: tuple[str, ...]  # Final-Recipient addresses whose Action is "failed" (permanent, status 5.x.x)
    status: str | None  # e.g. "5.1.1"
    diagnostic: str | None


@dataclass(frozen=True)
class ParsedReply:
    message_id: str | None  # without <>
    sender: str | None  # From address, lower-cased
    sender_name: str | None
    subject: str
    references: tuple[str, ...]  # In-Reply-To then References ids, without <>
    tags: tuple[str, ...]  # "+tag" parts of recipient addresses on our mailbox's local part
    subject_alert: str | None  # "HA-12" from a "[cx HA-12]" subject tag
    text: str  # the new text only
    status: Status | None
    note: str
    auto_reply: bool
    bounce: Bounce | None
