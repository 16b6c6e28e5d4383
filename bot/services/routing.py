"""Which notifications an alert's creation or change asks for, by the dealer's routing."""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import structlog

from bot.domain.outbound import Action, Outbound, to_mail, to_slack
from bot.domain.status import AlertChange
from bot.domain.values import Alert, Kind
from storage.database import Tx

SLACK, MAIL = "slack", "mail"
log = structlog.get_logger()


async def new_alerts(tx: Tx, alerts: Sequence[Alert], channels: frozenset[str]) -> list[Outbound]:
    """A card per alert in its route's Slack channel and a mail to the route's addresses. A
    detractor raised by the same response as a Hot Alert shows on the Hot Alert's card and mail
    instead of messages of its own. A dealer whose Slack is not connected (or was removed) and
    whose route names no addresses gets the alert by mail at its staff's and managers' addresses,
    so nothing is lost."""
    hot_responses = {a.response_id for a in alerts if a.kind is Kind.HOT_ALERT}
    shown = [a for a in alerts if not (a.kind is Kind.DETRACTOR and a.response_id in hot_responses)]
    if not shown:
        return []
    routes = await tx.dealers.routes_of([a.dealer for a in shown])
    removed = await tx.slack.removed_teams() if SLACK in channels else set()
    out: list[Outbound] = []
    fallback: list[Alert] = []
    for a in shown:
        route = routes.get((a.dealer, a.kind))
        on_slack = False
        if route is not None and route.slack_channel:
            card = to_slack(Action.SLACK_CARD, route.slack_team, route.slack_channel, a.id)
            if SLACK in channels and route.slack_team not in removed:
                out.append(card)
                on_slack = True
            else:
                # Kept visible (`cxbot outbox list --status failed`), never silently dropped.
                why = f"cxbot was removed from Slack workspace {route.slack_team}" if SLACK in channels else "Slack is not configured"
                out.append(dataclasses.replace(card, undeliverable=why))
        emails = list(route.emails or []) if route is not None and MAIL in channels else []
        out += [to_mail(Action.MAIL_ALERT, e, a.id) for e in emails]
        if not on_slack and not emails:
            fallback.append(a)
    if MAIL in channels:
        out += await to_responsible(tx, shown, {(str(o.payload.get("to")), o.alert_id) for o in out if o.action is Action.MAIL_ALERT})
    if fallback:
        by_mail = await mail_to_staff(tx, fallback) if MAIL in channels else []
        out += by_mail
        reached = {o.alert_id for o in by_mail}
        for a in fallback if channels else []:  # nothing configured at all: `serve` said so once at start
            if a.id not in reached:
                log.warning("alert_not_delivered", alert_id=a.id, dealer=a.dealer, reason="no Slack channel, no mail route and no staff to mail")
    return out


async def to_responsible(tx: Tx, alerts: Sequence[Alert], mailed: set[tuple[str, str | None]]) -> list[Outbound]:
    """Seed 003: an alert about a customer whose salesperson (sales surveys) or service advisor
    (service surveys) is staff of the dealer also goes to that person directly. Two queries per
    batch, none per alert."""
    with_response = [a for a in alerts if a.response_id]
    if not with_response:
        return []
    responsible = await tx.customers.responsible_for([a.response_id for a in with_response if a.response_id])
    if not any(s or v for _, s, v in responsible.values()):
        return []
    staff = {d: {e.lower() for e in emails} for d, emails in (await tx.dealers.staff_emails([a.dealer for a in with_response])).items()}
    out: list[Outbound] = []
    for a in with_response:
        survey, salesperson, advisor = responsible.get(a.response_id or "", ("", None, None))
        person = advisor if survey == "service" else salesperson
        if person and person.lower() in staff.get(a.dealer, set()) and (person.lower(), a.id) not in mailed:
            out.append(to_mail(Action.MAIL_ALERT, person.lower(), a.id))
    return out


async def mail_to_staff(tx: Tx, alerts: Sequence[Alert]) -> list[Outbound]:
    staff = await tx.dealers.staff_emails([a.dealer for a in alerts])
    return [to_mail(Action.MAIL_ALERT, e, a.id) for a in alerts for e in staff.get(a.dealer, [])]


async def cards_of(tx: Tx, alerts: Sequence[Alert]) -> dict[str, tuple[str, str | None, str]]:
    """Per alert id: (card alert id, team, channel) of the card that shows it — its own, or for a
    detractor shown on a Hot Alert's card, that one. A posted card's place wins over the route."""
    owners: dict[str, Alert] = {a.id: a for a in alerts}
    dt = [a for a in alerts if a.kind is Kind.DETRACTOR and a.response_id]
    if dt:
        hot = {o.response_id: o for o in await tx.alerts.of_responses([a.response_id for a in dt if a.response_id]) if o.kind is Kind.HOT_ALERT}
        owners.update({a.id: hot[a.response_id] for a in dt if a.response_id in hot})
    receipts = await tx.slack.receipts([o.id for o in owners.values()])
    routes: dict[tuple[str, Kind], Any] = {}
    missing = [o for o in owners.values() if o.id not in receipts]
    if missing:
        routes = await tx.dealers.routes_of([o.dealer for o in missing])
    out: dict[str, tuple[str, str | None, str]] = {}
    for alert_id, owner in owners.items():
        if owner.id in receipts:
            r = receipts[owner.id]
            out[alert_id] = (owner.id, r.team_id if r.team_id != "-" else None, r.channel_id)
            continue
        route = routes.get((owner.dealer, owner.kind))
        if route is not None and route.slack_channel:
            out[alert_id] = (owner.id, route.slack_team, route.slack_channel)
    return out


async def after_changes(tx: Tx, changes: Sequence[AlertChange], by: str | Sequence[str], channels: frozenset[str]) -> list[Outbound]:
    """Refresh each card in place and put the note in its thread. `by` names who made the changes
    (one name for all, or one per change)."""
    if SLACK not in channels or not changes:
        return []
    cards = await cards_of(tx, [c.after for c in changes])
    names = [by] * len(changes) if isinstance(by, str) else list(by)
    out: list[Outbound] = []
    for change, who in zip(changes, names):
        card = cards.get(change.after.id)
        if card is None:
            continue
        owner, team, channel = card
        e = change.entry
        note = {
            "alert": change.after.id,
            "old": e.old_status.value if e.old_status else None,
            "new": e.new_status.value if e.new_status else None,
            "event": e.event.value,
            "by": who,
            "note": e.note,
        }
        out += [to_slack(Action.SLACK_REFRESH, team, channel, owner), to_slack(Action.SLACK_THREAD_NOTE, team, channel, owner, **note)]
    return out


async def escalations(tx: Tx, alerts: Sequence[Alert], channels: frozenset[str]) -> list[Outbound]:
    """An escalated alert goes to its dealer's target for the level it reached: a Slack channel
    (the card, posted there), addresses, and the people of a role of the dealer's grants (managers
    at level 1, regional staff at level 2 by default); its own card is refreshed to show it."""
    if not alerts:
        return []
    dealers = [a.dealer for a in alerts]
    targets = await tx.dealers.targets_of(dealers)
    by_role = await tx.dealers.emails_with_role(dealers)
    out: list[Outbound] = []
    for a in alerts:
        t = targets.get((a.dealer, a.kind, a.escalation_level))
        if t is None:
            log.warning("escalation_without_target", alert_id=a.id, dealer=a.dealer, level=a.escalation_level)
            continue
        if SLACK in channels and t.slack_channel:
            out.append(to_slack(Action.SLACK_ESCALATION, t.slack_team, t.slack_channel, a.id, level=a.escalation_level))
        if MAIL in channels:
            emails = list(t.emails or []) + (by_role.get((a.dealer, t.role), []) if t.role else [])
            out += [to_mail(Action.MAIL_ALERT, e, a.id, escalation=a.escalation_level) for e in dict.fromkeys(x.lower() for x in emails)]
    out += await refreshes(tx, alerts, channels)
    return out


async def refreshes(tx: Tx, alerts: Sequence[Alert], channels: frozenset[str]) -> list[Outbound]:
    """Update each alert's card in place (it shows status, escalation, reminders)."""
    if SLACK not in channels:
        return []
    cards = await cards_of(tx, alerts)
    owners = {card for card in cards.values()}
    return [to_slack(Action.SLACK_REFRESH, team, channel, owner) for owner, team, channel in sorted(owners, key=lambda c: c[0])]


async def reminders(tx: Tx, alerts: Sequence[Alert], channels: frozenset[str]) -> list[Outbound]:
    """Before the due time, once: a line in the card's thread and a mail to the route's addresses."""
    out: list[Outbound] = []
    if SLACK in channels:
        cards = await cards_of(tx, alerts)
        for a in alerts:
            if a.id in cards:
                owner, team, channel = cards[a.id]
                due = int(a.due_at.timestamp()) if a.due_at else 0
                text = f":alarm_clock: Reminder: *{a.id}* is due <!date^{due}^{{date_short_pretty}} at {{time}}|soon> and nobody has handled it yet."
                out.append(to_slack(Action.SLACK_TEXT, team, channel, owner, text=text))
    if MAIL in channels:
        routes = await tx.dealers.routes_of([a.dealer for a in alerts])
        for a in alerts:
            route = routes.get((a.dealer, a.kind))
            out += [to_mail(Action.MAIL_ALERT, e, a.id, reminder=True) for e in (route.emails if route is not None else []) or []]
    return out
