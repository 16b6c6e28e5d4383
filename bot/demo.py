"""`cxbot demo`: the example dealers and a realistic day of survey answers, on any database."""

from __future__ import annotations

import shutil
import sys
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from bot.console import alert_line
from bot.domain.values import Actor, Channel, Kind
from bot.services import Context, alerts, dealers, intake
from bot.settings import Settings
from handlers.dealer_file import parse_toml
from handlers.wire import parse_responses
from storage.repositories.alerts import AlertFilter

DEALERS = ("DK-1001", "DE-2001", "DK-5001")


def sample_responses(now: datetime) -> list[dict[str, Any]]:
    """Answers as a survey platform would send them, spread over the last two weeks."""

    def at(hours: float) -> str:
        return (now - timedelta(hours=hours)).replace(microsecond=0).isoformat()

    def day(days: int) -> str:
        return (now - timedelta(days=days)).date().isoformat()

    return [
        {
            "id": "demo-sales-0001", "survey": "sales", "dealer_id": "DK-1001", "submitted_at": at(3),
            "purchase_date": day(12),
            "customer": {"id": "K-10442", "name": "Anne Sørensen", "email": "anne.sorensen@example.net",
                         "phones": {"mobile": "+45 20 11 22 33"}, "language": "da", "customer_number": "10442",
                         "salesperson_email": "jonas.holm@autohuset-vest.example"},
            "nps": 3, "scores": {"overall": 2, "delivery": 1},
            "comment": "Bilen var ikke klar ved aftalt tid, og ingen ringede. Meget skuffende.",
            "answers": {"contact_requested": True},
        },
        {
            "id": "demo-service-0002", "survey": "service", "dealer_id": "DK-1001", "submitted_at": at(5),
            "service_date": day(4), "segment": 2,
            "customer": {"id": "K-20871", "name": "Peter Friis", "email": "peter.friis@example.net", "language": "da"},
            "nps": 10, "scores": {"overall": 5}, "comment": "Hurtig og venlig service.", "publish_consent": True,
        },
        {
            "id": "demo-service-0003", "survey": "service", "dealer_id": "DE-2001", "submitted_at": at(7),
            "service_date": day(6), "segment": 1,
            "customer": {"id": "C-88120", "name": "Markus Weber", "email": "m.weber@example.org", "language": "de",
                         "phones": {"home": "+49 40 555 0123"}},
            "nps": 8, "scores": {"overall": 1, "repair_quality": 2},
            "comment": "Das Geräusch ist nach der Reparatur immer noch da.",
        },
        {
            "id": "demo-lost-0004", "survey": "lost_sales", "dealer_id": "DE-2001", "submitted_at": at(20),
            "customer": {"id": "P-30017", "name": "Julia Hoffmann", "email": "julia.hoffmann@example.org", "language": "de"},
            "test_drive_requested_at": at(24 * 70), "test_drive_source": "website",
            "answers": {"still_considering": True, "wants_contact": True, "test_drive_rating": 4,
                        "reason_not_bought": "waiting for a better offer"},
            "comment": "Ich überlege noch zwischen CX-30 und CX-5.",
        },
        {
            "id": "demo-lost-0005", "survey": "lost_sales", "dealer_id": "DK-1001", "submitted_at": at(26),
            "customer": {"id": "P-30044", "name": "Rasmus Bech", "email": "rasmus.bech@example.net", "language": "da"},
            "test_drive_requested_at": at(24 * 65), "purchased_at": at(24 * 30),
            "answers": {"still_considering": True, "wants_contact": True},
        },
        # Seed 004's example: Bob of a company answers 3; two weeks later his colleague Cindy
        # answers 10 for the same customer record, which clears the detractor flag.
        {
            "id": "demo-service-0006", "survey": "service", "dealer_id": "DK-5001", "submitted_at": at(24 * 15),
            "service_date": day(17), "segment": 3,
            "customer": {"id": "F-7001", "kind": "company", "name": "Bobs Trykkeri ApS", "language": "da"},
            "contact": {"name": "Bob Hansen", "email": "bob@bobs-trykkeri.example"},
            "nps": 3, "comment": "Ventetiden var alt for lang.",
        },
        {
            "id": "demo-sales-0008", "survey": "sales", "dealer_id": "DE-2001", "submitted_at": at(2),
            "purchase_date": day(9), "anonymous": True,
            "customer": {"id": "C-90311", "name": "(withheld)", "email": "withheld@example.org"},
            "nps": 5, "comment": "Der Verkäufer hatte kaum Zeit für mich.",
        },
        {
            "id": "demo-sales-0009", "survey": "sales", "dealer_id": "DK-1001", "submitted_at": at(1),
            "purchase_date": day(14),
            "customer": {"id": "K-10990", "name": "Sofie Lind", "email": "sofie.lind@example.net", "language": "da"},
            "nps": 9, "scores": {"overall": 5}, "comment": "God oplevelse, ring gerne om forsikring.",
            "answers": {"contact_requested": True},
        },
        {
            "id": "demo-service-0010", "survey": "service", "dealer_id": "DK-5001", "submitted_at": at(4),
            "service_date": day(2), "segment": 1,
            "customer": {"id": "K-4410", "name": "Mads Holm", "phones": {"mobile": "+45 31 44 55 66"}, "language": "da"},
            "nps": 6, "comment": "Bilen blev ikke vasket som lovet.",
        },
        {
            "id": "demo-service-0007", "survey": "service", "dealer_id": "DK-5001", "submitted_at": at(30),
            "service_date": day(3), "segment": 3,
            "customer": {"id": "F-7001", "kind": "company", "name": "Bobs Trykkeri ApS", "language": "da"},
            "contact": {"name": "Cindy Larsen", "email": "cindy@bobs-trykkeri.example"},
            "nps": 10, "comment": "Perfekt denne gang.",
        },
    ]


def _command() -> str:
    """How to start cxbot again, so the printed next steps work as written."""
    exe = Path(sys.argv[0]).resolve()
    on_path = shutil.which("cxbot")
    if on_path and Path(on_path).resolve() == exe:
        return "cxbot"
    try:
        return str(exe.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(exe)


async def run(cx: Context, settings: Settings, say: Callable[[str], None]) -> None:
    text = resources.files("bot").joinpath("examples/dealers.toml").read_text(encoding="utf-8")
    directory = parse_toml(text)
    report = await dealers.load(cx, directory)
    say(f"Database: {cx.db.display_url}")
    say(
        f"Example dealers and staff (examples/dealers.toml): {len(directory.dealers)} dealers, {len(directory.people)} people; "
        f"{len(report.added)} added, {len(report.changed)} changed, {report.unchanged} unchanged"
    )

    responses, problems = parse_responses(sample_responses(cx.clock.now()))
    assert not problems, problems
    # The last answer arrives on its own, as it would a day later: it clears a detractor flag.
    stored = fed_before = 0
    for batch in (responses[:-1], responses[-1:]):
        result = await intake.ingest(cx, batch, partial=True)
        stored += len(result.accepted)
        fed_before += len(result.rejected) + len(result.duplicates)
        for a in result.alerts:
            say(f"  {a.id:<6} raised for {a.customer_id} at {a.dealer} (response {a.response_id})")
        for a in result.closed:
            say(f"  {a.id:<6} closed by cxbot: {a.customer_id}'s most recent answer is no longer a detractor score")
    say(f"Sample survey responses: {stored} stored" + (f", {fed_before} already fed by an earlier demo run" if fed_before else ""))

    operator = Actor(Channel.CLI, "demo")
    page = await alerts.find(cx, operator, AlertFilter(dealers=frozenset(DEALERS)), 50)
    now = cx.clock.now()
    say("")
    say(f"Alerts of the example dealers ({len(page.items)}):")
    for a in page.items:
        say("  " + alert_line(a, now))
    exe = _command()
    example = next((a.id for a in reversed(page.items) if a.kind is Kind.HOT_ALERT), "HA-1")
    host, port = settings.http.host, settings.http.port
    say("")
    say("Next:")
    say(f"  {exe} alerts show {example}        # one alert with its history")
    say(f"  {exe} alerts set {example} ongoing --note 'Called the customer, new appointment Friday'")
    say("  Start the server (intake API, alert look-ups) with a key of your own:")
    say("    export CXBOT_API_KEYS=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
    say(f"    {exe} serve")
    say(f"  then: curl -s -H \"Authorization: Bearer $CXBOT_API_KEYS\" http://{host}:{port}/api/v1/alerts")
