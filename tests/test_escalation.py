"""Escalation after the due time, once per level; reminders before it; catch-up; exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.domain.values import Actor, Channel, HistoryEvent, Status
from bot.services import alerts, escalation, intake
from handlers.wire import parse_responses
from storage.repositories.alerts import AlertFilter
from tests.conftest import response

OPERATOR = Actor(Channel.CLI, "test")


async def _hot(cx, n=1, **over):
    responses, problems = parse_responses([response(f"r-{i}", nps=2, customer={"id": f"K-{i}"}, **over) for i in range(n)])
    assert not problems
    result = await intake.ingest(cx, responses)
    return [a for a in result.alerts if a.kind.value == "hot_alert"]


async def _alert(cx, id_):
    async with cx.db.read() as tx:
        return await tx.alerts.get(id_)


async def _outbox(cx):
    async with cx.db.read() as tx:
        return await tx.outbox.listing(None, 1000)


async def test_unhandled_hot_alert_escalates_at_due_then_a_day_later(cx, clock, example_dealers):
    (a,) = await _hot(cx)
    assert a.due_at == a.created_at + timedelta(hours=48)
    clock.advance(hours=47, minutes=59)
    assert (await escalation.sweep(cx)).escalated == 0
    clock.advance(minutes=2)
    assert (await escalation.sweep(cx)).escalated == 1
    first = await _alert(cx, a.id)
    assert first.escalation_level == 1 and first.escalated_at == clock.now()
    assert (await escalation.sweep(cx)).escalated == 0  # once per level
    clock.advance(hours=24)
    assert (await escalation.sweep(cx)).escalated == 1
    assert (await _alert(cx, a.id)).escalation_level == 2
    clock.advance(days=30)
    assert (await escalation.sweep(cx)).escalated == 0  # no level 3 by default
    async with cx.db.read() as tx:
        history = await tx.history.of(a.id)
    assert [e.event for e in history].count(HistoryEvent.ESCALATED) == 2
    page = await alerts.find(cx, OPERATOR, AlertFilter(escalated=True), 10)
    assert [x.id for x in page.items] == [a.id]


async def test_escalation_reaches_the_levels_targets(cx, clock, example_dealers):
    (a,) = await _hot(cx)
    clock.advance(hours=49)
    await escalation.sweep(cx)
    rows = [r for r in await _outbox(cx) if r.created_at == clock.now()]
    mails = {r.payload["to"] for r in rows if r.action == "mail.alert"}
    # DK-1001: level 1 is the dealer's managers.
    assert mails == {"lars.ostergaard@autohuset-vest.example"}
    assert all(r.payload.get("escalation") == 1 for r in rows if r.action == "mail.alert")
    assert "slack.refresh" in {r.action for r in rows}
    clock.advance(hours=24)
    await escalation.sweep(cx)
    rows = [r for r in await _outbox(cx) if r.created_at == clock.now()]
    assert {r.payload["to"] for r in rows if r.action == "mail.alert"} == {"cx-team@mazda-importer.example", "camilla.berg@mazda-importer.example"}


async def test_handled_alert_stops_escalating_but_stays_late(cx, clock, example_dealers):
    (a,) = await _hot(cx)
    clock.advance(hours=50)
    await escalation.sweep(cx)
    await alerts.change_status(cx, a.id, OPERATOR, Status.ONGOING, "Called her at last")
    clock.advance(hours=30)
    assert (await escalation.sweep(cx)).escalated == 0
    done = await _alert(cx, a.id)
    assert done.escalation_level == 1 and done.on_time is False


async def test_alerts_that_fell_due_while_down_are_caught_up_level_by_level(cx, clock, example_dealers):
    await _hot(cx, 3)
    clock.advance(days=5)
    result = await escalation.sweep(cx)
    assert result.escalated == 6  # 3 alerts × 2 levels, each level once
    assert (await escalation.sweep(cx)).escalated == 0


async def test_reminder_comes_once_a_day_before_due(cx, clock, example_dealers):
    (a,) = await _hot(cx)
    clock.advance(hours=23)
    assert (await escalation.sweep(cx)).reminded == 0
    clock.advance(hours=2)
    assert (await escalation.sweep(cx)).reminded == 1
    assert (await escalation.sweep(cx)).reminded == 0
    rows = [r for r in await _outbox(cx) if r.created_at == clock.now()]
    assert {r.payload["to"] for r in rows if r.action == "mail.alert" and r.payload.get("reminder")} == {"kundeservice@autohuset-vest.example"}


async def test_two_concurrent_sweeps_escalate_each_alert_exactly_once(cx, clock, example_dealers):
    await _hot(cx, 40)
    clock.advance(hours=49)
    results = await asyncio.gather(escalation.sweep(cx, batch=7), escalation.sweep(cx, batch=7))
    assert sum(r.escalated for r in results) == 40
    async with cx.db.read() as tx:
        rows = await tx.outbox.listing(None, 5000)
    per_alert: dict[str, int] = {}
    for r in rows:
        if r.action == "mail.alert" and r.payload.get("escalation") == 1:
            per_alert[r.alert_id] = per_alert.get(r.alert_id, 0) + 1
    assert len(per_alert) == 40 and set(per_alert.values()) == {1}


async def test_a_dealer_with_opening_hours_counts_48_hours_in_them(cx, clock, example_dealers):
    from datetime import UTC, datetime

    # Autohaus Brandt: Mon–Fri 08–18, Sat 09–13 (Europe/Berlin). Friday 17:00 local + 48 open hours:
    # Fri 1 h, Sat 4 h, Mon–Thu 4 × 10 h = 45 h, then Friday 08:00 + 3 h → Friday 11:00 local.
    clock.at = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    (a,) = await _hot(cx, dealer_id="DE-2001")
    assert a.due_at == datetime(2026, 11, 13, 10, 0, tzinfo=UTC)
    # Level 2 is 24 open hours after due: Fri 11–18 (7 h), Sat 4 h, Mon 10 h, Tue 08:00 + 3 h.
    clock.at = a.due_at
    assert (await escalation.sweep(cx)).escalated == 1
    assert (await _alert(cx, a.id)).next_escalation_at == datetime(2026, 11, 17, 10, 0, tzinfo=UTC)
