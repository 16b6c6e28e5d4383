"""The lost-sales page in a real headless browser (Debian's chromium driven by Playwright): from
the invitation email's link, on a phone-sized screen, to the Sales Opportunity in the fake Slack."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.domain.lost_sales import LeadIn
from bot.domain.values import SYSTEM, CustomerIn
from bot.services import invitations, lost_sales
from tests.mail_support import mail_app, plain

CHROMIUM = os.environ.get("CXBOT_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# As the machines here need it: no sandbox as root, and no calls home (the network is closed).
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def mrkdwn(node: Any) -> list[str]:
    """Every text Slack reads as markup in a message: mrkdwn objects and the top-level text."""
    if isinstance(node, dict):
        own = [str(node["text"])] if node.get("type") == "mrkdwn" or ("channel" in node and "text" in node) else []
        return own + [t for v in node.values() for t in mrkdwn(v)]
    if isinstance(node, list):
        return [t for v in node for t in mrkdwn(v)]
    return []


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"Debian's chromium is needed at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"chromium is not installed ({CHROMIUM} missing; apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield b
        finally:
            await b.close()


async def test_from_the_invitation_mail_through_the_page_to_the_sales_opportunity_in_slack(  # type: ignore[no-untyped-def]
    browser, cx, db_url, smtp, slack, clock, example_dealers
) -> None:
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        customer = CustomerIn("K-77", name="Mette Lund", email="mette.lund@example.net", language="da")
        await lost_sales.record_leads(bot.cx, SYSTEM, [LeadIn("W-77", "DK-1001", customer, datetime(2026, 8, 20, 9, tzinfo=UTC), True, True, "website")])
        clock.at = datetime(2026, 11, 8, 5, 0, tzinfo=UTC)
        await lost_sales.select(bot.cx, "DK-1001", date(2026, 11, 8))
        await bot.deliver()
        (mail,) = [m for m in smtp.messages if m.rcpt_tos == ["mette.lund@example.net"]]
        link = re.search(r"http://\S+/s/\S+", plain(mail.message))
        assert link is not None

        page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="da-DK", is_mobile=True, has_touch=True)
        await page.goto(link.group(0))
        assert await page.title() == "Din prøvetur hos Autohuset Vest"
        # Nothing wider than the phone's screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        assert (await invitations.get(bot.cx, SYSTEM, "LS-W-77")).status == "clicked"

        # Sent without the two required answers: the page names what is missing.
        await page.get_by_role("button", name="Send mit svar").click()
        await page.wait_for_load_state()
        assert await page.get_by_role("alert").is_visible()
        assert await page.get_by_role("alert").get_by_role("link").count() == 2  # the summary links to both questions
        assert await page.locator("fieldset p.error").all_inner_texts() == ["Vælg venligst Ja eller Nej."] * 2

        # Every control is found by its accessible name: the questions are labelled groups.
        considering = page.get_by_role("group", name=re.compile("Overvejer du stadig at købe en ny bil"))
        await considering.get_by_role("radio", name="Ja").check()
        await page.get_by_role("group", name=re.compile("Må Autohuset Vest kontakte dig")).get_by_role("radio", name="Ja").check()
        await page.get_by_role("group", name=re.compile("Hvordan gik prøveturen")).get_by_role("radio", name="Godt", exact=True).check()
        await page.get_by_label(re.compile("vigtigste grund")).select_option("price")
        await page.get_by_label(re.compile("Er der andet")).fill("Prisen var lidt høj, men bilen var <b>god</b>.")
        await page.get_by_role("button", name="Send mit svar").click()
        await page.get_by_role("heading", name="Tak!").wait_for()
        assert "kontakter dig snart" in await page.content()

        # The answer went through the intake: submitted, and a Sales Opportunity for the dealer's sales channel.
        assert (await invitations.get(bot.cx, SYSTEM, "LS-W-77")).status == "submitted"
        await bot.deliver()
        cards = [c for c in slack.calls_to("chat.postMessage") if c.body.get("channel") == "C0VESTSALG"]
        assert len(cards) == 1
        text = str(cards[0].body)
        assert "SO-" in text and "Mette Lund" in text
        # Customer text is never Slack markup: shown as plain_text, or escaped where mrkdwn is read.
        assert "Prisen var lidt høj" in text and all("<b>" not in t for t in mrkdwn(cards[0].body))

        # The link again (the back button, a second tab): answered already, nothing more stored.
        await page.goto(link.group(0))
        await page.get_by_role("heading", name="Du har allerede svaret").wait_for()
        await page.close()
