"""Slack workspaces cxbot is installed into, and what happens when one removes it."""

from __future__ import annotations

import structlog

from bot.services import Context

log = structlog.get_logger()


async def removed(cx: Context, team_id: str, why: str) -> int:
    """The app was uninstalled or its tokens revoked: record it, and mark that workspace's pending
    Slack notifications undeliverable (they stay listed with the reason, never silently dropped)."""
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        await tx.slack.uninstalled(team_id, now)
        failed = await tx.outbox.fail_team(team_id, now, f"cxbot was removed from Slack workspace {team_id} ({why})")
    log.warning("slack_workspace_removed", team_id=team_id, why=why, undeliverable=failed)
    return failed


async def installed(cx: Context, team_id: str, name: str | None) -> None:
    async with cx.db.transaction() as tx:
        await tx.slack.installed(team_id, name, cx.clock.now())
    log.info("slack_workspace_installed", team_id=team_id, name=name)
