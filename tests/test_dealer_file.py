"""Dealer files (TOML and CSV) parsed into a Directory: routing by kind, escalation levels, Slack
users, and problems that name the field they are about. Pure parsing, no database."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from bot.domain.directory import Directory, RouteSpec
from bot.domain.errors import InvalidInput, Problem
from bot.domain.values import DealerType, Kind, Role
from handlers.dealer_file import parse_csv, parse_toml, read_dealer_file

EVERY_KIND = list(Kind)
ESCALATING = [k for k in Kind if k is not Kind.DETRACTOR]

DEALER = """
[[dealers]]
code = "DK-1001"
name = "Autohuset Vest"
time_zone = "Europe/Copenhagen"
language = "da"
slack_team = "T0AUTOVEST"
"""


def problems(text: str, parse=parse_toml) -> list[Problem]:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as e:
        parse(text)
    return e.value.problems


def routes_by_kind(directory: Directory) -> dict[Kind, RouteSpec]:
    routes = directory.dealers[0].routes
    assert routes is not None
    return {r.kind: r for r in routes}


def example(name: str) -> str:
    return resources.files("bot").joinpath(f"examples/{name}").read_text(encoding="utf-8")


# ---- routes ----------------------------------------------------------------------------------


def test_route_without_kinds_covers_every_kind_in_the_dealers_workspace() -> None:
    d = parse_toml(DEALER + '[[dealers.routes]]\nslack_channel = "C0VESTKUNDE"\nemails = ["kundeservice@vest.example"]\n')
    by_kind = routes_by_kind(d)
    assert list(by_kind) == EVERY_KIND
    for kind, r in by_kind.items():
        assert r == RouteSpec(kind, "T0AUTOVEST", "C0VESTKUNDE", ("kundeservice@vest.example",))


@pytest.mark.parametrize("specific_first", [False, True], ids=["general-first", "specific-first"])
def test_route_with_kinds_overrides_the_general_route_for_those_kinds_only(specific_first: bool) -> None:
    general = '[[dealers.routes]]\nslack_channel = "C0VESTKUNDE"\nemails = ["kundeservice@vest.example"]\n'
    specific = '[[dealers.routes]]\nkinds = ["sales_opportunity"]\nslack_channel = "C0VESTSALG"\nemails = ["salg@vest.example"]\n'
    d = parse_toml(DEALER + (specific + general if specific_first else general + specific))
    by_kind = routes_by_kind(d)
    assert by_kind[Kind.SALES_OPPORTUNITY] == RouteSpec(Kind.SALES_OPPORTUNITY, "T0AUTOVEST", "C0VESTSALG", ("salg@vest.example",))
    for kind in (Kind.HOT_ALERT, Kind.DETRACTOR, Kind.COMPLAINT):
        assert by_kind[kind].slack_channel == "C0VESTKUNDE"
        assert by_kind[kind].emails == ("kundeservice@vest.example",)


def test_routes_only_for_named_kinds_leave_the_other_kinds_unrouted() -> None:
    d = parse_toml(DEALER + '[[dealers.routes]]\nkinds = ["hot_alert", "complaint"]\nemails = ["vaerksted@fyn.example"]\n')
    assert list(routes_by_kind(d)) == [Kind.HOT_ALERT, Kind.COMPLAINT]


def test_a_routes_own_workspace_wins_over_the_dealers() -> None:
    d = parse_toml(DEALER + '[[dealers.routes]]\nslack_team = "T0OTHERWS"\nslack_channel = "C0ELSEWHERE"\n')
    assert {r.slack_team for r in routes_by_kind(d).values()} == {"T0OTHERWS"}


def test_a_dealer_without_routes_keeps_what_is_stored_but_an_empty_list_clears_them() -> None:
    assert parse_toml(DEALER).dealers[0].routes is None
    assert parse_toml(DEALER).dealers[0].escalation is None
    cleared = parse_toml(DEALER.replace('slack_team = "T0AUTOVEST"', 'slack_team = "T0AUTOVEST"\nroutes = []\nescalation = []'))
    assert cleared.dealers[0].routes == ()
    assert cleared.dealers[0].escalation == ()


# ---- escalation --------------------------------------------------------------------------------


def test_escalation_levels_cover_every_escalating_kind_in_level_order() -> None:
    d = parse_toml(
        DEALER
        + '[[dealers.escalation]]\nlevel = 2\nemails = ["cx-team@importer.example"]\nrole = "regional"\n'
        + '[[dealers.escalation]]\nlevel = 1\nrole = "manager"\n'
    )
    esc = d.dealers[0].escalation
    assert esc is not None
    # Detractor alerts have no due time, so they never escalate.
    assert [(e.kind, e.level) for e in esc] == [(k, lvl) for k in ESCALATING for lvl in (1, 2)]
    level1 = [e for e in esc if e.level == 1]
    level2 = [e for e in esc if e.level == 2]
    assert {e.role for e in level1} == {Role.MANAGER} and {e.emails for e in level1} == {()}
    assert {(e.role, e.emails) for e in level2} == {(Role.REGIONAL, ("cx-team@importer.example",))}
    assert {e.slack_team for e in esc} == {"T0AUTOVEST"}


def test_escalation_with_kinds_overrides_that_level_for_those_kinds() -> None:
    d = parse_toml(
        DEALER
        + '[[dealers.escalation]]\nlevel = 1\nkinds = ["hot_alert"]\nslack_channel = "C0VESTLEAD"\n'
        + '[[dealers.escalation]]\nlevel = 1\nrole = "manager"\n'
    )
    esc = {(e.kind, e.level): e for e in d.dealers[0].escalation or ()}
    assert set(esc) == {(k, 1) for k in ESCALATING}
    assert esc[(Kind.HOT_ALERT, 1)].slack_channel == "C0VESTLEAD" and esc[(Kind.HOT_ALERT, 1)].role is None
    assert esc[(Kind.COMPLAINT, 1)].role is Role.MANAGER and esc[(Kind.COMPLAINT, 1)].slack_channel is None


def test_an_escalation_level_without_a_target_is_refused() -> None:
    [p] = problems(DEALER + "[[dealers.escalation]]\nlevel = 1\n")
    assert p.field == "dealers.0.escalation.0"
    assert "needs a slack_channel, emails or a role" in p.message


@pytest.mark.parametrize("level", [0, 10])
def test_escalation_levels_run_from_1_to_9(level: int) -> None:
    [p] = problems(DEALER + f'[[dealers.escalation]]\nlevel = {level}\nrole = "manager"\n')
    assert p.field == "dealers.0.escalation.0.level"


# ---- people ----------------------------------------------------------------------------------


def test_slack_users_are_team_and_user_pairs() -> None:
    d = parse_toml(
        DEALER
        + '[[people]]\nname = "Camilla Berg"\nemail = "Camilla.Berg@Importer.example"\n'
        + 'slack = ["T0AUTOVEST/U0CAMILLAB", " T0BRANDTAH/U0CAMILLAB "]\ngrants = { "DK-1001" = "regional" }\n'
    )
    [p] = d.people
    assert p.email == "camilla.berg@importer.example"
    assert p.slack == frozenset({("T0AUTOVEST", "U0CAMILLAB"), ("T0BRANDTAH", "U0CAMILLAB")})
    assert p.grants == {"DK-1001": Role.REGIONAL}


@pytest.mark.parametrize("slack", ["U0METTEKJ", "t0autovest/u0mettekj", "T0AUTOVEST/", "T0AUTOVEST/U0METTE/X", "T0 AUTO/U0METTE"])
def test_a_slack_user_that_is_not_team_slash_user_is_refused_by_name(slack: str) -> None:
    [p] = problems(f'[[people]]\nname = "Mette Kjær"\nemail = "mette@vest.example"\nslack = ["{slack}"]\n')
    assert p.field == "people.0.slack"
    assert slack in p.message and "TEAMID/USERID" in p.message


# ---- problems name their field ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        ('time_zone = "Europe/Nowhere"', "dealers.0.time_zone", "unknown time zone 'Europe/Nowhere'"),
        ('type = "garage"', "dealers.0.type", "service_partner"),
        ('language = "Danish"', "dealers.0.language", "'danish' is not a language code like da, de or en"),
        ('slack_team = "autovest"', "dealers.0.slack_team", "'autovest' is not a Slack id"),
        ('colour = "red"', "dealers.0.colour", "is not a key of a dealer file"),
    ],
)
def test_a_wrong_dealer_value_is_named_by_its_field(line: str, field: str, words: str) -> None:
    [p] = problems(f'[[dealers]]\ncode = "DK-1001"\nname = "Autohuset Vest"\n{line}\n')
    assert p.field == field
    assert words in p.message


def test_a_dealer_code_must_be_a_plain_code() -> None:
    [p] = problems('[[dealers]]\ncode = "DK 1001/x"\nname = "Autohuset Vest"\n')
    assert p.field == "dealers.0.code"


def test_every_wrong_field_of_a_file_is_listed() -> None:
    found = problems(
        DEALER
        + '[[dealers.routes]]\nslack_channel = "general"\nemails = ["not-an-address"]\n'
        + '[[people]]\nname = "Jonas Holm"\nemail = "jonas"\ngrants = { "DK-1001" = "boss" }\n'
    )
    assert {p.field for p in found} == {
        "dealers.0.routes.0.slack_channel",
        "dealers.0.routes.0.emails",
        "people.0.email",
        "people.0.grants.DK-1001",
    }
    by_field = {p.field: p.message for p in found}
    assert "staff" in by_field["people.0.grants.DK-1001"]
    assert by_field["people.0.email"] == "is not an email address"
    assert "'general' is not a Slack id" in by_field["dealers.0.routes.0.slack_channel"]


def test_a_dealer_code_or_person_listed_twice_is_refused() -> None:
    twice = DEALER + DEALER.replace("Autohuset Vest", "Autohuset Vest II")
    assert problems(twice) == [Problem("dealers.1.code", "dealer 'DK-1001' appears twice")]
    person = '[[people]]\nname = "Pia Lund"\nemail = "pia@fyn.example"\n'
    assert problems(person + person.replace("pia@", "PIA@")) == [Problem("people.1.email", "pia@fyn.example appears twice")]


def test_invalid_toml_is_one_problem_about_the_file() -> None:
    [p] = problems("[[dealers]\ncode = 'DK-1001'\n")
    assert p.field == "file"
    assert p.message.startswith("is not valid TOML") and "line 1" in p.message


# ---- CSV ---------------------------------------------------------------------------------------


def test_a_dealers_csv_gives_each_dealer_one_route_for_every_kind() -> None:
    d = parse_csv(
        "code,name,brand,region,type,time_zone,language,slack_team,slack_channel,emails\n"
        "DE-2002,Autohaus Seidel,Mazda,Süd,dealer,Europe/Berlin,de,T0SEIDELAH,C0SEIDELCX,kd@seidel.example; vk@seidel.example\n"
        "DE-5002,Kfz-Service Lange,,,service_partner,Europe/Berlin,DE,,,\n"
    )
    seidel, lange = d.dealers
    assert seidel.dealer.region == "Süd" and seidel.dealer.time_zone == "Europe/Berlin"
    assert seidel.routes == tuple(RouteSpec(k, "T0SEIDELAH", "C0SEIDELCX", ("kd@seidel.example", "vk@seidel.example")) for k in Kind)
    assert lange.dealer.type is DealerType.SERVICE_PARTNER and lange.dealer.language == "de" and lange.dealer.brand is None
    assert lange.routes is None  # no routing columns filled in: what is stored stays
    assert d.people == ()


def test_a_people_csv_has_one_row_per_grant() -> None:
    d = parse_csv(
        "email,name,dealer,role,slack\n"
        "frank.richter@importer.example,Frank Richter,DE-2002,regional,T0SEIDELAH/U0FRANKRI\n"
        "Frank.Richter@importer.example,Frank Richter,DE-5002,regional,\n"
        "uwe@kfz-lange.example,Uwe Lange,DE-5002,manager,\n"
    )
    frank, uwe = d.people
    assert frank.email == "frank.richter@importer.example"
    assert frank.grants == {"DE-2002": Role.REGIONAL, "DE-5002": Role.REGIONAL}
    assert frank.slack == frozenset({("T0SEIDELAH", "U0FRANKRI")})
    assert uwe.grants == {"DE-5002": Role.MANAGER} and uwe.slack == frozenset()
    assert d.dealers == ()


def test_csv_problems_name_the_line_and_field() -> None:
    found = problems(
        "code,name,time_zone\nDK-1002,Bilhuset Nord,Europe/Copenhagen\nDK-1003,Bilhuset Syd,Mars/Base\nDK-1004,,UTC\n",
        parse_csv,
    )
    assert [(p.index, p.field) for p in found] == [(3, "time_zone"), (4, "name")]
    assert "Mars/Base" in found[0].message


def test_a_people_csv_row_with_a_bad_role_names_its_line() -> None:
    [p] = problems("email,name,dealer,role\nanders@nord.example,Anders,DK-1002,staff\nline@nord.example,Line,DK-1002,chef\n", parse_csv)
    assert (p.index, p.field) == (3, "grants.DK-1002")


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("code,name,colour", "unknown column 'colour' in a dealers CSV"),
        ("email,name,dealer,role,shoe_size", "unknown column 'shoe_size' in a people CSV"),
        ("name,city", "a dealers CSV needs code,name"),
    ],
)
def test_a_csv_with_an_unknown_header_is_refused_before_any_row(header: str, words: str) -> None:
    [p] = problems(header + "\nx,y,z,w,v\n", parse_csv)
    assert p.field == "header" and words in p.message


# ---- files -------------------------------------------------------------------------------------


def test_the_file_suffix_picks_the_format_and_a_missing_file_is_one_problem(tmp_path: Path) -> None:
    csv_file = tmp_path / "dealers.csv"
    csv_file.write_text("\ufeffcode,name\nDK-1002,Bilhuset Nord\n", encoding="utf-8")  # as Excel saves it
    assert [e.dealer.code for e in read_dealer_file(csv_file).dealers] == ["DK-1002"]
    toml_file = tmp_path / "dealers.toml"
    toml_file.write_text(DEALER, encoding="utf-8")
    assert [e.dealer.code for e in read_dealer_file(toml_file).dealers] == ["DK-1001"]
    with pytest.raises(InvalidInput) as e:
        read_dealer_file(tmp_path / "missing.toml")
    [p] = e.value.problems
    assert p.field == "file" and "missing.toml" in p.message


def test_the_shipped_examples_parse_and_grant_only_dealers_they_describe() -> None:
    toml = parse_toml(example("dealers.toml"))
    assert {e.dealer.code for e in toml.dealers} == {"DK-1001", "DE-2001", "DK-5001"}
    assert {d for p in toml.people for d in p.grants} <= {e.dealer.code for e in toml.dealers}
    assert {e.dealer.type for e in toml.dealers} == {DealerType.DEALER, DealerType.SERVICE_PARTNER}
    for entry in toml.dealers:  # each has routing and a manager to escalate to
        assert entry.routes and entry.escalation
        assert any(p.grants.get(entry.dealer.code) is Role.MANAGER for p in toml.people)
    csv_dealers = parse_csv(example("dealers.csv"))
    csv_people = parse_csv(example("people.csv"))
    assert {d for p in csv_people.people for d in p.grants} <= {e.dealer.code for e in csv_dealers.dealers}
    assert not {p.email for p in csv_people.people} & {p.email for p in toml.people}
