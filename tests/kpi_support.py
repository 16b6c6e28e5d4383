"""A month of alerts for the KPI and ranking tests, made through the real services with the clock
moved: October 2026 at the example dealers, with the figures worked out by hand beside them.

DK-1001 and DK-5001 are in Europe/Copenhagen, DE-2001 in Europe/Berlin (the same offsets), so
their October is [2026-09-30 22:00Z, 2026-10-31 23:00Z): CEST until 25 October, CET after.
Hot Alerts are due 48 h after they are raised, Sales Opportunities 168 h, Detractors never.

    DK-1001   raised (Z)   due (Z)       handled (Z)       outcome   handling  status at the end
    HA f      09-28 23:00  09-30 23:00*  09-30 22:30*      on time   47.5 h    ongoing
    HA g      09-27 12:00  09-29 12:00   10-01 12:00       (Sept.)   96 h      resolved
    SO        10-01 10:00  10-08 10:00   10-09 10:00       late      192 h     ongoing
    HA a      10-05 10:00  10-07 10:00   10-06 10:00       on time   24 h      resolved
    HA b      10-10 08:00  10-12 08:00   10-13 08:00       late      72 h      resolved  (service, segment 2)
    DT        10-15 10:00  —             10-15 16:00       —         6 h       resolved
    HA c      10-20 12:00  10-22 12:00   never, escalated  late      —         new (overdue)
    HA d      10-29 12:00  10-31 12:00   11-01 10:00       late      (Nov.)    ongoing
    HA e      10-29 18:00  10-31 18:00   10-30 06:00       on time   12 h      resolved
    * in October in Copenhagen (30 Sept 22:00Z is midnight there), in September in UTC.

    DE-2001   HA 1 10-03 10:00, handled 10-04 10:00 on time 24 h (resolved)
              HA 2 10-12 10:00, handled 10-13 22:00 on time 36 h (resolved)
              HA 3 10-20 10:00, handled 10-30 10:00 late 240 h (ongoing)
              DT   10-25 10:00, never handled (new)
              (The example Autohaus Brandt counts its 48 hours in opening hours, so its due times
              are later than on the wall clock; the outcomes above hold either way, and every
              due time is in October.)
    DK-5001   no alerts; one service answer (segment 2) with NPS 10.

NPS answers (submitted_at is the time raised unless said): DK-1001 a b c d e 9, DT 2, f g 9 in
September, SO none; at the end two more: service segment 1 NPS 8 at 10-31 22:30Z (October in
Copenhagen) and sales NPS 10 at 10-31 23:30Z (1 November in Copenhagen). DE-2001: 9, 9, 9, 5.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from bot.domain.values import Actor, Channel, CustomerIn, Kind, Status, Survey, SurveyResponse
from bot.services import Context, alerts, dealers, intake
from storage.database import Database
from storage.models import AlertRow
from tests.conftest import example_directory
from tests.fakes.clock import FrozenClock

ADMIN = Actor(Channel.API, "bootstrap-test")
MID = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)  # "now" half-way: HA d is not yet due
END = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # "now" at the end: every October outcome is known


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Month:
    ids: dict[str, str] = field(default_factory=dict)


def answer(id_: str, dealer: str, submitted: datetime, *, survey: Survey = Survey.SALES, nps: int | None = 9, hot: bool = False, **over: Any) -> SurveyResponse:
    fields: dict[str, Any] = {
        "id": id_,
        "survey": survey,
        "dealer": dealer,
        "submitted_at": submitted,
        "customer": CustomerIn(f"K-{id_}"),
        "nps": nps,
        "scores": {"overall": 1} if hot else {},
    }
    fields.update(over)
    return SurveyResponse(**fields)


async def raise_at(cx: Context, clock: FrozenClock, when: datetime, r: SurveyResponse) -> dict[Kind, str]:
    clock.at = when
    result = await intake.ingest(cx, [r])
    return {a.kind: a.id for a in result.alerts}


async def handle(cx: Context, clock: FrozenClock, when: datetime, alert_id: str, to: Status) -> None:
    clock.at = when
    await alerts.change_status(cx, alert_id, ADMIN, to, "Called the customer")


async def escalate(cx: Context, alert_id: str, level: int, when: datetime) -> None:
    # The escalation sweep is not what these tests are about: mark the alert as it would.
    async with cx.db.transaction() as tx:
        t = AlertRow.__table__
        await tx.conn.execute(update(t).where(t.c.id == alert_id).values(escalation_level=level, escalated_at=when))


async def first_half(cx: Context, clock: FrozenClock) -> Month:
    """Everything up to MID; the clock is left at MID."""
    m = Month()
    hot = Kind.HOT_ALERT
    m.ids["g"] = (await raise_at(cx, clock, at(9, 27, 12), answer("g", "DK-1001", at(9, 27, 12), hot=True)))[hot]
    m.ids["f"] = (await raise_at(cx, clock, at(9, 28, 23), answer("f", "DK-1001", at(9, 28, 23), hot=True)))[hot]
    await handle(cx, clock, at(9, 30, 22, 30), m.ids["f"], Status.ONGOING)
    so = answer(
        "so", "DK-1001", at(10, 1, 10), survey=Survey.LOST_SALES, nps=None,
        test_drive_requested_at=at(9, 20, 12), answers={"still_considering": True, "wants_contact": True},
    )
    m.ids["so"] = (await raise_at(cx, clock, at(10, 1, 10), so))[Kind.SALES_OPPORTUNITY]
    await handle(cx, clock, at(10, 1, 12), m.ids["g"], Status.RESOLVED)
    m.ids["de1"] = (await raise_at(cx, clock, at(10, 3, 10), answer("de1", "DE-2001", at(10, 3, 10), hot=True)))[hot]
    await handle(cx, clock, at(10, 4, 10), m.ids["de1"], Status.RESOLVED)
    m.ids["a"] = (await raise_at(cx, clock, at(10, 5, 10), answer("a", "DK-1001", at(10, 5, 10), hot=True)))[hot]
    await handle(cx, clock, at(10, 6, 10), m.ids["a"], Status.RESOLVED)
    await handle(cx, clock, at(10, 9, 10), m.ids["so"], Status.ONGOING)
    b = answer("b", "DK-1001", at(10, 10, 8), survey=Survey.SERVICE, segment=2, hot=True)
    m.ids["b"] = (await raise_at(cx, clock, at(10, 10, 8), b))[hot]
    m.ids["de2"] = (await raise_at(cx, clock, at(10, 12, 10), answer("de2", "DE-2001", at(10, 12, 10), hot=True)))[hot]
    await handle(cx, clock, at(10, 13, 8), m.ids["b"], Status.RESOLVED)
    await handle(cx, clock, at(10, 13, 22), m.ids["de2"], Status.RESOLVED)
    service = answer("p1", "DK-5001", at(10, 14, 9), survey=Survey.SERVICE, segment=2, nps=10)
    assert await raise_at(cx, clock, at(10, 14, 9), service) == {}
    dt = answer("dt", "DK-1001", at(10, 15, 10), survey=Survey.LOST_SALES, nps=2)
    m.ids["dt"] = (await raise_at(cx, clock, at(10, 15, 10), dt))[Kind.DETRACTOR]
    await handle(cx, clock, at(10, 15, 16), m.ids["dt"], Status.RESOLVED)
    m.ids["de3"] = (await raise_at(cx, clock, at(10, 20, 10), answer("de3", "DE-2001", at(10, 20, 10), hot=True)))[hot]
    m.ids["c"] = (await raise_at(cx, clock, at(10, 20, 12), answer("c", "DK-1001", at(10, 20, 12), hot=True)))[hot]
    await escalate(cx, m.ids["c"], 1, at(10, 22, 12))
    de4 = answer("de4", "DE-2001", at(10, 25, 10), survey=Survey.LOST_SALES, nps=5)
    m.ids["de4"] = (await raise_at(cx, clock, at(10, 25, 10), de4))[Kind.DETRACTOR]
    m.ids["d"] = (await raise_at(cx, clock, at(10, 29, 12), answer("d", "DK-1001", at(10, 29, 12), hot=True)))[hot]
    m.ids["e"] = (await raise_at(cx, clock, at(10, 29, 18), answer("e", "DK-1001", at(10, 29, 18), hot=True)))[hot]
    await handle(cx, clock, at(10, 30, 6), m.ids["e"], Status.RESOLVED)
    await handle(cx, clock, at(10, 30, 10), m.ids["de3"], Status.ONGOING)
    clock.at = MID
    return m


async def second_half(cx: Context, clock: FrozenClock, m: Month) -> Month:
    """From MID to END; the clock is left at END."""
    late = answer("late", "DK-1001", at(10, 31, 22, 30), survey=Survey.SERVICE, segment=1, nps=8)
    assert await raise_at(cx, clock, at(10, 31, 23), late) == {}
    assert await raise_at(cx, clock, at(11, 1, 0), answer("nov", "DK-1001", at(10, 31, 23, 30), nps=10)) == {}
    await handle(cx, clock, at(11, 1, 10), m.ids["d"], Status.ONGOING)
    clock.at = END
    return m


async def october(cx: Context, clock: FrozenClock) -> Month:
    return await second_half(cx, clock, await first_half(cx, clock))


def build_october(db_url: str) -> None:
    """The month, stored through the services; the commands then run on the real clock (later)."""

    async def go() -> None:
        db = Database(db_url)
        clock = FrozenClock()
        try:
            cx = Context(db=db, clock=clock)
            await dealers.load(cx, example_directory())
            await october(cx, clock)
        finally:
            await db.close()

    asyncio.run(go())
