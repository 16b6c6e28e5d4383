"""Who may see and act for which dealer: grants, and for Slack users their workspace too."""

from __future__ import annotations

import dataclasses

from bot.domain.values import Actor, Channel
from storage.database import Tx


async def resolve(tx: Tx, actor: Actor) -> Actor:
    """Fill in the dealers a Slack user or mail sender may act for; others pass unchanged.

    A Slack user acts only for dealers they are granted *and* whose routing uses the workspace
    the request came from (or names no workspace at all, as in a single-workspace install), so
    one dealer's workspace never sees another dealer's alerts. A mail sender acts for the dealers
    they are granted and those whose routing names their address. Unknown actors get no dealers."""
    if actor.channel is Channel.SLACK:
        team, user = actor.slack_ids or ("", "")
        found = await tx.people.by_slack(team, user)
        if found is None:
            return dataclasses.replace(actor, dealers=frozenset())
        person, grants = found
        teams = await tx.dealers.teams(sorted(grants))
        dealers = frozenset(d for d in grants if team in teams.get(d, {team}))
        return dataclasses.replace(actor, dealers=dealers, person_id=person.id, name=person.name)
    if actor.channel is Channel.EMAIL:
        # A person's grants, plus the dealers whose routing names the address: a shared dealer
        # mailbox that gets the alerts, and whoever an escalation reaches, may answer them.
        dealers = frozenset(await tx.dealers.of_address(actor.identity))
        person = await tx.people.by_email(actor.identity)
        if person is None:
            return dataclasses.replace(actor, dealers=dealers)
        return dataclasses.replace(actor, dealers=dealers, person_id=person.id, name=person.name)
    return actor
