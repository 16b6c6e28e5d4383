"""Dealer files for `cxbot dealers load`: TOML (everything) or CSV (dealers, or people and grants)."""

from __future__ import annotations

import csv
import dataclasses
from datetime import date
import io
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from bot.domain.calendar import Calendar, parse_hours
from bot.domain.directory import DealerEntry, DealerSpec, Directory, EscalationSpec, PersonSpec, RouteSpec, expand_kinds
from bot.domain.errors import InvalidInput, Problem
from bot.domain.values import DealerType, Kind, Role
from handlers.wire import _email, problems_of

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,32}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def _slack_id(v: str) -> str:
    if not _SLACK_ID.match(v):
        raise ValueError(f"{v!r} is not a Slack id (a channel's is like C0123ABCD, a workspace's like T0123ABCD)")
    return v


def _language(v: str) -> str:
    if not _LANGUAGE.match(v):
        raise ValueError(f"{v!r} is not a language code like da, de or en")
    return v


SlackId = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_slack_id)]
# Lower-cased before it is checked, so "DE" from a spreadsheet is fine.
Language = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True), AfterValidator(_language)]
_SLACK_USER = re.compile(r"^([A-Z0-9]{2,32})/([A-Z0-9]{2,32})$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _emails(v: list[str]) -> list[str]:
    return [e for e in (_email(x) for x in v) if e]


class RouteIn(_Model):
    kinds: list[Kind] | None = None
    slack_team: SlackId | None = None
    slack_channel: SlackId | None = None
    emails: list[str] = Field(default_factory=list)
    _check = field_validator("emails")(_emails)


class EscalationIn(RouteIn):
    level: int = Field(ge=1, le=9)
    role: Role | None = None

    @model_validator(mode="after")
    def _target(self) -> EscalationIn:
        if not (self.slack_channel or self.emails or self.role):
            raise ValueError("an escalation level needs a slack_channel, emails or a role")
        return self


class DealerIn(_Model):
    code: Code
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    brand: str | None = None
    region: str | None = None
    type: DealerType = DealerType.DEALER
    time_zone: str = "UTC"
    language: Language = "en"
    slack_team: SlackId | None = None  # default workspace for this dealer's routes
    routes: list[RouteIn] | None = None
    escalation: list[EscalationIn] | None = None
    hours: dict[str, str | list[str]] | None = None  # {"mon-fri" = "08:00-17:00", "sat" = "09:00-13:00"}
    holidays: list[date] | None = None
    reviews_channel: SlackId | None = None  # public reviews to reply to (in the dealer's slack_team)

    @model_validator(mode="after")
    def _calendar(self) -> DealerIn:
        """Build the calendar once here, so bad hours (or none open at all) are reported now."""
        if self.hours is not None:
            try:
                Calendar(self.time_zone, parse_hours(self.hours), frozenset(self.holidays or ()))
            except ValueError as e:
                raise ValueError(f"hours: {e}") from None
        elif self.holidays:
            raise ValueError("holidays: only a dealer with opening `hours` has holidays (without them its clock is the wall clock)")
        return self

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use a name like Europe/Copenhagen)") from None
        return v

    def to_entry(self) -> DealerEntry:
        holidays = tuple(d.isoformat() for d in sorted(set(self.holidays))) if self.holidays is not None else None
        spec = DealerSpec(self.code, self.name, self.brand, self.region, self.type, self.time_zone, self.language, self.hours, holidays)
        if self.reviews_channel:
            spec = dataclasses.replace(spec, reviews_team=self.slack_team, reviews_channel=self.reviews_channel)
        routes = None
        if self.routes is not None:
            by_kind: dict[Kind, RouteSpec] = {}
            # Routes without kinds first, so a route naming its kinds overrides them.
            for r in sorted(self.routes, key=lambda r: r.kinds is not None):
                for k in expand_kinds(r.kinds):
                    by_kind[k] = RouteSpec(k, r.slack_team or self.slack_team, r.slack_channel, tuple(r.emails))
            routes = tuple(by_kind[k] for k in Kind if k in by_kind)
        escalation = None
        if self.escalation is not None:
            by_level: dict[tuple[Kind, int], EscalationSpec] = {}
            for e in sorted(self.escalation, key=lambda e: e.kinds is not None):
                for k in expand_kinds(e.kinds, escalating=True):
                    by_level[(k, e.level)] = EscalationSpec(k, e.level, e.slack_team or self.slack_team, e.slack_channel, tuple(e.emails), e.role)
            escalation = tuple(by_level[key] for key in sorted(by_level, key=lambda t: (list(Kind).index(t[0]), t[1])))
        return DealerEntry(spec, routes, escalation)


class PersonIn(_Model):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    email: str
    slack: list[str] = Field(default_factory=list)  # "TEAMID/USERID"
    grants: dict[str, Role] = Field(default_factory=dict)

    @field_validator("email")
    @classmethod
    def _address(cls, v: str) -> str:
        found = _email(v)
        if not found:
            raise ValueError("is not an email address")
        return found.lower()

    @field_validator("slack")
    @classmethod
    def _slack(cls, v: list[str]) -> list[str]:
        for s in v:
            if not _SLACK_USER.match(s.strip()):
                raise ValueError(f"{s!r} is not TEAMID/USERID (e.g. T0123ABCD/U0456EFGH)")
        return [s.strip() for s in v]

    def to_spec(self) -> PersonSpec:
        pairs = frozenset((s.split("/")[0], s.split("/")[1]) for s in self.slack)
        return PersonSpec(self.email, self.name, pairs, dict(self.grants))


class DealerFile(_Model):
    dealers: list[DealerIn] = Field(default_factory=list)
    people: list[PersonIn] = Field(default_factory=list)


def _problems(err: ValidationError, index: int | None) -> list[Problem]:
    """As `problems_of`, but an unknown key is named as a dealer file's, not a response's."""
    kinds = [e["type"] for e in err.errors(include_url=False)]
    return [
        Problem(p.field, "is not a key of a dealer file (see examples/dealers.toml)", p.index) if kind == "extra_forbidden" else p
        for p, kind in zip(problems_of(err, index), kinds)
    ]


def _check_unique(directory: Directory) -> None:
    problems = []
    seen: set[str] = set()
    for i, d in enumerate(directory.dealers):
        if d.dealer.code in seen:
            problems.append(Problem(f"dealers.{i}.code", f"dealer {d.dealer.code!r} appears twice"))
        seen.add(d.dealer.code)
    emails: set[str] = set()
    for i, p in enumerate(directory.people):
        if p.email in emails:
            problems.append(Problem(f"people.{i}.email", f"{p.email} appears twice"))
        emails.add(p.email)
    if problems:
        raise InvalidInput(problems)


def parse_toml(text: str) -> Directory:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput([Problem("file", f"is not valid TOML: {e}")]) from None
    try:
        f = DealerFile.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(_problems(e, None)) from None
    directory = Directory(tuple(d.to_entry() for d in f.dealers), tuple(p.to_spec() for p in f.people))
    _check_unique(directory)
    return directory


DEALER_COLUMNS = {"code", "name", "brand", "region", "type", "time_zone", "language", "slack_team", "slack_channel", "emails", "reviews_channel"}
PEOPLE_COLUMNS = {"email", "name", "dealer", "role", "slack"}


def _cells(row: dict[str, str | None]) -> dict[str, Any]:
    return {k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()}


def parse_csv(text: str) -> Directory:
    """A CSV of dealers (`code,name,…`, optional slack_team, slack_channel, emails for one route
    of every kind) or of people (`email,name,dealer,role[,slack]`, one row per grant)."""
    reader = csv.DictReader(io.StringIO(text))
    header = {h.strip() for h in reader.fieldnames or []}
    problems: list[Problem] = []
    if {"code", "name"} <= header:
        unknown = header - DEALER_COLUMNS
        if unknown:
            raise InvalidInput([Problem("header", f"unknown column {c!r} in a dealers CSV") for c in sorted(unknown)])
        entries = []
        for line, row in enumerate(reader, start=2):
            cells = _cells(row)
            route = {k: cells.pop(k) for k in ("slack_channel", "emails") if k in cells}
            if route:
                route["emails"] = [e for e in route.get("emails", "").split(";") if e.strip()]
                cells["routes"] = [route]
            try:
                entries.append(DealerIn.model_validate(cells).to_entry())
            except ValidationError as e:
                problems += _problems(e, line)
        if problems:
            raise InvalidInput(problems)
        directory = Directory(tuple(entries), ())
    elif {"email", "dealer", "role"} <= header:
        unknown = header - PEOPLE_COLUMNS
        if unknown:
            raise InvalidInput([Problem("header", f"unknown column {c!r} in a people CSV") for c in sorted(unknown)])
        people: dict[str, dict[str, Any]] = {}
        for line, row in enumerate(reader, start=2):
            cells = _cells(row)
            email = cells.get("email", "").lower()
            p = people.setdefault(email, {"email": email, "name": cells.get("name") or email, "slack": [], "grants": {}, "line": line})
            p["slack"] += [s for s in cells.get("slack", "").split(";") if s.strip()]
            if "dealer" in cells:
                p["grants"][cells["dealer"]] = cells.get("role", "")
        specs = []
        for p in people.values():
            line = p.pop("line")
            p["slack"] = sorted(set(p["slack"]))
            try:
                specs.append(PersonIn.model_validate(p).to_spec())
            except ValidationError as e:
                problems += _problems(e, line)
        if problems:
            raise InvalidInput(problems)
        directory = Directory((), tuple(specs))
    else:
        raise InvalidInput([Problem("header", "a dealers CSV needs code,name,…; a people CSV needs email,name,dealer,role")])
    _check_unique(directory)
    return directory


def read_dealer_file(path: Path) -> Directory:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InvalidInput([Problem("file", f"cannot read {path}: {e.strerror}")]) from None
    if path.suffix.lower() == ".csv":
        return parse_csv(text)
    return parse_toml(text)
