"""Dealers with their routing, and the people granted to them."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any, Sequence

import orjson
from sqlalchemy import bindparam, delete, func, select, union, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.calendar import Calendar, parse_hours
from bot.domain.values import Kind, Role
from storage.models import Dealer, EscalationTarget, Grant, Person, Route, SlackIdentity
from storage.repositories.base import InValues, Repo, chunks

D = Dealer.__table__
RT = Route.__table__
ET = EscalationTarget.__table__
P = Person.__table__
G = Grant.__table__
S = SlackIdentity.__table__

# Who a Slack user is and what they are granted: every click and command asks, so one query, built once.
_BY_SLACK = (
    select(P, G.c.dealer_code.label("g_dealer"), G.c.role.label("g_role"))
    .join(S, S.c.person_id == P.c.id)
    .outerjoin(G, G.c.person_id == P.c.id)
    .where(S.c.team_id == bindparam("team"), S.c.user_id == bindparam("user"))
)

# Built once (statement and cache key): intake asks these for every batch.
_KNOWN = select(D.c.code, D.c.time_zone, D.c.opening_hours, D.c.holidays).where(InValues(D.c.code, "codes"))
_ROUTES_OF = select(RT).where(InValues(RT.c.dealer_code, "codes"))

DEALER_FIELDS = ("name", "brand", "region", "type", "time_zone", "language")


@functools.lru_cache(maxsize=4096)
def _calendar(zone: str, hours: bytes, holidays: tuple[str, ...]) -> Calendar:
    """One Calendar per distinct setting, kept across transactions: it is a fiftieth of a
    millisecond to build, and it keeps the days it has worked out (Calendar._days) for the next
    batch's due times. A dealer whose hours change gets a new one, as the key is their text."""
    return Calendar(zone, parse_hours(orjson.loads(hours)), frozenset(date.fromisoformat(d) for d in holidays))


class DealersRepo(Repo):
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        super().__init__(conn, dialect)
        # Per transaction: a dealer's hours as read with `known`, so intake's `calendars` for the
        # same dealers needs no second query. code -> (time zone, opening hours, holidays).
        self._hours: dict[str, tuple[str, Any, Any]] = {}

    async def known(self, codes: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(sorted(set(codes)), 900):
            for code, zone, hours, holidays in await self.conn.execute(_KNOWN, {"codes": part}):
                found.add(code)
                self._hours[code] = (zone, hours, holidays)
        return found

    async def get(self, code: str) -> Any | None:
        return (await self.conn.execute(select(D).where(D.c.code == code))).first()

    async def all(self) -> list[Any]:
        return list(await self.conn.execute(select(D).order_by(D.c.code)))

    async def count_staff(self) -> dict[str, int]:
        q = select(G.c.dealer_code, func.count()).group_by(G.c.dealer_code)
        return {code: n for code, n in await self.conn.execute(q)}

    async def add(self, values: dict[str, Any], now: datetime) -> None:
        await self.conn.execute(D.insert().values(**values, created_at=now, updated_at=now))

    async def change(self, code: str, values: dict[str, Any], now: datetime) -> None:
        await self.conn.execute(update(D).where(D.c.code == code).values(**values, updated_at=now))

    async def calendars(self, codes: Sequence[str]) -> dict[str, Any]:
        """The clock each dealer's due times run on: its business hours and holidays in its time
        zone when it has opening hours, else the wall clock (dealers without hours are left out)."""
        wanted = sorted(set(codes))
        unread = [c for c in wanted if c not in self._hours]
        if unread:
            await self.known(unread)
        out: dict[str, Any] = {}
        for code in wanted:
            zone, hours, holidays = self._hours.get(code, (None, None, None))
            if hours:
                out[code] = _calendar(zone, orjson.dumps(hours, option=orjson.OPT_SORT_KEYS), tuple(holidays or ()))
        return out

    async def teams(self, codes: Sequence[str] | None = None) -> dict[str, set[str]]:
        return await _dealer_teams(self.conn, codes)

    async def routes(self, code: str) -> list[Any]:
        return list(await self.conn.execute(select(RT).where(RT.c.dealer_code == code).order_by(RT.c.kind)))

    async def routes_of(self, codes: Sequence[str]) -> dict[tuple[str, Kind], Any]:
        """Every route of these dealers, by (dealer, kind): one query for a whole batch."""
        out: dict[tuple[str, Kind], Any] = {}
        for part in chunks(sorted(set(codes)), 900):
            out.update({(r.dealer_code, Kind(r.kind)): r for r in await self.conn.execute(_ROUTES_OF, {"codes": part})})
        return out

    async def staff_emails(self, codes: Sequence[str]) -> dict[str, list[str]]:
        """Addresses of the people granted to each dealer as staff or manager."""
        q = (
            select(G.c.dealer_code, P.c.email)
            .join(P, P.c.id == G.c.person_id)
            .where(G.c.dealer_code.in_(sorted(set(codes))), G.c.role.in_([Role.STAFF, Role.MANAGER]))
            .order_by(G.c.dealer_code, P.c.email)
        )
        out: dict[str, list[str]] = {}
        for code, email in await self.conn.execute(q):
            out.setdefault(code, []).append(email)
        return out

    async def of_addresses(self, emails: Sequence[str]) -> dict[str, set[str]]:
        """`of_address` for many addresses at once."""
        wanted = {e.lower() for e in emails}
        out: dict[str, set[str]] = {e: set() for e in wanted}
        for table in (RT, ET):
            for code, listed in await self.conn.execute(select(table.c.dealer_code, table.c.emails)):
                for e in {x.lower() for x in listed or []} & wanted:
                    out[e].add(code)
        for part in chunks(sorted(wanted), 900):
            q = select(P.c.email, G.c.dealer_code).join(P, P.c.id == G.c.person_id).where(P.c.email.in_(part))
            for email, code in await self.conn.execute(q):
                out[email].add(code)
        return out

    async def of_address(self, email: str) -> set[str]:
        """Dealers an address belongs to: routed to it (alerts or escalations), or granted to the
        person who has it. Routing tables are small: their address lists are read in full."""
        email = email.lower()
        found: set[str] = set()
        for table in (RT, ET):
            rows = await self.conn.execute(select(table.c.dealer_code, table.c.emails))
            found |= {r.dealer_code for r in rows if email in {e.lower() for e in r.emails or []}}
        q = select(G.c.dealer_code).join(P, P.c.id == G.c.person_id).where(P.c.email == email)
        found.update(await self.conn.scalars(q))
        return found

    async def route(self, code: str, kind: Kind) -> Any | None:
        return (await self.conn.execute(select(RT).where(RT.c.dealer_code == code, RT.c.kind == kind))).first()

    async def replace_routes(self, code: str, rows: Sequence[dict[str, Any]]) -> None:
        await self.conn.execute(delete(RT).where(RT.c.dealer_code == code))
        if rows:
            await self.conn.execute(RT.insert(), [{**r, "dealer_code": code} for r in rows])

    async def targets_of(self, codes: Sequence[str]) -> dict[tuple[str, Kind, int], Any]:
        """Every escalation target of these dealers, by (dealer, kind, level)."""
        q = select(ET).where(ET.c.dealer_code.in_(sorted(set(codes))))
        return {(r.dealer_code, Kind(r.kind), r.level): r for r in await self.conn.execute(q)}

    async def emails_with_role(self, codes: Sequence[str]) -> dict[tuple[str, Role], list[str]]:
        """Addresses of the people granted to each dealer, by (dealer, role)."""
        q = select(G.c.dealer_code, G.c.role, P.c.email).join(P, P.c.id == G.c.person_id).where(G.c.dealer_code.in_(sorted(set(codes))))
        out: dict[tuple[str, Role], list[str]] = {}
        for code, role, email in await self.conn.execute(q.order_by(P.c.email)):
            out.setdefault((code, Role(role)), []).append(email)
        return out

    async def escalation_targets(self, code: str) -> list[Any]:
        q = select(ET).where(ET.c.dealer_code == code).order_by(ET.c.kind, ET.c.level)
        return list(await self.conn.execute(q))

    async def replace_escalation_targets(self, code: str, rows: Sequence[dict[str, Any]]) -> None:
        await self.conn.execute(delete(ET).where(ET.c.dealer_code == code))
        if rows:
            await self.conn.execute(ET.insert(), [{**r, "dealer_code": code} for r in rows])


class PeopleRepo(Repo):
    async def by_emails(self, emails: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in chunks(sorted({e.lower() for e in emails}), 900):
            out.update({r.email: r for r in await self.conn.execute(select(P).where(P.c.email.in_(part)))})
        return out

    async def by_email(self, email: str) -> Any | None:
        return (await self.conn.execute(select(P).where(P.c.email == email.lower()))).first()

    async def add(self, email: str, name: str, now: datetime) -> int:
        pid = await self.conn.scalar(
            P.insert().values(email=email.lower(), name=name, created_at=now, updated_at=now).returning(P.c.id)
        )
        assert pid is not None
        return int(pid)

    async def rename(self, person_id: int, name: str, now: datetime) -> None:
        await self.conn.execute(update(P).where(P.c.id == person_id).values(name=name, updated_at=now))

    async def slack_ids(self, person_id: int) -> set[tuple[str, str]]:
        rows = await self.conn.execute(select(S.c.team_id, S.c.user_id).where(S.c.person_id == person_id))
        return {(r.team_id, r.user_id) for r in rows}

    async def replace_slack_ids(self, person_id: int, pairs: set[tuple[str, str]]) -> None:
        await self.conn.execute(delete(S).where(S.c.person_id == person_id))
        for team, user in sorted(pairs):
            # A Slack user belongs to one person: loading it for someone else moves it.
            await self.conn.execute(delete(S).where(S.c.team_id == team, S.c.user_id == user))
            await self.conn.execute(S.insert().values(team_id=team, user_id=user, person_id=person_id))

    async def grants(self, person_id: int) -> dict[str, Role]:
        rows = await self.conn.execute(select(G.c.dealer_code, G.c.role).where(G.c.person_id == person_id))
        return {r.dealer_code: Role(r.role) for r in rows}

    async def replace_grants(self, person_id: int, grants: dict[str, Role]) -> None:
        await self.conn.execute(delete(G).where(G.c.person_id == person_id))
        if grants:
            await self.conn.execute(
                G.insert(), [{"person_id": person_id, "dealer_code": d, "role": r} for d, r in sorted(grants.items())]
            )

    async def by_slack(self, team_id: str, user_id: str) -> tuple[Any, dict[str, Role]] | None:
        """The person with this Slack identity and their grants, in one query (a row per grant)."""
        rows = list(await self.conn.execute(_BY_SLACK, {"team": team_id, "user": user_id}))
        if not rows:
            return None
        return rows[0], {r.g_dealer: Role(r.g_role) for r in rows if r.g_dealer is not None}

    async def names(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {r.id: r.name for r in await self.conn.execute(select(P.c.id, P.c.name).where(P.c.id.in_(sorted(set(ids)))))}

    async def all_with_grants(self) -> list[tuple[Any, dict[str, Role]]]:
        people = list(await self.conn.execute(select(P).order_by(P.c.email)))
        grants: dict[int, dict[str, Role]] = {}
        for r in await self.conn.execute(select(G)):
            grants.setdefault(r.person_id, {})[r.dealer_code] = Role(r.role)
        return [(p, grants.get(p.id, {})) for p in people]


async def _dealer_teams(conn: Any, codes: Sequence[str] | None) -> dict[str, set[str]]:
    """The Slack workspaces each dealer's routing names (routes and escalation targets), in one query."""
    parts = []
    for table in (RT, ET):
        q = select(table.c.dealer_code, table.c.slack_team).where(table.c.slack_team.is_not(None))
        if codes is not None:
            q = q.where(table.c.dealer_code.in_(sorted(codes)))
        parts.append(q)
    out: dict[str, set[str]] = {}
    for code, team in await conn.execute(union(*parts)):  # UNION: each (dealer, team) once
        out.setdefault(code, set()).add(team)
    return out
