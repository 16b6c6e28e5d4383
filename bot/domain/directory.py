"""Dealers, their routing and the people granted to them, as a dealer file describes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.values import DealerType, Kind, Role


@dataclass(frozen=True)
class DealerSpec:
    code: str
    name: str
    brand: str | None = None
    region: str | None = None
    type: DealerType = DealerType.DEALER
    time_zone: str = "UTC"
    language: str = "en"
    opening_hours: dict[str, str | list[str]] | None = None  # business hours: due times count only these
    holidays: tuple[str, ...] | None = None  # ISO dates, closed all day
    reviews_team: str | None = None  # where public reviews wait for a reply (None: the Hot Alert route)
    reviews_channel: str | None = None


@dataclass(frozen=True)
class RouteSpec:
    kind: Kind
    slack_team: str | None = None
    slack_channel: str | None = None
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationSpec:
    kind: Kind
    level: int
    slack_team: str | None = None
    slack_channel: str | None = None
    emails: tuple[str, ...] = ()
    role: Role | None = None


@dataclass(frozen=True)
class DealerEntry:
    dealer: DealerSpec
    routes: tuple[RouteSpec, ...] | None = None  # None: the file says nothing, keep what is stored
    escalation: tuple[EscalationSpec, ...] | None = None


@dataclass(frozen=True)
class PersonSpec:
    email: str
    name: str
    slack: frozenset[tuple[str, str]] = frozenset()
    grants: dict[str, Role] = field(default_factory=dict)


@dataclass(frozen=True)
class Directory:
    dealers: tuple[DealerEntry, ...] = ()
    people: tuple[PersonSpec, ...] = ()


def expand_kinds(kinds: list[Kind] | None, *, escalating: bool = False) -> list[Kind]:
    """A route or escalation entry without kinds applies to every kind (every kind that escalates)."""
    if kinds:
        return list(dict.fromkeys(kinds))
    return [k for k in Kind if not (escalating and k is Kind.DETRACTOR)]
