"""The lost-sales cycle after the selection (issue 8, parts 3 and 4): the invitation mail with its
personal link, the one reminder, a bounce, and the page behind the link — expiry, reuse and
tampering — through the real SMTP fake, Dovecot and HTTP server, on both databases."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.domain import tokens
from bot.domain.lost_sales import LeadIn
from bot.domain.values import SYSTEM, CustomerIn
from bot.services import Context, invitations, lost_sales
from bot.domain.invitations import InvitationFilter
from tests.mail_support import SECRET, dsn, mail_app
from tests.mail_support import html as html_of, plain as plain_of

RUN = date(2026, 11, 8)
RUN_AT = datetime(2026, 11, 8, 5, 0, tzinfo=UTC)  # 06:00 in Copenhagen
REQUESTED = datetime(2026, 8, 20, 9, 0, tzinfo=UTC)  # inside [RUN − 90 d, RUN − 60 d)
LINK = re.compile(r"http://127\.0\.0\.1:\d+/s/[A-Za-z0-9_\-]+\.\d+\.[a-z2-7]+")


def lead(id_: str, email: str, *, lang: str = "da", name: str = "Anne Sørensen", email_on: bool = True) -> LeadIn:
    customer = CustomerIn(f"K-{id_}", name=name, email=email, language=lang, contact_methods=(("email", email_on),))
    return LeadIn(id_, "DK-1001", customer, REQUESTED, True, True, "website")


async def row(cx: Context, id_: str) -> Any:
    return await invitations.get(cx, SYSTEM, id_)


def plain(m: Any) -> str:
    return plain_of(m.message)


def html(m: Any) -> str:
    return html_of(m.message)


def link_of(message: Any) -> str:
    found = LINK.search(plain(message))
    assert found, plain(message)
    return found.group(0)


async def opportunities(bot: Any) -> list[Any]:
    got = await bot.get("/api/v1/alerts", params={"kind": "sales_opportunity", "dealer_id": "DK-1001"})
    assert got.status_code == 200, got.text
    return list(got.json()["items"])


async def invited(bot: Any, clock: Any, *leads: LeadIn) -> list[Any]:
    """Leads recorded, the monthly run at 06:00 on the 8th, and its mail delivered."""
    await lost_sales.record_leads(bot.cx, SYSTEM, list(leads))
    clock.at = RUN_AT
    await lost_sales.select(bot.cx, "DK-1001", RUN)
    before = len(bot.smtp.messages)
    await bot.deliver()
    return bot.smtp.messages[before:]


async def test_each_prospect_gets_a_personal_mail_in_their_language_and_one_reminder(cx, db_url, smtp, clock, example_dealers) -> None:  # type: ignore[no-untyped-def]
    async with mail_app(db_url, cx, smtp) as bot:
        sent = await invited(
            bot, clock,
            lead("a", "anne@example.net"),
            lead("b", "ben@example.net", lang="en", name="Ben <b>Bold</b> @channel"),
            lead("c", "carl@example.net", email_on=False),  # opted out of email (seed 003)
        )
        assert sorted(m.rcpt_tos[0] for m in sent) == ["anne@example.net", "ben@example.net"]
        anne = next(m for m in sent if m.rcpt_tos == ["anne@example.net"])
        ben = next(m for m in sent if m.rcpt_tos == ["ben@example.net"])
        assert anne.message["Subject"] == "Din prøvetur hos Autohuset Vest: to hurtige spørgsmål"
        assert "Kære Anne Sørensen," in plain(anne) and "virker til og med 22.11.2026" in plain(anne)
        assert ben.message["Subject"].startswith("Your test drive at Autohuset Vest")
        assert "Ben &lt;b&gt;Bold&lt;/b&gt;" in html(ben) and "<b>Bold" not in html(ben)  # customer text is escaped
        # The link is absolute, signed, and names its invitation and end of validity.
        token = link_of(anne).rsplit("/", 1)[1]
        assert tokens.read_survey_token(SECRET, token) == ("LS-a", RUN_AT + timedelta(days=14))
        assert link_of(anne) in html(anne)

        a, c = await row(bot.cx, "LS-a"), await row(bot.cx, "LS-c")
        assert (a.status, a.sent_at) == ("sent", RUN_AT)
        assert (c.status, c.not_sent_reason) == ("not_sent", "the customer opted out of email")

        # Day 7 minus a second: nothing; day 7: one reminder each, with the same link.
        clock.at = RUN_AT + timedelta(days=7) - timedelta(seconds=1)
        assert await lost_sales.remind(bot.cx) == 0
        clock.at = RUN_AT + timedelta(days=7, hours=1)
        assert await lost_sales.remind(bot.cx) == 2
        assert await lost_sales.remind(bot.cx) == 0  # once only (another replica's sweep finds none)
        before = len(smtp.messages)
        await bot.deliver()
        reminders = {m.rcpt_tos[0]: m for m in smtp.messages[before:]}
        assert sorted(reminders) == ["anne@example.net", "ben@example.net"]
        assert reminders["anne@example.net"].message["Subject"] == "Påmindelse: din prøvetur hos Autohuset Vest"
        assert link_of(reminders["anne@example.net"]) == link_of(anne)


async def test_the_page_answers_once_raises_the_sales_opportunity_and_refuses_expired_used_and_altered_links(cx, db_url, smtp, clock, example_dealers) -> None:  # type: ignore[no-untyped-def]
    async with mail_app(db_url, cx, smtp) as bot:
        (mail,) = await invited(bot, clock, lead("a", "anne@example.net"))
        path = link_of(mail).split("127.0.0.1", 1)[1].split("/", 1)[1]
        path = "/" + path

        page = await bot.client.get(path)
        assert page.status_code == 200 and 'lang="da"' in page.text and "Overvejer du stadig at købe en ny bil?" in page.text
        assert page.headers["referrer-policy"] == "no-referrer" and "no-store" in page.headers["cache-control"]
        assert (await row(bot.cx, "LS-a")).status == "clicked"

        # Altered: another invitation's id, or the validity stretched, with the old signature.
        ident, exp, mac = path.removeprefix("/s/").split(".")
        for bad in (f"{tokens.survey_token(b'x' * 32, 'LS-a', RUN_AT + timedelta(days=14))}", f"{ident}.{int(exp) + 86400}.{mac}", "nonsense", f"{ident}.{exp}.{mac[:-1]}a"):
            r = await bot.client.get(f"/s/{bad}")
            assert r.status_code == 404 and "Linket virker ikke" not in r.text and "This link does not work" in r.text
            r = await bot.client.post(f"/s/{bad}", data={"considering": "yes", "contact": "yes"})
            assert r.status_code == 404

        # Too much: refused before it is read to the end, nothing stored.
        r = await bot.client.post(path, data={"considering": "yes", "contact": "yes", "comment": "x" * 70_000})
        assert r.status_code == 413
        r = await bot.client.post(path, data={"considering": "yes", "contact": "yes", "comment": "x" * 4_001})
        assert r.status_code == 422 and "under 4000" in r.text

        # Missing answers: the form again with the errors named, nothing stored.
        r = await bot.client.post(path, data={"considering": "yes", "comment": "Hmm"})
        assert r.status_code == 422 and "Vælg venligst Ja eller Nej." in r.text and 'value="yes" id="considering-first" required checked' in r.text
        assert (await row(bot.cx, "LS-a")).status == "clicked"

        r = await bot.client.post(path, data={"considering": "yes", "contact": "yes", "test_drive": "good", "reason": "price", "comment": "Prisen <script>"})
        assert r.status_code == 200 and "Tak!" in r.text and "kontakter dig snart" in r.text
        a = await row(bot.cx, "LS-a")
        assert (a.status, a.submitted_at) == ("submitted", RUN_AT)
        so = await opportunities(bot)
        assert len(so) == 1 and so[0]["customer_id"] == "K-a" and so[0]["response_id"] == "LS-a"

        # Used: GET and a second POST both say so and store nothing more.
        r = await bot.client.get(path)
        assert r.status_code == 410 and "Du har allerede svaret" in r.text
        r = await bot.client.post(path, data={"considering": "no", "contact": "no"})
        assert r.status_code == 410
        assert len(await opportunities(bot)) == 1
        clock.at = RUN_AT + timedelta(days=8)
        assert await lost_sales.remind(bot.cx) == 0  # answered: no reminder


async def test_an_expired_link_stores_nothing_and_a_bounce_fails_the_invitation(cx, db_url, smtp, mailbox, dovecot, clock, example_dealers) -> None:  # type: ignore[no-untyped-def]
    async with mail_app(db_url, cx, smtp, mailbox, dovecot) as bot:
        (anne, ben) = sorted(await invited(bot, clock, lead("a", "anne@example.net"), lead("b", "ben@example.net")), key=lambda m: m.rcpt_tos[0])
        path = "/s/" + link_of(anne).rsplit("/", 1)[1]
        clock.at = RUN_AT + timedelta(days=14)
        r = await bot.client.get(path)
        assert r.status_code == 410 and "Linket er udløbet" in r.text
        r = await bot.client.post(path, data={"considering": "yes", "contact": "yes"})
        assert r.status_code == 410
        assert (await row(bot.cx, "LS-a")).status == "sent"  # not even clicked

        clock.at = RUN_AT + timedelta(hours=1)
        bot.dovecot.append(bot.mailbox, dsn(ben.mail_from, "ben@example.net"))
        assert await bot.read_mail() == 1
        b = await row(bot.cx, "LS-b")
        assert (b.status, b.failed_at) == ("failed", RUN_AT + timedelta(hours=1))
        assert (await row(bot.cx, "LS-a")).status == "sent"
        page = await invitations.find(bot.cx, SYSTEM, InvitationFilter(status="failed"))
        assert [x.id for x in page.items] == ["LS-b"]


async def test_the_cli_run_queues_the_mails_a_running_server_sends(cx, db_url, smtp, clock, example_dealers) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import MAIL_SECRET, REPLY_ADDRESS
    from tests.mail_support import cli

    env = {
        "CXBOT_SMTP_HOST": smtp.host, "CXBOT_SMTP_PORT": str(smtp.port), "CXBOT_MAIL_FROM": f"cxbot <{REPLY_ADDRESS}>",
        "CXBOT_MAIL_SECRET": MAIL_SECRET, "CXBOT_PUBLIC_URL": "https://cx.mazda-importer.example",
    }
    async with mail_app(db_url, cx, smtp) as bot:
        await lost_sales.record_leads(bot.cx, SYSTEM, [lead("a", "anne@example.net"), lead("c", "carl@example.net", email_on=False)])
        r = await cli(db_url, "lost-sales", "select", "--dealer", "DK-1001", "--date", RUN.isoformat(), **env)
        assert r.exit_code == 0, r.output
        assert r.stdout.strip() == "DK-1001: 2 invited, 1 invitation mail queued (run day 2026-11-08)"
        clock.at = datetime.now(UTC) + timedelta(seconds=1)  # the command ran on the real clock
        await bot.deliver()  # the server (any replica) sends what the command queued
        assert [m.rcpt_tos for m in smtp.messages] == [["anne@example.net"]]
        assert (await row(bot.cx, "LS-a")).status == "sent"


def test_public_url_is_required_once_invitations_are_mailed(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import SettingsError, load_settings

    for k in ("CXBOT_PUBLIC_URL", "CXBOT_LOST_SALES_ENABLED", "CXBOT_CONFIG"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("CXBOT_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CXBOT_MAIL_FROM", "cxbot <cx@example.com>")
    monkeypatch.setenv("CXBOT_MAIL_SECRET", "0123456789abcdef0123")
    with pytest.raises(SettingsError, match="^CXBOT_PUBLIC_URL: needed for the links in lost-sales invitations"):
        load_settings()
    monkeypatch.setenv("CXBOT_PUBLIC_URL", "cx.example.com")
    with pytest.raises(SettingsError, match="^CXBOT_PUBLIC_URL .*absolute http"):
        load_settings()
    monkeypatch.setenv("CXBOT_PUBLIC_URL", "https://cx.example.com/")
    assert load_settings().core.public_url == "https://cx.example.com"
    monkeypatch.setenv("CXBOT_LOST_SALES_SURVEY_URL", "https://survey.example/ls")
    with pytest.raises(SettingsError, match="^CXBOT_LOST_SALES_SURVEY_URL .*\\{token\\}"):
        load_settings()
    monkeypatch.delenv("CXBOT_PUBLIC_URL")
    monkeypatch.setenv("CXBOT_LOST_SALES_SURVEY_URL", "https://survey.example/ls?t={token}")
    monkeypatch.setenv("CXBOT_LOST_SALES_ENABLED", "false")
    assert load_settings().core.public_url is None


def test_a_survey_platform_link_carries_the_token_and_language() -> None:
    from bot.domain.lost_sales import LostSalesPolicy

    token = tokens.survey_token(SECRET, "LS-web 5/1", RUN_AT)
    platform = LostSalesPolicy(survey_url="https://survey.example/ls?t={token}&lang={lang}")
    link = platform.link("https://cx.example.com", token, "da")
    assert link.startswith("https://survey.example/ls?t=") and link.endswith("&lang=da")
    assert tokens.read_survey_token(SECRET, link.split("t=", 1)[1].split("&")[0]) == ("LS-web 5/1", RUN_AT)
    assert LostSalesPolicy().link("https://cx.example.com/", token, "da") == f"https://cx.example.com/s/{token}"
    assert tokens.read_survey_token(b"another secret", token) is None
