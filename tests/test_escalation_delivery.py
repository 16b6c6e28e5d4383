"""Escalations, reminders and the weekly digest as people receive them: the escalation card in the
level's Slack channel, the original card updated, the mails to the level's people (who may then
answer), the reminder in the card's thread, and the digest by mail and in Slack — once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain import tokens
from bot.services import digest, escalation
from tests.conftest import MAIL_SECRET
from tests.mail_support import CAMILLA, LARS, mail_app, new_alert, plain, reply

THOMAS = "thomas.brandt@autohaus-brandt.example"  # DE-2001 manager
BRANDT_CX, BRANDT_LEAD = "C0BRANDTCX", "C0BRANDTLEAD"


async def _alert(bot, id_):
    async with bot.cx.db.read() as tx:
        return await tx.alerts.get(id_)


async def _to_due(bot, clock, alert_id, after=timedelta(minutes=1)):
    a = await _alert(bot, alert_id)
    clock.advance(a.due_at - clock.now() + after)


def _subjects(smtp, to):
    return [str(m.message["Subject"]) for m in smtp.to(to)]


async def test_escalation_posts_the_card_in_the_levels_channel_and_mails_its_managers(db_url, cx, clock, smtp, slack, example_dealers):
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        alert_id = await new_alert(bot, "r-esc", dealer_id="DE-2001")
        await bot.deliver()
        (card,) = [c for c in slack.calls_to("chat.postMessage") if c.body["channel"] == BRANDT_CX]
        await _to_due(bot, clock, alert_id)
        assert (await escalation.sweep(bot.cx)).escalated == 1
        await bot.deliver()

        posts = [c for c in slack.calls_to("chat.postMessage") if c.body["channel"] == BRANDT_LEAD]
        assert len(posts) == 1
        blocks = posts[0].body["blocks"]
        assert "Escalated to level 1" in blocks[0]["text"]["text"]
        assert any(b.get("type") == "actions" for b in blocks)  # the managers can act on it right there
        # The original card is updated in place to show the escalation.
        updates = [c for c in slack.calls_to("chat.update") if c.body["ts"] == card.response["ts"]]
        assert updates and "Escalated (level 1)" in str(updates[-1].body["blocks"])
        async with bot.cx.db.read() as tx:
            receipt = await tx.slack.receipt(alert_id, "escalation-1")
            # A reply in the escalation post's thread finds the alert too.
            assert await tx.slack.alert_of_thread(BRANDT_LEAD, receipt.ts) == alert_id
        assert receipt.channel_id == BRANDT_LEAD

        # The level's role (DE-2001's manager) gets the alert by mail, flagged, in the dealer's language.
        (subject,) = _subjects(smtp, THOMAS)
        assert subject.startswith(f"[cx {alert_id}] ESKALIERT (Stufe 1) – ")
        (mail,) = smtp.to(THOMAS)
        assert "an Sie eskaliert (Stufe 1)" in plain(mail.message)

        # Nothing is posted or mailed twice by later sweeps and deliveries.
        assert (await escalation.sweep(bot.cx)).escalated == 0
        await bot.deliver()
        assert len([c for c in slack.calls_to("chat.postMessage") if c.body["channel"] == BRANDT_LEAD]) == 1
        assert len(_subjects(smtp, THOMAS)) == 1

        # Level 2 a day later — 24 of Autohaus Brandt's opening hours, so within a week: the
        # importer's CX team by mail; no Slack channel at that level.
        clock.advance(days=7)
        assert (await escalation.sweep(bot.cx)).escalated == 1
        await bot.deliver()
        assert any("ESKALIERT (Stufe 2)" in s for s in _subjects(smtp, "cx-team@mazda-importer.example"))
        assert len([c for c in slack.calls_to("chat.postMessage") if c.body["channel"] == BRANDT_LEAD]) == 1


async def test_whoever_an_escalation_mail_reaches_may_answer_it(db_url, cx, clock, smtp, mailbox, dovecot, example_dealers):
    async with mail_app(db_url, cx, smtp, mailbox, dovecot) as bot:
        alert_id = await new_alert(bot, "r-esc-mail")
        await bot.deliver()
        await _to_due(bot, clock, alert_id)
        await escalation.sweep(bot.cx)
        await bot.deliver()
        (mail,) = [m for m in smtp.to(LARS) if "ESKALERET (niveau 1)" in str(m.message["Subject"])]
        assert "eskaleret til dig (niveau 1)" in plain(mail.message)  # Autohuset Vest writes Danish
        assert tokens.verify_reply_tag(MAIL_SECRET.encode(), _tag(mail), [LARS]) == LARS
        dovecot.append(mailbox, reply(mail.message, LARS, "RESOLVED\nCalled her myself, new car on Friday.", name="Lars Østergaard"))
        assert await bot.read_mail() == 1
        done = await _alert(bot, alert_id)
        assert done.status.value == "resolved" and done.on_time is False


def _tag(mail):
    return str(mail.message["Reply-To"]).split("+", 1)[1].split("@", 1)[0]


async def test_reminder_goes_to_the_cards_thread_and_the_route_addresses_once(db_url, cx, clock, smtp, slack, example_dealers):
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        alert_id = await new_alert(bot, "r-remind")
        await bot.deliver()
        card = slack.last("chat.postMessage")
        await _to_due(bot, clock, alert_id, after=-timedelta(hours=23))
        assert (await escalation.sweep(bot.cx)).reminded == 1
        await bot.deliver()
        threaded = [c for c in slack.calls_to("chat.postMessage") if c.body.get("thread_ts") == card.response["ts"]]
        assert len(threaded) == 1 and "Reminder" in threaded[0].body["text"]
        reminders = [s for s in _subjects(smtp, "kundeservice@autohuset-vest.example") if "Påmindelse" in s]
        assert reminders == [reminders[0]] and reminders[0].startswith(f"[cx {alert_id}] Påmindelse – ")
        assert (await escalation.sweep(bot.cx)).reminded == 0


async def test_weekly_digest_reaches_managers_by_mail_and_the_channel_once(db_url, cx, clock, smtp, slack, example_dealers):
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        await new_alert(bot, "r-digest")
        await bot.deliver()
        # Monday 2026-11-09 08:00 in Copenhagen is 07:00 UTC: one minute before, nothing is due.
        clock.advance(datetime(2026, 11, 9, 6, 59, tzinfo=UTC) - clock.now())
        assert await digest.weekly(bot.cx, "test") == 0
        clock.advance(minutes=2)
        sent = await digest.weekly(bot.cx, "test")
        assert sent >= 1
        await bot.deliver()
        (mail,) = [m for m in smtp.to(LARS) if "Ugentlig oversigt" in str(m.message["Subject"])]
        assert str(mail.message["Subject"]) == "[cx] Ugentlig oversigt – Autohuset Vest – uge 2026-W45"
        body = plain(mail.message)
        # The Hot Alert (due 4 November, never handled) and the detractor warning it came with.
        assert "Åbne alarmer: 2\r\n" in body and "Forsinkede (ikke håndteret til tiden): 1\r\n" in body
        assert "(2026-W45): 0 % (0 / 1)" in body and "Placering på ranglisten (andel til tiden): 1 / 1" in body
        assert mail.message["Reply-To"] is None  # nothing to answer
        lines = [c for c in slack.calls_to("chat.postMessage") if "Weekly CX summary" in c.body["text"]]
        assert any(c.body["channel"] == "C0VESTKUNDE" for c in lines)
        # A second run, or another replica, sends nothing more this week.
        assert await digest.weekly(bot.cx, "other-replica") == 0
        await bot.deliver()
        assert len([m for m in smtp.to(LARS) if "Ugentlig oversigt" in str(m.message["Subject"])]) == 1
        assert CAMILLA not in {t for m in smtp.messages for t in m.rcpt_tos if "Ugentlig" in str(m.message["Subject"])}


async def test_cli_digest_queues_each_dealers_digest_once_a_week(db_url, cx, example_dealers):
    from tests.mail_support import cli

    env = {"CXBOT_SMTP_HOST": "127.0.0.1", "CXBOT_MAIL_FROM": "cxbot <cxbot@cx.example>", "CXBOT_MAIL_SECRET": MAIL_SECRET, "CXBOT_PUBLIC_URL": "https://cx.example"}
    first = await cli(db_url, "digest", **env)
    assert first.exit_code == 0, first.output
    # The real clock: this week's Monday 08:00 has passed in every example dealer's zone, or, early
    # on a Monday, not yet in any of them.
    queued = int(first.stdout.split()[0])
    assert queued in (0, 3), first.stdout
    again = await cli(db_url, "digest", **env)
    assert again.stdout.strip() == "0 weekly digests queued"
    async with cx.db.read() as tx:
        rows = [r for r in await tx.outbox.listing(None, 100) if r.action == "mail.digest"]
    # One per manager of each dealer (DK-1001 Lars, DE-2001 Thomas, DK-5001 Pia); Slack is off.
    assert sorted(r.payload["to"] for r in rows) == (
        ["lars.ostergaard@autohuset-vest.example", "pia.lund@fyns-bilservice.example", "thomas.brandt@autohaus-brandt.example"] if queued else []
    )
