"""API keys: created once, shown once, stored as a hash; scoped to intake, read or admin and
optionally to dealers."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import InvalidInput, NotAllowed, NotFound, Problem
from bot.domain.values import Actor, Channel, Scope
from bot.services import Context

PREFIX = "cxk_"


@dataclass(frozen=True)
class Principal:
    """Who an API request speaks for."""

    actor: Actor
    scope: Scope

    def require(self, scope: Scope) -> None:
        if self.scope is not Scope.ADMIN and self.scope is not scope:
            raise NotAllowed(f"this key has scope {self.scope}; {scope} is needed")

    def require_dealer(self, dealer: str) -> None:
        if not self.actor.may_see(dealer):
            raise NotAllowed(f"this key is not allowed for dealer {dealer!r}")


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    scope: Scope
    dealers: list[str] | None
    created_at: datetime
    revoked_at: datetime | None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    """Bootstrap keys from CXBOT_API_KEYS (full access) plus the keys stored in the database."""

    def __init__(self, bootstrap: list[str]) -> None:
        self._bootstrap = [digest(k) for k in bootstrap]

    @property
    def empty_bootstrap(self) -> bool:
        return not self._bootstrap

    async def authenticate(self, cx: Context, presented: str) -> Principal | None:
        h = digest(presented)
        for i, known in enumerate(self._bootstrap):
            if hmac.compare_digest(h, known):
                return Principal(Actor(Channel.API, f"bootstrap-{i + 1}"), Scope.ADMIN)
        if not presented.startswith(PREFIX):
            return None
        async with cx.db.read() as tx:
            row = await tx.keys.active_by_hash(h)
        if row is None:
            return None
        dealers = frozenset(row.dealers) if row.dealers is not None else None
        return Principal(Actor(Channel.API, f"key-{row.id}", dealers), Scope(row.scope))


async def create(cx: Context, name: str, scope: Scope, dealers: list[str] | None) -> tuple[KeyInfo, str]:
    """Make a key; the plain key is returned once and only its hash is kept."""
    if not name.strip():
        raise InvalidInput([Problem("name", "must not be empty")])
    key = PREFIX + secrets.token_urlsafe(32)
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        if dealers:
            unknown = sorted(set(dealers) - await tx.dealers.known(dealers))
            if unknown:
                raise InvalidInput([Problem("dealer", f"unknown dealer {d!r}") for d in unknown])
        kid = await tx.keys.add(name.strip(), digest(key), scope, sorted(set(dealers)) if dealers else None, now)
    return KeyInfo(kid, name.strip(), scope, sorted(set(dealers)) if dealers else None, now, None), key


async def all_keys(cx: Context) -> list[KeyInfo]:
    async with cx.db.read() as tx:
        rows = await tx.keys.all()
    return [KeyInfo(r.id, r.name, Scope(r.scope), r.dealers, r.created_at, r.revoked_at) for r in rows]


async def revoke(cx: Context, key_id: int) -> None:
    async with cx.db.transaction() as tx:
        if not await tx.keys.revoke(key_id, cx.clock.now()):
            raise NotFound(f"No active key {key_id}.")
