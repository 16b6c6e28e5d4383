"""Erasure (GDPR): every place a customer's personal data is stored, and clearing it.

`RULES` is the one list of those places: per table, which columns hold personal data and how the
customer's rows are found there. A table added later is covered by adding a rule here;
tests/test_erasure.py fails for a table that is neither covered nor listed in `HOLDS_NONE`. What
the KPIs need (ids, scores, alert states and times) is never touched."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import JSON, Table, Text, and_, cast, delete, not_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from bot.domain.values import SYSTEM, HistoryEvent, Kind
from storage.models import AlertRow, Base, Customer, Response, SlackMessage
from storage.repositories.base import Repo, chunks

REDACTED = "[erased]"
# Stored in place of an erased response's content hash (a hash of the comment is still derived from
# it); a resend of that response is then taken as a duplicate and stores nothing again.
ERASED_HASH = "erased"
# Shorter strings are too likely to appear in unrelated text to be searched for.
MIN_NEEDLE = 4

A = AlertRow.__table__
C = Customer.__table__
R = Response.__table__
S = SlackMessage.__table__


class By(StrEnum):
    CUSTOMER = "customer"  # `keys` are the (dealer, customer id) columns
    ALERT = "alert"  # `keys` is an alert id column: rows about the customer's alerts
    EMAIL = "email"  # `keys` is an address column equal to one of the customer's addresses
    MENTION = "mention"  # `keys` are text or JSON columns, searched for the customer's name, addresses, phones


@dataclass(frozen=True)
class Scope:
    """Whose data is erased, and what identifies them, read before anything is cleared."""

    dealer: str
    customer_id: str
    alert_ids: tuple[str, ...] = ()
    # Alerts whose every note is free text, even the system's (a complaint's description, say).
    free_text_alerts: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()  # the customer's addresses that nobody else uses
    needles: tuple[str, ...] = ()  # name, addresses, phones as stored


@dataclass(frozen=True)
class Rule:
    label: str  # what the CLI reports: "survey responses"
    table: str
    by: By
    keys: tuple[str, ...]
    values: Mapping[str, Any] = field(default_factory=dict)  # column → what it becomes
    rewrite: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)  # column → new value from the old, in Python
    delete: bool = False
    # The rows of the customer this rule leaves alone (system notes made only of scores and ids).
    keep: Callable[[Table, Scope], ColumnElement[bool]] | None = None


# ---- rewriting JSON in Python -----------------------------------------------------------------

# Payload keys of outbox rows that carry text a person wrote or that names the customer.
FREE_TEXT_KEYS = frozenset({"note", "text", "body", "subject", "comment", "reply", "description", "name", "customer_name", "contact"})


def _answers(value: Any) -> Any:
    """Yes/no and number answers stay (they are scores); free text, dates and lists go."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, bool | int | float)}


def _payload(value: Any) -> Any:
    """An outbox row about the customer's alert: its free-text fields are redacted."""
    if isinstance(value, dict):
        return {k: (REDACTED if k in FREE_TEXT_KEYS and isinstance(v, str) and v else _payload(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_payload(v) for v in value]
    return value


# ---- the rules --------------------------------------------------------------------------------


def _system_notes(t: Table, s: Scope) -> ColumnElement[bool]:
    # cxbot's own notes (why an alert was raised, escalations, reminders) are built from scores,
    # ids and times only, and the card shows them; an earlier erasure's entry stays as it is.
    own = and_(t.c.actor == SYSTEM.label, t.c.alert_id.not_in(s.free_text_alerts)) if s.free_text_alerts else t.c.actor == SYSTEM.label
    return or_(own, t.c.event == HistoryEvent.ERASED.value)


CUSTOMER_KEYS = ("dealer_code", "customer_id")
RULES: tuple[Rule, ...] = (
    Rule(
        "customer record", "customers", By.CUSTOMER, CUSTOMER_KEYS,
        values={
            "name": None, "customer_number": None, "email": None, "phone_home": None, "phone_work": None, "phone_mobile": None,
            "salesperson_email": None, "contact_permissions": {}, "preferred_contact": None, "best_time": None,
            "contact_name": None, "advisor_email": None,
            "last_verified_at": None, "anonymized": True,
        },
    ),
    Rule(
        "survey responses", "responses", By.CUSTOMER, CUSTOMER_KEYS,
        values={
            "contact_name": None, "contact_email": None, "contact_phone": None, "purchase_date": None, "service_date": None,
            "comment": None, "publish_consent": False, "content_hash": ERASED_HASH,
        },
        rewrite={"answers": _answers},
    ),
    Rule("history notes", "alert_history", By.ALERT, ("alert_id",), values={"note": REDACTED}, keep=_system_notes),
    Rule("notifications", "outbox", By.ALERT, ("alert_id",), rewrite={"payload": _payload}),
    Rule(
        "complaints", "complaints", By.CUSTOMER, CUSTOMER_KEYS,
        values={"customer_name": None, "customer_email": None, "customer_phone": None, "description": REDACTED},
    ),
    # The dealer system's message and cxbot's answer: the dealer's notes and the customer's comment.
    Rule(
        "dealer-system messages", "customer_messages", By.CUSTOMER, CUSTOMER_KEYS,
        values={"seen_subject": None, "seen_body": None, "returned_subject": None, "returned_body": None},
    ),
    # Withdrawn for good by services.reviews.forget_customer in the same transaction; the
    # dealer's public reply may name the customer.
    Rule("review replies", "reviews", By.CUSTOMER, CUSTOMER_KEYS, values={"reply": None}),
    # Survey invitations (seed 000): name and email are read from the customer record.
    Rule("survey invitations", "invitations", By.CUSTOMER, CUSTOMER_KEYS, values={"purchase_date": None}),
    # A test-drive request says when the customer wanted a car; the lead has no other use once erased.
    Rule("test-drive leads", "leads", By.CUSTOMER, CUSTOMER_KEYS, delete=True),
    Rule("bounce records", "addresses", By.EMAIL, ("email",), delete=True),
    Rule("sent-mail records", "mail_messages", By.EMAIL, ("recipient",), delete=True),
    # Anywhere else the customer is named: notes on other alerts, bounce reports, digests.
    Rule("notes naming the customer", "alert_history", By.MENTION, ("note",)),
    Rule("notifications naming the customer", "outbox", By.MENTION, ("payload", "last_error")),
    Rule("outbox lanes naming the customer", "outbox_lanes", By.MENTION, ("lane",), delete=True),
    Rule("bounce diagnostics naming the customer", "addresses", By.MENTION, ("last_diagnostic",)),
    Rule("other complaints naming the customer", "complaints", By.MENTION, ("description",)),
)

# Tables that hold no personal data of customers (staff, routing, Slack and job bookkeeping, ids
# and times): nothing to erase there.
HOLDS_NONE = frozenset({
    "dealers", "people", "slack_identities", "grants", "routes", "escalation_targets", "api_keys", "counters",
    "alerts", "slack_messages", "slack_workspaces", "processed_events", "job_runs", "leases",
    "slack_installations", "slack_bots", "slack_oauth_states",
    # Ids, types, times and the staff assignee: the dealer system's reference is an id like the
    # customer id, kept so a resent activity is still recognised.
    "activities",
})


def covered_tables() -> set[str]:
    return {r.table for r in RULES}


# ---- the repository ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """The customer as found before erasure: what identifies them, their alerts and posts."""

    row: Any
    alerts: list[tuple[str, Kind]]
    contacts: list[Any]  # (name, email, phone) of the responses' contacts and the complaints
    responses: int
    posts: list[Any]  # Slack messages about their alerts (alert_id, purpose, team_id, channel_id)


def _table(name: str) -> Table | None:
    return Base.metadata.tables.get(name)


def _like_forms(needle: str) -> list[str]:
    # JSON may store non-ASCII characters escaped (SQLite's text JSON) or as they are (JSONB).
    escaped = json.dumps(needle)[1:-1]
    return [needle] if escaped == needle else [needle, escaped]


def _as_text(col: Any) -> Any:
    return cast(col, Text) if isinstance(col.type, JSON) else col


def _differs(t: Table, values: Mapping[str, Any]) -> ColumnElement[bool]:
    """Rows where a column still holds something other than what erasure leaves there."""
    return or_(*(
        _as_text(t.c[c]).is_distinct_from(json.dumps(v)) if isinstance(t.c[c].type, JSON) else t.c[c].is_distinct_from(v)
        for c, v in values.items()
    ))


def _replace(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        for p in patterns:
            value = p.sub(REDACTED, value)
        return value
    if isinstance(value, dict):
        return {k: _replace(v, patterns) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, patterns) for v in value]
    return value


class ErasureRepo(Repo):
    async def subject(self, dealer: str, customer_id: str) -> Subject | None:
        """The customer (locked on PostgreSQL, so a concurrent intake waits) and what names them."""
        q = select(C).where(C.c.dealer_code == dealer, C.c.customer_id == customer_id)
        if self.locks_rows:
            q = q.with_for_update()
        row = (await self.conn.execute(q)).first()
        if row is None:
            return None
        alerts = [(r.id, Kind(r.kind)) for r in await self.conn.execute(
            select(A.c.id, A.c.kind).where(A.c.dealer_code == dealer, A.c.customer_id == customer_id).order_by(A.c.id)
        )]
        contacts = list(await self.conn.execute(
            select(R.c.contact_name, R.c.contact_email, R.c.contact_phone).where(R.c.dealer_code == dealer, R.c.customer_id == customer_id)
        ))
        responses = len(contacts)
        complaints = _table("complaints")
        if complaints is not None:  # staff wrote down name, address and phone with each complaint
            q = select(
                complaints.c.customer_name.label("contact_name"),
                complaints.c.customer_email.label("contact_email"),
                complaints.c.customer_phone.label("contact_phone"),
            )
            contacts += list(await self.conn.execute(q.where(complaints.c.dealer_code == dealer, complaints.c.customer_id == customer_id)))
        posts: list[Any] = []
        for part in chunks([a for a, _ in alerts]):
            posts += list(await self.conn.execute(select(S).where(S.c.alert_id.in_(part)).order_by(S.c.alert_id, S.c.purpose)))
        return Subject(row, alerts, contacts, responses, posts)

    async def shared_emails(self, emails: Sequence[str], dealer: str, customer_id: str) -> set[str]:
        """Which of these addresses another customer or a staff member also has: their bounce
        records are theirs too and stay."""
        wanted = sorted({e.lower() for e in emails if e})
        if not wanted:
            return set()
        others = select(C.c.email).where(
            C.c.email.is_not(None), not_(and_(C.c.dealer_code == dealer, C.c.customer_id == customer_id))
        )
        found = {e.lower() for e in await self.conn.scalars(others) if e.lower() in wanted}
        people = Base.metadata.tables["people"]
        found.update(await self.conn.scalars(select(people.c.email).where(people.c.email.in_(wanted))))
        return found

    async def clear(self, scope: Scope) -> dict[str, int]:
        """Apply every rule; rows changed per rule label (labels with nothing to clear included)."""
        counts: dict[str, int] = {}
        for rule in RULES:
            table = _table(rule.table)
            if table is None:
                continue
            n = await self._apply(rule, table, scope)
            counts[rule.label] = counts.get(rule.label, 0) + n
        return counts

    async def mark_erased(self, dealer: str, customer_id: str, now: datetime, by: str) -> None:
        await self.conn.execute(
            update(C).where(C.c.dealer_code == dealer, C.c.customer_id == customer_id).values(erased_at=now, erased_by=by[:200], updated_at=now)
        )

    # ---- one rule ---------------------------------------------------------------------------

    async def _apply(self, rule: Rule, t: Table, scope: Scope) -> int:
        if rule.by is By.MENTION:
            return await self._mentions(rule, t, scope)
        wheres = self._where(rule, t, scope)
        n = 0
        for where in wheres:
            if rule.keep is not None:
                where = and_(where, not_(rule.keep(t, scope)))
            if rule.delete:
                n += int((await self.conn.execute(delete(t).where(where))).rowcount or 0)
                continue
            if rule.rewrite:
                n += await self._rewrite(t, where, rule.rewrite, rule.values)
            elif rule.values:
                stmt = update(t).where(where, _differs(t, rule.values)).values(dict(rule.values))
                n += int((await self.conn.execute(stmt)).rowcount or 0)
        return n

    def _where(self, rule: Rule, t: Table, scope: Scope) -> list[ColumnElement[bool]]:
        if rule.by is By.CUSTOMER:
            d, c = rule.keys
            return [and_(t.c[d] == scope.dealer, t.c[c] == scope.customer_id)]
        if rule.by is By.ALERT:
            return [t.c[rule.keys[0]].in_(part) for part in chunks(list(scope.alert_ids))]
        col = t.c[rule.keys[0]]  # By.EMAIL
        return [col.in_(sorted({e.lower() for e in scope.emails}))] if scope.emails else []

    async def _rewrite(self, t: Table, where: ColumnElement[bool], rewrite: Mapping[str, Callable[[Any], Any]], values: Mapping[str, Any]) -> int:
        """Rows whose JSON is rewritten in Python, one by one: erasure is rare and its rows few."""
        pk = list(t.primary_key.columns)
        n = 0
        cols = [t.c[c] for c in dict.fromkeys([*rewrite, *values])]
        for row in list(await self.conn.execute(select(*pk, *cols).where(where))):
            new = {**{c: fn(getattr(row, c)) for c, fn in rewrite.items()}, **values}
            changed = {c: v for c, v in new.items() if v != getattr(row, c)}
            if changed:  # counted only when something was left to clear (erasing again says so)
                await self.conn.execute(update(t).where(*(k == getattr(row, k.name) for k in pk)).values(changed))
                n += 1
        return n

    async def _mentions(self, rule: Rule, t: Table, scope: Scope) -> int:
        """Rows of any customer or alert that contain one of the customer's identifying strings:
        each occurrence is replaced (the row deleted for `delete` rules)."""
        needles = sorted({x for x in scope.needles if len(x) >= MIN_NEEDLE})
        if not needles:
            return 0
        patterns = [re.compile(re.escape(x), re.IGNORECASE) for x in needles]
        cols = [t.c[c] for c in rule.keys]
        # As text: a JSON column is searched in its stored form (hence both spellings of a needle).
        hits = [_as_text(col).icontains(form, autoescape=True) for col in cols for x in needles for form in _like_forms(x)]
        pk = list(t.primary_key.columns)
        rows = list(await self.conn.execute(select(*pk, *cols).where(or_(*hits))))
        n = 0
        for row in rows:
            key = [k == getattr(row, k.name) for k in pk]
            if rule.delete:
                await self.conn.execute(delete(t).where(*key))
                n += 1
                continue
            new = {c.name: _replace(getattr(row, c.name), patterns) for c in cols}
            changed = {k: v for k, v in new.items() if v != getattr(row, k)}
            if changed:
                await self.conn.execute(update(t).where(*key).values(changed))
                n += 1
        return n

