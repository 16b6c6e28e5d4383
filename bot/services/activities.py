"""Activities the dealer system opens for customers, and the warning when one is opened for a detractor
(seed 004, ID559): whoever handles it must give this customer a perfect experience."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import structlog

from bot.domain.detractors import ActivityIn
from bot.domain.errors import Conflict, InvalidInput, Problem
from bot.domain.outbound import Action, Outbound, to_mail, to_slack
from bot.domain.values import Kind
from bot.services import Context
from storage.database import Tx

log = structlog.get_logger()
SLACK, MAIL = "slack", "mail"


@dataclass
class ActivityResult:
    accepted: list[ActivityIn] = field(default_factory=list)
    duplicates: list[ActivityIn] = field(default_factory=list)
    warned: list[ActivityIn] = field(default_factory=list)  # opened for a detractor: a warning is on its way


def _same(stored: Any, a: ActivityIn) -> bool:
    return (stored.customer_id, stored.opened_at, stored.assignee_email) == (a.customer_id, a.opened_at, a.assignee)


async def record(cx: Context, activities: Sequence[ActivityIn]) -> ActivityResult:
    """Store a batch of activities in one transaction, all or nothing. An activity is known by (dealer,
    type, reference): sent again with the same content it is a duplicate and changes nothing (no second
    warning); with other content it is a conflict and nothing of the batch is stored. An activity opened
    for a customer flagged as a detractor warns the dealer's detractor channel in Slack and the assignee
    by mail, at once; a dealer with no Slack channel for detractors gets it at the route's addresses.
    Customers cxbot does not know, or not flagged, get no warning; their activities are stored all the same."""
    now = cx.clock.now()
    result = ActivityResult()
    async with cx.db.transaction() as tx:
        known = await tx.dealers.known([a.dealer for a in activities])
        problems = [Problem("dealer_id", f"unknown dealer {a.dealer!r}", i) for i, a in enumerate(activities) if a.dealer not in known]
        if problems:
            raise InvalidInput(problems)
        stored = await tx.activities.by_keys([a.key for a in activities])
        fresh: dict[tuple[str, str, str], ActivityIn] = {}
        conflicts: list[str] = []
        for a in activities:
            prior = stored.get(a.key)
            twin = fresh.get(a.key)
            if prior is None and twin is None:
                fresh[a.key] = a
            elif (prior is not None and _same(prior, a)) or (twin is not None and twin == a):
                result.duplicates.append(a)
            else:
                conflicts.append(f"{a.dealer} {a.type} {a.reference}")
        if conflicts:
            raise Conflict(f"already stored with different content: {', '.join(conflicts)}", conflicts)
        flagged = await tx.detractors.flagged([(a.dealer, a.customer_id) for a in fresh.values()])
        rows = [
            {
                "dealer_code": a.dealer,
                "customer_id": a.customer_id,
                "type": a.type,
                "reference": a.reference,
                "opened_at": a.opened_at,
                "assignee_email": a.assignee,
                "received_at": now,
                "warned_response_id": flagged.get((a.dealer, a.customer_id)),
            }
            for a in fresh.values()
        ]
        ids = await tx.activities.insert_new(rows)
        for key, a in fresh.items():
            if key not in ids:  # stored by a concurrent request after this one looked: that one warns
                result.duplicates.append(a)
                continue
            result.accepted.append(a)
            if (a.dealer, a.customer_id) in flagged:
                result.warned.append(a)
        warnings = await _warnings(tx, cx.channels, [(ids[a.key], a) for a in result.warned])
        await tx.outbox.enqueue(warnings, now)
    if warnings:
        cx.wake()
    for a in result.warned:
        log.info("detractor_activity", dealer=a.dealer, customer=a.customer_id, type=a.type.value, reference=a.reference)
    return result


async def _warnings(tx: Tx, channels: frozenset[str], warned: list[tuple[int, ActivityIn]]) -> list[Outbound]:
    """The DETRACTOR route's Slack channel and the assignee; without a channel, the route's addresses."""
    if not warned:
        return []
    routes = await tx.dealers.routes_of([a.dealer for _, a in warned])
    removed = await tx.slack.removed_teams() if SLACK in channels else set()
    out: list[Outbound] = []
    for activity_id, a in warned:
        route = routes.get((a.dealer, Kind.DETRACTOR))
        on_slack = False
        if route is not None and route.slack_channel:
            post = to_slack(Action.SLACK_DETRACTOR_ACTIVITY, route.slack_team, route.slack_channel, None, activity=activity_id)
            if SLACK in channels and route.slack_team not in removed:
                out.append(post)
                on_slack = True
            else:
                # Kept visible (`cxbot outbox list --status failed`), never silently dropped.
                why = f"cxbot was removed from Slack workspace {route.slack_team}" if SLACK in channels else "Slack is not configured"
                out.append(dataclasses.replace(post, undeliverable=why))
        addresses = [a.assignee] if a.assignee else []
        if not on_slack and route is not None:
            addresses += list(route.emails or [])
        addresses = list(dict.fromkeys(x.strip().lower() for x in addresses))
        if MAIL in channels:
            out += [to_mail(Action.MAIL_DETRACTOR_ACTIVITY, e, None, activity=activity_id) for e in addresses]
        if not on_slack and not (addresses and MAIL in channels):
            log.warning("detractor_warning_not_delivered", dealer=a.dealer, reference=a.reference, reason="no Slack post and no mail can reach anyone for detractors")
    return out
