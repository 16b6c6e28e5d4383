"""API keys, stored by their SHA-256 only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bot.domain.values import Scope
from storage.models import ApiKey
from storage.repositories.base import Repo

T = ApiKey.__table__


class KeysRepo(Repo):
    async def add(self, name: str, key_hash: str, scope: Scope, dealers: list[str] | None, now: datetime) -> int:
        kid = await self.conn.scalar(
            T.insert()
            .values(name=name, key_hash=key_hash, scope=scope, dealers=dealers, created_at=now)
            .returning(T.c.id)
        )
        assert kid is not None
        return int(kid)

    async def active_by_hash(self, key_hash: str) -> Any | None:
        q = select(T).where(T.c.key_hash == key_hash, T.c.revoked_at.is_(None))
        return (await self.conn.execute(q)).first()

    async def all(self) -> list[Any]:
        return list(await self.conn.execute(select(T).order_by(T.c.id)))

    async def revoke(self, key_id: int, now: datetime) -> bool:
        result = await self.conn.execute(
            update(T).where(T.c.id == key_id, T.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        return bool(result.rowcount)
