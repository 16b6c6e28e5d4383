"""Dealers, people, grants and routing: loaded from a dealer file, idempotently."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.domain.directory import Directory, EscalationSpec, RouteSpec
from bot.domain.errors import InvalidInput, Problem
from bot.domain.values import Actor, DealerType, Role
from bot.services import Context

DEALER_FIELDS = ("name", "brand", "region", "type", "time_zone", "language", "opening_hours", "holidays", "reviews_team", "reviews_channel")


@dataclass
class LoadReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # "DK-1001: name 'A' → 'B'"
    unchanged: int = 0

    @property
    def nothing_changed(self) -> bool:
        return not self.added and not self.changed


@dataclass(frozen=True)
class DealerInfo:
    code: str
    name: str
    brand: str | None
    region: str | None
    type: str
    time_zone: str
    language: str
    people: int


def _route_row(r: RouteSpec) -> dict[str, Any]:
    return {"kind": r.kind, "slack_team": r.slack_team, "slack_channel": r.slack_channel, "emails": list(r.emails)}


def _escalation_row(e: EscalationSpec) -> dict[str, Any]:
    return {**_route_row(RouteSpec(e.kind, e.slack_team, e.slack_channel, e.emails)), "level": e.level, "role": e.role}


def _same(a: Any, b: Any) -> bool:
    """Stored and loaded values compare as JSON (enums as their value, lists of dates as text)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _norm(rows: list[Any], cols: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Stored rows and file rows in one comparable form."""
    maps = [getattr(r, "_mapping", r) for r in rows]
    return sorted(tuple("" if m[c] is None else str(m[c]) for c in cols) for m in maps)


ROUTE_COLS = ("kind", "slack_team", "slack_channel", "emails")
ESC_COLS = ("kind", "level", "slack_team", "slack_channel", "emails", "role")


async def load(cx: Context, directory: Directory) -> LoadReport:
    """Upsert every dealer and person of the file by code and email, in one transaction.
    A person's grants and Slack users become exactly those the file lists; a dealer's routes
    are replaced only when the file gives them. Nothing is stored if anything is wrong."""
    now = cx.clock.now()
    dealers = LoadReport()
    people = LoadReport()
    async with cx.db.transaction() as tx:
        named = {e.dealer.code for e in directory.dealers}
        granted = {d for p in directory.people for d in p.grants}
        missing = sorted(granted - named - await tx.dealers.known(sorted(granted)))
        if missing:
            raise InvalidInput([Problem("grants", f"unknown dealer {code!r}: add it to the file or load it first") for code in missing])

        for entry in directory.dealers:
            d = entry.dealer
            values = {f: list(v) if isinstance(v := getattr(d, f), tuple) else v for f in DEALER_FIELDS}
            stored = await tx.dealers.get(d.code)
            notes: list[str] = []
            if stored is None:
                await tx.dealers.add({"code": d.code, **values}, now)
                dealers.added.append(d.code)
            else:
                diff = {f: v for f, v in values.items() if not _same(getattr(stored, f), v)}
                if diff:
                    await tx.dealers.change(d.code, diff, now)
                    notes += [f"{f} {getattr(stored, f)!s} → {v!s}" for f, v in diff.items()]
            if entry.routes is not None:
                rows = [_route_row(r) for r in entry.routes]
                if _norm(await tx.dealers.routes(d.code), ROUTE_COLS) != _norm(rows, ROUTE_COLS):
                    await tx.dealers.replace_routes(d.code, rows)
                    notes.append("routing")
            if entry.escalation is not None:
                rows = [_escalation_row(e) for e in entry.escalation]
                if _norm(await tx.dealers.escalation_targets(d.code), ESC_COLS) != _norm(rows, ESC_COLS):
                    await tx.dealers.replace_escalation_targets(d.code, rows)
                    notes.append("escalation")
            if stored is not None:
                if notes:
                    dealers.changed.append(f"{d.code}: {', '.join(notes)}")
                else:
                    dealers.unchanged += 1

        for p in directory.people:
            row = await tx.people.by_email(p.email)
            notes = []
            if row is None:
                pid = await tx.people.add(p.email, p.name, now)
                people.added.append(p.email)
            else:
                pid = row.id
                if row.name != p.name:
                    await tx.people.rename(pid, p.name, now)
                    notes.append(f"name {row.name} → {p.name}")
            if row is None or await tx.people.grants(pid) != p.grants:
                await tx.people.replace_grants(pid, p.grants)
                if row is not None:
                    notes.append("grants " + (", ".join(f"{d}={r}" for d, r in sorted(p.grants.items())) or "none"))
            if row is None or await tx.people.slack_ids(pid) != set(p.slack):
                await tx.people.replace_slack_ids(pid, set(p.slack))
                if row is not None:
                    notes.append("slack users")
            if row is not None:
                if notes:
                    people.changed.append(f"{p.email}: {'; '.join(notes)}")
                else:
                    people.unchanged += 1
    return LoadReport(
        added=[f"dealer {c}" for c in dealers.added] + [f"person {e}" for e in people.added],
        changed=[f"dealer {c}" for c in dealers.changed] + [f"person {c}" for c in people.changed],
        unchanged=dealers.unchanged + people.unchanged,
    )


async def visible(cx: Context, actor: Actor) -> list[DealerInfo]:
    async with cx.db.read() as tx:
        rows = await tx.dealers.all()
        staff = await tx.dealers.count_staff()
    return [
        DealerInfo(r.code, r.name, r.brand, r.region, DealerType(r.type).value, r.time_zone, r.language, staff.get(r.code, 0))
        for r in rows
        if actor.may_see(r.code)
    ]


async def people(cx: Context) -> list[tuple[str, str, dict[str, Role]]]:
    async with cx.db.read() as tx:
        rows = await tx.people.all_with_grants()
    return [(p.email, p.name, g) for p, g in rows]

