"""The customer card's contact preferences (seed 003): setting them, verifying the contact
details, and whether mail may go to a customer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from bot.domain.contact import METHODS, mail_refusal
from bot.domain.errors import InvalidInput, NotFound, Problem
from bot.domain.values import Actor
from bot.services import Context, access

_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


@dataclass(frozen=True)
class CardChange:
    """What `cxbot customers set` changes; None leaves a field as it is, "" clears a text field."""

    preferred_contact: str | None = None
    best_time: str | None = None
    salesperson_email: str | None = None
    advisor_email: str | None = None
    contact_name: str | None = None
    methods: tuple[tuple[str, bool], ...] = ()


def _check(c: CardChange) -> dict[str, Any]:
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    if c.preferred_contact is not None:
        if c.preferred_contact and c.preferred_contact not in METHODS:
            problems.append(Problem("preferred", f"must be one of {', '.join(METHODS)} (or empty to clear), not {c.preferred_contact!r}"))
        values["preferred_contact"] = c.preferred_contact or None
    for field, name, limit in (("best_time", "best-time", 100), ("contact_name", "contact-name", 200)):
        v = getattr(c, field)
        if v is not None:
            if len(v.strip()) > limit:
                problems.append(Problem(name, f"at most {limit} characters"))
            values[field] = v.strip() or None
    for field, name in (("salesperson_email", "salesperson"), ("advisor_email", "advisor")):
        v = getattr(c, field)
        if v is not None:
            if v.strip() and not _EMAIL.match(v.strip()):
                problems.append(Problem(name, f"{v!r} is not an email address"))
            values[field] = v.strip() or None
    for method, _ in c.methods:
        if method not in METHODS:
            problems.append(Problem(method, f"is not a contact method ({', '.join(METHODS)})"))
    if problems:
        raise InvalidInput(problems)
    return values


async def set_card(cx: Context, actor: Actor, dealer: str, customer_id: str, change: CardChange) -> None:
    """Change a customer's contact preferences; bad input changes nothing."""
    values = _check(change)
    if not values and not change.methods:
        raise InvalidInput([Problem("options", "nothing to change: give at least one option")])
    async with cx.db.transaction() as tx:
        actor = await access.resolve(tx, actor)
        c = await tx.customers.get(dealer, customer_id) if actor.may_see(dealer) else None
        if c is None:
            raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}.")
        if c.anonymized:
            values.pop("contact_name", None)  # an anonymized customer keeps no personal data
        await tx.customers.set_card(dealer, customer_id, values, dict(change.methods), cx.clock.now())


async def verify(cx: Context, actor: Actor, dealer: str, customer_id: str) -> str | None:
    """The contact details were checked with the customer: "last verified" is now, and the
    address's bounce flag and count are cleared. Returns the address cleared, if any."""
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        actor = await access.resolve(tx, actor)
        c = await tx.customers.get(dealer, customer_id) if actor.may_see(dealer) else None
        if c is None:
            raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}.")
        await tx.customers.set_card(dealer, customer_id, {"last_verified_at": now}, {}, now)
        if c.email and await tx.mail.verify(c.email, now):
            return str(c.email)
    return None


async def mail_check(tx: Any, keys: Sequence[tuple[str, str]], limit: int) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """(the address of each customer who may be emailed, why each other one may not: no address,
    opted out, over the bounce limit), from one read of the customers and their bounce records."""
    facts = await tx.customers.mail_facts(keys)
    mailable: dict[tuple[str, str], str] = {}
    refused: dict[tuple[str, str], str] = {}
    for key in keys:
        f = facts.get(key)
        why = "unknown customer" if f is None else mail_refusal(None if f.anonymized else f.email, f.contact_permissions, f.bounces, limit)
        if why:
            refused[key] = why
        else:
            mailable[key] = f.email
    return mailable, refused


async def mail_refusals(tx: Any, keys: Sequence[tuple[str, str]], limit: int) -> dict[tuple[str, str], str]:
    """Per customer that may not be emailed: why."""
    return (await mail_check(tx, keys, limit))[1]
