"""The `/cx complaint` form (a modal) and the views that answer its submission."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain.complaints import ReceivedVia
from bot.domain.status import MAX_NOTE
from notifications.slack import ids
from notifications.slack.blocks import slack_date
from notifications.slack.escape import escape_mrkdwn, plain

MAX_OPTIONS = 100  # Slack's limit for a static select; more dealers are typed by code
MAX_DESCRIPTION = min(3000, MAX_NOTE)  # Slack's limit for a text input
VIA_LABEL = {
    ReceivedVia.PHONE: "Phone",
    ReceivedVia.EMAIL: "Email",
    ReceivedVia.IN_PERSON: "In person",
    ReceivedVia.LETTER: "Letter",
    ReceivedVia.OTHER: "Other",
}


@dataclass(frozen=True)
class ComplaintFormMeta:
    dealer: str | None  # set when the user acts for one dealer only: the form then has no dealer field

    def encode(self) -> str:
        return json.dumps({"dealer": self.dealer})

    @classmethod
    def decode(cls, raw: str) -> ComplaintFormMeta:
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            data = {}
        dealer = data.get("dealer") if isinstance(data, dict) else None
        return cls(str(dealer) if dealer else None)


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "input", "block_id": block_id, "label": plain(label), "element": {**element, "action_id": ids.COMPLAINT_INPUT}}
    if optional:
        block["optional"] = True
    if hint:
        block["hint"] = plain(hint)
    return block


def _text(max_length: int, *, multiline: bool = False, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "max_length": max_length, "multiline": multiline}
    if initial:
        element["initial_value"] = initial[:max_length]
    return element


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, 75), "value": value}


def complaint_form(dealers: list[tuple[str, str]], customer_id: str | None = None) -> dict[str, Any]:
    """Customer, how the complaint came in and what it says; a dealer choice for users granted
    to several dealers."""
    blocks: list[dict[str, Any]] = []
    fixed = dealers[0][0] if len(dealers) == 1 else None
    if fixed is not None:
        blocks.append({"type": "section", "text": plain(f"Dealer: {dealers[0][1]} ({fixed})")})
    elif len(dealers) <= MAX_OPTIONS:
        options = [_option(f"{name} ({code})", code) for code, name in dealers]
        blocks.append(_input(ids.COMPLAINT_DEALER_BLOCK, "Dealer", {"type": "static_select", "placeholder": plain("Choose the dealer"), "options": options}))
    else:
        blocks.append(_input(ids.COMPLAINT_DEALER_BLOCK, "Dealer code", _text(32), hint="The dealer's code, e.g. DK-1001."))
    blocks += [
        _input(ids.COMPLAINT_CUSTOMER_BLOCK, "Customer id", _text(100, initial=customer_id), hint="The customer's number in the dealer system."),
        _input(ids.COMPLAINT_NAME_BLOCK, "Customer name", _text(200), optional=True),
        _input(ids.COMPLAINT_PHONE_BLOCK, "Customer phone", _text(50), optional=True),
        _input(ids.COMPLAINT_EMAIL_BLOCK, "Customer email", _text(320), optional=True),
        _input(
            ids.COMPLAINT_VIA_BLOCK,
            "Received",
            {"type": "radio_buttons", "options": [_option(label, via.value) for via, label in VIA_LABEL.items()]},
        ),
        _input(ids.COMPLAINT_RECEIVED_BLOCK, "Received at", {"type": "datetimepicker"}, optional=True, hint="Leave empty for now."),
        _input(
            ids.COMPLAINT_DESCRIPTION_BLOCK,
            "The complaint",
            {**_text(MAX_DESCRIPTION, multiline=True), "min_length": 1},
            hint="What the customer said. For a complaint by mail, paste the mail's text (attachments are not possible).",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ids.COMPLAINT_MODAL,
        "private_metadata": ComplaintFormMeta(fixed).encode(),
        "title": plain("Register a complaint", 24),
        "submit": plain("Register"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }


def _answer(title: str, text: str) -> dict[str, Any]:
    return {"type": "modal", "title": plain(title, 24), "close": plain("Done"), "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def complaint_registered(alert_id: str, dealer: str, due_at: datetime | None) -> dict[str, Any]:
    """Replaces the form once the complaint is stored."""
    due = f" It is due {slack_date(due_at)}." if due_at else ""
    text = (
        f"✅ *{alert_id}* is registered for dealer {escape_mrkdwn(dealer)}.{due} Its card goes to the dealer's "
        f"channel; set it ongoing or resolved there, with a note, like any alert."
    )
    return _answer("Complaint registered", text)


def complaint_already_registered() -> dict[str, Any]:
    return _answer("Complaint registered", "✅ This complaint was registered already; it was not registered twice.")
