"""External complaints: staff register a complaint that came by phone, mail, letter or in person;
it is handled like any alert (CO-n: due time, escalation, reminders, the on-time KPI), and its
complete handling record can be exported for ISO documentation."""

from __future__ import annotations

import dataclasses

import structlog

from bot.domain.complaints import DEALER, REGISTERED_BY, NewComplaint, created_note
from bot.domain.errors import InvalidInput, NotAllowed, NotFound, Problem, UnknownAlert
from bot.domain.status import normal_alert_id
from bot.domain.values import ANONYMOUS, Actor, Alert, HistoryEntry, HistoryEvent, Kind
from bot.domain.views import ComplaintDetails, ComplaintRecord, HandlingStep
from bot.services import Context, access
from bot.services.alerts import AlreadyApplied
from bot.services.intake import Opening, open_alerts

log = structlog.get_logger()


async def register(cx: Context, actor: Actor, c: NewComplaint, *, once: str | None = None) -> Alert:
    """Open a complaint alert for a dealer the actor may act for. Its history starts with how the
    complaint came in and who took it, then the description (a pasted mail, say) as the first
    note. `registered_by` names the person who took it when the actor is a system (an API key,
    the CLI): they must be granted to the dealer. `once` names the request (a Slack submission);
    a repeat raises AlreadyApplied and opens nothing."""
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        actor = await access.resolve(tx, actor)
        if not actor.may_see(c.dealer):
            raise NotAllowed(f"you may not register complaints for dealer {c.dealer!r}")
        if not await tx.dealers.known([c.dealer]):
            raise InvalidInput([Problem(DEALER, f"unknown dealer {c.dealer!r}")])
        person_id, who = actor.person_id, actor.name or actor.label
        if c.registered_by:
            person = await tx.people.by_email(c.registered_by)
            if person is None or c.dealer not in await tx.people.grants(person.id):
                raise InvalidInput([Problem(REGISTERED_BY, f"{c.registered_by} is not a person granted to dealer {c.dealer}")])
            person_id, who = person.id, person.name
        if once is not None and not await tx.slack.first_time(once, now):
            raise AlreadyApplied(once)
        await tx.customers.add_if_absent(c.dealer, c.customer_id, c.customer_name, now)
        taker = dataclasses.replace(actor, person_id=person_id)
        opening = Opening(Kind.COMPLAINT, c.dealer, c.customer_id, None, created_note(c, who), taker)
        (alert,) = await open_alerts(cx, tx, [opening], now)
        await tx.complaints.add(alert.id, c, who, person_id, now)
        # No attachments: the complaint's own words (a pasted mail too) are its first note.
        await tx.history.append([HistoryEntry(alert.id, now, actor.channel, actor.label, HistoryEvent.COMMENT, None, None, c.description, person_id)])
    log.info("complaint_registered", alert_id=alert.id, dealer=c.dealer, via=c.received_via.value)
    cx.wake()
    return alert


async def dealers_for(cx: Context, actor: Actor) -> list[tuple[str, str]]:
    """(code, name) of the dealers the actor may register complaints for."""
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        rows = await tx.dealers.all()
    return [(r.code, r.name) for r in rows if actor.may_see(r.code)]


async def record(cx: Context, actor: Actor, ref: str) -> ComplaintRecord:
    """The complete handling record of one complaint the actor may see: the complaint as it came
    in, the alert's state and every history entry, each with who made it by name."""
    alert_id = normal_alert_id(ref)
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        alert = await tx.alerts.get(alert_id)
        if alert is None or not actor.may_see(alert.dealer):
            raise UnknownAlert(alert_id)  # never confirm that another dealer's alert exists
        row = await tx.complaints.get(alert_id) if alert.kind is Kind.COMPLAINT else None
        if row is None:
            raise NotFound(f"{alert_id} is a {alert.kind.title}, not an external complaint.")
        history = await tx.history.of(alert_id)
        names = await tx.people.names([e.person_id for e in history if e.person_id is not None])
        dealer = await tx.dealers.get(alert.dealer)
        customer = await tx.customers.get(alert.dealer, row.customer_id)
    details = ComplaintDetails(
        customer_id=row.customer_id,
        received_via=str(row.received_via),
        received_at=row.received_at,
        description=row.description,
        registered_by=row.registered_by,
        registered_at=row.registered_at,
        customer_name=row.customer_name,
        customer_email=row.customer_email,
        customer_phone=row.customer_phone,
    )
    if row.customer_name:
        name = row.customer_name
    elif customer is not None and customer.anonymized:
        name = ANONYMOUS
    else:
        name = (customer.name if customer is not None else None) or row.customer_id
    steps = [HandlingStep(e, names.get(e.person_id, e.actor) if e.person_id is not None else e.actor) for e in history]
    return ComplaintRecord(
        alert=alert,
        dealer_name=dealer.name if dealer else alert.dealer,
        dealer_time_zone=dealer.time_zone if dealer else "UTC",
        customer_name=name,
        complaint=details,
        steps=steps,
    )
