"""The lost-sales selection (issue 8, part 3): exactly the seed's prospects, at the edges of the
window on the dealer's clock (DK-1001: Europe/Copenhagen), each invited once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.domain.detractors import ActivityType
from bot.domain.lost_sales import LeadIn
from bot.domain.values import CustomerIn, SYSTEM
from bot.services import Context, lost_sales

RUN = date(2026, 11, 8)
# [RUN − 90 days, RUN − 60 days) in Copenhagen (UTC+2 until 25 October, UTC+1 after): 2026-08-10 00:00 local .. 2026-09-09 00:00 local
START = datetime(2026, 8, 9, 22, 0, tzinfo=UTC)
END = datetime(2026, 9, 8, 22, 0, tzinfo=UTC)


def lead(id_: str, at: datetime, customer: str | None = None, *, private: bool = True, permission: bool = True, email: str | None = "x@example.net") -> LeadIn:
    return LeadIn(id_, "DK-1001", CustomerIn(customer or f"K-{id_}", name="Kunde", email=email, language="da"), at, private, permission, "website")


async def test_the_selection_takes_exactly_the_seeds_prospects_at_the_window_edges(cx: Context, example_dealers: None) -> None:
    second = timedelta(seconds=1)
    await lost_sales.record_leads(cx, SYSTEM, [
        lead("start", START),  # first instant of the window: in
        lead("before", START - second),  # out
        lead("last", END - second),  # in
        lead("end", END),  # out
        lead("business", START + second, private=False),
        lead("no-permission", START + second, permission=False),
        lead("no-email", START + second, email=None),
        lead("bought", START + second, "K-buyer"),
        lead("bought-before", START + second, "K-early"),
        lead("twice-a", START + 2 * second, "K-twice"),
        lead("twice-b", START + 3 * second, "K-twice"),
    ])
    async with cx.db.transaction() as tx:
        await tx.activities.insert_new([
            {"dealer_code": "DK-1001", "customer_id": "K-buyer", "type": ActivityType.SALES_ORDER, "reference": "O-1",
             "opened_at": START + timedelta(days=3), "assignee_email": None, "received_at": START + timedelta(days=3)},
            {"dealer_code": "DK-1001", "customer_id": "K-early", "type": ActivityType.PURCHASE, "reference": "P-1",
             "opened_at": START - timedelta(days=3), "assignee_email": None, "received_at": START},
        ])
    got = await lost_sales.select(cx, "DK-1001", RUN)
    assert sorted(got.invitations) == ["LS-bought-before", "LS-last", "LS-start", "LS-twice-a"]
    async with cx.db.read() as tx:
        row = await tx.invitations.get("LS-start")
    assert row is not None and row.status == "not_sent" and row.survey == "lost_sales" and row.language == "da"

    again = await lost_sales.select(cx, "DK-1001", RUN)  # a second run (another replica, the CLI) invites nobody twice
    assert again.invitations == []


async def test_the_scheduled_run_claims_each_dealer_and_month_once(cx: Context, example_dealers: None, clock) -> None:  # type: ignore[no-untyped-def]
    await lost_sales.record_leads(cx, SYSTEM, [lead("a", START + timedelta(days=1))])
    clock.at = datetime(2026, 11, 8, 4, 59, tzinfo=UTC)  # 05:59 in Copenhagen: not yet
    assert await lost_sales.due(cx, "one") == []
    clock.at = datetime(2026, 11, 8, 5, 0, tzinfo=UTC)  # 06:00 local
    runs = {r.dealer: r for r in await lost_sales.due(cx, "one")}
    assert runs["DK-1001"].invitations == ["LS-a"] and runs["DK-1001"].run_day == RUN
    assert await lost_sales.due(cx, "two") == []  # another replica: the month is taken


async def test_leads_over_http_orders_as_activities_and_the_cli_run(api, cx: Context, db_url: str, example_dealers: None) -> None:  # type: ignore[no-untyped-def]
    """End to end: test-drive requests in through POST /api/v1/leads, an order through the activities
    endpoint rules one out, and `cxbot lost-sales select --date` invites the other, once."""
    from tests.mail_support import cli

    at = (START + timedelta(days=2)).isoformat()
    leads = [
        {"id": f"web-{n}", "dealer_id": "DK-1001", "customer": {"id": f"K-web-{n}", "name": "Kunde", "email": f"k{n}@example.net"},
         "requested_at": at, "source": "mazda.dk", "customer_type": "private", "email_permission": True}
        for n in (1, 2)
    ]
    r = await api.post("/api/v1/leads", {"leads": leads})
    assert r.status_code == 202, r.text
    order = {"dealer_id": "DK-1001", "customer_id": "K-web-2", "type": "sales_order", "reference": "SO-77", "opened_at": (START + timedelta(days=9)).isoformat()}
    assert (await api.post("/api/v1/activities", order)).status_code == 202

    first = await cli(db_url, "lost-sales", "select", "--dealer", "DK-1001", "--date", RUN.isoformat())
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "DK-1001: 1 invited, 1 invitation mail queued (run day 2026-11-08)"
    again = await cli(db_url, "lost-sales", "select", "--dealer", "DK-1001", "--date", RUN.isoformat())
    assert again.stdout.strip() == "DK-1001: 0 invited (run day 2026-11-08)"
    listed = await api.get("/api/v1/invitations", params={"dealer_id": "DK-1001", "survey": "lost_sales"})
    assert [(i["customer_id"], i["status"]) for i in listed.json()["items"]] == [("K-web-1", "not_sent")]
