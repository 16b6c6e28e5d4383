"""Survey-response intake: store responses, apply the alert rules, open and close alerts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Sequence

import orjson

from bot.domain import rules as R
from bot.domain.escalation import WALL, Schedule, schedule
from bot.domain.errors import Conflict, InvalidInput, Problem
from bot.domain.status import AlertChange, system_close
from bot.domain.values import SYSTEM, Actor, Alert, CustomerIn, HistoryEntry, HistoryEvent, Kind, Status, Survey, SurveyResponse
from bot.services import Context, reviews, routing
from storage.database import Tx
from storage.repositories.customers import CustomerState, FlagUpdate
from storage.repositories.erasure import ERASED_HASH
from storage.repositories.responses import StoredMeanwhile

Key = tuple[str, str]


@dataclass
class IntakeResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    closed: list[Alert] = field(default_factory=list)  # detractor alerts closed by a newer answer
    rejected: list[Problem] = field(default_factory=list)  # only when partial=True


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


# The digest's text must never change, or every stored response would become a conflict when
# resent (tests pin digests). It is json.dumps' text below; orjson writes the same bytes for
# strings, integers up to 2**53, booleans, null, lists and objects (a property test holds it to
# that) several times faster, so it writes every answer holding nothing else.
_HASH_JSON = json.JSONEncoder(sort_keys=True, default=_plain, separators=(",", ":"), ensure_ascii=False)
_HASH_ORJSON = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _only_plain_json(v: Any) -> bool:
    """No floats (their text differs between the two) and nothing json.dumps would convert."""
    t = type(v)
    if t is dict:
        return all(type(k) is str and _only_plain_json(x) for k, x in v.items())
    if t is list:
        return all(_only_plain_json(x) for x in v)
    return t is str or t is int or t is bool or v is None


def hash_text(data: dict[str, Any]) -> bytes:
    """The canonical JSON text a content hash is taken of."""
    if _only_plain_json(data["answers"]):
        try:
            return orjson.dumps(data, option=_HASH_ORJSON)
        except orjson.JSONEncodeError:  # an integer past 2**53
            pass
    return _HASH_JSON.encode(data).encode()


def content_hash(r: SurveyResponse) -> str:
    """Identifies an answer's content, so a resend of the same answer is a harmless duplicate.
    It covers the answer and the customer id, never personal data (names, addresses, phones,
    purchase or service dates), so no personal data survives anonymization even as a hash.
    The fields are written out rather than looped over: intake takes a digest of every response."""
    data = {
        "id": r.id,
        "survey": r.survey,
        "dealer": r.dealer,
        "submitted_at": r.submitted_at.isoformat(),  # times as text, as _plain would give them
        "segment": r.segment,
        "anonymous": r.anonymous,
        "nps": r.nps,
        "scores": r.scores,
        "comment": r.comment,
        "publish_consent": r.publish_consent,
        "answers": r.answers,
        "test_drive_requested_at": t.isoformat() if (t := r.test_drive_requested_at) is not None else None,
        "test_drive_source": r.test_drive_source,
        "purchased_at": t.isoformat() if (t := r.purchased_at) is not None else None,
        "ordered_at": t.isoformat() if (t := r.ordered_at) is not None else None,
        "customer": r.customer.id,
    }
    return hashlib.sha256(hash_text(data)).hexdigest()


async def unknown_dealers(cx: Context, codes: Sequence[str]) -> set[str]:
    async with cx.db.read() as tx:
        return set(codes) - await tx.dealers.known(codes)


async def ingest(cx: Context, responses: Sequence[SurveyResponse], *, partial: bool = False) -> IntakeResult:
    """Store a batch of responses in one transaction and open the alerts they raise.

    A response id already stored with the same content is a duplicate and changes nothing; with
    different content it is a conflict. Unknown dealers are invalid input. Unless `partial`,
    any conflict or invalid item rejects the whole batch and nothing is stored; with `partial`
    (CSV import) those items are reported in `rejected` and the rest is stored."""
    for _ in range(2):
        try:
            return await _ingest_once(cx, responses, partial)
        except StoredMeanwhile:
            # A concurrent request (a platform's retry, another replica) stored some of these ids
            # after this transaction looked them up; nothing of this one was kept. Look again: they
            # are duplicates or conflicts now.
            continue
    return await _ingest_once(cx, responses, partial)


async def _ingest_once(cx: Context, responses: Sequence[SurveyResponse], partial: bool) -> IntakeResult:
    now = cx.clock.now()
    hashes = [content_hash(r) for r in responses]
    result = IntakeResult()
    async with cx.db.transaction() as tx:
        known = await tx.dealers.known([r.dealer for r in responses])
        stored = await tx.responses.hashes([r.id for r in responses])
        problems: list[Problem] = []
        conflicts: list[str] = []
        fresh: list[SurveyResponse] = []
        seen: dict[str, str] = {}
        for i, (r, h) in enumerate(zip(responses, hashes)):
            if r.dealer not in known:
                problems.append(Problem("dealer_id", f"unknown dealer {r.dealer!r}", i))
                continue
            prior = stored.get(r.id) or seen.get(r.id)
            if prior is None:
                seen[r.id] = h
                fresh.append(r)
            elif prior in (h, ERASED_HASH):  # an erased response sent again stores nothing again
                result.duplicates.append(r.id)
            else:
                conflicts.append(r.id)
                problems.append(Problem("id", f"response {r.id!r} is already stored with different content", i))
        if not partial:
            if conflicts:
                raise Conflict(f"already stored with different content: {', '.join(conflicts)}", conflicts)
            if problems:
                raise InvalidInput(problems)
        result.rejected = problems
        if fresh:
            await _store(cx, tx, fresh, seen, now, result)  # seen: the hash of each stored item, not of a rejected twin
    if result.alerts or result.closed:
        cx.wake()
    return result


async def _store(cx: Context, tx: Tx, fresh: list[SurveyResponse], hashes: dict[str, str], now: datetime, result: IntakeResult) -> None:
    await tx.customers.upsert_many(customer_rows((r.dealer, r.customer, r.anonymous) for r in fresh), now)
    keys = sorted({(r.dealer, r.customer.id) for r in fresh})
    states = await tx.customers.states(keys)
    anonymized = {k for k, s in states.items() if s.anonymized}
    await tx.responses.insert_many([_response_row(r, hashes[r.id], now, (r.dealer, r.customer.id) in anonymized) for r in fresh])
    newly_anonymous = sorted({(r.dealer, r.customer.id) for r in fresh if r.anonymous})
    if newly_anonymous:
        await tx.customers.forget_response_details(newly_anonymous)
        await tx.invitations.forget_dates(newly_anonymous)
    # An answer naming its invitation marks it submitted (seed 000); one statement for the batch.
    await tx.invitations.mark_submitted([(r.invitation_id, r.dealer, r.submitted_at) for r in fresh if r.invitation_id], now)
    result.accepted = [r.id for r in fresh]
    await reviews.hold_new(tx, cx, fresh, now)  # public reviews (seed 002), held for the dealer's reply

    # Alerts raised by single responses.
    # Orders and purchases the dealer system reported rule a prospect out too (seed 001): one
    # query for the batch's lost-sales answers.
    asks = sorted({(r.dealer, r.customer.id) for r in fresh if r.survey is Survey.LOST_SALES and r.test_drive_requested_at})
    buys = await tx.leads.buys(asks) if asks else {}
    wanted: list[tuple[Kind, SurveyResponse]] = [
        (k, r) for r in fresh for k in R.response_alert_kinds(r, cx.rules, buys.get((r.dealer, r.customer.id), ()))
    ]
    # The detractor flag follows each customer's newest NPS answer.
    flag_updates, raise_for, clear_for = _detractor_changes(cx.rules, fresh, states, now)
    await tx.customers.set_flags(flag_updates, now)
    closures: list[AlertChange] = []
    if raise_for or clear_for:
        open_dt = await tx.alerts.open_for_customers(Kind.DETRACTOR, sorted(set(raise_for) | set(clear_for)))
        wanted += [(Kind.DETRACTOR, r) for key, r in sorted(raise_for.items()) if key not in open_dt]
        closures = [
            system_close(open_dt[key], SYSTEM, note, now) for key, note in sorted(clear_for.items()) if key in open_dt
        ]
        await tx.alerts.save_many([c.after for c in closures], now)
        result.closed = [c.after for c in closures]

    openings = [Opening(kind, r.dealer, r.customer.id, r.id, R.reason(kind, r, cx.rules)) for kind, r in wanted]
    result.alerts = await open_alerts(cx, tx, openings, now, changed=closures)


@dataclass(frozen=True)
class Opening:
    """An alert to open: its kind, whose it is, and the first history entry (why, and who)."""

    kind: Kind
    dealer: str
    customer_id: str | None
    response_id: str | None
    reason: str
    actor: Actor = SYSTEM


async def open_alerts(cx: Context, tx: Tx, wanted: Sequence[Opening], now: datetime, changed: Sequence[AlertChange] = ()) -> list[Alert]:
    """Open alerts inside `tx` — survey alerts and staff-registered complaints alike: human ids per
    kind, the due, reminder and first escalation times on each dealer's clock (business hours or
    the wall clock), the "created" history entry, and the messages the dealer's routing asks for.
    `changed`: alerts the same transaction already changed (intake's detractor closures), whose
    history entries and messages go in with the new alerts' (one statement each, not two)."""
    alerts: list[Alert] = []
    history: list[HistoryEntry] = [c.entry for c in changed]
    calendars = await tx.dealers.calendars(sorted({w.dealer for w in wanted})) if wanted else {}
    schedules: dict[tuple[Kind, str], Schedule] = {}  # one `now` for the batch: the times depend only on kind and dealer
    by_kind = {kind: [w for w in wanted if w.kind is kind] for kind in Kind}
    ids_of = await tx.alerts.allocate_ids({kind: len(batch) for kind, batch in by_kind.items()})
    for kind, batch in by_kind.items():
        for id_, w in zip(ids_of.get(kind, ()), batch):
            times = schedules.get((kind, w.dealer))
            if times is None:
                times = schedules[kind, w.dealer] = schedule(kind, now, cx.rules, calendars.get(w.dealer, WALL))
            alerts.append(
                Alert(
                    id_, kind, w.dealer, w.customer_id, w.response_id, Status.NEW, now, times.due_at,
                    next_escalation_at=times.next_escalation_at, remind_at=times.remind_at,
                )
            )
            history.append(HistoryEntry(id_, now, w.actor.channel, w.actor.label, HistoryEvent.CREATED, None, Status.NEW, w.reason, w.actor.person_id))
    await tx.alerts.insert_many(alerts, now)
    await tx.history.append(history)
    messages = await routing.after_changes(tx, changed, "cxbot", cx.channels) if changed else []
    await tx.outbox.enqueue(messages + await routing.new_alerts(tx, alerts, cx.channels), now)
    return alerts


def _detractor_changes(
    rules: R.Rules, fresh: list[SurveyResponse], states: dict[Key, CustomerState], now: datetime
) -> tuple[list[FlagUpdate], dict[Key, SurveyResponse], dict[Key, str]]:
    """Per customer: the new newest answer, whether it sets or clears the flag; which customers
    need a detractor alert (keyed to the answer that set the flag) and which need theirs closed."""
    latest: dict[Key, R.Latest | None] = {k: s.latest for k, s in states.items()}
    newest: dict[Key, SurveyResponse] = {}
    for r in fresh:  # in arrival order, so a tie on submitted_at goes to the later one
        key = (r.dealer, r.customer.id)
        if R.is_newer(r, latest.get(key)):
            assert r.nps is not None
            latest[key] = R.Latest(r.id, r.submitted_at, r.nps)
            newest[key] = r
    updates: list[FlagUpdate] = []
    raise_for: dict[Key, SurveyResponse] = {}
    clear_for: dict[Key, str] = {}
    for key, r in newest.items():
        state = states[key]
        now_flag = R.is_detractor(r.nps, r.dealer, rules)
        if now_flag:
            since = now if not state.detractor else state.detractor_since  # still flagged: keep when it was set
            updates.append(FlagUpdate(key, latest[key], True, r.id, since))  # type: ignore[arg-type]
            raise_for[key] = r
        else:
            updates.append(FlagUpdate(key, latest[key], False, None, None))  # type: ignore[arg-type]
            if state.detractor:
                clear_for[key] = (
                    f"Detractor flag cleared: the customer's most recent answer ({r.id}, "
                    f"{r.submitted_at:%Y-%m-%d}) is NPS {r.nps}, no longer a detractor score."
                )
    return updates, raise_for, clear_for


def customer_rows(given_by: Iterable[tuple[str, CustomerIn, bool]]) -> list[dict[str, Any]]:
    """One row per customer from (dealer, customer, answered anonymously) in arrival order: later
    ones fill in and override fields (responses here, invitations in services.invitations)."""
    rows: dict[Key, dict[str, Any]] = {}
    for dealer, c, anonymous in given_by:
        row = rows.setdefault(
            (dealer, c.id),
            {
                "dealer_code": dealer,
                "customer_id": c.id,
                "anonymized": False,
                **{k: None for k in ("kind", "name", "email", "phone_home", "phone_work", "phone_mobile", "language", "customer_number", "salesperson_email",
                                     "contact_name", "advisor_email", "preferred_contact", "best_time")},
                "contact_permissions": {},  # merged into the stored ones: a method not given keeps its setting
            },
        )
        given = {
            "kind": c.kind,
            "language": c.language,
            "customer_number": c.customer_number,
            "salesperson_email": c.salesperson_email,
            "advisor_email": c.advisor_email,
            "preferred_contact": c.preferred_contact,
            "best_time": c.best_time,
        }
        row["contact_permissions"] = {**row["contact_permissions"], **dict(c.contact_methods)}
        if anonymous:
            row["anonymized"] = True
        else:
            given |= {"name": c.name, "email": c.email, "phone_home": c.phones.home, "phone_work": c.phones.work, "phone_mobile": c.phones.mobile,
                      "contact_name": c.contact_name}
        row.update({k: v for k, v in given.items() if v is not None})
    for row in rows.values():
        if row["anonymized"]:
            row.update(name=None, email=None, phone_home=None, phone_work=None, phone_mobile=None, contact_name=None)
    return list(rows.values())


def _response_row(r: SurveyResponse, h: str, now: datetime, anonymized: bool) -> dict[str, Any]:
    personal = not (r.anonymous or anonymized)
    contact = r.contact if personal else None
    return {
        "id": r.id,
        "survey": r.survey,
        "dealer_code": r.dealer,
        "customer_id": r.customer.id,
        "contact_name": contact.name if contact else None,
        "contact_email": contact.email if contact else None,
        "contact_phone": contact.phone if contact else None,
        "submitted_at": r.submitted_at,
        "received_at": now,
        "purchase_date": r.purchase_date if personal else None,
        "service_date": r.service_date if personal else None,
        "segment": r.segment,
        "nps": r.nps,
        "scores": dict(r.scores),
        "answers": _answers(r),
        "comment": r.comment,
        "anonymous": r.anonymous,
        "publish_consent": r.publish_consent,
        "content_hash": h,
    }


def _answers(r: SurveyResponse) -> dict[str, Any]:
    """The free answers plus the lost-sales fields, as received."""
    extra = {
        "test_drive_requested_at": r.test_drive_requested_at,
        "test_drive_source": r.test_drive_source,
        "purchased_at": r.purchased_at,
        "ordered_at": r.ordered_at,
    }
    out = dict(r.answers)
    out.update({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in extra.items() if v is not None})
    return out
