"""The daily detractor digest (seed 004, ID612): once a day at the dealer's local time its detractor
recipients get the customers flagged and cleared since the last run, each with the dealer-system message
before and after, and every message still over a limit (until the dealer shortens its text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import structlog

from bot.domain.detractors import Change, new_message
from bot.domain.errors import NotFound
from bot.domain.outbound import Action, to_mail
from bot.domain.values import Kind
from bot.services import Context
from storage.database import Tx

log = structlog.get_logger()

MAX_LISTED = 200  # customers per section of one mail; the rest are counted, and listed again tomorrow if still too long


@dataclass(frozen=True)
class DigestRun:
    dealer: str
    flagged: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    too_long: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)  # empty: nobody to tell, nothing was marked as told

    @property
    def mailed(self) -> bool:
        return bool(self.recipients) and bool(self.flagged or self.cleared or self.too_long)


def due_moment(now: datetime, zone: str, at: time) -> datetime:
    """Today's digest time in the dealer's zone (e.g. 07:00 local)."""
    tz = ZoneInfo(zone)
    return datetime.combine(now.astimezone(tz).date(), at, tz)


async def daily(cx: Context, owner: str, at: time = time(7, 0)) -> int:
    """Run every dealer's digest that is due today and not yet run (claimed per dealer and local day
    in job_runs, so replicas never send one twice and a run missed while cxbot was down goes out late).
    Returns how many dealers were mailed."""
    now = cx.clock.now()
    async with cx.db.read() as tx:
        dealers = await tx.dealers.all()
    mailed = 0
    for d in dealers:
        moment = due_moment(now, d.time_zone, at)
        if now < moment:
            continue
        key = f"detractor-digest:{d.code}:{moment.date().isoformat()}"
        async with cx.db.transaction() as tx:
            if not await tx.schedule.take_run(key, owner, now):
                continue
            run = await _run(cx, tx, d.code, moment.date(), now)
            await tx.schedule.finish_run(key, now)
        mailed += run.mailed
    if mailed:
        cx.wake()
    return mailed


async def run_now(cx: Context, dealers: Sequence[str] | None = None) -> list[DigestRun]:
    """`cxbot detractors digest`: every dealer's digest (or these dealers') now, whatever the time.
    It reports what changed since the last run, so the scheduled run that follows says only what
    changes after this one."""
    now = cx.clock.now()
    async with cx.db.read() as tx:
        rows = await tx.dealers.all()
    zones = {d.code: d.time_zone for d in rows}
    codes = list(dict.fromkeys(dealers)) if dealers else sorted(zones)
    unknown = [c for c in codes if c not in zones]
    if unknown:
        raise NotFound(f"No dealer {', '.join(repr(c) for c in unknown)}.")
    runs = []
    for code in codes:
        async with cx.db.transaction() as tx:
            runs.append(await _run(cx, tx, code, now.astimezone(ZoneInfo(zones[code])).date(), now))
    if any(r.mailed for r in runs):
        cx.wake()
    return runs


async def _run(cx: Context, tx: Tx, dealer: str, day: date, now: datetime) -> DigestRun:
    if not await tx.detractors.lock_dealer(dealer):  # one run per dealer at a time: each reads what the last told
        return DigestRun(dealer)
    route = await tx.dealers.route(dealer, Kind.DETRACTOR)
    recipients = list(dict.fromkeys(e.strip().lower() for e in (route.emails if route is not None else None) or []))
    if "mail" not in cx.channels or not recipients:
        # Nobody to tell: nothing is marked as told, so the first recipients hear of every flag.
        log.info("detractor_digest_no_recipients", dealer=dealer)
        return DigestRun(dealer)
    flagged_now = await tx.detractors.flagged_now(dealer)
    reported = await tx.detractors.reported_flagged(dealer)
    flagged, cleared = sorted(flagged_now - reported), sorted(reported - flagged_now)
    too_long = await _too_long(tx, dealer, sorted(await tx.detractors.to_check(dealer) - set(flagged) - set(cleared)))
    run = DigestRun(dealer, flagged, cleared, too_long, recipients)
    if not run.mailed:
        return run
    await tx.detractors.set_reported(dealer, flagged, cleared, now)
    lists = {Change.FLAGGED: flagged, Change.CLEARED: cleared, Change.TOO_LONG: too_long}
    payload: dict[str, Any] = {
        "dealer": dealer,
        "day": day.isoformat(),
        **{change.value: ids[:MAX_LISTED] for change, ids in lists.items()},
        "left_out": sum(max(len(ids) - MAX_LISTED, 0) for ids in lists.values()),
    }
    await tx.outbox.enqueue([to_mail(Action.MAIL_DETRACTOR_DIGEST, e, None, **payload) for e in recipients], now)
    log.info("detractor_digest_queued", dealer=dealer, flagged=len(flagged), cleared=len(cleared), too_long=len(too_long), recipients=len(recipients))
    return run


async def _too_long(tx: Tx, dealer: str, candidates: list[str]) -> list[str]:
    """Customers whose message cxbot would answer with an error now (a limit, a damaged marker)."""
    if not candidates:
        return []
    d = await tx.dealers.get(dealer)
    customers = await tx.detractors.digest_customers(dealer, candidates)
    facts = await tx.detractors.facts(dealer, candidates)
    return [c for c in candidates if c in customers and new_message(customers[c].seen, facts.get(c), d.language).error]
