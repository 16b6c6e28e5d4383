"""Answers by mail, end to end: an alert mailed through the SMTP fake, a reply written the way mail
clients write it and put in the real Dovecot mailbox with APPEND, cxbot reading the mailbox — and
what it changed, which folder the reply ended in, and what it answered."""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.domain import tokens
from bot.domain.values import Channel, HistoryEvent, Status
from bot.services import dealers, mail
from bot.settings import ImapSettings
from handlers.dealer_file import parse_toml
from handlers.email.parse import parse_reply
from tests.conftest import REPLY_ADDRESS, mail_settings, running
from tests.mail_support import (
    CAMILLA,
    DE_ROUTE,
    JONAS,
    LARS,
    METTE,
    ROUTE,
    SABINE,
    SECRET,
    STRANGER,
    VEST_CHANNEL,
    alert_and_history,
    alert_mails,
    answers_to,
    eventually,
    folder,
    mail_app,
    mailed_alert,
    many_alerts,
    message_ids,
    mid,
    plain,
    quoted,
    reply,
    retag,
    snapshot,
    tag_of,
    tagged,
)

CORPUS = Path(__file__).parent / "fixtures" / "mail"
EXPECTED: dict[str, Any] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
EXPECTED.pop("tag_secret")


async def read(bot: Any, expected: int = 1) -> None:
    assert await bot.read_mail() == expected


async def status_of(bot: Any, alert_id: str) -> Status:
    return (await alert_and_history(bot, alert_id))[0].status


# ---- the seven languages, in the formats of their mail clients --------------------------------------


def gmail_en(o: EmailMessage, first: str) -> str:
    return f"{first}\n\nOn Mon, 2 Nov 2026 at 10:00, cxbot <{REPLY_ADDRESS}> wrote:\n\n{quoted(o)}\n"


def outlook_da(o: EmailMessage, first: str) -> str:
    return (
        f"{first}\n\nMed venlig hilsen\nMette Kjær\nKundeservice | Autohuset Vest\nTlf. +45 70 12 34 56\n\n"
        f"Fra: cxbot <{REPLY_ADDRESS}>\nSendt: 2. november 2026 10:00\nTil: Kundeservice <{ROUTE}>\n"
        f"Emne: {o['Subject']}\n\n{plain(o)}"
    )


def iphone_de(o: EmailMessage, first: str) -> str:
    return f"{first}\n\nVon meinem iPhone gesendet\n\n> Am 02.11.2026 um 10:00 schrieb cxbot <{REPLY_ADDRESS}>:\n>\n{quoted(o)}\n"


def gmail_nl(o: EmailMessage, first: str) -> str:
    return f"{first}\n\nMet vriendelijke groet,\nMette\n\nOp ma 2 nov 2026 om 10:00 schreef cxbot <{REPLY_ADDRESS}>:\n\n{quoted(o)}\n"


def outlook_sv(o: EmailMessage, first: str) -> str:
    return (
        f"{first}\n\nVänliga hälsningar\nMette\n\n"
        f"Från: cxbot <{REPLY_ADDRESS}>\nSkickat: den 2 november 2026 10:00\nTill: {ROUTE}\nÄmne: {o['Subject']}\n\n{plain(o)}"
    )


def gmail_fr(o: EmailMessage, first: str) -> str:
    return f"{first}\n\nCordialement,\nMette\n\nLe lun. 2 nov. 2026 à 10:00, cxbot <{REPLY_ADDRESS}> a écrit :\n\n{quoted(o)}\n"


def iphone_no(o: EmailMessage, first: str) -> str:
    return f"{first}\n\nSendt fra min iPhone\n\n> 2. nov. 2026 kl. 10:00 skrev cxbot <{REPLY_ADDRESS}>:\n>\n{quoted(o)}\n"


LANGUAGES = [
    # language, first lines as typed, status, the note stored, client format, MIME subtype and encoding
    ("en", "Resolved\nCalled Anne this morning, new appointment on Friday.", Status.RESOLVED,
     "Called Anne this morning, new appointment on Friday.", gmail_en, "plain", None),
    ("da", "IGANGVÆRENDE\nHar ringet til Anne, hun vender tilbage i morgen.\nVærkstedet tjekker fakturaen.", Status.ONGOING,
     "Har ringet til Anne, hun vender tilbage i morgen.\nVærkstedet tjekker fakturaen.", outlook_da, "plain", "quoted-printable"),
    ("de", "Erledigt: Kundin angerufen, Gutschrift über 50 € ist raus.", Status.RESOLVED,
     "Kundin angerufen, Gutschrift über 50 € ist raus.", iphone_de, "plain", "base64"),
    ("nl", "In behandeling\nProefrit gepland voor zaterdag om 10:00.", Status.ONGOING,
     "Proefrit gepland voor zaterdag om 10:00.", gmail_nl, "plain", "quoted-printable"),
    ("sv", "Löst – ringde Anne och bad om ursäkt, hon fick en gratis tvätt.", Status.RESOLVED,
     "ringde Anne och bad om ursäkt, hon fick en gratis tvätt.", outlook_sv, "plain", "8bit"),
    ("fr", "Résolu\nMme Sørensen a été rappelée, le rendez-vous est fixé à vendredi.", Status.RESOLVED,
     "Mme Sørensen a été rappelée, le rendez-vous est fixé à vendredi.", gmail_fr, "plain", "base64"),
    ("no", "Pågår\nLånebil er bestilt fra fredag.", Status.ONGOING,
     "Lånebil er bestilt fra fredag.", iphone_no, "plain", "quoted-printable"),
]  # fmt: skip


@pytest.mark.parametrize("lang, typed, status, note, client, subtype, cte", LANGUAGES, ids=[x[0] for x in LANGUAGES])
async def test_a_reply_with_a_status_word_sets_the_status_with_the_note(mailbot, lang, typed, status, note, client, subtype, cte):
    alert_id, sent = await mailed_alert(mailbot)
    raw = reply(sent.message, METTE, client(sent.message, typed), cte=cte, subtype=subtype)
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await read(mailbot)

    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is status
    last = history[-1]
    assert (last.event, last.channel, last.actor, last.old_status, last.new_status) == (
        HistoryEvent.STATUS, Channel.EMAIL, f"email:{METTE}", Status.NEW, status
    )
    assert last.note == note
    assert message_ids(folder(mailbot, "Processed")) == [mid(raw)]
    assert folder(mailbot, "INBOX") == [] and folder(mailbot, "Rejected") == []

    # A short confirmation goes to the sender, in the dealer's language, as an answer to the reply.
    await mailbot.deliver()
    (confirmation,) = mailbot.smtp.to(METTE)
    word = {Status.RESOLVED: "Løst", Status.ONGOING: "Igangværende"}[status]
    assert confirmation.message["Subject"] == f"Re: [cx {alert_id}] {word} – din note er gemt"
    assert str(confirmation.message["In-Reply-To"]).strip() == f"<{mid(raw)}>"
    assert confirmation.message["Auto-Submitted"] == "auto-generated"
    body = plain(confirmation.message)
    assert f"{alert_id} er nu {word}" in body and note.splitlines()[0] in body
    async with mailbot.cx.db.read() as tx:  # its Message-ID is stored like the alert mail's
        assert await tx.mail.alert_of_messages([mid(confirmation.raw)]) == alert_id


async def test_html_only_reply_with_a_non_ascii_name_is_read(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    page = (
        "<html><body><div dir=\"ltr\"><b>Løst</b></div><div>Ringede til Anne &amp; aftalte ny tid fredag.</div>"
        "<br><div class=\"gmail_quote\"><div>Den man. 2. nov. 2026 kl. 10.00 skrev cxbot &lt;"
        f"{REPLY_ADDRESS}&gt;:</div><blockquote>{sent.message['Subject']}</blockquote></div></body></html>"
    )
    raw = reply(sent.message, METTE, page, name="Mette Kjær-Østergård", subtype="html", cte="base64")
    assert b"=?utf-8?" in raw  # the name travels RFC 2047-encoded
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.RESOLVED and history[-1].note == "Ringede til Anne & aftalte ny tid fredag."


# ---- Slack is updated too -------------------------------------------------------------------------


async def test_a_reply_updates_the_slack_card_and_puts_the_note_in_its_thread(cx, db_url, smtp, mailbox, dovecot, slack, example_dealers):
    async with mail_app(db_url, cx, smtp, mailbox, dovecot, slack=slack) as bot:
        alert_id, sent = await mailed_alert(bot)
        (card,) = [c for c in slack.calls_to("chat.postMessage") if "thread_ts" not in c.body]
        assert card.body["channel"] == VEST_CHANNEL and alert_id in card.body["text"]
        ts = card.response["ts"]

        bot.dovecot.append(bot.mailbox, reply(sent.message, METTE, outlook_da(sent.message, "Løst\nAnne fik ny tid fredag kl. 10.")))
        await read(bot)
        await bot.deliver()

    update = slack.last("chat.update")
    assert update.body["ts"] == ts and update.body["channel"] == VEST_CHANNEL
    assert "Resolved" in str(update.body["blocks"]) and "Mette Kjær" in str(update.body["blocks"])
    (note,) = [c for c in slack.calls_to("chat.postMessage") if c.body.get("thread_ts") == ts]
    assert f"*{alert_id}* set *Resolved* by Mette Kjær" in str(note.body["blocks"])
    assert "Anne fik ny tid fredag kl. 10." in str(note.body["blocks"])
    assert len(answers_to(bot, METTE)) == 1


# ---- who may answer --------------------------------------------------------------------------------


@pytest.mark.parametrize("sender, name", [(METTE, "Mette Kjær"), (LARS, "Lars Østergaard"), (CAMILLA, "Camilla Berg")], ids=["staff", "manager", "regional"])
async def test_anyone_granted_to_the_dealer_can_answer_the_mail_that_went_to_the_shared_mailbox(mailbot, sender, name):
    alert_id, sent = await mailed_alert(mailbot)  # it went to the route address, not to them
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, sender, "Ongoing\nWaiting for the workshop.", name=name))
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.ONGOING and history[-1].actor == f"email:{sender}"
    await mailbot.deliver()
    assert len(answers_to(mailbot, sender)) == 1


async def test_a_colleague_can_answer_the_mail_another_colleague_received(cx, db_url, smtp, mailbox, dovecot, example_dealers):
    """DK-1001 with its route pointing at Mette: Jonas answers the mail Mette got (forwarded to him)."""
    await dealers.load(cx, parse_toml(_VEST_ROUTED_TO_METTE))
    async with mail_app(db_url, cx, smtp, mailbox, dovecot) as bot:
        alert_id, sent = await mailed_alert(bot, to=METTE)
        assert tokens.verify_reply_tag(SECRET, tag_of(sent.message), [METTE]) == METTE
        bot.dovecot.append(bot.mailbox, reply(sent.message, JONAS, "Resolved\nJonas called her back.", name="Jonas Holm"))
        await read(bot)
        alert, history = await alert_and_history(bot, alert_id)
        assert alert.status is Status.RESOLVED and history[-1].actor == f"email:{JONAS}"


_VEST_ROUTED_TO_METTE = """
[[dealers]]
code = "DK-1001"
name = "Autohuset Vest"
type = "dealer"
time_zone = "Europe/Copenhagen"
language = "da"

  [[dealers.routes]]
  emails = ["mette.kjaer@autohuset-vest.example"]
"""


async def test_the_shared_dealer_mailbox_that_gets_the_alerts_can_answer_them(mailbot):
    """Issue 5: "a colleague or a shared dealer mailbox can answer". The route's shared address
    (kundeservice@) is no person, but the dealer's routing names it, so its reply is applied."""
    alert_id, sent = await mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, ROUTE, "Løst\nKunden er ringet op.", name="Kundeservice"))
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.RESOLVED and history[-1].actor == f"email:{ROUTE}"
    assert history[-1].person_id is None
    assert len(folder(mailbot, "Processed")) == 1
    await mailbot.deliver()
    (confirmation,) = [m for m in mailbot.smtp.to(ROUTE) if m is not sent]
    assert f"[cx {alert_id}]" in confirmation.message["Subject"]


async def test_another_dealers_shared_mailbox_cannot_answer(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    other = "kundenbetreuung@autohaus-brandt.example"  # DE-2001's route address
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, other, "Erledigt\nKunde angerufen.", name="Kundenbetreuung"))
    await read(mailbot)
    assert await snapshot(mailbot, alert_id) == before
    assert len(folder(mailbot, "Rejected")) == 1


async def test_a_shared_mailbox_entered_as_a_person_with_a_grant_can_answer(mailbot):
    await dealers.load(mailbot.cx, parse_toml('[[people]]\nname = "Kundeservice"\nemail = "kundeservice@autohuset-vest.example"\ngrants = { "DK-1001" = "staff" }\n'))
    alert_id, sent = await mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, ROUTE, "Løst\nKunden er ringet op.", name="Kundeservice"))
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.RESOLVED and history[-1].actor == f"email:{ROUTE}"


# ---- comments, missing notes, negations ----------------------------------------------------------------


async def test_a_reply_without_a_status_word_is_kept_as_a_comment_and_answered_so(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    text = "Har lagt besked til Anne, prøver igen i morgen formiddag.\n- værkstedet tjekker fakturaen\n- ny tid tilbydes"
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, outlook_da(sent.message, text)))
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.NEW
    last = history[-1]
    assert (last.event, last.channel, last.actor, last.note) == (HistoryEvent.COMMENT, Channel.EMAIL, f"email:{METTE}", text)
    assert len(folder(mailbot, "Processed")) == 1
    await mailbot.deliver()
    (answer,) = answers_to(mailbot, METTE)
    assert answer.message["Subject"] == f"Re: [cx {alert_id}] din kommentar er gemt"
    assert "status er stadig Ny" in plain(answer.message)


@pytest.mark.parametrize("typed", ["Løst", "RESOLVED", "Erledigt:", "Résolu –"], ids=["da", "en", "de", "fr"])
async def test_a_status_word_without_a_note_changes_nothing_and_the_answer_says_a_note_is_needed(mailbot, typed):
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, outlook_da(sent.message, typed)))
    await read(mailbot)
    assert await snapshot(mailbot, alert_id) == before
    assert len(folder(mailbot, "Rejected")) == 1
    await mailbot.deliver()
    (answer,) = answers_to(mailbot, METTE)
    assert "der skal være en note" in plain(answer.message)  # in the dealer's language
    assert (await alert_and_history(mailbot, alert_id))[0].status is Status.NEW


@pytest.mark.parametrize(
    "text",
    [
        "Ikke løst endnu – Anne vil have rabat på næste service, jeg spørger chefen.",
        "Resolved – not yet. Waiting for the parts.",
        "Erledigt – noch nicht. Kundin wartet noch auf die Gutschrift.",
        "Opgelost? Nee, nog niet. De klant belt terug.",
    ],
    ids=["da-before", "en-after", "de-after", "nl-question"],
)
async def test_a_negated_status_word_is_a_comment(mailbot, text):
    alert_id, sent = await mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, gmail_en(sent.message, text)))
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.NEW
    assert (history[-1].event, history[-1].note) == (HistoryEvent.COMMENT, text)


# ---- no loops --------------------------------------------------------------------------------------------


AUTO_REPLIES = [
    ({"Auto-Submitted": "auto-replied"}, None),
    ({"Auto-Submitted": "auto-generated"}, None),
    ({"X-Autoreply": "yes"}, None),
    ({"X-Autorespond": "On vacation"}, None),
    ({"Precedence": "auto_reply"}, None),
    ({"Precedence": "bulk"}, None),
    ({}, "Out of Office: {s}"),
    ({}, "Automatic reply: {s}"),
    ({}, "Automatisk svar: {s}"),  # Danish, Swedish, Norwegian Outlook
    ({}, "Fraværende: {s}"),
    ({}, "Abwesenheitsnotiz: {s}"),
    ({}, "Automatische Antwort: {s}"),
    ({}, "Afwezigheidsbericht: {s}"),
    ({}, "Frånvaro: {s}"),
    ({}, "Réponse automatique : {s}"),
    ({}, "Ikke på kontoret: {s}"),
]


async def test_auto_replies_are_filed_in_rejected_change_nothing_and_are_never_answered(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    raws = [
        reply(sent.message, METTE, "Resolved\nI am out of the office until Monday and will answer then.",
              headers=headers, subject=subject.format(s=sent.message["Subject"]) if subject else None)
        for headers, subject in AUTO_REPLIES
    ]  # fmt: skip
    for raw in raws:
        mailbot.dovecot.append(mailbot.mailbox, raw)
    await read(mailbot, len(raws))
    assert await snapshot(mailbot, alert_id) == before
    assert sorted(message_ids(folder(mailbot, "Rejected"))) == sorted(mid(r) for r in raws)
    assert folder(mailbot, "Processed") == []
    await mailbot.deliver()
    assert mailbot.smtp.to(METTE) == []


# ---- who may not answer ------------------------------------------------------------------------------------


async def test_a_stranger_changes_nothing_and_gets_no_answer_even_with_the_right_tag(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    lookalike = "mette.kjaer@autohuset-vest.example.mail-secure.example"
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, STRANGER, "Resolved\nDone."))
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, lookalike, "Resolved\nRefund the customer in full."))
    await read(mailbot, 2)
    assert await snapshot(mailbot, alert_id) == before
    assert len(folder(mailbot, "Rejected")) == 2
    await mailbot.deliver()
    assert mailbot.smtp.to(STRANGER) == [] and mailbot.smtp.to(lookalike) == []


async def test_a_known_person_of_another_dealer_changes_nothing_and_gets_a_short_answer(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, SABINE, "Erledigt\nKundin angerufen.", name="Sabine Krüger"))
    await read(mailbot)
    assert await snapshot(mailbot, alert_id) == before
    assert len(folder(mailbot, "Rejected")) == 1
    await mailbot.deliver()
    (answer,) = answers_to(mailbot, SABINE)
    assert "du har ikke adgang til alarmens forhandler" in plain(answer.message)


async def test_a_tag_moved_to_another_dealers_alert_is_refused_without_an_answer(mailbot):
    """Sabine got Autohaus Brandt's mail; she puts its signature on Autohuset Vest's alert id."""
    dk_alert, _ = await mailed_alert(mailbot)
    de_alert, de_sent = await mailed_alert(mailbot, "r-de", to=DE_ROUTE, dealer_id="DE-2001")
    forged = dk_alert.lower() + "." + tag_of(de_sent.message).split(".", 1)[1]
    before = await snapshot(mailbot, dk_alert)
    mailbot.dovecot.append(
        mailbot.mailbox,
        reply(de_sent.message, SABINE, "Erledigt\nErledigt.", name="Sabine Krüger", to=tagged(forged), subject=f"AW: [cx {dk_alert}] Hot Alert"),
    )
    await read(mailbot)
    assert await snapshot(mailbot, dk_alert) == before
    assert (await alert_and_history(mailbot, de_alert))[0].status is Status.NEW
    assert len(folder(mailbot, "Rejected")) == 1
    await mailbot.deliver()
    assert answers_to(mailbot, SABINE) == []  # no answer confirms another dealer's alert


async def test_a_tag_of_one_alert_does_not_open_another_dealers_alert(mailbot):
    """Mette (Autohuset Vest) takes her tag's signature and names Autohaus Brandt's alert with it."""
    dk_alert, dk_sent = await mailed_alert(mailbot)
    de_alert, _ = await mailed_alert(mailbot, "r-de", to=DE_ROUTE, dealer_id="DE-2001")
    forged = de_alert.lower() + "." + tag_of(dk_sent.message).split(".", 1)[1]
    mailbot.dovecot.append(mailbot.mailbox, reply(dk_sent.message, METTE, "Resolved\nDone.", to=tagged(forged), references=False))
    await read(mailbot)
    assert (await alert_and_history(mailbot, de_alert))[0].status is Status.NEW
    assert (await alert_and_history(mailbot, dk_alert))[0].status is Status.NEW
    assert len(folder(mailbot, "Rejected")) == 1
    await mailbot.deliver()
    assert answers_to(mailbot, METTE) == []


@pytest.mark.parametrize(
    "make_tag",
    [
        lambda alert_id: tokens.reply_tag(SECRET, alert_id, SABINE),  # the right alert, an address it never went to
        lambda alert_id: tokens.reply_tag(b"a-guessed-secret-0123456789", alert_id, ROUTE),  # signed with another secret
        lambda alert_id: f"{alert_id.lower()}.aaaaaaaaaaaaaaaa",  # made up
    ],
    ids=["other-recipient", "other-secret", "made-up"],
)
async def test_a_tag_not_made_for_the_address_the_mail_went_to_is_refused(mailbot, make_tag: Callable[[str], str]):
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, "Resolved\nDone.", to=tagged(make_tag(alert_id))))
    await read(mailbot)
    assert await snapshot(mailbot, alert_id) == before
    assert len(folder(mailbot, "Rejected")) == 1
    await mailbot.deliver()
    (answer,) = answers_to(mailbot, METTE)  # granted to the dealer: told what to do
    assert "Svar direkte på alarm-mailen" in plain(answer.message)


@pytest.mark.parametrize("how", ["in-reply-to", "subject-only"])
async def test_a_reply_that_lost_its_tag_is_refused_and_a_known_sender_is_told_to_reply_to_the_alert_mail(mailbot, how):
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    mailbot.dovecot.append(
        mailbot.mailbox, reply(sent.message, METTE, "Løst\nRingede til Anne.", to=f"cxbot <{REPLY_ADDRESS}>", references=how == "in-reply-to")
    )
    mailbot.dovecot.append(
        mailbot.mailbox, reply(sent.message, STRANGER, "Løst\nRingede til Anne.", to=REPLY_ADDRESS, references=how == "in-reply-to")
    )
    await read(mailbot, 2)
    assert await snapshot(mailbot, alert_id) == before
    assert len(folder(mailbot, "Rejected")) == 2
    await mailbot.deliver()
    (answer,) = answers_to(mailbot, METTE)
    assert f"[cx {alert_id}]" in answer.message["Subject"]
    assert "Svar direkte på alarm-mailen" in plain(answer.message)
    assert mailbot.smtp.to(STRANGER) == []


async def test_a_person_of_another_dealer_guessing_an_alert_id_learns_nothing(mailbot):
    """Sabine never got Autohuset Vest's mail; she writes to cxbot's plain address with a guessed
    "[cx HA-1]". An answer would confirm the alert and name its dealer (the Slack side never
    confirms that another dealer's alert exists): she gets none, like a stranger."""
    alert_id, sent = await mailed_alert(mailbot)
    before = await snapshot(mailbot, alert_id)
    mailbot.dovecot.append(
        mailbot.mailbox,
        reply(None, SABINE, "Erledigt\nKundin angerufen.", name="Sabine Krüger", to=REPLY_ADDRESS, subject=f"[cx {alert_id}] Hot Alert"),
    )
    await read(mailbot)
    assert await snapshot(mailbot, alert_id) == before
    assert len(folder(mailbot, "Rejected")) == 1
    await mailbot.deliver()
    assert mailbot.smtp.to(SABINE) == []


async def test_a_refused_reply_read_again_is_answered_once(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    raw = reply(sent.message, SABINE, "Erledigt\nKundin angerufen.", name="Sabine Krüger")
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await read(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await read(mailbot)
    await mailbot.deliver()
    assert len(answers_to(mailbot, SABINE)) == 1
    assert len(folder(mailbot, "Rejected")) == 2


# ---- no doubles ----------------------------------------------------------------------------------------------


async def test_the_same_message_delivered_twice_is_applied_once(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    raw = reply(sent.message, METTE, "Igangværende\nVenter på værkstedet.")
    mailbot.dovecot.append(mailbot.mailbox, raw)
    mailbot.dovecot.append(mailbot.mailbox, raw)  # a mail server that delivered it twice
    await read(mailbot, 2)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.ONGOING
    assert [h.event for h in history].count(HistoryEvent.STATUS) == 1
    assert len(folder(mailbot, "Processed")) == 2 and folder(mailbot, "Rejected") == []
    await mailbot.deliver()
    assert len(answers_to(mailbot, METTE)) == 1


async def test_a_comment_delivered_twice_is_kept_once(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    raw = reply(sent.message, METTE, "Har lagt besked til Anne.")
    for _ in range(2):
        mailbot.dovecot.append(mailbot.mailbox, raw)
        await read(mailbot)
    _, history = await alert_and_history(mailbot, alert_id)
    assert [h.event for h in history].count(HistoryEvent.COMMENT) == 1
    await mailbot.deliver()
    assert len(answers_to(mailbot, METTE)) == 1


async def test_a_reply_read_again_after_a_crash_before_the_move_is_not_applied_twice(mailbot):
    """As if cxbot stopped after applying the reply but before moving it: the message is read again."""
    alert_id, sent = await mailed_alert(mailbot)
    raw = reply(sent.message, METTE, "Løst\nRingede til Anne.")
    mailbot.dovecot.append(mailbot.mailbox, raw)
    await read(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, raw)  # the MOVE never happened
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.RESOLVED
    assert [h.event for h in history].count(HistoryEvent.STATUS) == 1
    assert len(folder(mailbot, "Processed")) == 2
    await mailbot.deliver()
    assert len(answers_to(mailbot, METTE)) == 1


async def test_a_reply_applied_but_never_moved_stays_applied_once_when_read(mailbot):
    """The same crash, with the message really left in the INBOX: the service applied it (and stored
    its Message-ID) before any IMAP move; the next read only files it."""
    alert_id, sent = await mailed_alert(mailbot)
    raw = reply(sent.message, METTE, "Resolved\nCalled Anne.")
    mailbot.dovecot.append(mailbot.mailbox, raw)
    verdict = await mail.apply_reply(mailbot.cx, parse_reply(raw, mailbot.cx.rules.status_words, "cxbot"))
    assert verdict.folder is mail.Folder.PROCESSED
    assert len(folder(mailbot, "INBOX")) == 1
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.RESOLVED and [h.event for h in history].count(HistoryEvent.STATUS) == 1
    assert folder(mailbot, "INBOX") == [] and len(folder(mailbot, "Processed")) == 1
    await mailbot.deliver()
    assert len(answers_to(mailbot, METTE)) == 1


async def test_a_reply_to_an_alert_resolved_meanwhile_is_refused_with_the_reason(mailbot):
    alert_id, sent = await mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, "Løst\nRingede til Anne."))
    await read(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, LARS, "Løst\nJeg ringede også.", name="Lars Østergaard"))
    await read(mailbot)
    _, history = await alert_and_history(mailbot, alert_id)
    assert [h.actor for h in history if h.event is HistoryEvent.STATUS] == [f"email:{METTE}"]
    assert len(folder(mailbot, "Rejected")) == 1
    await mailbot.deliver()
    (answer,) = answers_to(mailbot, LARS)
    assert "cannot be set resolved" in plain(answer.message)


# ---- many at once, and IDLE ------------------------------------------------------------------------------------


async def test_a_batch_of_replies_is_applied_and_filed_with_one_move_per_folder(mailbot, capsys):
    alert_ids = await many_alerts(mailbot, 24)
    await mailbot.deliver()
    mails = alert_mails(mailbot)
    assert sorted(mails) == sorted(alert_ids)
    # Folders made beforehand with CONDSTORE on, so Dovecot records each message's MODSEQ: every
    # message moved by one MOVE lands in one transaction and shares one MODSEQ.
    with mailbot.dovecot.client(mailbot.mailbox) as c:
        c.enable("CONDSTORE")
        for name in ("Processed", "Rejected"):
            c.create_folder(name)
            c.select_folder(name)
    good, bad = alert_ids[:20], alert_ids[20:]
    for i, alert_id in enumerate(good):
        word = "Løst" if i % 2 else "Igangværende"
        mailbot.dovecot.append(mailbot.mailbox, reply(mails[alert_id].message, METTE, f"{word}\nNote {i} til {alert_id}."))
    for alert_id in bad:
        mailbot.dovecot.append(mailbot.mailbox, reply(mails[alert_id].message, STRANGER, "Løst\nIkke min sag."))

    started = time.perf_counter()
    await read(mailbot, 24)
    elapsed = time.perf_counter() - started

    for i, alert_id in enumerate(good):
        alert, history = await alert_and_history(mailbot, alert_id)
        assert alert.status is (Status.RESOLVED if i % 2 else Status.ONGOING)
        assert history[-1].note == f"Note {i} til {alert_id}."
    for alert_id in bad:
        assert (await alert_and_history(mailbot, alert_id))[0].status is Status.NEW
    assert folder(mailbot, "INBOX") == []
    with mailbot.dovecot.client(mailbot.mailbox) as c:
        modseqs = {}
        for name, count in (("Processed", 20), ("Rejected", 4)):
            c.select_folder(name, readonly=True)
            found = c.fetch(c.search("ALL"), ["MODSEQ"])
            assert len(found) == count
            modseqs[name] = {d[b"MODSEQ"][0] for d in found.values()}
    assert {k: len(v) for k, v in modseqs.items()} == {"Processed": 1, "Rejected": 1}, modseqs
    with capsys.disabled():
        print(f"\n[mail replies] 24 replies read, applied and filed in {elapsed:.2f} s")


async def test_idle_applies_a_reply_within_five_seconds_of_its_arrival(cx, db_url, smtp, mailbox, dovecot, example_dealers, capsys):
    """The reader idles (up to 5 s at a time, CXBOT_IMAP_POLL_SECONDS=30): a reply is applied when the
    server says it arrived, well before the next look of its own."""
    async with running(_imap(mail_settings(db_url, smtp, mailbox, dovecot), poll_seconds=30.0), cx, None) as bot:
        bot.smtp, bot.mailbox, bot.dovecot = smtp, mailbox, dovecot
        alert_id, sent = await mailed_alert(bot)
        reader = bot.runtime.reader
        stop = asyncio.Event()
        task = asyncio.create_task(reader.run(stop))
        try:
            await eventually(lambda: reader.timings.imap > 0, timeout=5.0)  # connected, first look done
            await asyncio.sleep(0.3)  # idling now
            arrived = time.monotonic()
            await asyncio.to_thread(dovecot.append, mailbox, reply(sent.message, METTE, "Løst\nRingede til Anne."))

            async def applied() -> bool:
                return await status_of(bot, alert_id) is Status.RESOLVED

            await eventually(applied, timeout=5.0)
            took = time.monotonic() - arrived
            await eventually(lambda: len(folder(bot, "Processed")) == 1, timeout=5.0)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)
    with capsys.disabled():
        print(f"\n[mail replies] IDLE: reply applied {took:.2f} s after it arrived")
    assert took < 3.0  # IDLE answers ≥ 0.5 s after arrival (Dovecot); the idle round itself lasts 5 s


def _imap(settings: Any, **imap: Any) -> Any:
    import dataclasses

    i = settings.imap
    values = {"host": i.host, "port": i.port, "username": i.username, "password": i.password, "tls": "none", "poll_seconds": 0.5, **imap}
    return dataclasses.replace(settings, imap=ImapSettings(**values))


async def test_one_replica_reads_the_mailbox_at_a_time(mailbot, db_url):
    """Two replicas run readers on the same mailbox: the lease lets one read; every reply is
    applied once."""
    from bot.app import mailbox_reader

    other = mailbox_reader(mail_settings(db_url, mailbot.smtp, mailbot.mailbox, mailbot.dovecot), mailbot.cx)
    readers = [mailbot.runtime.reader, other]
    alert_ids = await many_alerts(mailbot, 5)
    await mailbot.deliver()
    mails = alert_mails(mailbot)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in readers]
    try:
        for alert_id in alert_ids:
            await asyncio.to_thread(mailbot.dovecot.append, mailbot.mailbox, reply(mails[alert_id].message, METTE, f"Løst\nOK {alert_id}."))

        async def all_applied() -> bool:
            return all([await status_of(mailbot, a) is Status.RESOLVED for a in alert_ids])

        await eventually(all_applied, timeout=10.0)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
        other.close()
    assert sorted(r.timings.messages for r in readers) == [0, 5]
    for alert_id in alert_ids:
        _, history = await alert_and_history(mailbot, alert_id)
        assert [h.event for h in history].count(HistoryEvent.STATUS) == 1
    await mailbot.deliver()
    assert len(answers_to(mailbot, METTE)) == 5


async def test_a_reply_to_cxbots_confirmation_is_applied_too(mailbot):
    """The confirmation carries a tag for the alert and the person it went to: answering it works."""
    alert_id, sent = await mailed_alert(mailbot)
    mailbot.dovecot.append(mailbot.mailbox, reply(sent.message, METTE, "Igangværende\nVenter på værkstedet."))
    await read(mailbot)
    await mailbot.deliver()
    (confirmation,) = answers_to(mailbot, METTE)
    assert tokens.verify_reply_tag(SECRET, tag_of(confirmation.message), [METTE]) == METTE
    mailbot.dovecot.append(mailbot.mailbox, reply(confirmation.message, METTE, "Løst\nBilen er klar, Anne er glad."))
    await read(mailbot)
    alert, history = await alert_and_history(mailbot, alert_id)
    assert alert.status is Status.RESOLVED and history[-1].note == "Bilen er klar, Anne er glad."


async def test_polling_without_idle_applies_a_reply_at_the_next_poll(cx, db_url, smtp, mailbox, dovecot, example_dealers, capsys):
    """Without IDLE the reader looks every CXBOT_IMAP_POLL_SECONDS: a reply is applied at the next
    look, not one later (a server tells a kept connection about new mail only when asked)."""
    poll = 2.0
    settings = _imap(mail_settings(db_url, smtp, mailbox, dovecot), poll_seconds=poll, idle=False)
    async with running(settings, cx, None) as bot:
        bot.smtp, bot.mailbox, bot.dovecot = smtp, mailbox, dovecot
        alert_id, sent = await mailed_alert(bot)
        reader = bot.runtime.reader
        stop = asyncio.Event()
        task = asyncio.create_task(reader.run(stop))
        try:
            await eventually(lambda: reader.timings.imap > 0, timeout=5.0)  # connected, first look done
            await asyncio.sleep(0.2)
            arrived = time.monotonic()
            await asyncio.to_thread(dovecot.append, mailbox, reply(sent.message, METTE, "Løst\nRingede til Anne."))

            async def applied() -> bool:
                return await status_of(bot, alert_id) is Status.RESOLVED

            await eventually(applied, timeout=3 * poll)
            took = time.monotonic() - arrived
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)
    with capsys.disabled():
        print(f"\n[mail replies] polling every {poll:.0f} s: reply applied {took:.2f} s after it arrived")
    assert took < poll + 0.6


# ---- the corpus, end to end ---------------------------------------------------------------------------------


def _corpus_people() -> str:
    """The corpus's senders as people of Autohuset Vest, except the lookalike forger (unknown). The
    corpus's shared workshop mailbox (vaerksted@) is entered as a person, which is how a shared
    mailbox may answer."""
    lines = []
    seen: set[str] = set()
    for name, e in sorted(EXPECTED.items()):
        sender = e["sender"]
        if e.get("bounce") or sender in seen or name.startswith("43_"):
            continue
        seen.add(sender)
        lines.append(f'[[people]]\nname = "{e.get("sender_name") or sender}"\nemail = "{sender}"\ngrants = {{ "DK-1001" = "staff" }}\n')
    return "\n".join(lines)


OTHER_DEALERS_ALERT = "44_other_dealers_alert.eml"


async def test_the_reply_corpus_end_to_end(mailbot, capsys):
    """Every reply and auto-reply of tests/fixtures/mail, each answering an alert mail of its own (its
    tag made again for that alert and the address it went to), read in one go. The corpus's "reply to
    another dealer's alert" answers a mail of Autohaus Brandt's, its sender being Autohuset Vest's."""
    await dealers.load(mailbot.cx, parse_toml(_corpus_people()))
    names = [n for n in sorted(EXPECTED) if not EXPECTED[n].get("bounce") and n != OTHER_DEALERS_ALERT]
    alert_ids = await many_alerts(mailbot, len(names), prefix="c")
    await mailbot.deliver()
    mails = alert_mails(mailbot)
    by_name = dict(zip(names, alert_ids, strict=True))
    de_alert, de_sent = await mailed_alert(mailbot, "r-de", to=DE_ROUTE, dealer_id="DE-2001")
    by_name[OTHER_DEALERS_ALERT] = de_alert
    tags = {name: tag_of(mails[alert_id].message) for name, alert_id in by_name.items() if alert_id != de_alert}
    tags[OTHER_DEALERS_ALERT] = tag_of(de_sent.message)
    names.append(OTHER_DEALERS_ALERT)
    for name in names:
        mailbot.dovecot.append(mailbot.mailbox, retag((CORPUS / name).read_bytes(), tags[name]))
    await read(mailbot, len(names))
    await mailbot.deliver()
    processed = set(message_ids(folder(mailbot, "Processed")))
    rejected = set(message_ids(folder(mailbot, "Rejected")))

    wrong: list[str] = []
    for name in names:
        e, alert_id = EXPECTED[name], by_name[name]
        alert, history = await alert_and_history(mailbot, alert_id)
        last = history[-1]
        message_id = mid((CORPUS / name).read_bytes())
        sender = e["sender"]
        answered = [m for m in answers_to(mailbot, sender) if f"[cx {alert_id}]" in m.message["Subject"]]
        if e.get("auto_reply") or name.startswith("43_"):  # auto-replies, and a forger nobody knows
            ok = alert.status is Status.NEW and len(history) == 1 and message_id in rejected and not answered
        elif name == OTHER_DEALERS_ALERT:  # a known person, not granted to that dealer: refused, told why
            ok = alert.status is Status.NEW and len(history) == 1 and message_id in rejected and len(answered) == 1
            ok = ok and any(w in plain(answered[0].message) for w in ("ikke adgang", "nicht freigeschaltet", "not granted"))
        elif e["status"] and not e["note"]:  # a status word without a note
            ok = alert.status is Status.NEW and message_id in rejected and len(answered) == 1
            ok = ok and any(w in plain(answered[0].message) for w in ("skal være en note", "Notiz ist nötig", "note is needed"))
        elif e["status"]:
            ok = alert.status.value == e["status"] and last.note == e["note"] and last.actor == f"email:{sender}"
            ok = ok and message_id in processed and len(answered) == 1
        else:  # a comment
            ok = alert.status is Status.NEW and last.event is HistoryEvent.COMMENT and last.note == e["note"]
            ok = ok and message_id in processed and len(answered) == 1
        if not ok:
            wrong.append(f"{name}: {alert.status}, last {last.event}/{last.note!r}, processed {message_id in processed}, answers {len(answered)}")
    with capsys.disabled():
        print(f"\n[mail replies] corpus end to end: {len(names) - len(wrong)}/{len(names)} mails handled as expected")
    assert not wrong, "\n".join(wrong)
