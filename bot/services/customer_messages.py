"""The customer's message in the dealer system (seed 004, ID612): the dealer system sends its current
message and writes back what cxbot answers — its own text kept, cxbot's detractor part added or removed."""

from __future__ import annotations

from bot.domain.dealer_message import MessageResult, compose
from bot.domain.errors import NotAllowed, NotFound
from bot.domain.values import Actor
from bot.services import Context


async def exchange(cx: Context, actor: Actor, dealer: str, customer_id: str, subject: str, body: str) -> MessageResult:
    """The message to write back for a customer: cxbot's part while the customer is flagged as a
    detractor (their most recent answer decides), none otherwise, beside the dealer's own text and
    within the dealer system's limits (`bot.domain.dealer_message`). The message sent and the one
    returned are kept per customer for the daily digest."""
    if not actor.may_see(dealer):
        raise NotAllowed(f"Not allowed for dealer {dealer!r}.")
    async with cx.db.transaction() as tx:
        d = await tx.dealers.get(dealer)
        if d is None:
            raise NotFound(f"No dealer {dealer!r}.")
        if await tx.customers.get(dealer, customer_id) is None:
            raise NotFound(f"No customer {customer_id!r} at dealer {dealer!r}: cxbot knows customers from their survey answers.")
        facts = (await tx.detractors.facts(dealer, [customer_id])).get(customer_id)
        result = compose(subject, body, facts, d.language)
        await tx.detractors.save_message(dealer, customer_id, subject, body, result, cx.clock.now())
    return result
