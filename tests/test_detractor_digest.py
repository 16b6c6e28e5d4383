"""The daily detractor digest as the dealer's detractor recipients receive it (the SMTP fake): at each
dealer's own 07:00, the customers flagged and cleared since the last run with the dealer-system message
before and after, the messages still too long (every day until the dealer shortens its text), nothing when
there is nothing to say; once per day however many replicas run it; by the scheduler, and by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.jobs import Jobs
from bot.services import detractor_digest
from bot.settings import load_settings
from tests.conftest import MAIL_SECRET, REPLY_ADDRESS, response
from tests.mail_support import LEEDS_ROUTE, ROUTE, cli, html, load_extra_dealers, mail_app, plain

SUBJECT = "[cx] Detraktor-beskeder – Autohuset Vest – {day}"
PREFIX = "<script>alert(1)</script> Ring altid til Bob først. "
LONG = PREFIX + "Å" * (1000 - len(PREFIX))  # 1,000 characters: no room left for cxbot's part


async def answer(bot: Any, id_: str, customer: str, nps: int, dealer: str = "DK-1001", at: str = "2026-11-01T10:00:00+01:00") -> None:
    body = response(id_, dealer_id=dealer, submitted_at=at, customer={"id": customer, "name": f"Kunde {customer}"}, nps=nps, comment="Ingen ringede.")
    r = await bot.post("/api/v1/responses", body)
    assert r.status_code == 202, r.text


async def message(bot: Any, customer: str, subject: str, body: str) -> dict[str, Any]:
    r = await bot.post(f"/api/v1/dealers/DK-1001/customers/{customer}/message", {"subject": subject, "body": body})
    assert r.status_code == 200, r.text
    return dict(r.json())


def digests(smtp: Any, to: str = ROUTE, prefix: str = "[cx] Detraktor-beskeder") -> list[Any]:
    return [m for m in smtp.to(to) if str(m.message["Subject"]).startswith(prefix)]


def text_of(mail: Any) -> str:
    return plain(mail.message).replace("\r\n", "\n")


def at_utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def bot(db_url, cx, smtp, example_dealers):
    async with mail_app(db_url, cx, smtp) as b:
        yield b


async def test_flagged_cleared_and_too_long_customers_are_mailed_daily_until_there_is_nothing_to_say(bot, clock, smtp) -> None:
    await answer(bot, "r-1", "K-1", 3)
    await answer(bot, "r-2", "K-2", 2)
    await answer(bot, "r-3", "K-3", 9)  # not a detractor: never in the digest
    await answer(bot, "r-5", "K-5", 4)
    # The dealer system reads K-5's message, writes cxbot's answer back, and sends that the next time.
    written = await message(bot, "K-5", "Firmabil", "Ring først til Bob.")
    assert (await message(bot, "K-5", written["subject"], written["body"]))["changed"] is False
    sent_k2 = await message(bot, "K-2", "Nøglekunde", LONG)
    assert sent_k2["error"] is not None and sent_k2["body"] == LONG
    await bot.deliver()

    # Monday 2 November, 10:00 in Copenhagen: today's 07:00 has passed.
    assert await detractor_digest.daily(bot.cx, "replica-a") == 1
    await bot.deliver()
    (mail,) = digests(smtp)
    assert str(mail.message["Subject"]) == SUBJECT.format(day="2026-11-02")
    text = text_of(mail)
    assert "== Markeret som detraktor: note tilføjet (3) ==" in text and "Ikke længere" not in text
    assert "Kunde K-1 (K-1) – NPS 3" in text and "Kunde K-2 (K-2) – NPS 2" in text and "K-3" not in text
    # K-1: the dealer system never sent its message; cxbot's part is what it will get.
    k1 = text.split("Kunde K-1 (K-1)")[1].split("Kunde K-2")[0]
    assert "Gammelt emne: (endnu ikke læst fra forhandlersystemet)" in k1 and "Nyt emne: [NPS 3]" in k1
    assert "[cxbot]\n    NPS 3, kritiker – giv denne kunde en perfekt oplevelse." in k1 and "Fejl:" not in k1
    # K-2: the dealer's text leaves no room: its message stays as it is and the error flag says why.
    k2 = text.split("Kunde K-2 (K-2)")[1]
    assert "Gammelt emne: Nøglekunde" in k2 and "Nyt emne: [NPS 2] Nøglekunde" in k2
    assert "Fejl: body: the dealer's text is 1,000 of 1,024 characters; cxbot needs" in k2
    page = html(mail.message)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert mail.message["Reply-To"] is None

    # Once a day, whichever replica asks.
    assert await detractor_digest.daily(bot.cx, "replica-b") == 0
    await bot.deliver()
    assert len(digests(smtp)) == 1

    # K-1's and K-5's most recent answers are 10 now; K-2's message is still too long.
    await answer(bot, "r-4", "K-1", 10, at="2026-11-02T12:00:00+01:00")
    await answer(bot, "r-6", "K-5", 10, at="2026-11-02T12:00:00+01:00")
    clock.advance(at_utc(3, 5, 59) - clock.now())  # 06:59 in Copenhagen
    assert await detractor_digest.daily(bot.cx, "replica-a") == 0
    clock.advance(minutes=2)
    assert await detractor_digest.daily(bot.cx, "replica-a") == 1
    await bot.deliver()
    second = digests(smtp)[1]
    assert str(second.message["Subject"]) == SUBJECT.format(day="2026-11-03")
    text = text_of(second)
    assert "== Ikke længere detraktor: note fjernet (2) ==" in text and "Markeret som" not in text
    k1 = text.split("Kunde K-1 (K-1) – NPS 10")[1].split("Kunde K-5")[0]
    assert "Gammelt emne: (endnu ikke læst fra forhandlersystemet)\n  Nyt emne: (endnu ikke læst fra forhandlersystemet)" in k1
    # The seed's example: old message with cxbot's note, new one with the dealer's own text only.
    k5 = text.split("Kunde K-5 (K-5) – NPS 10")[1].split("==")[0]
    assert "Gammelt emne: [NPS 4] Firmabil\n  Nyt emne: Firmabil\n" in k5
    assert "Gammel besked:\n    [cxbot]\n    NPS 4, kritiker" in k5 and "Ny besked:\n    Ring først til Bob.\n" in k5
    assert "== For lang til forhandlersystemet: forkort teksten (vises hver dag, indtil den er forkortet) (1) ==" in text
    assert "Kunde K-2 (K-2) – NPS 2" in text and "Fejl: body:" in text

    # The dealer shortens its text: the next day has nothing to say, so no mail.
    shortened = await message(bot, "K-2", "Nøglekunde", "Ring til Bob først.")
    assert shortened["error"] is None
    clock.advance(days=1)
    assert await detractor_digest.daily(bot.cx, "replica-a") == 0
    await bot.deliver()
    assert len(digests(smtp)) == 2


async def test_each_dealer_gets_its_digest_at_its_own_seven_oclock_in_its_language(bot, clock, smtp) -> None:
    await load_extra_dealers(bot.cx)
    await answer(bot, "r-dk", "K-1", 4)
    await answer(bot, "r-gb", "L-1", 4, dealer="GB-3001")
    clock.advance(at_utc(3, 6, 30) - clock.now())  # 07:30 in Copenhagen, 06:30 in London
    assert await detractor_digest.daily(bot.cx, "x") == 1
    clock.advance(minutes=31)  # 07:01 in London
    assert await detractor_digest.daily(bot.cx, "x") == 1
    await bot.deliver()
    assert len(digests(smtp)) == 1
    (leeds,) = digests(smtp, LEEDS_ROUTE, "[cx] Detractor messages")
    assert str(leeds.message["Subject"]) == "[cx] Detractor messages – Mazda Leeds – 2026-11-03"
    text = text_of(leeds)
    assert "== Flagged as detractors: note added (1) ==" in text and "New subject: [NPS 4]" in text
    assert "NPS 4 detractor – give this customer a perfect experience." in text
    # Dealers with no detractor to report get nothing.
    assert digests(smtp, "kundenbetreuung@autohaus-brandt.example", "[cx]") == []
    assert digests(smtp, "vaerksted@fyns-bilservice.example", "[cx]") == []


async def test_replicas_running_the_digest_at_once_mail_it_once(bot, smtp) -> None:
    await answer(bot, "r-1", "K-1", 1)
    counts = await asyncio.gather(*(detractor_digest.daily(bot.cx, f"replica-{i}") for i in range(3)))
    assert sorted(counts) == [0, 0, 1]
    await bot.deliver()
    assert len(digests(smtp)) == 1


async def test_the_scheduler_job_runs_the_digest_at_the_configured_time(bot, clock, smtp) -> None:
    await answer(bot, "r-1", "K-1", 5)
    jobs = Jobs(bot.cx, 60, None, "09:30")
    clock.advance(at_utc(3, 8, 0) - clock.now())  # 09:00 in Copenhagen
    await jobs.detractor_digests()
    await bot.deliver()
    assert digests(smtp) == []
    clock.advance(minutes=31)
    await jobs.detractor_digests()
    await bot.deliver()
    assert [str(m.message["Subject"]) for m in digests(smtp)] == [SUBJECT.format(day="2026-11-03")]


def test_the_digest_time_setting_defaults_to_seven_and_a_wrong_one_is_one_line(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    assert load_settings().schedule.detractor_digest_time == "07:00"
    monkeypatch.setenv("CXBOT_SCHEDULE_DETRACTOR_DIGEST_TIME", "09:30")
    assert load_settings().schedule.detractor_digest_time == "09:30"
    r = asyncio.run(cli(db_url, "detractors", "digest", CXBOT_SCHEDULE_DETRACTOR_DIGEST_TIME="7 o'clock"))
    assert r.exit_code == 2
    assert r.stderr.startswith("cxbot: CXBOT_SCHEDULE_DETRACTOR_DIGEST_TIME (or [schedule] detractor_digest_time in CXBOT_CONFIG)")
    assert len(r.stderr.strip().splitlines()) == 1


async def test_cxbot_detractors_digest_runs_it_now_and_refuses_unknown_dealers(bot, clock, smtp, db_url) -> None:
    await answer(bot, "r-1", "K-1", 3)
    off = await cli(db_url, "detractors", "digest", "--dealer", "DK-1001")
    assert off.exit_code == 0 and off.stdout == "DK-1001: mail is off (no CXBOT_SMTP_HOST); nothing sent\n"
    mail_env = {
        "CXBOT_SMTP_HOST": smtp.host, "CXBOT_SMTP_PORT": str(smtp.port), "CXBOT_MAIL_FROM": f"cxbot <{REPLY_ADDRESS}>", "CXBOT_MAIL_SECRET": MAIL_SECRET,
        "CXBOT_PUBLIC_URL": "https://cx.example",
    }
    r = await cli(db_url, "detractors", "digest", "--dealer", "DK-1001", "--dealer", "DE-2001", **mail_env)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == [
        "DK-1001: 1 flagged, 0 cleared, 0 too long; mail queued to kundeservice@autohuset-vest.example",
        "DE-2001: nothing changed; no mail",
    ]
    clock.advance(datetime.now(UTC) - clock.now() + timedelta(minutes=1))  # the command queued on the real clock
    await bot.deliver()
    (mail,) = digests(smtp)
    assert "Kunde K-1 (K-1) – NPS 3" in text_of(mail)
    # Told once: the scheduled run that follows has nothing new to say.
    assert await detractor_digest.daily(bot.cx, "serve") == 0
    again = await cli(db_url, "detractors", "digest", **mail_env)
    assert again.exit_code == 0 and "DK-1001: nothing changed; no mail" in again.stdout

    unknown = await cli(db_url, "detractors", "digest", "--dealer", "XX-1")
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "cxbot: No dealer 'XX-1'."


async def test_without_recipients_nothing_is_sent_and_nothing_is_marked_as_told(bot, smtp) -> None:
    await load_extra_dealers(bot.cx)  # DK-7001 routes to Slack only: no addresses for the digest
    r = await bot.post("/api/v1/responses", response("r-oest", dealer_id="DK-7001", customer={"id": "O-1"}, nps=2))
    assert r.status_code == 202
    (run,) = await detractor_digest.run_now(bot.cx, ["DK-7001"])
    assert run.recipients == [] and not run.mailed
    async with bot.cx.db.read() as tx:
        assert await tx.detractors.reported_flagged("DK-7001") == set()
    await bot.deliver()
    assert [m for m in smtp.messages if "Detraktor-beskeder" in str(m.message["Subject"])] == []


async def test_a_run_missed_while_cxbot_was_down_goes_out_late_the_same_day(bot, clock, smtp) -> None:
    await answer(bot, "r-1", "K-1", 6)
    clock.advance(at_utc(3, 22, 59) - clock.now())  # 23:59 in Copenhagen: nothing ran on the 3rd
    assert await detractor_digest.daily(bot.cx, "late") == 1
    await bot.deliver()
    assert [str(m.message["Subject"]) for m in digests(smtp)] == [SUBJECT.format(day="2026-11-03")]
