"""The intake and alert services against the real database: anonymization, all-or-nothing
batches, human alert ids, the history trail and status changes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.domain.errors import Conflict, InvalidInput, InvalidTransition, NoteRequired, UnknownAlert
from bot.domain.values import (
    ANONYMOUS,
    Actor,
    Channel,
    ContactIn,
    CustomerIn,
    CustomerKind,
    HistoryEvent,
    Kind,
    Phones,
    Status,
    Survey,
    SurveyResponse,
)
from bot.services import Context, alerts, intake, lookups
from storage.models import Base
from storage.repositories.alerts import AlertFilter
from tests.fakes.clock import FrozenClock

pytestmark = pytest.mark.usefixtures("example_dealers")

ADMIN = Actor(Channel.API, "bootstrap")
METTE = Actor.slack("T0AUTOVEST", "U0METTEKJ")  # staff of DK-1001 in the examples
JONAS = Actor.email("Jonas.Holm@autohuset-vest.example")  # staff of DK-1001 too
AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)

NAME, EMAIL, MOBILE = "Anne Sørensen", "anne@example.net", "+45 20 30 40 50"
CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE = "Bo Sørensen", "bo@example.net", "+45 60 70 80 90"
PERSONAL = (NAME, EMAIL, MOBILE, CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE, "2026-09-15", "2026-10-20")


def answer(id_: str, *, dealer: str = "DK-1001", customer: str | CustomerIn = "K-1", nps: int | None = 9, **over: Any) -> SurveyResponse:
    """A satisfied, named sales customer unless fields say otherwise."""
    fields: dict[str, Any] = {
        "id": id_,
        "survey": Survey.SALES,
        "dealer": dealer,
        "submitted_at": AT,
        "customer": CustomerIn(customer) if isinstance(customer, str) else customer,
        "nps": nps,
    }
    fields.update(over)
    return SurveyResponse(**fields)


def named(id_: str, **over: Any) -> SurveyResponse:
    """An answer carrying every kind of personal data seed 000 says to delete."""
    fields: dict[str, Any] = {
        "customer": CustomerIn("K-1", CustomerKind.PERSON, NAME, EMAIL, Phones(mobile=MOBILE), "da", "100234"),
        "contact": ContactIn(CONTACT_NAME, CONTACT_EMAIL, CONTACT_PHONE),
        "purchase_date": date(2026, 9, 15),
    }
    fields.update(over)
    return answer(id_, **fields)


def lost_sale(id_: str, **over: Any) -> SurveyResponse:
    fields: dict[str, Any] = {
        "survey": Survey.LOST_SALES,
        "nps": None,
        "test_drive_requested_at": AT - timedelta(days=40),
        "answers": {"still_considering": True, "wants_contact": True},
    }
    fields.update(over)
    return answer(id_, **fields)


async def counts(cx: Context) -> dict[str, int]:
    """Rows in every table, and the alert-number counters."""
    async with cx.db.read() as tx:
        out = {t.name: await tx.conn.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
        counters = Base.metadata.tables["counters"]
        for name, value in await tx.conn.execute(select(counters.c.name, counters.c.value)):
            out[f"counter {name}"] = value
    return out


async def everything_stored(cx: Context) -> str:
    """Every value in every table, as one text to search for personal data."""
    parts: list[str] = []
    async with cx.db.read() as tx:
        for table in Base.metadata.sorted_tables:
            for row in await tx.conn.execute(select(table)):
                parts += [str(v) for v in row]
    return "\n".join(parts)


async def response_row(cx: Context, id_: str) -> Any:
    async with cx.db.read() as tx:
        return await tx.responses.get(id_)


async def customer_row(cx: Context, dealer: str = "DK-1001", customer: str = "K-1") -> Any:
    async with cx.db.read() as tx:
        return await tx.customers.get(dealer, customer)


# --- Anonymous answers (seed 000) -------------------------------------------------------------


async def test_anonymous_answer_stores_no_personal_data(cx: Context) -> None:
    await intake.ingest(cx, [named("r-1", anonymous=True, nps=3, comment="Slow handover")])

    stored = await everything_stored(cx)
    for value in PERSONAL:
        assert value not in stored
    c = await customer_row(cx)
    assert c.anonymized and c.name is None and c.email is None
    assert (c.phone_home, c.phone_work, c.phone_mobile) == (None, None, None)
    r = await response_row(cx, "r-1")
    assert (r.contact_name, r.contact_email, r.contact_phone, r.purchase_date, r.service_date) == (None,) * 5
    assert r.nps == 3 and r.comment == "Slow handover"  # the answer itself is kept
    card = await lookups.customer(cx, ADMIN, "DK-1001", "K-1")
    assert card.name == ANONYMOUS and card.anonymized and card.email is None


async def test_anonymous_answer_deletes_personal_data_stored_before(cx: Context) -> None:
    await intake.ingest(cx, [named("r-1", nps=3)])  # raises alerts while the customer is named
    await intake.ingest(cx, [named("r-2", survey=Survey.SERVICE, purchase_date=None, service_date=date(2026, 10, 20))])
    assert (await response_row(cx, "r-1")).contact_email == CONTACT_EMAIL  # stored while not anonymous
    assert (await customer_row(cx)).name == NAME

    await intake.ingest(cx, [answer("r-3", anonymous=True, submitted_at=AT + timedelta(days=1))])

    for id_ in ("r-1", "r-2"):
        r = await response_row(cx, id_)
        assert (r.contact_name, r.contact_email, r.contact_phone, r.purchase_date, r.service_date) == (None,) * 5
    c = await customer_row(cx)
    assert c.anonymized and (c.name, c.email, c.phone_mobile) == (None, None, None)
    assert c.customer_number == "100234"  # the dealer's own number is not personal data of seed 000
    stored = await everything_stored(cx)
    for value in PERSONAL:
        assert value not in stored
    assert (await alerts.detail(cx, "HA-1", ADMIN)).customer_name == "Anonymous"


async def test_customer_stays_anonymous_when_later_answers_carry_a_name(cx: Context) -> None:
    await intake.ingest(cx, [answer("r-1", anonymous=True)])
    await intake.ingest(cx, [named("r-2", submitted_at=AT + timedelta(days=3))])

    c = await customer_row(cx)
    assert c.anonymized and c.name is None and c.email is None and c.phone_mobile is None
    r = await response_row(cx, "r-2")
    assert (r.contact_name, r.contact_email, r.purchase_date) == (None, None, None)
    assert (await lookups.customer(cx, ADMIN, "DK-1001", "K-1")).name == ANONYMOUS


async def test_named_and_anonymous_answers_in_one_batch_store_nothing_personal(cx: Context) -> None:
    await intake.ingest(cx, [named("r-1"), answer("r-2", anonymous=True), named("r-3", submitted_at=AT + timedelta(hours=1))])

    stored = await everything_stored(cx)
    for value in PERSONAL:
        assert value not in stored


async def test_anonymizing_one_dealers_customer_leaves_the_same_number_at_another_dealer(cx: Context) -> None:
    await intake.ingest(cx, [named("r-1"), named("r-2", dealer="DE-2001")])
    await intake.ingest(cx, [answer("r-3", anonymous=True)])

    assert (await customer_row(cx, "DE-2001")).name == NAME
    assert (await response_row(cx, "r-2")).contact_email == CONTACT_EMAIL
    assert (await customer_row(cx, "DK-1001")).name is None


def test_content_hash_of_anonymous_answer_ignores_the_withheld_data() -> None:
    one = named("r-1", anonymous=True)
    other = dataclasses.replace(
        one,
        customer=CustomerIn("K-1", CustomerKind.PERSON, "Someone Else", "else@example.net", Phones(home="1"), "da", "100234"),
        contact=ContactIn("X", "x@example.net", "2"),
        purchase_date=date(2020, 1, 1),
    )
    assert intake.content_hash(one) == intake.content_hash(other)
    assert intake.content_hash(one) != intake.content_hash(dataclasses.replace(one, nps=2))
    # personal data is never part of the hash, anonymous or not (only the answer itself is)
    assert intake.content_hash(named("r-1")) == intake.content_hash(dataclasses.replace(other, anonymous=False))
    assert intake.content_hash(named("r-1")) != intake.content_hash(one)


def test_content_hash_never_changes_for_the_same_answer() -> None:
    # Stored hashes decide duplicate or conflict for every later resend: a change in how the hash
    # is computed would turn an upgraded server's resends into 409s. This digest was computed by
    # the first release's code; it must stay.
    r = SurveyResponse(
        id="r-pin", survey=Survey.LOST_SALES, dealer="DK-1001",
        submitted_at=datetime(2026, 10, 1, 9, 30, 0, 250000, tzinfo=timezone(timedelta(hours=2))),
        customer=CustomerIn("C-7", name="Søren Friis"), nps=3, scores={"overall": 2, "advice": 5},
        comment='Bilen var ikke klar — "øv" \u2028',
        answers={"wants_contact": True, "still_considering": True, "note": ["x", 1.5, None], "nested": {"b": 1, "a": 2}},
        test_drive_requested_at=datetime(2026, 9, 20, 12, 0, tzinfo=UTC), test_drive_source="web", purchase_date=date(2026, 1, 2),
    )
    assert intake.content_hash(r) == "8969a63e594c110679e593e2f84e6d5e13905dece0860f77329186b3229948e4"


def test_content_hash_of_an_answer_with_every_time_set_never_changes() -> None:
    # Every hashed time given, answers the fast writer takes; computed by the code before
    # content_hash wrote its fields out one by one.
    r = SurveyResponse(
        id="r-pin-2", survey=Survey.LOST_SALES, dealer="DE-2001",
        submitted_at=datetime(2026, 10, 3, 18, 5, 0, tzinfo=timezone(timedelta(hours=-5))),
        customer=CustomerIn("K-12"), contact=ContactIn("Cindy"), nps=9, scores={"overall": 4}, publish_consent=True,
        answers={"wants_contact": False, "still_considering": True, "list": ["a", 2, None]},
        test_drive_requested_at=datetime(2026, 9, 1, 10, 0, tzinfo=UTC), test_drive_source="dealer site",
        purchased_at=datetime(2026, 9, 28, 8, 0, 0, 5, tzinfo=timezone(timedelta(hours=2))),
        ordered_at=datetime(2026, 9, 27, 16, 30, tzinfo=UTC), invitation_id="inv-9", purchase_date=date(2026, 9, 28),
    )
    assert intake.content_hash(r) == "02702fadbdb50caf408f882e9f50d6f317111414c1763a1a5aac06e697245c02"


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)  # control characters, quotes, emoji, U+2028 ...
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(answers=st.dictionaries(_TEXT, _JSON, max_size=5), comment=st.none() | _TEXT, nps=st.none() | st.integers(0, 10))
def test_the_hash_text_is_json_dumps_text_whatever_the_answers_hold(answers: dict[str, Any], comment: str | None, nps: int | None) -> None:
    # The fast writer must give json.dumps' exact bytes, or stored digests stop matching resends.
    data = {"answers": answers, "comment": comment, "nps": nps, "survey": Survey.SALES, "submitted_at": "2026-10-01T09:30:00+02:00", "scores": {"b": 1, "a": 5}}
    assert intake.hash_text(data) == json.dumps(data, sort_keys=True, default=intake._plain, separators=(",", ":"), ensure_ascii=False).encode()


async def test_resent_anonymous_answer_with_another_withheld_name_is_a_duplicate(cx: Context) -> None:
    await intake.ingest(cx, [named("r-1", anonymous=True)])
    again = named(
        "r-1",
        anonymous=True,
        customer=CustomerIn("K-1", CustomerKind.PERSON, "Typo Name", "typo@example.net", Phones(home="+45 11"), "da", "100234"),
        contact=ContactIn("Someone Else"),
        purchase_date=date(2026, 9, 16),
    )

    result = await intake.ingest(cx, [again])

    assert result.duplicates == ["r-1"] and result.accepted == []
    assert "Typo Name" not in await everything_stored(cx)


# --- A batch is all or nothing ---------------------------------------------------------------


async def test_unknown_dealer_rejects_the_whole_batch(cx: Context) -> None:
    before = await counts(cx)
    with pytest.raises(InvalidInput) as e:
        await intake.ingest(cx, [answer("r-1", nps=2), answer("r-2", dealer="XX-9999", nps=1), answer("r-3", nps=0)])

    assert [(p.index, p.field) for p in e.value.problems] == [(1, "dealer_id")]
    assert "XX-9999" in e.value.problems[0].message
    assert await counts(cx) == before
    assert before["responses"] == 0
    # numbers were not used up by the refused batch
    result = await intake.ingest(cx, [answer("r-1", nps=2)])
    assert [a.id for a in result.alerts if a.kind is Kind.HOT_ALERT] == ["HA-1"]


async def test_known_id_with_other_content_rejects_the_whole_batch(cx: Context) -> None:
    await intake.ingest(cx, [answer("r-1", nps=9)])
    before = await counts(cx)

    with pytest.raises(Conflict) as e:
        await intake.ingest(cx, [answer("r-2", customer="K-2", nps=1), answer("r-1", nps=2)])

    assert e.value.ids == ["r-1"]
    assert await counts(cx) == before
    assert await response_row(cx, "r-2") is None
    assert (await response_row(cx, "r-1")).nps == 9


async def test_same_id_twice_in_a_batch_with_different_content_is_a_conflict(cx: Context) -> None:
    with pytest.raises(Conflict) as e:
        await intake.ingest(cx, [answer("r-1", nps=9), answer("r-1", nps=2)])
    assert e.value.ids == ["r-1"]
    assert (await counts(cx))["responses"] == 0


async def test_resending_the_same_answer_is_a_harmless_duplicate(cx: Context) -> None:
    first = await intake.ingest(cx, [answer("r-1", nps=2)])
    before = await counts(cx)

    again = await intake.ingest(cx, [answer("r-1", nps=2), answer("r-1", nps=2)])

    assert [a.id for a in first.alerts] == ["HA-1", "DT-1"]
    assert again.accepted == [] and again.duplicates == ["r-1", "r-1"] and again.alerts == []
    assert await counts(cx) == before


async def test_partial_intake_stores_the_good_items_and_reports_the_rest(cx: Context) -> None:
    await intake.ingest(cx, [answer("r-0", customer="K-0")])

    result = await intake.ingest(
        cx,
        [
            answer("r-1", nps=2),
            answer("r-2", dealer="XX-9999"),
            answer("r-0", customer="K-0", nps=1),  # known id, other content
            answer("r-3", customer="K-3", nps=10),
        ],
        partial=True,
    )

    assert result.accepted == ["r-1", "r-3"]
    assert sorted((p.index, p.field) for p in result.rejected) == [(1, "dealer_id"), (2, "id")]
    assert await response_row(cx, "r-1") is not None and await response_row(cx, "r-3") is not None
    assert await response_row(cx, "r-2") is None
    assert (await response_row(cx, "r-0")).nps == 9
    assert [a.response_id for a in result.alerts if a.kind is Kind.HOT_ALERT] == ["r-1"]


async def test_partial_intake_keeps_the_hash_of_the_item_it_stored(cx: Context) -> None:
    result = await intake.ingest(cx, [answer("r-1", nps=9), answer("r-1", nps=2)], partial=True)

    assert result.accepted == ["r-1"]
    assert [(p.index, p.field) for p in result.rejected] == [(1, "id")]
    assert (await response_row(cx, "r-1")).nps == 9
    assert (await intake.ingest(cx, [answer("r-1", nps=9)])).duplicates == ["r-1"]  # what was stored
    with pytest.raises(Conflict):
        await intake.ingest(cx, [answer("r-1", nps=2)])  # what was rejected


# --- Human alert ids and the history ---------------------------------------------------------


async def test_alert_ids_are_consecutive_per_kind_across_batches(cx: Context, clock: FrozenClock) -> None:
    first = await intake.ingest(
        cx,
        [
            answer("r-1", customer="K-1", scores={"overall": 1}),
            answer("r-2", customer="K-2", nps=10, answers={"contact_requested": True}),
            lost_sale("r-3", customer="K-3"),
        ],
    )
    clock.advance(hours=1)
    with pytest.raises(InvalidInput):
        await intake.ingest(cx, [answer("r-x", nps=1), answer("r-y", dealer="nope")])
    second = await intake.ingest(cx, [answer("r-4", customer="K-4", nps=2), lost_sale("r-5", customer="K-5")])
    third = await intake.ingest(cx, [answer("r-6", customer="K-6", scores={"staff": 2})])

    assert {a.id: a.response_id for a in first.alerts} == {"HA-1": "r-1", "HA-2": "r-2", "SO-1": "r-3"}
    assert {a.id: a.response_id for a in second.alerts} == {"HA-3": "r-4", "SO-2": "r-5", "DT-1": "r-4"}
    assert {a.id: a.response_id for a in third.alerts} == {"HA-4": "r-6"}
    ha = await alerts.detail(cx, "HA-3", ADMIN)
    assert ha.alert.created_at == clock.now() and ha.alert.due_at == clock.now() + timedelta(hours=48)
    so = await alerts.detail(cx, "SO-2", ADMIN)
    assert so.alert.due_at == clock.now() + timedelta(days=7)
    dt = await alerts.detail(cx, "DT-1", ADMIN)
    assert dt.alert.due_at is None


async def test_a_missing_counter_row_is_created_and_numbering_starts_at_one(cx: Context) -> None:
    # A database created before a kind existed has no counter for it.
    counters = Base.metadata.tables["counters"]
    async with cx.db.transaction() as tx:
        await tx.conn.execute(counters.delete().where(counters.c.name.in_(["SO", "DT"])))
    result = await intake.ingest(cx, [answer("r-1", customer="K-1", nps=2), lost_sale("r-2", customer="K-2")])
    assert sorted(a.id for a in result.alerts) == ["DT-1", "HA-1", "SO-1"]
    again = await intake.ingest(cx, [lost_sale("r-3", customer="K-3")])
    assert [a.id for a in again.alerts] == ["SO-2"]


async def test_concurrent_batches_get_distinct_consecutive_ids(cx: Context) -> None:
    results = await asyncio.gather(*(intake.ingest(cx, [answer(f"r-{i}", customer=f"K-{i}", nps=9, scores={"overall": 1})]) for i in range(6)))

    ids = sorted((a.id for r in results for a in r.alerts), key=lambda i: int(i.split("-")[1]))
    assert ids == [f"HA-{n}" for n in range(1, 7)]


async def test_concurrent_answers_of_one_customer_leave_the_newest_in_charge(cx: Context) -> None:
    await asyncio.gather(
        intake.ingest(cx, [answer("r-old", nps=2, submitted_at=AT)]),
        intake.ingest(cx, [answer("r-new", nps=10, submitted_at=AT + timedelta(days=1))]),
    )

    card = await lookups.customer(cx, ADMIN, "DK-1001", "K-1")
    assert not card.detractor
    assert [a.kind for a in card.open_alerts] == [Kind.HOT_ALERT]  # any detractor alert was closed again


async def test_new_alert_history_starts_with_a_created_entry_giving_the_reason(cx: Context, clock: FrozenClock) -> None:
    await intake.ingest(cx, [answer("r-1", nps=3, scores={"overall": 2, "staff": 4})])

    detail = await alerts.detail(cx, "HA-1", ADMIN)

    assert len(detail.history) == 1
    e = detail.history[0]
    assert (e.alert_id, e.event, e.channel, e.actor, e.old_status, e.new_status, e.at) == (
        "HA-1",
        HistoryEvent.CREATED,
        Channel.SYSTEM,
        "system",
        None,
        Status.NEW,
        clock.now(),
    )
    assert "NPS 3 (≤ 6)" in e.note and "overall 2 (≤ 2)" in e.note and "staff" not in e.note
    dt = (await alerts.detail(cx, "DT-1", ADMIN)).history
    assert [h.event for h in dt] == [HistoryEvent.CREATED] and "NPS 3" in dt[0].note


# --- Status changes ----------------------------------------------------------------------


async def hot_alert(cx: Context) -> str:
    result = await intake.ingest(cx, [answer("r-1", nps=9, scores={"overall": 1})])
    (alert,) = result.alerts
    return alert.id


async def test_status_change_writes_history_with_actor_and_channel(cx: Context, clock: FrozenClock) -> None:
    id_ = await hot_alert(cx)
    clock.advance(hours=3)
    change = await alerts.change_status(cx, id_.lower().replace("-", ""), METTE, Status.ONGOING, "  Called Anne; workshop visit on Friday ")
    handled = clock.now()
    clock.advance(hours=30)
    await alerts.change_status(cx, id_, JONAS, Status.RESOLVED, "Car fixed, customer happy")

    detail = await alerts.detail(cx, id_, ADMIN)
    assert change.after.status is Status.ONGOING
    assert detail.alert.status is Status.RESOLVED
    assert detail.alert.handled_at == handled and detail.alert.resolved_at == clock.now()
    assert detail.alert.on_time is True
    assert [(h.event, h.channel, h.actor, h.old_status, h.new_status, h.note, h.at) for h in detail.history[1:]] == [
        (HistoryEvent.STATUS, Channel.SLACK, "slack:T0AUTOVEST/U0METTEKJ", Status.NEW, Status.ONGOING, "Called Anne; workshop visit on Friday", handled),
        (
            HistoryEvent.STATUS,
            Channel.EMAIL,
            "email:jonas.holm@autohuset-vest.example",
            Status.ONGOING,
            Status.RESOLVED,
            "Car fixed, customer happy",
            clock.now(),
        ),
    ]
    mette, jonas = (h.person_id for h in detail.history[1:])
    assert mette is not None and jonas is not None and mette != jonas  # the people behind the identities


async def test_alert_handled_after_48_hours_is_late(cx: Context, clock: FrozenClock) -> None:
    id_ = await hot_alert(cx)
    clock.advance(hours=47)
    assert [a.id for a in (await alerts.find(cx, ADMIN, AlertFilter(overdue_at=clock.now()))).items] == []
    clock.advance(hours=2)
    assert [a.id for a in (await alerts.find(cx, ADMIN, AlertFilter(overdue_at=clock.now()))).items] == [id_]

    change = await alerts.change_status(cx, id_, METTE, Status.RESOLVED, "Called back, apologised")

    assert change.after.on_time is False
    assert (await alerts.detail(cx, id_, ADMIN)).alert.on_time is False
    assert (await alerts.find(cx, ADMIN, AlertFilter(overdue_at=clock.now()))).items == []


async def test_actor_limited_to_another_dealer_cannot_change_or_see_the_alert(cx: Context, clock: FrozenClock) -> None:
    id_ = await hot_alert(cx)
    sabine = Actor.slack("T0BRANDTAH", "U0SABINEK")  # staff of DE-2001
    brandt_key = Actor(Channel.API, "key:brandt", frozenset({"DE-2001"}))
    stranger = Actor.email("someone@example.org")
    clock.advance(hours=1)

    for actor in (sabine, brandt_key, stranger):
        with pytest.raises(UnknownAlert):
            await alerts.change_status(cx, id_, actor, Status.RESOLVED, "Not mine, but resolving")
        with pytest.raises(UnknownAlert):
            await alerts.detail(cx, id_, actor)

    detail = await alerts.detail(cx, id_, ADMIN)
    assert detail.alert.status is Status.NEW and detail.alert.handled_at is None
    assert len(detail.history) == 1


async def test_refused_changes_store_nothing(cx: Context) -> None:
    id_ = await hot_alert(cx)
    before = await counts(cx)

    with pytest.raises(NoteRequired):
        await alerts.change_status(cx, id_, METTE, Status.ONGOING, "   ")
    with pytest.raises(InvalidTransition):
        await alerts.change_status(cx, id_, METTE, Status.NEW, "back to new")
    with pytest.raises(UnknownAlert):
        await alerts.change_status(cx, "HA-999", METTE, Status.ONGOING, "who?")
    with pytest.raises(InvalidInput):
        await alerts.change_status(cx, "HOT-1", METTE, Status.ONGOING, "who?")

    assert await counts(cx) == before
    assert (await alerts.detail(cx, id_, ADMIN)).alert.status is Status.NEW


async def test_concurrent_changes_to_one_alert_both_land_in_order(cx: Context, clock: FrozenClock) -> None:
    id_ = await hot_alert(cx)
    clock.advance(hours=1)
    notes = [f"note {i}" for i in range(6)]

    changes = await asyncio.gather(
        *(alerts.change_status(cx, id_, Actor(Channel.API, f"key-{i}"), Status.ONGOING, note) for i, note in enumerate(notes))
    )

    history = (await alerts.detail(cx, id_, ADMIN)).history[1:]
    assert sorted(h.note for h in history) == notes
    # each change saw the one before it: exactly one started from new, and it came first
    assert [h.old_status for h in history] == [Status.NEW] + [Status.ONGOING] * (len(notes) - 1)
    assert sum(c.before.status is Status.NEW for c in changes) == 1


async def test_concurrent_resolve_and_reopen_keep_a_consistent_chain(cx: Context, clock: FrozenClock) -> None:
    id_ = await hot_alert(cx)
    clock.advance(hours=1)
    wanted = [Status.ONGOING, Status.RESOLVED, Status.ONGOING, Status.ONGOING, Status.RESOLVED]

    results = await asyncio.gather(
        *(alerts.change_status(cx, id_, METTE, to, f"step {i}") for i, to in enumerate(wanted)), return_exceptions=True
    )

    for r in results:
        assert not isinstance(r, Exception) or isinstance(r, InvalidTransition), r
    history = (await alerts.detail(cx, id_, ADMIN)).history
    assert len(history) == 1 + sum(not isinstance(r, Exception) for r in results)
    for prev, cur in zip(history, history[1:]):
        assert cur.old_status is prev.new_status
    assert (await alerts.detail(cx, id_, ADMIN)).alert.status is history[-1].new_status


# --- The detractor flag through intake -------------------------------------------------------


async def test_colleagues_newer_good_answer_clears_the_flag_and_closes_the_alert(cx: Context, clock: FrozenClock) -> None:
    company = CustomerIn("K-77", CustomerKind.COMPANY, "Bob's Print Shack and Bait Tackle")
    await intake.ingest(cx, [answer("r-bob", nps=3, contact=ContactIn("Bob"), customer=company)])
    card = await lookups.customer(cx, ADMIN, "DK-1001", "K-77")
    assert card.detractor and card.detractor_response_id == "r-bob"
    (dt,) = [a for a in card.open_alerts if a.kind is Kind.DETRACTOR]

    clock.advance(days=14)
    cindy = answer("r-cindy", nps=10, contact=ContactIn("Cindy"), customer=company, submitted_at=AT + timedelta(days=14))
    result = await intake.ingest(cx, [cindy])

    card = await lookups.customer(cx, ADMIN, "DK-1001", "K-77")
    assert not card.detractor and card.detractor_response_id is None
    assert [a.id for a in result.closed] == [dt.id]
    detail = await alerts.detail(cx, dt.id, ADMIN)
    assert detail.alert.status is Status.RESOLVED and detail.alert.resolved_at == clock.now()
    assert detail.alert.handled_at is None  # cxbot closing it is not staff handling it
    last = detail.history[-1]
    assert (last.channel, last.old_status, last.new_status) == (Channel.SYSTEM, Status.NEW, Status.RESOLVED)
    assert "r-cindy" in last.note and "NPS 10" in last.note


async def test_older_answer_arriving_late_does_not_override_a_newer_one(cx: Context) -> None:
    await intake.ingest(cx, [answer("r-new", nps=10, submitted_at=AT)])
    await intake.ingest(cx, [answer("r-old", nps=1, submitted_at=AT - timedelta(days=20))])

    card = await lookups.customer(cx, ADMIN, "DK-1001", "K-1")
    assert not card.detractor
    assert [a.kind for a in card.open_alerts] == [Kind.HOT_ALERT]  # the old answer is still a Hot Alert


async def test_staff_resolving_the_detractor_alert_does_not_clear_the_flag(cx: Context, clock: FrozenClock) -> None:
    result = await intake.ingest(cx, [answer("r-1", nps=9, survey=Survey.SERVICE), answer("r-2", nps=4, submitted_at=AT + timedelta(hours=1))])
    dt = next(a for a in result.alerts if a.kind is Kind.DETRACTOR)
    assert dt.response_id == "r-2"
    clock.advance(hours=5)

    await alerts.change_status(cx, dt.id, METTE, Status.RESOLVED, "Called; will offer a free service")

    card = await lookups.customer(cx, ADMIN, "DK-1001", "K-1")
    assert card.detractor and card.detractor_response_id == "r-2"
    assert [a.kind for a in card.open_alerts] == [Kind.HOT_ALERT]


async def test_detractor_since_keeps_the_time_the_flag_was_set(cx: Context, clock: FrozenClock) -> None:
    await intake.ingest(cx, [answer("r-1", nps=2)])
    flagged_at = clock.now()
    clock.advance(days=3)
    await intake.ingest(cx, [answer("r-2", nps=5, submitted_at=AT + timedelta(days=3))])

    c = await customer_row(cx)
    assert c.detractor and c.detractor_response_id == "r-2"
    assert c.detractor_since == flagged_at

    clock.advance(days=3)
    await intake.ingest(cx, [answer("r-3", nps=9, submitted_at=AT + timedelta(days=6))])
    c = await customer_row(cx)
    assert not c.detractor and c.detractor_since is None
