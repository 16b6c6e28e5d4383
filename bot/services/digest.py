"""The weekly digest: each dealer's managers get a short summary by mail and in Slack — open,
overdue, escalated, last week's on-time share and the dealer's place in the ranking."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog

from bot.domain.outbound import Action, Outbound, to_mail, to_slack
from bot.domain.values import SYSTEM, Role
from bot.services import Context, kpi

log = structlog.get_logger()


def week_key(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def due_moment(now: datetime, zone: str, weekday: int, at: time) -> datetime:
    """This week's digest time in the dealer's zone (e.g. Monday 08:00 local)."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    return datetime.combine(day, at, tz)


async def weekly(cx: Context, owner: str, weekday: int = 0, at: time = time(8, 0)) -> int:
    """Send every digest that is due and not yet sent (claimed per dealer and week in job_runs,
    so replicas never send one twice and a digest missed while cxbot was down goes out late)."""
    if not cx.channels:
        return 0  # nothing could be sent: the week stays unclaimed until Slack or mail is set up
    now = cx.clock.now()
    async with cx.db.read() as tx:
        dealers = await tx.kpi.dealers_matching(None)
    due: list[tuple[Any, str, str]] = []
    for d in dealers:
        moment = due_moment(now, d.time_zone, weekday, at)
        if now >= moment:
            due.append((d, f"digest:{d.code}:{week_key(moment)}", week_key(moment - timedelta(days=7))))
    if not due:
        return 0
    rankings: dict[str, Any] = {}
    sent = 0
    for d, key, last_week in due:
        async with cx.db.transaction() as tx:
            if not await tx.schedule.take_run(key, owner, now):
                continue
            if last_week not in rankings:
                rankings[last_week] = await kpi.ranking(cx, SYSTEM, "on_time_pct", last_week)
            ranking = rankings[last_week]
            row = next((r for r in ranking.rows if r.kpi.code == d.code), None)
            figures = _figures(d, row, ranking, last_week)
            out = await _notes(tx, d.code, figures, cx.channels)
            await tx.outbox.enqueue(out, now)
            await tx.schedule.finish_run(key, now)
        sent += 1
        log.info("digest_queued", dealer=d.code, week=last_week, recipients=len(out))
    if sent:
        cx.wake()
    return sent


def _figures(dealer: Any, row: Any, ranking: Any, week: str) -> dict[str, Any]:
    total = row.kpi.total if row is not None else None
    return {
        "dealer": dealer.code,
        "dealer_name": dealer.name,
        "lang": dealer.language,
        "week": week,
        "open": total.open if total else 0,
        "overdue": total.overdue if total else 0,
        "escalated": total.escalated if total else 0,
        "due": total.due if total else 0,
        "on_time": total.on_time if total else 0,
        "on_time_pct": total.on_time_pct if total else None,
        "rank": row.rank if row is not None else None,
        "ranked": ranking.ranked,
    }


async def _notes(tx: Any, dealer: str, figures: dict[str, Any], channels: frozenset[str]) -> list[Outbound]:
    out: list[Outbound] = []
    if "mail" in channels:
        managers = (await tx.dealers.emails_with_role([dealer])).get((dealer, Role.MANAGER), [])
        out += [to_mail(Action.MAIL_DIGEST, e, None, **figures) for e in managers]
    routes = await tx.dealers.routes_of([dealer]) if "slack" in channels else {}
    channel = next((r for (_, _), r in sorted(routes.items(), key=lambda kv: kv[0][1].value) if r.slack_channel), None)
    if channel is not None:
        out.append(to_slack(Action.SLACK_TEXT, channel.slack_team, channel.slack_channel, None, text=digest_text(figures)))
    return out


def digest_text(f: dict[str, Any]) -> str:
    """The Slack line (cxbot's own words and numbers; the dealer name is the operator's data)."""
    pct = "–" if f["on_time_pct"] is None else f"{f['on_time_pct']:.0f} %"
    name = str(f["dealer_name"]).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    place = f"#{f['rank']} of {f['ranked']}" if f["rank"] else "not ranked (nothing was due)"
    return (
        f":bar_chart: *Weekly CX summary* — {name}\n"
        f"Open alerts: *{f['open']}* · overdue: *{f['overdue']}* · escalated last week: *{f['escalated']}*\n"
        f"Handled on time last week ({f['week']}): *{pct}* ({f['on_time']} of {f['due']}) · ranking: {place}"
    )
