"""Reply mails → ParsedReply: the corpus of real-client mails, the new-text extraction, robustness and speed."""

from __future__ import annotations

import random
import time
import tomllib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import tokens
from bot.domain.status_words import StatusWords
from bot.domain.values import Status
from handlers.email.parse import Bounce, ParsedReply, extract_new_text, html_to_text, parse_reply

MAIL = Path(__file__).parent / "fixtures" / "mail"
_TOML = tomllib.loads((MAIL / "expected.toml").read_text(encoding="utf-8"))
TAG_SECRET: bytes = _TOML.pop("tag_secret").encode()
EXPECTED: dict[str, dict[str, Any]] = _TOML
CORPUS = sorted(EXPECTED)
WORDS = StatusWords.default()
ADDRESS = "cxbot+ha-12.k7x2m9q4p1z8w3v6@cx.mazda-importer.example"


def parse(name: str) -> ParsedReply:
    return parse_reply((MAIL / name).read_bytes(), WORDS)


def observed(r: ParsedReply) -> dict[str, Any]:
    """The parse in expected.toml's terms."""
    return {
        "status": r.status.value if r.status else "",
        "note": r.note,
        "auto_reply": r.auto_reply,
        "bounce": r.bounce is not None,
        "bounce_recipients": list(r.bounce.recipients) if r.bounce else [],
        "bounce_status": (r.bounce.status or "") if r.bounce else "",
        "subject_alert": r.subject_alert or "",
        "tags": list(r.tags),
        "sender": r.sender,
        "sender_name": r.sender_name,
        "message_id": r.message_id,
        "references": list(r.references),
    }


def mail(body: str, *, subtype: str = "plain", **headers: str) -> bytes:
    m = EmailMessage()
    m["From"] = headers.pop("From", "Jens Hansen <jens.hansen@autohuset-vest.dk>")
    m["To"] = headers.pop("To", f"Mazda CX <{ADDRESS}>")
    m["Subject"] = headers.pop("Subject", "Re: [cx HA-12] Hot Alert – Autohuset Vest – NPS 3")
    m["Message-ID"] = headers.pop("Message_ID", "<reply.1@autohuset-vest.dk>")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body, subtype=subtype)
    return m.as_bytes()


# --- the corpus --------------------------------------------------------------------------------------


def test_corpus_is_complete() -> None:
    files = sorted(p.name for p in MAIL.glob("*.eml"))
    assert files == CORPUS, "every .eml needs an entry in expected.toml and the other way round"
    replies = [n for n in CORPUS if not EXPECTED[n]["auto_reply"] and not EXPECTED[n]["bounce"]]
    assert len(replies) >= 40 and len(CORPUS) >= 50


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_mail_parses_as_expected(name: str) -> None:
    expected = {k: v for k, v in EXPECTED[name].items() if k != "tag_for"}
    got = observed(parse(name))
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_tags_are_real_tags_for_the_address_mailed(name: str) -> None:
    """So the corpus serves the reader's end-to-end tests too: each tag verifies under tag_secret."""
    expected = EXPECTED[name]
    for tag, address in zip(expected["tags"], expected["tag_for"], strict=True):
        if tokens.is_bounce_tag(tag):
            assert tag == tokens.bounce_tag(TAG_SECRET, address)
        else:
            assert tokens.verify_reply_tag(TAG_SECRET, tag, [address]) == address


def test_share_of_exactly_right_notes(capsys: pytest.CaptureFixture[str]) -> None:
    replies = [n for n in CORPUS if not EXPECTED[n]["auto_reply"] and not EXPECTED[n]["bounce"]]
    right = [n for n in replies if _note_right(n)]
    share = len(right) / len(replies)
    everything = sum(_note_right(n) for n in CORPUS) / len(CORPUS)
    with capsys.disabled():
        print(
            f"\n[mail parse] exactly right notes: {len(right)}/{len(replies)} replies = {share:.1%}"
            f" (whole corpus incl. auto-replies and bounces: {everything:.1%})"
        )
        for n in sorted(set(replies) - set(right)):
            print(f"[mail parse]   wrong: {n}")
    assert share >= 0.95


def _note_right(name: str) -> bool:
    got = observed(parse(name))
    return bool(got["note"] == EXPECTED[name]["note"] and got["status"] == EXPECTED[name]["status"])


def test_speed_over_the_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    raws = [(MAIL / n).read_bytes() for n in CORPUS]
    for raw in raws:
        parse_reply(raw, WORDS)  # warm the regex caches
    rounds = 20
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for raw in raws:
            parse_reply(raw, WORDS)
    n = rounds * len(raws)
    wall_ms = (time.perf_counter() - wall) / n * 1000
    cpu_ms = (time.process_time() - cpu) / n * 1000
    with capsys.disabled():
        print(f"\n[mail parse] {wall_ms:.2f} ms per message ({cpu_ms:.2f} ms CPU) over {len(raws)} mails × {rounds}")
    assert wall_ms < 25  # a loose bound: the figure that matters is printed


# --- fields beyond the corpus ------------------------------------------------------------------------


def test_tags_from_every_recipient_header_in_order_once() -> None:
    raw = mail(
        "Resolved\nok",
        To=f"Other <x@example.com>, Mazda CX <{ADDRESS}>",
        Cc="cxbot+ha-12.second@cx.mazda-importer.example",
        Delivered_To="CXBOT+HA-12.k7x2m9q4p1z8w3v6@cx.mazda-importer.example",
        X_Original_To=ADDRESS,
        Envelope_To="notcxbot+nope@cx.mazda-importer.example",
    )
    assert parse_reply(raw, WORDS).tags == ("ha-12.k7x2m9q4p1z8w3v6", "ha-12.second", "HA-12.k7x2m9q4p1z8w3v6")


def test_local_part_is_a_setting() -> None:
    raw = mail("Resolved\nok", To="alerts+ha-1.abc@x.example, cxbot+ha-2.def@x.example")
    assert parse_reply(raw, WORDS, local_part="alerts").tags == ("ha-1.abc",)


@pytest.mark.parametrize(
    "subject, alert",
    [
        ("Re: [cx HA-12] Hot Alert – Autohuset Vest – NPS 3", "HA-12"),
        ("AW: WG: [cx SO-33] Sales Opportunity", "SO-33"),
        ("SV: Sv: [cx dt-41] Detractor", "DT-41"),
        ("Antw: [EXTERNAL] Antw: [cx CO-63] External complaint", "CO-63"),
        ("VS: RE: [ cx HA-7 ] Hot Alert", "HA-7"),
        ("Re: Hot Alert HA-12", None),
        ("", None),
    ],
)
def test_subject_alert_tag(subject: str, alert: str | None) -> None:
    assert parse_reply(mail("Resolved\nok", Subject=subject), WORDS).subject_alert == alert


def test_references_in_reply_to_first_without_brackets_once() -> None:
    raw = b"Message-ID:\r\n <reply.1@autohuset-vest.dk>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x>\r\n <b@x> <c@x>\r\n\r\nx"
    r = parse_reply(raw, WORDS)
    assert r.references == ("b@x", "a@x", "c@x") and r.message_id == "reply.1@autohuset-vest.dk"


@pytest.mark.parametrize(
    "headers, subject, auto",
    [
        ({"X_Auto_Response_Suppress": "All"}, "RE: [cx HA-12] Hot Alert", False),  # Outlook sets it on any mail
        ({"Auto_Submitted": "no"}, "Re: [cx HA-12]", False),
        ({"Auto_Submitted": "auto-replied"}, "Re: [cx HA-12]", True),
        ({"X_Autoreply": "yes"}, "Re: [cx HA-12]", True),
        ({"X_Autorespond": "Out of office"}, "Re: [cx HA-12]", True),
        ({"Precedence": "bulk"}, "Re: [cx HA-12]", True),
        ({"Precedence": "list"}, "Re: [cx HA-12]", True),
        ({}, "Out of Office: [cx HA-12] Hot Alert", True),
        ({}, "Automatisk svar: [cx HA-12] Hot Alert", True),
        ({}, "Abwesenheitsnotiz: [cx HA-21]", True),
        ({}, "Automatische Antwort: [cx HA-21]", True),
        ({}, "Afwezigheidsbericht: [cx SO-33]", True),
        ({}, "Autosvar: [cx DT-41]", True),
        ({}, "Réponse automatique : [cx HA-52]", True),
        ({}, "Absence: [cx HA-52]", True),
        ({}, "Ikke på kontoret: [cx CO-63]", True),
        ({}, "Re: [cx HA-12] Hot Alert – Absence of the courtesy car", False),
    ],
)
def test_auto_reply_signals(headers: dict[str, str], subject: str, auto: bool) -> None:
    r = parse_reply(mail("Resolved\nCalled the customer.", Subject=subject, **headers), WORDS)
    assert r.auto_reply is auto
    assert r.status is (None if auto else Status.RESOLVED)  # an auto-reply never sets a status


def test_dsn_without_failed_recipients_is_a_report_not_a_reply() -> None:
    r = parse("55_bounce_delayed_4_4_1_not_permanent.eml")
    assert r.bounce == Bounce((), "4.4.1", r.bounce.diagnostic if r.bounce else None)
    assert r.bounce is not None and "Connection timed out" in (r.bounce.diagnostic or "")
    assert r.status is None and r.note == "" and r.text == ""


def test_dsn_diagnostic_is_unfolded() -> None:
    r = parse("53_bounce_postfix_dsn_5_1_1.eml")
    assert r.bounce is not None and r.bounce.diagnostic == (
        "550 5.1.1 <peter.old@autohuset-vest.dk>: Recipient address rejected: User unknown in virtual mailbox table"
    )


def test_non_ascii_names_and_8bit_headers() -> None:
    assert parse("06_outlook_desktop_sv_lost.eml").sender_name == "Åsa Ström"
    r = parse("45_raw_utf8_headers_cc_colleague.eml")
    assert r.sender_name == "Værkstedet Autohuset Vest" and r.subject.startswith("Sv: [cx HA-12] Hot Alert – ")


# --- the new text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, text",
    [
        # Dutch, wrapped: mail-parser-reply only knows "Op … schreef:" without the name
        ("Opgelost\nKlant gebeld.\n\nOp di 12 mrt 2024 om 10:15 schreef Mazda CX <\ncxbot+x@cx.example>:\n\nOrigineel",
         "Opgelost\nKlant gebeld."),
        ("In behandeling\n\nOp 12 mrt. 2024 om 10:15 heeft Mazda CX <cxbot@cx.example> het volgende geschreven:\n\nx",
         "In behandeling"),
        # Norwegian, both forms
        ("Løst\nKunden er ringt.\n\nDen tir. 12. mar. 2024 kl. 10:15 skrev Mazda CX <cxbot@cx.example>:\nalert",
         "Løst\nKunden er ringt."),
        ("Pågår\nVenter.\n\nFra: Mazda CX <cxbot@cx.example>\nSendt: tirsdag 12. mars 2024 10:15\nTil: Ola\n" +
         "Emne: [cx CO-63]\n\nalert text", "Pågår\nVenter."),
        # Swedish, French, German, Danish header blocks
        ("Löst\nKlart.\n\nFrån: Mazda CX\nSkickat: den 12 mars 2024 10:15\nTill: Åsa\nÄmne: x\n\nalert", "Löst\nKlart."),
        ("Résolu\nFait.\n\nDe : Mazda CX\nEnvoyé : mardi 12 mars 2024 10:15\nÀ : Marc\nObjet : x\n\nalert",
         "Résolu\nFait."),
        ("Erledigt\nOk.\n\nVon: Mazda CX\nGesendet: Dienstag, 12. März 2024 10:15\nAn: Max\nBetreff: x\n\nalert",
         "Erledigt\nOk."),
        ("Løst\nOk.\n\n-----Oprindelig meddelelse-----\nFra: Mazda CX\nSendt: 12. marts 2024\nTil: Jens\n\nalert",
         "Løst\nOk."),
        ("Resolved\nOk.\n\n-----Original Message-----\nFrom: Mazda CX\nSent: 12 March\n\nalert", "Resolved\nOk."),
        ("Resolved\nOk.\n\n________________________________\nFrom: Mazda CX\nSent: 12 March\n\nalert",
         "Resolved\nOk."),
        ("Løst\nOk.\n\nAm 12.03.2024 um 10:15 schrieb Mazda CX <cxbot@cx.example>:\n\nalert", "Løst\nOk."),
        ("Réglé\nOk.\n\nLe 12 mars 2024 à 10:15, Mazda CX <cxbot@cx.example> a écrit :\n\nalert", "Réglé\nOk."),
        # mobile footers mail-parser-reply keeps
        ("Erledigt\nKunde angerufen.\n\nVon meinem iPhone gesendet", "Erledigt\nKunde angerufen."),
        ("Résolu\nClient rappelé.\n\nEnvoyé de mon iPhone", "Résolu\nClient rappelé."),
        ("Resolved\nDone.\n\nSent from my Samsung Galaxy smartphone.", "Resolved\nDone."),
        ("Løst\nOk.\n\nSendt fra Outlook for iOS<https://aka.ms/o0ukef>", "Løst\nOk."),
        ("Opgelost\nOk.\n\nVerzonden vanaf mijn iPhone", "Opgelost\nOk."),
        ("Löst\nOk.\n\nSkickat från min iPhone", "Löst\nOk."),
        # a thank-you opening the note is the note; one closing it is a sign-off
        ("Resolved\nThanks\nCalled him, all fine", "Resolved\nThanks\nCalled him, all fine"),
        ("Løst\nTak\nKunden ringet op\n\nMvh\nJens", "Løst\nTak\nKunden ringet op"),
        ("Løst\nKunden ringet op.\nTak\nJens", "Løst\nKunden ringet op."),
        ("Løst\nTakket være værkstedet fik hun bilen i går.", "Løst\nTakket være værkstedet fik hun bilen i går."),
        ("Resolved\nCalled.\nThanks to Anna for staying late to finish the car, the customer noticed.",
         "Resolved\nCalled.\nThanks to Anna for staying late to finish the car, the customer noticed."),
        # hyphen lists stay; a "-- " signature goes
        ("Ongoing\n- called\n- booked\n\n-- \nTom\nMazda Leeds", "Ongoing\n- called\n- booked"),
        ("Ongoing\n-called\n-booked for Monday", "Ongoing\n-called\n-booked for Monday"),
        # disclaimers
        ("Resolved\nOk.\n\nThis e-mail may contain confidential information. If you are not the intended recipient…",
         "Resolved\nOk."),
        ("Løst\nOk.\n\nDenne e-mail kan indeholde fortrolige oplysninger og er kun beregnet til modtageren.",
         "Løst\nOk."),
        ("Erledigt\nOk.\n\nDiese E-Mail enthält vertrauliche Informationen.", "Erledigt\nOk."),
        ("Löst\nOk.\n\nDetta e-postmeddelande kan innehålla konfidentiell information.", "Löst\nOk."),
        ("Résolu\nOk.\n\nCe message et ses pièces jointes sont confidentiels et établis à l'attention exclusive.",
         "Résolu\nOk."),
        # what looks like a header but is a note
        ("Ongoing\nKunden skrev til os i går: bilen larmer stadig.", "Ongoing\nKunden skrev til os i går: bilen larmer stadig."),
        ("Ongoing\nFrom: the workshop, all fine.\nTo do: call him Monday.", "Ongoing\nFrom: the workshop, all fine.\nTo do: call him Monday."),
        ("Løst\nBemærk: kunden vil have svar på mail i morgen.", "Løst\nBemærk: kunden vil have svar på mail i morgen."),
        ("Løst\nTorben skrev til kunden i går:\nVi beklager.", "Løst\nTorben skrev til kunden i går:\nVi beklager."),
        ("Ongoing\nMailed jens@x.dk 3 times, he wrote back:\nnot now", "Ongoing\nMailed jens@x.dk 3 times, he wrote back:\nnot now"),
        ("Resolved\nSent from the factory on Monday.", "Resolved\nSent from the factory on Monday."),
        # bottom-posted: the attribution and quote on top, the answer below
        ("On 12/03/2024 10:15, Mazda CX wrote:\n> alert\n> text\n\nResolved\nOk.", "Resolved\nOk."),
        # nothing typed above an Outlook block: nothing new
        ("From: Mazda CX\nSent: 12 March 2024\nTo: Jens\nSubject: [cx HA-12]\n\nReply with RESOLVED…", ""),
        # quoted lines anywhere go
        ("Resolved\n> quoted\nnote", "Resolved\nnote"),
        ("", ""),
    ],
)  # fmt: skip
def test_extract_new_text(body: str, text: str) -> None:
    assert extract_new_text(body) == text


def test_extract_new_text_drops_the_senders_name_as_last_line() -> None:
    assert extract_new_text("Resolved\nCalled him.\n\nMarc", sender_name="Marc Garnier") == "Resolved\nCalled him."
    assert extract_new_text("Resolved\nCalled Marc.", sender_name="Marc Garnier") == "Resolved\nCalled Marc."
    assert extract_new_text("Marc", sender_name="Marc Garnier") == "Marc"


def test_extract_new_text_is_capped() -> None:
    assert len(extract_new_text("Resolved\n" + "word " * 100_000, max_chars=1_000)) <= 1_000


@pytest.mark.parametrize(
    "html, text",
    [
        ("<p>Resolved</p><p>Called &amp; booked&nbsp;&#8211; fine</p>", "Resolved\nCalled & booked – fine"),
        ("<div>Ongoing</div><ul><li>one</li><li>two</li></ul>", "Ongoing\n- one\n- two"),
        ("<style>p{color:red}</style><script>x()</script><div>Løst<br>ok</div>", "Løst\nok"),
        (
            '<div>Resolved</div><div id="appendonsend"></div><hr><div id="divRplyFwdMsg">From: x</div><div>old</div>',
            "Resolved",
        ),
        ('<div>Resolved</div><div class="gmail_quote">On … wrote:<blockquote>old</blockquote></div>', "Resolved"),
        (
            '<div class="moz-cite-prefix">On … wrote:</div><blockquote type="cite">old</blockquote><p>Resolved</p>',
            "Resolved",
        ),
        ("<div>Resolved<div class=gmail_signature>Sig</div></div>", "Resolved"),
        ("<pre>Resolved\n  indented</pre>", "Resolved\nindented"),
        ("<div>unclosed <b>tags <i>everywhere", "unclosed tags everywhere"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html).strip() == text


# --- robustness --------------------------------------------------------------------------------------

MALFORMED = [
    b"",
    b"\x00\x01\x02\xff\xfe",
    b"\r\n\r\n",
    b"From: \r\nTo: \r\nSubject: \r\nMessage-ID: \r\n\r\n",
    b"Subject: headers only",
    b"no headers at all, just text\nResolved\nfine",
    b"From: <<<@@@>>>\r\nTo: ,,,;;;\r\nSubject: =?utf-8?Q?broken=ZZ?= =?x-unknown?B?!!!?=\r\n\r\nResolved\r\nok",
    b'From: a@b\r\nContent-Type: multipart/alternative; boundary="nowhere"\r\n\r\nno parts here',
    b"From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nResolved\r\nx",
    b"From: a@b\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nResolved\r\n\xe6\xf8\xe5",
    b"From: a@b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64***\r\n",
    b"From: a@b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=C3",
    b"From: a@b\r\nContent-Type: text/html\r\n\r\n<div><<<</div></p></p><blockquote><blockquote>",
    b"From: a@b\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n--r\r\n"
    + b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient\r\nAction failed\r\n--r--",
    b"From: MAILER-DAEMON@x\r\nSubject: failure\r\n\r\n\x00\x00",
    b"Subject: " + b"x" * 200_000 + b"\r\n\r\nbody",
    b"From: a@b\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n"
    + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 300,
    "From: Jens Ærø <jens@x.dk>\r\nSubject: Løst\r\n\r\nLøst\r\nfint".encode(),
    "From: Jens \xc6r\xf8 <jens@x.dk>\r\nSubject: L\xf8st\r\n\r\nL\xf8st\r\nfint".encode("latin-1"),
]


@pytest.mark.parametrize("raw", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_mail_gives_a_parsed_reply(raw: bytes) -> None:
    assert isinstance(parse_reply(raw, WORDS), ParsedReply)


def test_empty_mail_has_empty_fields() -> None:
    assert parse_reply(b"", WORDS) == ParsedReply(None, None, None, "", (), (), None, "", None, "", False, None)


def test_random_garbage_never_raises() -> None:
    rng = random.Random(5)
    for _ in range(300):
        assert isinstance(parse_reply(rng.randbytes(rng.randint(0, 3000)), WORDS), ParsedReply)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(CORPUS),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=20),
)
def test_damaged_corpus_mail_never_raises(name: str, cut: float, flips: list[tuple[float, int]]) -> None:
    raw = bytearray((MAIL / name).read_bytes())
    raw = raw[: int(len(raw) * cut) + 1]
    for where, byte in flips:
        raw[min(int(len(raw) * where), len(raw) - 1)] = byte
    assert isinstance(parse_reply(bytes(raw), WORDS), ParsedReply)


def _outlook_thread(size: int) -> str:
    parts = ["Resolved\nCalled the customer, new date on Monday.\n\nBest regards,\nJens\n"]
    i = 0
    while sum(map(len, parts)) < size:
        i += 1
        parts.append(
            f"\nFrom: Person {i} <p{i}@example.com>\nSent: Tuesday, March 12, 2024 10:{i % 60:02d}\nTo: x@example.com\n"
            f"Subject: RE: [cx HA-12] Hot Alert\n\n"
            + "An earlier answer in the thread that goes on and on. " * 20
            + "\n"
        )
    return "".join(parts)


def _quoted_thread(size: int) -> str:
    body, depth = "Resolved\nCalled the customer, new date on Monday.\n", 0
    while len(body) < size:
        depth += 1
        body += f"\nOn Tue, 12 Mar 2024 at 10:{depth % 60:02d}, P{depth} <p{depth}@example.com> wrote:\n"
        body += "\n".join(">" * depth + " earlier text of the thread, quoted once more" for _ in range(40))
    return body


def _gmail_html_thread(size: int) -> str:
    inner, n = "<div>the alert</div>", 0
    while len(inner) < size:
        n += 1
        inner = (
            f'<div dir="ltr">Earlier reply {n}' + "<p>more text</p>" * 40 + '</div><br><div class="gmail_quote">'
            f'<div dir="ltr" class="gmail_attr">On Tue, P{n} wrote:<br></div><blockquote class="gmail_quote">'
            f"{inner}</blockquote></div>"
        )
    return (
        '<div dir="ltr">Resolved<div>Called the customer, new date on Monday.</div></div><br>'
        f'<div class="gmail_quote"><blockquote class="gmail_quote">{inner}</blockquote></div>'
    )


@pytest.mark.parametrize(
    "kind, body, subtype",
    [
        ("Outlook blocks", _outlook_thread(500_000), "plain"),
        ("> quotes", _quoted_thread(500_000), "plain"),
        ("Gmail HTML", _gmail_html_thread(500_000), "html"),
        (
            "no header at all",
            "Resolved\nCalled the customer, new date on Monday.\n" + "filler line of text\n" * 26_000,
            "plain",
        ),
    ],
)
def test_half_megabyte_thread_is_fast(kind: str, body: str, subtype: str, capsys: pytest.CaptureFixture[str]) -> None:
    raw = mail(body, subtype=subtype)
    assert len(raw) >= 500_000
    parse_reply(raw, WORDS)
    started = time.perf_counter()
    r = parse_reply(raw, WORDS)
    took = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n[mail parse] {len(raw) / 1e6:.2f} MB nested thread ({kind}): {took * 1000:.0f} ms")
    assert r.status is Status.RESOLVED
    assert r.note.startswith("Called the customer, new date on Monday.")
    assert took < 0.5
