"""Erasure (GDPR) as an operator runs it: `cxbot customers forget` leaves none of the customer's
personal data in any column of any table — the live schema is read, so tables added later are
scanned too — keeps scores, alert states and times, records the erasure in the history, and
updates the Slack messages already posted to show "Anonymous". On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect, text

from bot.domain.complaints import NewComplaint, ReceivedVia
from bot.domain.outbound import Action, to_mail, to_slack
from bot.domain.reviews import ReviewPolicy
from bot.domain.values import ANONYMOUS, Actor, Channel, HistoryEvent, Status
from bot.services import Context, alerts, complaints, erasure, escalation, lookups, reviews
from storage.database import Database
from storage.models import Base
from storage.repositories.erasure import HOLDS_NONE, REDACTED, RULES, By, covered_tables
from tests.conftest import response
from tests.mail_support import cli, mail_app, plain

BRANDT, BRANDT_CX, BRANDT_LEAD, BRANDT_TEAM = "DE-2001", "C0BRANDTCX", "C0BRANDTLEAD", "T0BRANDTAH"
SABINE = "sabine.krueger@autohaus-brandt.example"  # DE-2001 staff
STAFF = Actor(Channel.CLI, "tester")

# Who asks to be forgotten: every string here must be gone afterwards.
NAME = "Zacharias Quistgaard"
EMAIL = "zq.private@example.org"
PHONES = {"home": "+45 11 22 33 44", "work": "+45 55 66 77 88", "mobile": "+45 99 00 11 22"}
NUMBER = "CN-778899"
CONTACT = {"name": "Yrsa Quistgaard", "email": "yrsa.q@example.org", "phone": "+45 12 34 56 78"}
COMMENT = "Sælgeren Hjørdis-Ulla ringede aldrig tilbage"  # non-ASCII: stored escaped in SQLite's JSON
ANSWER = "Fri tekst om Vibeke Quistgaard"
NOTE = f"Ringede til {NAME} på {PHONES['home']}, ny prøvetur aftalt"
NOTE_WITHOUT_NAME = "Konen Gunhild-Brit kommer med torsdag"  # names someone, not by the customer's name
COMPLAINT = "Klage pr. telefon: bilen larmer, Zacharias vil have svar"
COMPLAINT_PHONE = "+45 70 70 70 71"
PURCHASE, SERVICE, INVITED = "2019-02-27", "2018-07-03", "2017-04-04"
DEALER_SUBJECT, DEALER_BODY = "VIP Quistgaard", "Kører altid i lånebil, hustru Ragnhild-Mai ringer"  # the dealer system's own text
GONE = [NAME, EMAIL, *PHONES.values(), NUMBER, *CONTACT.values(), COMMENT, ANSWER, NOTE, NOTE_WITHOUT_NAME,
        "Gunhild-Brit", "Hjørdis-Ulla", "Vibeke", COMPLAINT, COMPLAINT_PHONE, PURCHASE, SERVICE, INVITED,
        DEALER_SUBJECT, "Ragnhild-Mai"]

# Another customer of the same dealer: untouched.
KEEP_NAME, KEEP_EMAIL, KEEP_COMMENT = "Ottilie Brandstrup", "ob.keep@example.org", "Brandstrup-kommentar: alt var fint"
KEEP_NOTE = f"{KEEP_NAME} kender {NAME}"  # a note on her alert that names him too
KEPT = [KEEP_NAME, KEEP_EMAIL, KEEP_COMMENT, "2020-05-05"]


def _forgotten(id_: str = "r-zq-1", **over: Any) -> dict[str, Any]:
    body = response(
        id_,
        dealer_id=BRANDT,
        nps=2,
        scores={"overall": 1},
        comment=COMMENT,
        purchase_date=PURCHASE,
        service_date=SERVICE,
        customer={"id": "K-ZQ", "name": NAME, "email": EMAIL, "phones": PHONES, "customer_number": NUMBER, "salesperson_email": SABINE},
        contact=CONTACT,
        answers={"contact_requested": True, "why": ANSWER},
    )
    body.update(over)
    return body


def _kept() -> dict[str, Any]:
    return response(
        "r-ob-1", dealer_id=BRANDT, nps=3, comment=KEEP_COMMENT, purchase_date="2020-05-05",
        customer={"id": "K-OB", "name": KEEP_NAME, "email": KEEP_EMAIL},
    )


# ---- reading the whole database -----------------------------------------------------------------


def _texts(value: Any) -> list[str]:
    """A stored value as text; JSON stored as text is read both as stored and decoded (SQLite
    keeps non-ASCII characters escaped there)."""
    if value is None:
        return []
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace")]
    if not isinstance(value, str):
        return [json.dumps(value, ensure_ascii=False, default=str)]
    out = [value]
    try:
        out.append(json.dumps(json.loads(value), ensure_ascii=False))
    except ValueError:
        pass
    return out


async def scan(db_url: str, needles: list[str]) -> dict[str, set[str]]:
    """needle → "table.column" of every stored value in every table that contains it."""
    found: dict[str, set[str]] = {}
    db = Database(db_url)
    try:
        async with db.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            for table in sorted(tables):
                for row in (await conn.execute(text(f'SELECT * FROM "{table}"'))).mappings():
                    for column, value in row.items():
                        for t in _texts(value):
                            for n in needles:
                                if n.lower() in t.lower():
                                    found.setdefault(n, set()).add(f"{table}.{column}")
    finally:
        await db.close()
    return found


async def _history(cx: Context, alert_id: str) -> list[Any]:
    async with cx.db.read() as tx:
        return await tx.history.of(alert_id)


async def _alert(cx: Context, alert_id: str) -> Any:
    async with cx.db.read() as tx:
        return await tx.alerts.get(alert_id)


def _past_real_now(clock: Any) -> None:
    """The command runs on the real clock: its notifications are due from the real now on."""
    now = datetime.now(UTC)
    if clock.now() < now:
        clock.advance(now - clock.now() + timedelta(minutes=1))


def _posts(slack: Any, channel: str) -> list[Any]:
    return [c for c in slack.calls_to("chat.postMessage") if c.body["channel"] == channel and "thread_ts" not in c.body]


# ---- the rules cover every table ----------------------------------------------------------------


def test_every_table_is_covered_by_an_erasure_rule_or_holds_no_personal_data() -> None:
    tables = set(Base.metadata.tables)
    unclassified = tables - covered_tables() - HOLDS_NONE
    assert not unclassified, f"add an erasure rule (storage/repositories/erasure.py) or list as holding none: {sorted(unclassified)}"
    assert not (covered_tables() - tables), "a rule names a table that does not exist"
    for rule in RULES:  # every column a rule names exists (a renamed column would be skipped silently)
        t = Base.metadata.tables[rule.table]
        missing = [c for c in (*rule.keys, *rule.values, *rule.rewrite) if c not in t.c]
        assert not missing, f"{rule.table}: no columns {missing}"
        assert rule.by is not By.MENTION or not rule.values


# ---- end to end ---------------------------------------------------------------------------------


async def test_forget_leaves_no_personal_data_anywhere_and_updates_slack(db_url, cx, clock, smtp, slack, example_dealers):
    async with mail_app(db_url, cx, smtp, slack=slack) as bot:
        r = await bot.post("/api/v1/responses", {"responses": [_forgotten(), _kept()]})
        assert r.status_code == 202, r.text
        raised = {(a["response_id"], a["id"][:2]): a["id"] for a in r.json()["alerts"]}
        hot, detractor, other = raised[("r-zq-1", "HA")], raised[("r-zq-1", "DT")], raised[("r-ob-1", "HA")]
        invitation = {"id": "inv-zq-0", "survey": "service", "dealer_id": BRANDT, "customer": {"id": "K-ZQ"}, "service_date": INVITED}
        r = await bot.post("/api/v1/invitations", {"invitations": [invitation]})
        assert r.status_code == 202, r.text
        # The dealer system's message: its own text stays, cxbot adds the detractor part (with his comment).
        r = await bot.post(f"/api/v1/dealers/{BRANDT}/customers/K-ZQ/message", {"subject": DEALER_SUBJECT, "body": DEALER_BODY})
        assert r.status_code == 200 and r.json()["changed"], r.text
        complaint = await complaints.register(
            cx, STAFF,
            NewComplaint(BRANDT, "K-ZQ", ReceivedVia.PHONE, clock.now(), COMPLAINT, NAME, EMAIL, COMPLAINT_PHONE, registered_by=SABINE),
        )
        await bot.deliver()
        (card,) = [c for c in _posts(slack, BRANDT_CX) if hot in c.body["text"]]
        assert NAME in json.dumps(card.body["blocks"], ensure_ascii=False)

        # Staff notes; the complaint is left unhandled and escalates: its card goes to the leaders' channel.
        await alerts.change_status(cx, hot, STAFF, Status.ONGOING, NOTE)
        await alerts.change_status(cx, other, STAFF, Status.ONGOING, KEEP_NOTE)
        await bot.deliver()
        due = (await _alert(cx, hot)).due_at
        clock.advance(due - clock.now() + timedelta(minutes=1))
        await escalation.sweep(cx)
        await bot.deliver()
        # Waiting at erasure time: a thread note naming him, a mail about him, a bounce report.
        await alerts.comment(cx, hot, STAFF, NOTE_WITHOUT_NAME)
        async with cx.db.transaction() as tx:
            now = clock.now()
            await tx.outbox.enqueue(
                [
                    to_mail(Action.MAIL_NOTE, SABINE, hot, kind="confirmation", text=f"Noted for {NAME}: {NOTE_WITHOUT_NAME}"),
                    to_slack(Action.SLACK_TEXT, BRANDT_TEAM, BRANDT_CX, None, text=f":warning: Mail to {EMAIL} bounced (5.1.1)."),
                ],
                now,
            )
            await tx.mail.remember(EMAIL, "zqtag0001")
            await tx.mail.bounced(EMAIL, now, "5.1.1", f"550 5.1.1 <{EMAIL}>: Recipient address rejected")
            await tx.mail.sent("<zq-1@cx.example>", hot, EMAIL, "alert", now)

        before = await scan(db_url, GONE + KEPT)
        # The scan sees every kind of place the data lives in (so its silence later means something).
        assert {"customers.name", "complaints.customer_name"} <= before[NAME]
        assert "responses.comment" in before[COMMENT] and "responses.answers" in before[ANSWER]
        assert "alert_history.note" in before[NOTE] and "outbox.payload" in before[NOTE]
        assert {"addresses.email", "mail_messages.recipient", "addresses.last_diagnostic"} <= before[EMAIL]
        assert "responses.purchase_date" in before[PURCHASE] and "invitations.purchase_date" in before[INVITED]
        assert {"customer_messages.seen_body", "customer_messages.returned_body"} <= before["Ragnhild-Mai"]
        assert all(n in before for n in GONE), [n for n in GONE if n not in before]
        history_before = {a: await _history(cx, a) for a in (hot, detractor, complaint.id)}
        hot_before = await _alert(cx, hot)

        result = await cli(db_url, "customers", "forget", BRANDT, "K-ZQ", "--yes")
        assert result.exit_code == 0, (result.stdout, result.stderr)
        after = await scan(db_url, GONE + KEPT)
        assert not {n: after[n] for n in GONE if n in after}, "personal data left after erasure"
        assert all(n in after for n in KEPT), "another customer's data was touched"
        assert f"erased the personal data of customer K-ZQ at {BRANDT}" in result.stdout
        counts = dict(line.strip().rsplit(None, 1) for line in result.stdout.splitlines() if line.startswith("  "))
        cleared_once = {"customer record", "survey responses", "complaints", "bounce records", "sent-mail records",
                        "dealer-system messages", "survey invitations"}
        assert {k: counts.get(k) for k in cleared_once} == dict.fromkeys(cleared_once, "1")
        assert {"history notes", "notifications", "notes naming the customer"} <= set(counts)
        assert NAME not in result.stdout

        # Scores, states and times stay; the history keeps every entry and records the erasure.
        async with cx.db.read() as tx:
            stored = await tx.responses.get("r-zq-1")
            c = await tx.customers.get(BRANDT, "K-ZQ")
            kept_note = [e.note for e in await tx.history.of(other)]
        assert (stored.nps, stored.scores, stored.answers) == (2, {"overall": 1}, {"contact_requested": True})
        assert stored.comment is None and stored.purchase_date is None and not stored.publish_consent
        assert c.anonymized and c.erased_at is not None and c.erased_by.startswith("cli:") and c.detractor
        hot_after = await _alert(cx, hot)
        assert (hot_after.status, hot_after.due_at, hot_after.handled_at, hot_after.escalation_level) == (
            hot_before.status, hot_before.due_at, hot_before.handled_at, hot_before.escalation_level,
        )
        for alert_id, earlier in history_before.items():
            now_ = await _history(cx, alert_id)
            assert [(e.at, e.event, e.actor) for e in now_[: len(earlier)]] == [(e.at, e.event, e.actor) for e in earlier]
            (erased,) = now_[len(earlier):]
            assert erased.event is HistoryEvent.ERASED and erased.actor.startswith("cli:") and erased.note == erasure.ERASED_NOTE
        hot_notes = [e.note for e in await _history(cx, hot)]
        assert hot_notes[0].startswith("Hot Alert: NPS 2")  # cxbot's own reason: scores only, kept
        assert REDACTED in hot_notes
        assert f"{KEEP_NAME} kender {REDACTED}" in kept_note
        card_view = await lookups.customer(cx, STAFF, BRANDT, "K-ZQ")
        assert card_view.name == ANONYMOUS and card_view.email is None and card_view.contact_name is None

        # The posted card and the escalation post are updated in place; nothing posted after names him.
        _past_real_now(clock)
        calls_before, mails_before = len(slack.calls), len(smtp.to(SABINE))
        await bot.deliver()
        sent = slack.calls[calls_before:]
        updated = {c.body["ts"]: c for c in sent if c.method == "chat.update"}
        (complaint_card,) = [c for c in _posts(slack, BRANDT_CX) if complaint.id in c.body["text"]]
        (lead,) = [c for c in _posts(slack, BRANDT_LEAD) if complaint.id in c.body["text"]]
        for posted in (card, complaint_card, lead):
            assert posted.response["ts"] in updated, f"{posted.body['channel']} not updated"
            shown = json.dumps(updated[posted.response["ts"]].body, ensure_ascii=False)
            assert ANONYMOUS in shown
        shown_after = json.dumps([c.body for c in sent], ensure_ascii=False)
        assert not [n for n in GONE if n.lower() in shown_after.lower()]
        assert REDACTED in shown_after  # the thread note that was waiting went out redacted
        (mail,) = smtp.to(SABINE)[mails_before:]  # so did the mail
        read = plain(mail.message) + str(mail.message["Subject"])
        assert REDACTED in read and not [n for n in GONE if n in read]


async def test_forget_an_unknown_customer_says_so_and_changes_nothing(db_url, cx, example_dealers):
    await _ingest(cx, _forgotten())
    before = await scan(db_url, GONE)
    result = await cli(db_url, "customers", "forget", BRANDT, "K-NOBODY", "--yes")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"cxbot: No customer 'K-NOBODY' at dealer '{BRANDT}'."
    result = await cli(db_url, "customers", "forget", "XX-0000", "K-ZQ", "--yes")
    assert result.exit_code == 1 and "No customer 'K-ZQ' at dealer 'XX-0000'" in result.stderr
    assert await scan(db_url, GONE) == before


async def test_forget_without_a_terminal_needs_yes(db_url, cx, example_dealers):
    await _ingest(cx, _forgotten())
    before = await scan(db_url, GONE)
    result = await cli(db_url, "customers", "forget", BRANDT, "K-ZQ")  # the runner's stdin is no terminal
    assert result.exit_code == 1
    assert "add --yes" in result.stderr
    assert await scan(db_url, GONE) == before


async def test_at_a_terminal_forget_asks_first(db_url, cx, example_dealers, tmp_path):
    await _ingest(cx, _forgotten())
    no = await asyncio.to_thread(_at_terminal, db_url, tmp_path, ["customers", "forget", BRANDT, "K-ZQ"], "n\n")
    assert no.returncode == 1, no.output
    assert f"customer K-ZQ at {BRANDT}: {NAME}, 1 responses, 2 alerts" in no.output
    assert "nothing erased" in no.output
    async with cx.db.read() as tx:
        assert (await tx.customers.get(BRANDT, "K-ZQ")).name == NAME

    yes = await asyncio.to_thread(_at_terminal, db_url, tmp_path, ["customers", "forget", BRANDT, "K-ZQ"], "y\n")
    assert yes.returncode == 0, yes.output
    assert "erased the personal data" in yes.output
    async with cx.db.read() as tx:
        c = await tx.customers.get(BRANDT, "K-ZQ")
    assert c.name is None and c.anonymized


async def test_erasing_again_clears_what_came_since_and_a_resent_answer_stores_nothing(db_url, cx, example_dealers):
    await _ingest(cx, _forgotten())
    first = await erasure.forget(cx, STAFF, BRANDT, "K-ZQ")
    assert first.cleared["customer record"] == 1 and first.cleared["survey responses"] == 1

    # The survey platform sends the erased answer again: a duplicate, nothing stored again.
    result = await _ingest(cx, _forgotten())
    assert result.duplicates == ["r-zq-1"] and not result.accepted
    # A new answer after erasure: the record stays anonymous; its comment is new data.
    result = await _ingest(cx, _forgotten("r-zq-2", comment="Ny kommentar fra Quistgaard"))
    assert result.accepted == ["r-zq-2"]
    async with cx.db.read() as tx:
        c = await tx.customers.get(BRANDT, "K-ZQ")
        assert c.name is None and c.email is None
        assert (await tx.responses.get("r-zq-2")).contact_name is None

    again = await erasure.forget(cx, STAFF, BRANDT, "K-ZQ")
    async with cx.db.read() as tx:
        assert (await tx.responses.get("r-zq-2")).comment is None
        assert (await tx.customers.get(BRANDT, "K-ZQ")).customer_number is None
    assert again.cleared["survey responses"] == 1  # only what came since
    assert not again.cleared["history notes"] and not again.cleared["survey invitations"]
    erased = [e for a in again.alerts for e in await _history(cx, a) if e.event is HistoryEvent.ERASED]
    assert len(erased) == len(first.alerts) + len(again.alerts)  # each erasure is recorded; earlier records stay
    assert all(e.note == erasure.ERASED_NOTE for e in erased)


async def test_forget_withdraws_the_customers_public_reviews_and_removes_the_replies(db_url, cx, example_dealers):
    cx = dataclasses.replace(cx, reviews=ReviewPolicy.of(["Mazda"], 72))
    reply_text = f"Kære {NAME.split()[0]}, tak for din ærlige mening"  # names him by first name only
    await _ingest(cx, _forgotten(nps=8, publish_consent=True, answers={}), _kept() | {"publish_consent": True, "nps": 9})
    mine, theirs = sorted(await reviews.find(cx, STAFF, BRANDT), key=lambda v: v.nps)  # his 8, her 9
    await reviews.reply(cx, mine.ref, STAFF, reply_text)
    assert [v.ref for v in (await reviews.published(cx, BRANDT)).items] == [mine.ref]

    result = await erasure.forget(cx, STAFF, BRANDT, "K-ZQ")
    assert result.cleared["review replies"] == 1
    assert not await scan(db_url, [reply_text, COMMENT])
    assert (await reviews.published(cx, BRANDT)).items == []  # never public again
    states = {v.ref: (v.state, v.reply) for v in await reviews.find(cx, STAFF, BRANDT)}
    assert states == {mine.ref: ("withdrawn", None), theirs.ref: (theirs.state, theirs.reply)}


async def _ingest(cx: Context, *bodies: dict[str, Any]) -> Any:
    from bot.services import intake
    from handlers.wire import parse_responses

    good, problems = parse_responses(list(bodies))
    assert not problems, problems
    return await intake.ingest(cx, good)


def _at_terminal(db_url: str, cwd: Any, args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot …` with a terminal as its standard input, answering the prompt."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXBOT_")} | {"CXBOT_DATABASE_URL": db_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args], stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=env, cwd=cwd, text=True,
    )
    os.close(follower)
    os.write(leader, answer.encode())
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, "")
    result.output = out  # type: ignore[attr-defined]
    return result
