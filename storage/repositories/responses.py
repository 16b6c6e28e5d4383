"""Survey responses as received."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storage.models import Response
from storage.repositories.base import InValues, Many, Repo, chunks

T = Response.__table__
_HASHES = select(T.c.id, T.c.content_hash).where(InValues(T.c.id, "ids"))
_INSERT = Many(T.insert(), [c.key for c in T.c])  # intake gives every column


class StoredMeanwhile(Exception):
    """Another transaction stored one of these response ids after this one looked them up."""


class ResponsesRepo(Repo):
    async def hashes(self, ids: Sequence[str]) -> dict[str, str]:
        """Content hashes of the ids already stored."""
        out: dict[str, str] = {}
        for part in chunks(sorted(set(ids)), 900):
            out.update(tuple(r) for r in await self.conn.execute(_HASHES, {"ids": part}))
        return out

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            try:
                await _INSERT.run(self.conn, rows)
            except IntegrityError as e:  # the ids were checked in this transaction: only a race gets here
                raise StoredMeanwhile(str(e.orig)) from e

    async def get(self, id_: str) -> Any | None:
        return (await self.conn.execute(select(T).where(T.c.id == id_))).first()

    async def latest_for(self, dealer: str, customer_id: str, limit: int = 5) -> list[Any]:
        q = (
            select(T)
            .where(T.c.dealer_code == dealer, T.c.customer_id == customer_id)
            .order_by(T.c.submitted_at.desc(), T.c.received_at.desc())
            .limit(limit)
        )
        return list(await self.conn.execute(q))
