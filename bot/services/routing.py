"""Which notifications an alert's creation or change asks for, by the dealer's routing."""

from __future__ import annotations

from typing import Sequence

from bot.domain.outbound import Action, Outbound, to_slack
from bot.domain.status import AlertChange
from bot.domain.values import Alert, Kind
from storage.database import Tx


async def new_alerts(tx: Tx, alerts: Sequence[Alert]) -> list[Outbound]:
    """A card per alert in its route's Slack channel. A detractor raised by the same response as a
    Hot Alert shows on the Hot Alert's card instead of a message of its own."""
    hot_responses = {a.response_id for a in alerts if a.kind is Kind.HOT_ALERT}
    routes: dict[tuple[str, Kind], object] = {}
    out: list[Outbound] = []
    for a in alerts:
        if a.kind is Kind.DETRACTOR and a.response_id in hot_responses:
            continue
        key = (a.dealer, a.kind)
        if key not in routes:
            routes[key] = await tx.dealers.route(a.dealer, a.kind)
        route = routes[key]
        if route is not None and route.slack_channel:  # type: ignore[attr-defined]
            out.append(to_slack(Action.SLACK_CARD, route.slack_team, route.slack_channel, a.id))  # type: ignore[attr-defined]
    return out


async def card_of(tx: Tx, alert: Alert) -> tuple[str, str | None, str] | None:
    """(alert id, team, channel) of the card that shows `alert`: its own, or for a detractor shown
    on a Hot Alert's card, that one. The posted card's place wins over the current route."""
    owner = alert
    if alert.kind is Kind.DETRACTOR and alert.response_id:
        for other in await tx.alerts.of_responses([alert.response_id]):
            if other.kind is Kind.HOT_ALERT:
                owner = other
    receipt = await tx.slack.receipt(owner.id)
    if receipt is not None:
        return owner.id, receipt.team_id, receipt.channel_id
    route = await tx.dealers.route(owner.dealer, owner.kind)
    if route is None or not route.slack_channel:
        return None
    return owner.id, route.slack_team, route.slack_channel


async def after_change(tx: Tx, change: AlertChange, by: str) -> list[Outbound]:
    """Refresh the card in place and put the note in its thread."""
    card = await card_of(tx, change.after)
    if card is None:
        return []
    owner, team, channel = card
    e = change.entry
    note = {
        "alert": change.after.id,
        "old": e.old_status.value if e.old_status else None,
        "new": e.new_status.value if e.new_status else None,
        "event": e.event.value,
        "by": by,
        "note": e.note,
    }
    return [
        to_slack(Action.SLACK_REFRESH, team, channel, owner),
        to_slack(Action.SLACK_THREAD_NOTE, team, channel, owner, **note),
    ]
