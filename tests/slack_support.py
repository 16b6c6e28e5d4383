"""Helpers shared by the Slack tests: post an alert through the intake API, act on it through signed
Slack requests, and read back what the database and the fake Slack recorded."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from bot.domain.values import Alert, HistoryEntry
from notifications.slack import ids
from storage.repositories.outbox import OutboxItem
from tests.conftest import response
from tests.fakes.slack_payloads import block_actions, thread_reply_event, view_submission
from tests.fakes.slack_signing import event, interactivity, slash_command

# The example dealers (bot/examples/dealers.toml).
VEST, VEST_CHANNEL = "T0AUTOVEST", "C0VESTKUNDE"  # DK-1001
BRANDT, BRANDT_CHANNEL = "T0BRANDTAH", "C0BRANDTCX"  # DE-2001
METTE, JONAS, LARS = "U0METTEKJ", "U0JONASHO", "U0LARSOST"  # staff and manager of DK-1001
SABINE, THOMAS = "U0SABINEK", "U0THOMASB"  # DE-2001
CAMILLA = "U0CAMILLAB"  # regional, granted every dealer, known in both workspaces
NOBODY = "U0NOBODY"  # a Slack user cxbot does not know


def unhappy(id_: str = "r-1", **over: Any) -> dict[str, Any]:
    """A response that raises a Hot Alert (and a detractor shown on the same card)."""
    body = {"nps": 3, "comment": "Ingen ringede tilbage."}
    body.update(over)
    return response(id_, **body)


async def new_alert(bot: Any, id_: str = "r-1", **over: Any) -> str:
    """The Hot Alert a response raises, through the intake API (not yet delivered)."""
    r = await bot.post("/api/v1/responses", unhappy(id_, **over))
    assert r.status_code == 202, r.text
    hot = [a["id"] for a in r.json()["alerts"] if a["id"].startswith("HA-")]
    assert hot, r.json()
    return str(hot[0])


async def posted_alert(bot: Any, id_: str = "r-1", **over: Any) -> tuple[str, str]:
    """A Hot Alert posted to its channel: (alert id, the card's ts)."""
    alert_id = await new_alert(bot, id_, **over)
    await bot.deliver()
    card = card_of(bot.slack_api, alert_id)
    return alert_id, card.response["ts"]


def card_of(slack: Any, alert_id: str) -> Any:
    """The chat.postMessage call that posted the alert's card (not a thread note)."""
    cards = [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.ok and "thread_ts" not in c.body and alert_id in c.body.get("text", "")
    ]
    assert len(cards) == 1, f"{len(cards)} cards of {alert_id}"
    return cards[0]


async def alert_and_history(bot: Any, alert_id: str) -> tuple[Alert, list[HistoryEntry]]:
    async with bot.cx.db.read() as tx:
        alert = await tx.alerts.get(alert_id)
        history = await tx.history.of(alert_id)
    assert alert is not None
    return alert, history


async def outbox(bot: Any, status: str | None = None) -> list[OutboxItem]:
    """Outbox rows, oldest first."""
    async with bot.cx.db.read() as tx:
        rows = await tx.outbox.listing(status, 1000)
    return sorted(rows, key=lambda r: r.id)


async def snapshot(bot: Any, alert_id: str) -> tuple[Any, ...]:
    """Everything a refused request must leave alone: the alert, its history, the outbox."""
    alert, history = await alert_and_history(bot, alert_id)
    return alert, history, [(r.id, r.status, r.action) for r in await outbox(bot)]


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `check` (plain or async) until it returns something truthy: listeners of Slack events
    run after the acknowledgement, so their effects arrive a little after the HTTP answer."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout}s")
        await asyncio.sleep(0.01)


# ---- requests -------------------------------------------------------------------------------


def click(
    bot: Any, team: str, user: str, action_id: str, alert_id: str, ts: str, channel: str = VEST_CHANNEL, **kw: Any
) -> tuple[bytes, str]:
    """A button click on the card. Its `response_url` (where `respond()` answers) is the fake's."""
    payload = block_actions(team, user, action_id, alert_id, channel, ts, **kw)
    payload["response_url"] = bot.slack_api.url + "response_url"
    return interactivity(payload)


def submission(team: str, user: str, metadata: str, note: str | None, **kw: Any) -> dict[str, Any]:
    return view_submission(team, user, ids.STATUS_MODAL, metadata, {ids.NOTE_BLOCK: {ids.NOTE_INPUT: note}}, **kw)


def metadata(alert_id: str, status: str) -> str:
    return json.dumps({"alert": alert_id, "status": status})


def reply(team: str, user: str, text: str, thread_ts: str, channel: str = VEST_CHANNEL, **kw: Any) -> dict[str, Any]:
    """A person's reply in a thread, as the Events API envelope."""
    return thread_reply_event(team, channel, user, text, thread_ts, **kw)


async def send_reply(
    bot: Any, team: str, user: str, text: str, thread_ts: str, channel: str = VEST_CHANNEL, **kw: Any
) -> dict[str, Any]:
    body = reply(team, user, text, thread_ts, channel, **kw)
    r = await bot.slack_request(event(body))
    assert r.status_code == 200, r.text
    return body


async def command(
    bot: Any, text: str, *, team: str = VEST, user: str = METTE, channel: str = VEST_CHANNEL
) -> dict[str, Any]:
    """`/cx text`: the acknowledgement's JSON (every answer is given in it)."""
    r = await bot.slack_request(slash_command(team_id=team, user_id=user, channel_id=channel, text=text, command="/cx"))
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    assert answer.get("response_type") == "ephemeral", answer
    return answer


async def settle(bot: Any, thread_ts: str, channel: str = VEST_CHANNEL, team: str = VEST) -> None:
    """Send a reply from an unknown user and wait for its refusal: event listeners run in the
    order their requests arrived, so anything sent before it has been handled by then."""
    before = len([c for c in bot.slack_api.calls_to("chat.postEphemeral") if c.body.get("user") == NOBODY])
    await send_reply(bot, team, NOBODY, "just checking", thread_ts, channel)
    await eventually(
        lambda: len([c for c in bot.slack_api.calls_to("chat.postEphemeral") if c.body.get("user") == NOBODY]) > before
    )


# ---- what Slack was sent --------------------------------------------------------------------


def text_objects(node: Any) -> Iterator[dict[str, Any]]:
    """Every text object (`{"type": "mrkdwn" | "plain_text", "text": …}`) in blocks or a view."""
    if isinstance(node, dict):
        if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield node
        for value in node.values():
            yield from text_objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from text_objects(value)


def mrkdwn_of(body: dict[str, Any]) -> list[str]:
    """What Slack would interpret in a message: its fallback text and every mrkdwn text object."""
    out = [str(body.get("text", ""))]
    out += [t["text"] for t in text_objects(body.get("blocks") or []) if t["type"] == "mrkdwn"]
    return out


def plain_of(node: Any) -> list[str]:
    return [t["text"] for t in text_objects(node) if t["type"] == "plain_text"]


def interpreted_strings(node: Any, key: str | None = None, parent: Any = None) -> Iterator[str]:
    """Every string in a message or view that Slack may interpret: all but the text of plain_text
    objects (which Slack shows exactly as typed, without mentions, links or formatting)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from interpreted_strings(v, k, node)
    elif isinstance(node, list):
        for v in node:
            yield from interpreted_strings(v, key, parent)
    elif isinstance(node, str) and not (
        key == "text" and isinstance(parent, dict) and parent.get("type") == "plain_text"
    ):
        yield node
