"""Slack workspaces cxbot is installed into, and what happens when one removes it."""

from __future__ import annotations

import structlog

from bot.domain.outbound import Action, slack_lane
from bot.domain.values import Alert
from bot.services import Context, routing
from storage.database import Tx

log = structlog.get_logger()


async def removed(cx: Context, team_id: str, why: str) -> int:
    """The app was uninstalled or its tokens revoked: record it, and mark that workspace's pending
    Slack notifications undeliverable (they stay listed with the reason, never silently dropped).
    An alert whose card was still waiting, and whose route names no addresses, goes by mail to
    its dealer's staff instead, as a new alert would: nothing is lost in the switch."""
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        await tx.slack.uninstalled(team_id, now)
        waiting = await _waiting_cards(tx, team_id) if routing.MAIL in cx.channels else []
        failed = await tx.outbox.fail_team(team_id, now, f"cxbot was removed from Slack workspace {team_id} ({why})")
        by_mail = await routing.mail_to_staff(tx, waiting) if waiting else []
        await tx.outbox.enqueue(by_mail, now)
    if by_mail:
        cx.wake()
    log.warning("slack_workspace_removed", team_id=team_id, why=why, undeliverable=failed, mailed_instead=len({o.alert_id for o in by_mail}))
    return failed


async def _waiting_cards(tx: Tx, team_id: str) -> list[Alert]:
    """Alerts whose card in this workspace was not posted yet and that get no mail by their route."""
    teams = await tx.dealers.teams()
    routes = await tx.dealers.routes_of([d for d, t in teams.items() if team_id in t])
    lanes = sorted({slack_lane(r.slack_team, r.slack_channel) for r in routes.values() if r.slack_team == team_id and r.slack_channel})
    ids = [row.alert_id for lane in lanes for row in await tx.outbox.pending_in(lane, 100_000) if row.action == Action.SLACK_CARD and row.alert_id]
    out: list[Alert] = []
    for alert_id in dict.fromkeys(ids):
        alert = await tx.alerts.get(alert_id)
        route = routes.get((alert.dealer, alert.kind)) if alert is not None else None
        if alert is not None and not (route is not None and route.emails):
            out.append(alert)
    return out


async def installed(cx: Context, team_id: str, name: str | None) -> None:
    async with cx.db.transaction() as tx:
        await tx.slack.installed(team_id, name, cx.clock.now())
    log.info("slack_workspace_installed", team_id=team_id, name=name)
