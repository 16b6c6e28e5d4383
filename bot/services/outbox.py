"""Operators' view of the outbox: what is waiting, what failed and why; sending failures again."""

from __future__ import annotations

from bot.domain.errors import NotFound
from bot.services import Context
from storage.repositories.outbox import OutboxItem


async def items(cx: Context, status: str | None = None, limit: int = 50) -> tuple[list[OutboxItem], dict[str, int]]:
    async with cx.db.read() as tx:
        return await tx.outbox.listing(status, limit), await tx.outbox.counts()


async def retry(cx: Context, ids: list[int] | None) -> int:
    """Queue failed rows again (after inviting the bot to a channel, say); None: every failed row."""
    async with cx.db.transaction() as tx:
        n = await tx.outbox.requeue(ids, cx.clock.now())
    if ids and n < len(ids):
        raise NotFound("only failed rows can be sent again; check the ids with `cxbot outbox list --status failed`")
    cx.wake()
    return n

