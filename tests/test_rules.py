"""The pure rules in bot/domain: which answers raise alerts, status transitions, alert ids."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.errors import InvalidInput, InvalidTransition, NoteRequired, Refused
from bot.domain.rules import (
    DealerRules,
    Latest,
    Rules,
    detractor_flag,
    is_detractor,
    is_hot_alert,
    is_newer,
    is_sales_opportunity,
    reason,
    response_alert_kinds,
)
from bot.domain.status import ALLOWED, alert_id, normal_alert_id, parse_alert_id, system_close, transition
from bot.domain.values import SYSTEM, Actor, Alert, Channel, CustomerIn, HistoryEvent, Kind, Status, Survey, SurveyResponse

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAFF = Actor(Channel.SLACK, "U0METTEKJ")


def answer(survey: Survey = Survey.SALES, dealer: str = "DK-1001", **over: Any) -> SurveyResponse:
    """A satisfied customer's answer unless fields say otherwise."""
    fields: dict[str, Any] = {
        "id": "r-1",
        "survey": survey,
        "dealer": dealer,
        "submitted_at": T0,
        "customer": CustomerIn("K-1"),
        "nps": None,
    }
    fields.update(over)
    return SurveyResponse(**fields)


def lost_sale(**over: Any) -> SurveyResponse:
    """A lost-sales prospect who qualifies for a Sales Opportunity unless fields say otherwise."""
    fields: dict[str, Any] = {
        "test_drive_requested_at": T0 - timedelta(days=30),
        "answers": {"still_considering": True, "wants_contact": True},
    }
    fields.update(over)
    return answer(Survey.LOST_SALES, **fields)


# --- Hot Alert -------------------------------------------------------------------------------


@pytest.mark.parametrize("survey", [Survey.SALES, Survey.SERVICE])
@pytest.mark.parametrize("nps", range(11))
def test_hot_alert_when_nps_at_most_six(survey: Survey, nps: int) -> None:
    assert is_hot_alert(answer(survey, nps=nps), Rules()) is (nps <= 6)


def test_answer_without_nps_scores_or_request_is_not_hot() -> None:
    assert not is_hot_alert(answer(nps=None), Rules())
    assert not is_hot_alert(answer(nps=None, scores={"overall": 5, "staff": 3}, answers={"comment_ok": True}), Rules())


@pytest.mark.parametrize("score,hot", [(1, True), (2, True), (3, False), (5, False)])
def test_hot_alert_when_any_score_at_most_two(score: int, hot: bool) -> None:
    r = answer(nps=9, scores={"overall": 5, "workshop": score, "staff": 4})
    assert is_hot_alert(r, Rules()) is hot


def test_per_score_threshold_applies_only_to_that_score() -> None:
    rules = Rules(score_max={"overall": 3})
    assert is_hot_alert(answer(nps=9, scores={"overall": 3}), rules)
    assert not is_hot_alert(answer(nps=9, scores={"staff": 3}), rules)
    assert is_hot_alert(answer(nps=9, scores={"staff": 2}), rules)
    assert not is_hot_alert(answer(nps=9, scores={"overall": 4}), rules)


def test_per_score_threshold_may_be_stricter_than_the_default() -> None:
    rules = Rules(score_max={"coffee": 1})
    assert not is_hot_alert(answer(nps=9, scores={"coffee": 2}), rules)
    assert is_hot_alert(answer(nps=9, scores={"coffee": 1}), rules)
    assert is_hot_alert(answer(nps=9, scores={"overall": 2}), rules)


def test_dealer_override_of_hot_alert_thresholds_applies_to_that_dealer_only() -> None:
    rules = Rules(dealers={"DK-1001": DealerRules(hot_alert_max_nps=7, hot_alert_max_score=3)})
    assert is_hot_alert(answer(dealer="DK-1001", nps=7), rules)
    assert not is_hot_alert(answer(dealer="DK-1001", nps=8), rules)
    assert is_hot_alert(answer(dealer="DK-1001", nps=9, scores={"overall": 3}), rules)
    assert not is_hot_alert(answer(dealer="DE-2001", nps=7), rules)
    assert not is_hot_alert(answer(dealer="DE-2001", nps=9, scores={"overall": 3}), rules)
    assert is_hot_alert(answer(dealer="DE-2001", nps=6), rules)


def test_dealer_override_may_be_stricter_than_the_group_default() -> None:
    rules = Rules(dealers={"DE-2001": DealerRules(hot_alert_max_nps=4)})
    assert not is_hot_alert(answer(dealer="DE-2001", nps=5), rules)
    assert is_hot_alert(answer(dealer="DE-2001", nps=4), rules)
    assert is_hot_alert(answer(dealer="DK-1001", nps=5), rules)


def test_dealer_without_override_keeps_group_values() -> None:
    rules = Rules(hot_alert_max_nps=5, dealers={"DK-1001": DealerRules(detractor_max_nps=7)})
    assert not is_hot_alert(answer(dealer="DK-1001", nps=6), rules)
    assert is_hot_alert(answer(dealer="DK-1001", nps=5), rules)


@pytest.mark.parametrize("survey", [Survey.SALES, Survey.SERVICE])
def test_contact_request_alone_raises_hot_alert(survey: Survey) -> None:
    assert is_hot_alert(answer(survey, nps=10, scores={"overall": 5}, answers={"contact_requested": True}), Rules())


@pytest.mark.parametrize("answers", [{}, {"contact_requested": False}, {"contact_requested": None}])
def test_no_contact_request_no_hot_alert(answers: dict[str, Any]) -> None:
    assert not is_hot_alert(answer(nps=10, answers=answers), Rules())


def test_lost_sales_answers_never_raise_hot_alerts() -> None:
    r = lost_sale(nps=0, scores={"overall": 1}, answers={"contact_requested": True})
    assert not is_hot_alert(r, Rules())


def test_hot_alert_reason_names_every_trigger() -> None:
    r = answer(nps=3, scores={"overall": 2, "staff": 5}, answers={"contact_requested": True})
    text = reason(Kind.HOT_ALERT, r, Rules())
    assert "NPS 3 (≤ 6)" in text
    assert "overall 2 (≤ 2)" in text
    assert "staff" not in text
    assert "asked to be contacted" in text


# --- Sales Opportunity -----------------------------------------------------------------------


def test_qualifying_lost_sale_is_a_sales_opportunity() -> None:
    assert is_sales_opportunity(lost_sale(), Rules())


@pytest.mark.parametrize("survey", [Survey.SALES, Survey.SERVICE])
def test_other_surveys_are_never_sales_opportunities(survey: Survey) -> None:
    r = dataclasses.replace(lost_sale(), survey=survey)
    assert not is_sales_opportunity(r, Rules())


def test_no_test_drive_request_no_sales_opportunity() -> None:
    assert not is_sales_opportunity(lost_sale(test_drive_requested_at=None), Rules())


@pytest.mark.parametrize("field", ["purchased_at", "ordered_at"])
@pytest.mark.parametrize(
    "when,opportunity",
    [
        (T0 - timedelta(days=60), True),  # bought before requesting the test drive: a new lead
        (T0 - timedelta(days=30, seconds=1), True),  # one second before the request
        (T0 - timedelta(days=30), False),  # at the request
        (T0 - timedelta(days=10), False),  # between request and answer
        (T0, False),  # at the answer
    ],
)
def test_purchase_or_order_between_request_and_answer_prevents_it(field: str, when: datetime, opportunity: bool) -> None:
    assert is_sales_opportunity(lost_sale(**{field: when}), Rules()) is opportunity


def test_test_drive_requested_after_the_answer_is_no_sales_opportunity() -> None:
    assert not is_sales_opportunity(lost_sale(test_drive_requested_at=T0 + timedelta(seconds=1)), Rules())


def test_test_drive_requested_at_the_answer_time_counts() -> None:
    assert is_sales_opportunity(lost_sale(test_drive_requested_at=T0), Rules())


@pytest.mark.parametrize("lookback", [timedelta(days=90), timedelta(days=120)])
def test_request_older_than_the_lookback_is_no_sales_opportunity(lookback: timedelta) -> None:
    rules = Rules(sales_opportunity_lookback=lookback)
    assert is_sales_opportunity(lost_sale(test_drive_requested_at=T0 - lookback), rules)
    assert not is_sales_opportunity(lost_sale(test_drive_requested_at=T0 - lookback - timedelta(seconds=1)), rules)


@pytest.mark.parametrize(
    "answers",
    [
        {},
        {"still_considering": True},
        {"wants_contact": True},
        {"still_considering": False, "wants_contact": True},
        {"still_considering": True, "wants_contact": False},
        {"still_considering": False, "wants_contact": False},
        {"still_considering": None, "wants_contact": True},
    ],
)
def test_both_yes_answers_are_needed(answers: dict[str, Any]) -> None:
    assert not is_sales_opportunity(lost_sale(answers=answers), Rules())


def test_sales_opportunity_is_its_own_alert_kind() -> None:
    assert response_alert_kinds(lost_sale(nps=2), Rules()) == [Kind.SALES_OPPORTUNITY]


@given(
    survey=st.sampled_from(list(Survey)),
    nps=st.none() | st.integers(0, 10),
    scores=st.dictionaries(st.sampled_from(["overall", "staff", "workshop"]), st.integers(1, 5), max_size=3),
    contact=st.booleans(),
    considering=st.booleans(),
    wants=st.booleans(),
    requested_days=st.none() | st.integers(-5, 200),
)
def test_one_answer_never_raises_two_alerts_of_one_kind(
    survey: Survey, nps: int | None, scores: dict[str, int], contact: bool, considering: bool, wants: bool, requested_days: int | None
) -> None:
    r = answer(
        survey,
        nps=nps,
        scores=scores,
        answers={"contact_requested": contact, "still_considering": considering, "wants_contact": wants},
        test_drive_requested_at=None if requested_days is None else T0 - timedelta(days=requested_days),
    )
    kinds = response_alert_kinds(r, Rules())
    assert len(kinds) == len(set(kinds))
    assert Kind.DETRACTOR not in kinds and Kind.COMPLAINT not in kinds
    assert (Kind.HOT_ALERT in kinds) is is_hot_alert(r, Rules())
    assert (Kind.SALES_OPPORTUNITY in kinds) is is_sales_opportunity(r, Rules())


# --- Detractor -------------------------------------------------------------------------------


@pytest.mark.parametrize("nps", range(11))
def test_detractor_is_at_most_six_by_default(nps: int) -> None:
    assert is_detractor(nps, "DK-1001", Rules()) is (nps <= 6)


@pytest.mark.parametrize("nps", range(11))
def test_dealer_may_count_seven_as_detractor(nps: int) -> None:
    rules = Rules(dealers={"DK-5001": DealerRules(detractor_max_nps=7)})
    assert is_detractor(nps, "DK-5001", rules) is (nps <= 7)
    assert is_detractor(nps, "DK-1001", rules) is (nps <= 6)


def test_no_nps_is_never_a_detractor() -> None:
    assert not is_detractor(None, "DK-1001", Rules(detractor_max_nps=10))


def test_detractor_threshold_is_independent_of_hot_alert_threshold() -> None:
    rules = Rules(dealers={"DK-5001": DealerRules(detractor_max_nps=7)})
    assert is_detractor(7, "DK-5001", rules)
    assert not is_hot_alert(answer(dealer="DK-5001", nps=7), rules)


def test_newer_answer_with_nps_replaces_latest_and_ties_go_to_the_later_arrival() -> None:
    latest = Latest("r-1", T0, 3)
    assert is_newer(answer(nps=10, submitted_at=T0 + timedelta(seconds=1)), latest)
    assert is_newer(answer(nps=10, submitted_at=T0), latest)  # tie: the one arriving now wins
    assert not is_newer(answer(nps=10, submitted_at=T0 - timedelta(seconds=1)), latest)
    assert not is_newer(answer(nps=None, submitted_at=T0 + timedelta(days=1)), latest)
    assert is_newer(answer(nps=0), None)
    assert not is_newer(answer(nps=None), None)


def test_detractor_flag_follows_latest_answer_only() -> None:
    assert detractor_flag(Latest("r-1", T0, 3), "DK-1001", Rules())
    assert not detractor_flag(Latest("r-1", T0, 7), "DK-1001", Rules())
    assert not detractor_flag(None, "DK-1001", Rules())


# --- Due times ---------------------------------------------------------------------------------


def test_due_times_per_kind() -> None:
    rules = Rules()
    assert rules.due_at(Kind.HOT_ALERT, T0) == T0 + timedelta(hours=48)
    assert rules.due_at(Kind.SALES_OPPORTUNITY, T0) == T0 + timedelta(days=7)
    assert rules.due_at(Kind.DETRACTOR, T0) is None
    assert rules.due_at(Kind.COMPLAINT, T0) == T0 + timedelta(hours=48)


# --- Status transitions --------------------------------------------------------------------


def alert(status: Status = Status.NEW, kind: Kind = Kind.HOT_ALERT, **over: Any) -> Alert:
    due = Rules().due_at(kind, T0)
    return dataclasses.replace(Alert("HA-12", kind, "DK-1001", "K-1", "r-1", status, T0, due), **over)


EXPECTED_ALLOWED = {
    (Status.NEW, Status.ONGOING),
    (Status.NEW, Status.RESOLVED),
    (Status.ONGOING, Status.ONGOING),
    (Status.ONGOING, Status.RESOLVED),
    (Status.RESOLVED, Status.ONGOING),
}
ALL_PAIRS = [(a, b) for a in Status for b in Status]


def test_transition_table_is_exactly_the_documented_one() -> None:
    assert set(ALLOWED) == EXPECTED_ALLOWED


@pytest.mark.parametrize("before,to", sorted(EXPECTED_ALLOWED))
def test_allowed_transitions(before: Status, to: Status) -> None:
    at = T0 + timedelta(hours=3)
    change = transition(alert(before), STAFF, to, "Called the customer", at)
    assert change.before.status is before
    assert change.after.status is to
    assert change.entry.old_status is before and change.entry.new_status is to


@pytest.mark.parametrize("before,to", [p for p in ALL_PAIRS if p not in EXPECTED_ALLOWED])
def test_refused_transitions(before: Status, to: Status) -> None:
    with pytest.raises(InvalidTransition) as e:
        transition(alert(before), STAFF, to, "Called the customer", T0)
    assert isinstance(e.value, Refused)
    assert "HA-12" in e.value.message


@pytest.mark.parametrize("before", list(Status))
def test_no_alert_goes_back_to_new(before: Status) -> None:
    with pytest.raises(InvalidTransition):
        transition(alert(before), STAFF, Status.NEW, "back to the start", T0)


@pytest.mark.parametrize("note", [None, "", " ", "\n\t  \n"])
@pytest.mark.parametrize("to", [Status.ONGOING, Status.RESOLVED])
def test_every_change_needs_a_note(note: str | None, to: Status) -> None:
    with pytest.raises(NoteRequired):
        transition(alert(Status.NEW), STAFF, to, note, T0)


def test_note_is_kept_without_surrounding_blanks() -> None:
    change = transition(alert(), STAFF, Status.ONGOING, "  Called; new date on Friday \n", T0)
    assert change.entry.note == "Called; new date on Friday"


def test_overlong_note_is_refused() -> None:
    with pytest.raises(InvalidInput):
        transition(alert(), STAFF, Status.ONGOING, "x" * 10_001, T0)


def test_history_entry_records_who_where_when() -> None:
    at = T0 + timedelta(hours=5)
    change = transition(alert(), STAFF, Status.RESOLVED, "Called, fixed", at, person_id=7)
    e = change.entry
    assert (e.alert_id, e.at, e.channel, e.actor, e.event, e.person_id) == (
        "HA-12",
        at,
        Channel.SLACK,
        "slack:U0METTEKJ",
        HistoryEvent.STATUS,
        7,
    )


def test_handled_at_is_set_by_the_first_change_only() -> None:
    first = T0 + timedelta(hours=2)
    a = transition(alert(), STAFF, Status.ONGOING, "called", first).after
    assert a.handled_at == first
    a = transition(a, STAFF, Status.ONGOING, "called again", first + timedelta(hours=1)).after
    a = transition(a, STAFF, Status.RESOLVED, "done", first + timedelta(hours=2)).after
    a = transition(a, STAFF, Status.ONGOING, "reopened", first + timedelta(hours=3)).after
    assert a.handled_at == first


def test_resolved_at_is_set_on_resolve_and_cleared_on_reopen() -> None:
    a = transition(alert(), STAFF, Status.RESOLVED, "done", T0 + timedelta(hours=1)).after
    assert a.resolved_at == T0 + timedelta(hours=1)
    a = transition(a, STAFF, Status.ONGOING, "customer called back", T0 + timedelta(hours=2)).after
    assert a.resolved_at is None
    a = transition(a, STAFF, Status.RESOLVED, "done again", T0 + timedelta(hours=3)).after
    assert a.resolved_at == T0 + timedelta(hours=3)


def test_refused_change_leaves_the_alert_as_it_was() -> None:
    before = alert(Status.RESOLVED, handled_at=T0, resolved_at=T0)
    with pytest.raises(InvalidTransition):
        transition(before, STAFF, Status.RESOLVED, "again", T0 + timedelta(hours=1))
    assert before.status is Status.RESOLVED and before.resolved_at == T0


def test_system_close_does_not_count_as_handled() -> None:
    dt = alert(kind=Kind.DETRACTOR, id="DT-3")
    change = system_close(dt, SYSTEM, "newer answer is NPS 9", T0 + timedelta(days=2))
    assert change.after.status is Status.RESOLVED
    assert change.after.resolved_at == T0 + timedelta(days=2)
    assert change.after.handled_at is None
    assert change.entry.channel is Channel.SYSTEM and change.entry.note == "newer answer is NPS 9"


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(list(Status)), st.integers(min_value=1, max_value=10_000)),
        max_size=20,
    )
)
def test_random_status_sequences_keep_handled_at_at_the_first_change(steps: list[tuple[Status, int]]) -> None:
    a = alert()
    now = T0
    first_change: datetime | None = None
    last_resolve: datetime | None = None
    for to, minutes in steps:
        now += timedelta(minutes=minutes)
        if (a.status, to) not in EXPECTED_ALLOWED:
            with pytest.raises(InvalidTransition):
                transition(a, STAFF, to, "note", now)
            continue
        a = transition(a, STAFF, to, "note", now).after
        first_change = first_change or now
        last_resolve = now if to is Status.RESOLVED else None
        assert a.status is to
    assert a.handled_at == first_change
    assert a.resolved_at == last_resolve
    assert (a.resolved_at is not None) is (a.status is Status.RESOLVED)
    assert a.on_time is (None if first_change is None else first_change <= T0 + timedelta(hours=48))


# --- On time ---------------------------------------------------------------------------------


def test_on_time_compares_handled_at_with_due_at() -> None:
    due = T0 + timedelta(hours=48)
    assert alert(handled_at=due).on_time is True
    assert alert(handled_at=due - timedelta(hours=1)).on_time is True
    assert alert(handled_at=due + timedelta(seconds=1)).on_time is False
    assert alert().on_time is None
    assert alert(kind=Kind.DETRACTOR, handled_at=T0 + timedelta(days=30)).on_time is None


def test_overdue_only_while_unhandled_and_past_due() -> None:
    due = T0 + timedelta(hours=48)
    assert not alert().overdue(due)
    assert alert().overdue(due + timedelta(seconds=1))
    assert not alert(handled_at=due + timedelta(hours=1)).overdue(due + timedelta(hours=2))
    assert not alert(kind=Kind.DETRACTOR).overdue(T0 + timedelta(days=365))


# --- Alert ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("HA-12", (Kind.HOT_ALERT, 12)),
        ("ha12", (Kind.HOT_ALERT, 12)),
        ("  Ha-12 ", (Kind.HOT_ALERT, 12)),
        ("SO-7", (Kind.SALES_OPPORTUNITY, 7)),
        ("dt3", (Kind.DETRACTOR, 3)),
        ("CO-1", (Kind.COMPLAINT, 1)),
    ],
)
def test_parse_alert_id(text: str, expected: tuple[Kind, int]) -> None:
    assert parse_alert_id(text) == expected


@pytest.mark.parametrize(
    "text", ["", "HA", "HA-", "-12", "12", "XX-12", "H-12", "HAA-12", "HA--12", "HA-1a", "HA 12", "HA-12-3", "HA-1234567890"]
)
def test_parse_alert_id_refuses_bad_ids(text: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_alert_id(text)
    assert e.value.problems[0].field == "id"


def test_normal_alert_id() -> None:
    assert normal_alert_id(" ha12") == "HA-12"
    assert normal_alert_id("so-007") == "SO-7"


@given(kind=st.sampled_from(list(Kind)), number=st.integers(min_value=1, max_value=999_999_999), lower=st.booleans(), dash=st.booleans())
def test_alert_ids_round_trip(kind: Kind, number: int, lower: bool, dash: bool) -> None:
    text = alert_id(kind, number)
    if not dash:
        text = text.replace("-", "")
    if lower:
        text = text.lower()
    assert parse_alert_id(text) == (kind, number)
    assert normal_alert_id(text) == alert_id(kind, number)
