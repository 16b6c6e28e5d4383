"""Reply-by-email benchmark: 1,000 staff replies waiting in a real Dovecot mailbox, read and applied
by the real MailboxReader; then the latency "appended → applied" with the reader in its IDLE loop.

    python bench/email_replies.py                     # fresh temp SQLite database (the default)
    python bench/email_replies.py --postgres          # a fresh database of its own on postgresql+asyncpg://postgres@127.0.0.1:5432 (dropped at the end)
    python bench/email_replies.py --postgres URL      # ... on another server
    python bench/email_replies.py --n 2000 --rate 20 --seconds 10 --imap-batch 100
    python bench/email_replies.py --profile /tmp/er   # cProfile (CPU timer, event-loop thread) of the timed backlog read
    python bench/email_replies.py --spy /tmp/er.raw   # py-spy of this process (all threads) during the timed backlog read
    python bench/email_replies.py --deep              # also time the apply path call by call (services, repositories)
    python bench/email_replies.py --no-split          # only the reader's own Timings (no bench wrappers at all)
    python bench/email_replies.py --try-no-library    # experiment: without mail-parser-reply (do the notes change?)
    python bench/email_replies.py --log-level warning # default "info", as `serve` runs (the log goes to a file in the temp dir)

What runs where (all of it real product code except the two fakes from tests/fakes/):
- a Dovecot of its own (tests/fakes/dovecot.py: standalone config in a temp folder, 127.0.0.1, plain
  IMAP, IDLE and MOVE), one fresh user = cxbot's mailbox;
- an SMTP fake (tests/fakes/smtp.py, aiosmtpd) on this process's event loop;
- cxbot wired by bot.app.build_runtime from Settings as `serve` gets them (SMTP → the fake, IMAP →
  Dovecot, CXBOT_MAIL_FROM / CXBOT_MAIL_SECRET, no Slack), background tasks left to the bench.

Setup (not timed): migrate a fresh database; bot.services.dealers.load with the example dealers
(bot/examples/dealers.toml: DK-1001 da, DE-2001 de, DK-5001 da) plus five generated dealers
(GB-3001 en, NL-4001 nl, SE-6001 sv, FR-7001 fr, NO-8001 no), six generated staff per dealer
(non-ASCII names) next to the example people; bot.services.intake.ingest creates the alerts (one Hot
Alert per response, batches of 100); the alert mails are ACTUALLY DELIVERED by the real outbox
Dispatcher with the real MailDelivery (render → compose with the tagged Reply-To → aiosmtplib → the
SMTP fake), so mail_messages holds exactly what MailDelivery.record writes. Each reply is built from
the alert mail the fake received: To: its Reply-To (checked equal to bot.domain.tokens.reply_tag with
the app's secret), In-Reply-To/References its Message-ID, the original quoted or attached below the
way each mail client does it; From: a staff member granted to that dealer (not the address the alert
went to). The mix: seven languages (the dealer's own, ~15 % English), Outlook desktop (plain + Word
HTML, QP in UTF-8 or windows-1252, disclaimers), Outlook on the web (HTML only, base64), Outlook
mobile, Gmail (QP or base64, wrapped attribution, "-- " signatures), Gmail/Samsung on Android,
Apple Mail, iPhone (some with a photo attached), Thunderbird (HTML only, and bottom-posted
format=flowed); ~10 % comments (no status word), ~2 % auto-replies (Auto-Submitted, X-Autoreply,
Precedence or only an out-of-office subject). Every reply's expected status and note is known from
how it was built. All are put in the INBOX with IMAP APPEND (MULTIAPPEND in chunks) before timing.

Timed backlog: the reader is connected first (as in `serve`, where it is connected long before mail
arrives); then one `await reader.read_once()` — fetch BODY.PEEK[] in batches, parse, apply, one MOVE
per folder and batch — until every message is filed. Printed: replies/s, CPU per reply (this
process, by thread; Dovecot's processes; PostgreSQL's backends), the reader's Timings split (IMAP /
parse / apply) and the bench's finer split (fetch vs move; MIME parse + headers, body decode +
HTML→text, new-text extraction own rules vs mail-parser-reply, status word; time inside database
transactions and in SQL awaits) — the finer split comes from wrapping functions from the bench
(`--no-split` turns that off).

Latency: the reader runs its own loop (MailboxReader.run(stop): lease, read_once, IDLE) while a
thread APPENDs one reply at a time at --rate per second for --seconds; "appended" is when APPEND
returned OK, "applied" when apply_reply returned (committed), "moved" when the batch's MOVEs
returned. Dovecot's IDLE reports a new message ≥ 0.5 s after it arrives (hard-coded).

Checks (after both parts; a failed check exits 1): every message left the INBOX; Processed holds
exactly the Message-IDs of the status replies and comments, Rejected exactly the auto-replies; every
status reply's alert is resolved/ongoing with exactly the expected note in an email history entry by
the sender; every comment is stored as a comment with exactly the expected text and the status
unchanged; auto-replies changed nothing; one mail.note (confirmation/comment answer) queued in the
outbox per applied reply and none for auto-replies.

This machine's speed drifts up to 2x between sittings: read CPU per reply next to replies/s and
compare rates only within one run. Not a test: pytest collects tests/ only.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import html as htmllib
import io
import os
import platform
import pstats
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unicodedata
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

for _name in [k for k in os.environ if k.startswith("CXBOT_")]:
    del os.environ[_name]  # a developer's own settings must not leak into the benchmark's app

from sqlalchemy import text as sql  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection  # noqa: E402

from bot import logs  # noqa: E402
from bot.app import build_runtime  # noqa: E402
from bot.domain.clock import SystemClock  # noqa: E402
from bot.domain.directory import DealerEntry, DealerSpec, Directory, PersonSpec, RouteSpec  # noqa: E402
from bot.domain.rules import Rules  # noqa: E402
from bot.domain.tokens import plus_address, read_reply_tag, reply_tag  # noqa: E402
from bot.domain.values import Channel, CustomerIn, HistoryEvent, Kind, Phones, Role, Status, Survey, SurveyResponse  # noqa: E402
from bot.services import Context, dealers, intake  # noqa: E402
from bot.services import mail as mail_service  # noqa: E402
from bot.settings import CoreSettings, HttpSettings, ImapSettings, MailSettings, OutboxSettings, Settings, SlackSettings, SmtpSettings  # noqa: E402
from handlers.dealer_file import parse_toml  # noqa: E402
from handlers.email import parse as parse_mod  # noqa: E402
from handlers.email import reader as reader_mod  # noqa: E402
from handlers.email.reader import MailboxReader, Timings  # noqa: E402
from storage import migrate  # noqa: E402
from storage.database import Database  # noqa: E402
from tests.fakes.dovecot import DOVECOT_BINARY, Dovecot, MailUser  # noqa: E402
from tests.fakes.smtp import FakeSmtp  # noqa: E402
from pgadmin import pg_execute  # noqa: E402  (bench/pgadmin.py, beside this script)

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEALERS_FILE = ROOT / "bot" / "examples" / "dealers.toml"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MAIL_SECRET = "bench-mail-secret-0123456789abcdef"
MAIL_FROM_NAME = "Mazda CX"
REPLY_ADDRESS = "cxbot@cx.mazda-importer.example"
GOALS = {"rate": 400.0, "latency_s": 5.0}


class BenchFailed(Exception):
    """Stop the benchmark with this message (exit code 1)."""


# =====================================================================================================
# Dealers and people
# =====================================================================================================


@dataclass(frozen=True)
class DealerInfo:
    code: str
    name: str
    lang: str
    domain: str
    route: str  # the address hot alerts go to
    weight: float


EXAMPLE_DEALERS = [
    DealerInfo("DK-1001", "Autohuset Vest", "da", "autohuset-vest.example", "kundeservice@autohuset-vest.example", 0.18),
    DealerInfo("DE-2001", "Autohaus Brandt", "de", "autohaus-brandt.example", "kundenbetreuung@autohaus-brandt.example", 0.18),
    DealerInfo("DK-5001", "Fyns Bilservice", "da", "fyns-bilservice.example", "vaerksted@fyns-bilservice.example", 0.06),
]
GENERATED_DEALERS = [
    DealerInfo("GB-3001", "Mazda Leeds", "en", "mazda-leeds.example", "customercare@mazda-leeds.example", 0.16),
    DealerInfo("NL-4001", "Autobedrijf Van Dijk", "nl", "autobedrijf-vandijk.example", "klantenservice@autobedrijf-vandijk.example", 0.11),
    DealerInfo("SE-6001", "Bilhuset Norrköping", "sv", "bilhuset-norrkoping.example", "kundservice@bilhuset-norrkoping.example", 0.11),
    DealerInfo("FR-7001", "Garage Lefèvre Lyon", "fr", "garage-lefevre.example", "service-client@garage-lefevre.example", 0.10),
    DealerInfo("NO-8001", "Bilsenteret Bergen", "no", "bilsenteret-bergen.example", "kundeservice@bilsenteret-bergen.example", 0.10),
]
ALL_DEALERS = EXAMPLE_DEALERS + GENERATED_DEALERS
TIME_ZONES = {"en": "Europe/London", "nl": "Europe/Amsterdam", "sv": "Europe/Stockholm", "fr": "Europe/Paris", "no": "Europe/Oslo"}

NAMES = {
    "en": (["Daniel", "Priya", "Oliver", "Emma", "James", "Sophie", "Tom", "Hannah"], ["Carter", "Shah", "Bennett", "Walsh", "O'Neill", "Hughes", "Patel", "Clarke"]),
    "da": (["Søren", "Mette", "Jens", "Ida", "Lærke", "Mads", "Anne", "Rasmus"], ["Østergaard", "Kjær", "Hansen", "Mølgaard", "Sørensen", "Nielsen", "Bech", "Friis"]),
    "de": (["Jürgen", "Sabine", "Markus", "Lena", "Jörg", "Katrin", "Felix", "Miriam"], ["Müller", "Krüger", "Weber", "Schröder", "Hoffmann", "Groß", "Becker", "Schulz"]),
    "nl": (["Geert", "Sanne", "Joost", "Femke", "Bram", "Lotte", "Sven", "Eva"], ["van den Bosch", "de Vries", "Jansen", "Bakker", "van Dijk", "Visser", "Smit", "Meijer"]),
    "sv": (["Åsa", "Björn", "Elin", "Oskar", "Märta", "Johan", "Linnéa", "Erik"], ["Löfgren", "Åberg", "Lindström", "Nyström", "Sjöberg", "Holm", "Ek", "Karlsson"]),
    "fr": (["François", "Élodie", "Camille", "Jérôme", "Hélène", "Luc", "Chloé", "Benoît"], ["Lefèvre", "Dubois", "Moreau", "Girard", "Bézier", "Rousseau", "Lambert", "Faure"]),
    "no": (["Bjørn", "Ingrid", "Kari", "Håkon", "Sigrid", "Ola", "Solveig", "Eirik"], ["Ødegård", "Haugen", "Berg", "Dahl", "Bråthen", "Lie", "Strand", "Solberg"]),
}
_ASCII = str.maketrans({"ø": "oe", "æ": "ae", "å": "aa", "ü": "ue", "ö": "oe", "ä": "ae", "ß": "ss", "é": "e", "è": "e",
                        "ê": "e", "ô": "o", "ç": "c", "ï": "i", "'": "", " ": ""})  # fmt: skip


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    lang: str
    dealer: str


def staff_of(d: DealerInfo, count: int, rng: random.Random) -> list[Person]:
    firsts, lasts = NAMES[d.lang]
    out: list[Person] = []
    used: set[str] = set()
    while len(out) < count:
        first, last = rng.choice(firsts), rng.choice(lasts)
        local = unicodedata.normalize("NFKD", f"{first}.{last}".lower().translate(_ASCII)).encode("ascii", "ignore").decode()
        if local in used:
            continue
        used.add(local)
        out.append(Person(f"{first} {last}", f"{local}@{d.domain}", d.lang, d.code))
    return out


def build_directory(rng: random.Random, per_dealer: int) -> tuple[Directory, dict[str, list[Person]]]:
    """The example file's dealers and people, plus five generated dealers and generated staff."""
    example = parse_toml(DEALERS_FILE.read_text(encoding="utf-8"))
    entries = list(example.dealers)
    for d in GENERATED_DEALERS:
        spec = DealerSpec(d.code, d.name, brand="Mazda", region="Bench", time_zone=TIME_ZONES[d.lang], language=d.lang)
        entries.append(DealerEntry(spec, routes=(RouteSpec(Kind.HOT_ALERT, emails=(d.route,)),)))
    staff: dict[str, list[Person]] = {}
    people = list(example.people)
    for d in ALL_DEALERS:
        staff[d.code] = staff_of(d, per_dealer, rng)
        people += [PersonSpec(p.email, p.name, frozenset(), {d.code: Role.STAFF}) for p in staff[d.code]]
    return Directory(tuple(entries), tuple(people)), staff


# =====================================================================================================
# Texts in seven languages
# =====================================================================================================


@dataclass(frozen=True)
class Lang:
    resolved: tuple[str, ...]
    ongoing: tuple[str, ...]
    notes_resolved: tuple[str, ...]
    notes_ongoing: tuple[str, ...]
    comments: tuple[str, ...]
    extra: tuple[str, ...]
    list_intro: str
    list_items: tuple[str, ...]
    thanks: str
    signoffs: tuple[str, ...]
    title: str
    re_prefix: tuple[str, ...]
    outlook_fields: tuple[str, str, str, str]  # From, Sent, To, Subject
    original_rule: str  # Outlook's older separator
    samsung: tuple[str, tuple[str, str, str, str]]  # separator, (From, Date, To, Subject)
    months: tuple[str, ...]
    gmail_attr: str  # {date} {time} {who}
    apple_attr: str
    iphone: str
    samsung_footer: str
    outlook_mobile: str
    auto_subject: str
    auto_body: str
    disclaimer: str | None


LANGS: dict[str, Lang] = {
    "en": Lang(
        ("Resolved", "RESOLVED", "resolved"), ("Ongoing", "In progress", "ONGOING"),
        ("Called {cust} this morning and apologised; the invoice has been corrected (case {n}).",
         "Spoke to {cust}: the noise was a loose heat shield, fixed free of charge today (case {n}).",
         "{cust} collected the car yesterday and is happy with the repair now (case {n})."),
        ("Left a message for {cust}, will try again tomorrow morning (case {n}).",
         "Parts are on order; {cust} has a courtesy car until Thursday (case {n})."),
        ("Not resolved yet – waiting for the warranty answer from the importer (case {n}).",
         "FYI: {cust} has also written to the brand directly, I am coordinating with the regional manager (case {n})."),
        ("Next step: a follow-up call on Friday.", "The workshop manager has been informed."),
        "Done so far:", ("called {cust}", "booked a courtesy car", "credited the diagnostics fee"),
        "Thanks for the heads-up.",
        ("Best regards,", "Kind regards", "Regards,"), "Service Advisor",
        ("RE: ", "Re: "), ("From", "Sent", "To", "Subject"), "-----Original Message-----",
        ("-------- Original message --------", ("From", "Date", "To", "Subject")),
        ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"),
        "On {wd}, {d} {mon3} {y} at {hm}, {who} wrote:", "On {d} {mon3} {y}, at {hm}, {who} wrote:",
        "Sent from my iPhone", "Sent from my Galaxy", "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Automatic reply: ", "I am out of the office until Monday {d} {mon} with limited access to e-mail. For urgent matters please call the showroom.",
        "This e-mail and any attachments may contain confidential information and are intended solely for the addressee. If you have received this e-mail in error, please notify the sender and delete it.",
    ),
    "da": Lang(
        ("Løst", "LØST", "Loest"), ("Igangværende", "IGANGVÆRENDE"),
        ("Ringede til {cust} i formiddags og beklagede; fakturaen er rettet (sag {n}).",
         "Talte med {cust}: lyden var et løst varmeskjold, udbedret gratis i dag (sag {n}).",
         "{cust} hentede bilen i går og er tilfreds med reparationen nu (sag {n})."),
        ("Har lagt besked til {cust}, prøver igen i morgen formiddag (sag {n}).",
         "Reservedele er bestilt; {cust} har lånebil til torsdag (sag {n})."),
        ("Ikke løst endnu – venter på svar fra importøren om garanti (sag {n}).",
         "Til orientering: {cust} har også skrevet direkte til mærket, jeg koordinerer med regionschefen (sag {n})."),
        ("Næste skridt: opfølgende opkald fredag.", "Værkstedschefen er orienteret."),
        "Gjort indtil nu:", ("ringet til {cust}", "booket lånebil", "krediteret fejlsøgningen"),
        "Tak for besked.",
        ("Med venlig hilsen", "Venlig hilsen", "Mvh."), "Servicerådgiver",
        ("SV: ", "Sv: "), ("Fra", "Sendt", "Til", "Emne"), "-----Oprindelig meddelelse-----",
        ("-------- Oprindelig meddelelse --------", ("Fra", "Dato", "Til", "Emne")),
        ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober", "november", "december"),
        "Den {wd} {d}. {mon3}. {y} kl. {hm} skrev {who}:", "Den {d}. {mon3}. {y} kl. {hm} skrev {who}:",
        "Sendt fra min iPhone", "Sendt fra min Samsung Galaxy-smartphone.", "Hent Outlook til iOS<https://aka.ms/o0ukef>",
        "Autosvar: ", "Jeg er på ferie til og med mandag den {d}. {mon} og læser ikke mail. Ved hastesager kontakt venligst værkstedet.",
        "Denne e-mail kan indeholde fortrolige oplysninger og er kun beregnet for modtageren. Hvis du har modtaget den ved en fejl, så giv venligst afsenderen besked og slet den.",
    ),
    "de": Lang(
        ("Erledigt", "Gelöst", "ERLEDIGT"), ("In Bearbeitung", "In Arbeit"),
        ("Habe {cust} heute Morgen angerufen und mich entschuldigt; die Rechnung ist korrigiert (Vorgang {n}).",
         "Mit {cust} gesprochen: das Geräusch war ein loses Hitzeschild, heute kostenlos behoben (Vorgang {n}).",
         "{cust} hat das Auto gestern abgeholt und ist mit der Reparatur jetzt zufrieden (Vorgang {n})."),
        ("Nachricht für {cust} hinterlassen, ich versuche es morgen Vormittag wieder (Vorgang {n}).",
         "Teile sind bestellt; {cust} hat bis Donnerstag einen Leihwagen (Vorgang {n})."),
        ("Noch nicht erledigt – wir warten auf die Garantieantwort des Importeurs (Vorgang {n}).",
         "Zur Info: {cust} hat sich auch direkt an die Marke gewandt, ich stimme mich mit dem Regionalleiter ab (Vorgang {n})."),
        ("Nächster Schritt: Rückruf am Freitag.", "Der Werkstattleiter ist informiert."),
        "Bisher erledigt:", ("{cust} angerufen", "Leihwagen gebucht", "Diagnosekosten gutgeschrieben"),
        "Danke für den Hinweis.",
        ("Mit freundlichen Grüßen", "Viele Grüße", "Beste Grüße"), "Serviceberater",
        ("AW: ", "Aw: "), ("Von", "Gesendet", "An", "Betreff"), "-----Ursprüngliche Nachricht-----",
        ("-------- Ursprüngliche Nachricht --------", ("Von", "Datum", "An", "Betreff")),
        ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"),
        "Am {wd}., {d}. {mon3}. {y} um {hm} Uhr schrieb {who}:", "Am {dd}.{mm}.{y} um {hm} schrieb {who}:",
        "Von meinem iPhone gesendet", "Von meinem Samsung Galaxy Smartphone gesendet.", "Outlook für iOS beziehen<https://aka.ms/o0ukef>",
        "Abwesenheitsnotiz: ", "Ich bin bis einschließlich Montag, {d}. {mon} nicht im Haus. In dringenden Fällen wenden Sie sich bitte an die Werkstatt.",
        "Diese E-Mail enthält vertrauliche Informationen und ist ausschließlich für den Adressaten bestimmt. Wenn Sie nicht der richtige Adressat sind, informieren Sie bitte den Absender und löschen Sie diese E-Mail.",
    ),
    "nl": Lang(
        ("Opgelost", "OPGELOST"), ("In behandeling",),
        ("{cust} vanochtend gebeld en excuses aangeboden; de factuur is gecorrigeerd (dossier {n}).",
         "Gesproken met {cust}: het geluid was een los hitteschild, vandaag gratis verholpen (dossier {n})."),
        ("Bericht ingesproken voor {cust}, ik bel morgenochtend opnieuw (dossier {n}).",
         "Onderdelen zijn besteld; {cust} heeft tot donderdag een leenauto (dossier {n})."),
        ("Nog niet opgelost – we wachten op het garantieantwoord van de importeur (dossier {n}).",
         "Ter info: {cust} heeft ook de merkorganisatie gemaild, ik stem af met de regiomanager (dossier {n})."),
        ("Volgende stap: terugbellen op vrijdag.", "De werkplaatschef is op de hoogte."),
        "Tot nu toe gedaan:", ("{cust} gebeld", "leenauto geregeld", "diagnosekosten gecrediteerd"),
        "Bedankt voor de melding.",
        ("Met vriendelijke groet,", "Met vriendelijke groeten", "Groet,"), "Serviceadviseur",
        ("RE: ", "Antw: "), ("Van", "Verzonden", "Aan", "Onderwerp"), "-----Oorspronkelijk bericht-----",
        ("-------- Oorspronkelijk bericht --------", ("Van", "Datum", "Aan", "Onderwerp")),
        ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"),
        "Op {wd} {d} {mon3} {y} om {hm} schreef {who}:", "Op {d} {mon3} {y} om {hm} heeft {who} het volgende geschreven:",
        "Verstuurd vanaf mijn iPhone", "Verzonden vanaf mijn Samsung Galaxy-smartphone.", "Outlook voor iOS downloaden<https://aka.ms/o0ukef>",
        "Automatisch antwoord: ", "Ik ben tot en met maandag {d} {mon} afwezig en lees geen e-mail. Neem voor dringende zaken contact op met de werkplaats.",
        None,
    ),
    "sv": Lang(
        ("Löst", "LÖST"), ("Pågående", "Pagaende"),
        ("Ringde {cust} i morse och bad om ursäkt; fakturan är rättad (ärende {n}).",
         "Pratade med {cust}: ljudet var en lös värmesköld, åtgärdat kostnadsfritt i dag (ärende {n})."),
        ("Lämnade ett meddelande till {cust}, ringer igen i morgon förmiddag (ärende {n}).",
         "Delar är beställda; {cust} har lånebil till torsdag (ärende {n})."),
        ("Inte löst än – vi väntar på garantibesked från importören (ärende {n}).",
         "För kännedom: {cust} har även mejlat märket direkt, jag samordnar med regionchefen (ärende {n})."),
        ("Nästa steg: uppföljande samtal på fredag.", "Verkstadschefen är informerad."),
        "Gjort hittills:", ("ringt {cust}", "bokat lånebil", "krediterat felsökningen"),
        "Tack för infon.",
        ("Med vänlig hälsning", "Vänliga hälsningar", "Hälsningar"), "Servicetekniker",
        ("SV: ", "Sv: "), ("Från", "Skickat", "Till", "Ämne"), "-----Ursprungligt meddelande-----",
        ("-------- Originalmeddelande --------", ("Från", "Datum", "Till", "Ämne")),
        ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"),
        "Den {wd} {d} {mon3}. {y} kl {hm} skrev {who}:", "{d} {mon3}. {y} kl. {hm} skrev {who}:",
        "Skickat från min iPhone", "Skickat från min Samsung Galaxy-smartphone.", "Skaffa Outlook för iOS<https://aka.ms/o0ukef>",
        "Automatiskt svar: ", "Jag är ledig till och med måndag {d} {mon} och läser inte e-post. Vid brådskande ärenden, kontakta verkstaden.",
        None,
    ),
    "fr": Lang(
        ("Résolu", "Résolue", "Réglé", "RÉSOLU"), ("En cours",),
        ("J'ai appelé {cust} ce matin et présenté nos excuses ; la facture a été corrigée (dossier {n}).",
         "Échange avec {cust} : le bruit venait d'un écran thermique desserré, réparé gratuitement aujourd'hui (dossier {n})."),
        ("Message laissé à {cust}, je rappelle demain matin (dossier {n}).",
         "Pièces commandées ; {cust} a un véhicule de prêt jusqu'à jeudi (dossier {n})."),
        ("Pas encore résolu – nous attendons la réponse garantie de l'importateur (dossier {n}).",
         "Pour info : {cust} a aussi écrit directement à la marque, je me coordonne avec le responsable régional (dossier {n})."),
        ("Prochaine étape : rappel vendredi.", "Le chef d'atelier est informé."),
        "Déjà fait :", ("appelé {cust}", "réservé un véhicule de prêt", "remboursé le diagnostic"),
        "Merci pour l'info.",
        ("Cordialement,", "Bien cordialement,", "Bien à vous,"), "Conseiller service",
        ("RE : ", "Re: "), ("De", "Envoyé", "À", "Objet"), "-----Message d'origine-----",
        ("-------- Message d'origine --------", ("De", "Date", "À", "Objet")),
        ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"),
        "Le {wd}. {d} {mon3}. {y} à {hm}, {who} a écrit :", "Le {d} {mon3}. {y} à {hm}, {who} a écrit :",
        "Envoyé de mon iPhone", "Envoyé de mon Galaxy", "Obtenir Outlook pour iOS<https://aka.ms/o0ukef>",
        "Réponse automatique : ", "Je suis absent jusqu'au lundi {d} {mon} inclus et ne consulte pas mes e-mails. Pour toute urgence, merci de contacter l'atelier.",
        "Ce message et ses pièces jointes sont confidentiels et établis à l'intention exclusive de leurs destinataires. Si vous l'avez reçu par erreur, merci d'en avertir l'expéditeur et de le supprimer.",
    ),
    "no": Lang(
        ("Løst", "LØST"), ("Pågår", "Pågående"),
        ("Ringte {cust} i formiddag og beklaget; fakturaen er rettet (sak {n}).",
         "Snakket med {cust}: lyden var et løst varmeskjold, utbedret gratis i dag (sak {n})."),
        ("La igjen beskjed til {cust}, prøver igjen i morgen formiddag (sak {n}).",
         "Deler er bestilt; {cust} har lånebil til torsdag (sak {n})."),
        ("Ikke løst ennå – venter på garantisvar fra importøren (sak {n}).",
         "Til orientering: {cust} har også skrevet direkte til merket, jeg koordinerer med regionssjefen (sak {n})."),
        ("Neste steg: oppfølgingssamtale på fredag.", "Verkstedsjefen er orientert."),
        "Gjort så langt:", ("ringt {cust}", "booket lånebil", "kreditert feilsøkingen"),
        "Takk for beskjed.",
        ("Med vennlig hilsen", "Vennlig hilsen", "Mvh"), "Servicerådgiver",
        ("SV: ", "Sv: "), ("Fra", "Sendt", "Til", "Emne"), "-----Opprinnelig melding-----",
        ("-------- Opprinnelig melding --------", ("Fra", "Dato", "Til", "Emne")),
        ("januar", "februar", "mars", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "desember"),
        "{wd}. {d}. {mon3}. {y} kl. {hm} skrev {who}:", "{d}. {mon3}. {y} kl. {hm} skrev {who}:",
        "Sendt fra min iPhone", "Sendt fra min Samsung Galaxy-smarttelefon.", "Få Outlook for iOS<https://aka.ms/o0ukef>",
        "Fraværsmelding: ", "Jeg er på ferie til og med mandag {d}. {mon} og leser ikke e-post. Ved hastesaker, kontakt verkstedet.",
        None,
    ),
}
WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), "da": ("man.", "tir.", "ons.", "tor.", "fre.", "lør.", "søn."),
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"), "nl": ("ma", "di", "wo", "do", "vr", "za", "zo"),
    "sv": ("mån", "tis", "ons", "tors", "fre", "lör", "sön"), "fr": ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"),
    "no": ("man", "tir", "ons", "tor", "fre", "lør", "søn"),
}  # fmt: skip


def _date_words(lang: str, at: datetime) -> dict[str, str]:
    mon = LANGS[lang].months[at.month - 1]
    wd = WEEKDAYS[lang][at.weekday()]
    if lang == "da":
        wd = wd.rstrip(".")
    return {"wd": wd, "d": str(at.day), "dd": f"{at.day:02d}", "mm": f"{at.month:02d}", "y": str(at.year), "mon": mon,
            "mon3": mon[:3], "hm": at.strftime("%H.%M" if lang == "da" else "%H:%M")}  # fmt: skip


def _sent_line(lang: str, at: datetime) -> str:
    w = _date_words(lang, at)
    return f"{w['d']}. {w['mon']} {w['y']} {at:%H:%M}" if lang in ("da", "de", "no") else f"{w['d']} {w['mon']} {w['y']} {at:%H:%M}"


# =====================================================================================================
# Reply mails
# =====================================================================================================


@dataclass
class AlertMail:
    """The alert mail as the SMTP fake received it."""

    alert_id: str
    number: int
    dealer: str
    lang: str
    recipient: str
    reply_to: str
    subject: str
    message_id: str
    date: datetime
    plain: str
    html_body: str  # the inside of <body>
    customer: str


@dataclass
class Reply:
    alert_id: str
    message_id: str
    sender: str
    kind: str  # status | comment | auto
    status: Status | None
    note: str  # the expected stored note (status) or comment text
    lang: str
    client: str
    raw: bytes = b""


# The typed text is a list of lines; "" is a paragraph break; lines starting "- " are a list.


def _html_lines(lines: list[str], line_tag: str = "div") -> str:
    out: list[str] = []
    in_list = False
    for line in lines:
        if line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{htmllib.escape(line[2:])}</li>")
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        out.append(f"<{line_tag}><br></{line_tag}>" if not line else f"<{line_tag}>{htmllib.escape(line)}</{line_tag}>")
    if in_list:
        out.append("</ul>")
    return "\n".join(out)


def _quote(text: str) -> str:
    return "\n".join(("> " + line) if line else ">" for line in text.split("\n"))


def _flow(line: str, width: int = 72) -> list[str]:
    """RFC 3676 format=flowed: a long line as soft-broken pieces (each but the last ends in a space)."""
    if len(line) <= width:
        return [line]
    pieces = textwrap.wrap(line, width=width, break_long_words=False, break_on_hyphens=False)
    return [p + " " for p in pieces[:-1]] + [pieces[-1]]


def _wrap_attribution(line: str) -> str:
    """Gmail's text part breaks a long "On … wrote:" line before the address."""
    if len(line) <= 78 or "<" not in line:
        return line
    head, _, tail = line.partition("<")
    return head + "<\n" + tail


OUTLOOK_STYLE = """<style><!--
/* Font Definitions */
@font-face
	{font-family:"Cambria Math";
	panose-1:2 4 5 3 5 4 6 3 2 4;}
@font-face
	{font-family:Calibri;
	panose-1:2 15 5 2 2 2 4 3 2 4;}
@font-face
	{font-family:Aptos;}
/* Style Definitions */
p.MsoNormal, li.MsoNormal, div.MsoNormal
	{margin:0cm;
	font-size:11.0pt;
	font-family:"Calibri",sans-serif;
	mso-fareast-language:EN-US;}
a:link, span.MsoHyperlink
	{mso-style-priority:99;
	color:#0563C1;
	text-decoration:underline;}
span.EmailStyle19
	{mso-style-type:personal-reply;
	font-family:"Calibri",sans-serif;
	color:windowtext;}
.MsoChpDefault
	{mso-style-type:export-only;
	font-size:10.0pt;
	mso-ligatures:none;}
@page WordSection1
	{size:612.0pt 792.0pt;
	margin:72.0pt 72.0pt 72.0pt 72.0pt;}
div.WordSection1
	{page:WordSection1;}
--></style><!--[if gte mso 9]><xml>
<o:shapedefaults v:ext="edit" spidmax="1026" />
</xml><![endif]--><!--[if gte mso 9]><xml>
<o:shapelayout v:ext="edit">
<o:idmap v:ext="edit" data="1" />
</o:shapelayout></xml><![endif]-->"""


class ReplyFactory:
    """Builds one raw reply mail per alert mail, in the formats of the usual mail clients."""

    CLIENTS = (  # (name, weight)
        ("outlook_desktop", 24), ("outlook_web_html", 10), ("outlook_mobile", 6), ("gmail", 20), ("android", 6),
        ("apple_mail", 11), ("iphone", 15), ("thunderbird_html", 4), ("thunderbird_flowed", 4),
    )  # fmt: skip

    def __init__(self, rng: random.Random, staff: dict[str, list[Person]], tag: str) -> None:
        self.rng = rng
        self.staff = staff
        self.tag = tag
        self.sender_display = formataddr((MAIL_FROM_NAME, REPLY_ADDRESS))

    # ---- the reply's content ----------------------------------------------------------------

    def make(self, a: AlertMail, kind: str) -> Reply:
        rng = self.rng
        who = rng.choice(self.staff[a.dealer])
        lang = a.lang if rng.random() < 0.85 else "en"
        L = LANGS[lang]
        client = rng.choices([c for c, _ in self.CLIENTS], weights=[w for _, w in self.CLIENTS])[0]
        domain = who.email.rpartition("@")[2]
        message_id = make_msgid(idstring=f"r{self.tag}{a.number}", domain=domain).strip("<>")
        fill = {"cust": a.customer, "n": str(a.number)}
        status: Status | None = None
        if kind == "auto":
            raw = self._auto(a, who, lang, message_id)
            return Reply(a.alert_id, message_id, who.email, "auto", None, "", lang, "auto-reply", raw)
        if kind == "comment":
            note_lines = [rng.choice(L.comments).format(**fill)]
            if rng.random() < 0.3:
                note_lines.append(rng.choice(L.extra))
            typed = list(note_lines)
        else:
            status = Status.RESOLVED if rng.random() < 0.6 else Status.ONGOING
            word = rng.choice(L.resolved if status is Status.RESOLVED else L.ongoing)
            pool = L.notes_resolved if status is Status.RESOLVED else L.notes_ongoing
            shape = rng.random()
            if shape < 0.12:  # a hyphen list
                note_lines = [L.list_intro] + [f"- {item.format(**fill)}" for item in L.list_items[: rng.randint(2, 3)]]
            elif shape < 0.20:  # a thank-you opening the note
                note_lines = [L.thanks, rng.choice(pool).format(**fill)]
            else:
                note_lines = [rng.choice(pool).format(**fill)]
                if rng.random() < 0.3:
                    note_lines += ["", rng.choice(L.extra)] if rng.random() < 0.5 else [rng.choice(L.extra)]
            layout = rng.random()
            if layout < 0.55 or note_lines[0] in (L.list_intro, L.thanks):
                typed = [word] + note_lines
            elif layout < 0.70:
                typed = [word, ""] + note_lines
            elif layout < 0.88:
                typed = [f"{word}: {note_lines[0]}"] + note_lines[1:]
            else:
                typed = [f"{word} – {note_lines[0]}"] + note_lines[1:]
        note = "\n".join(note_lines).strip()
        raw = getattr(self, "_" + client)(a, who, lang, typed, message_id)
        return Reply(a.alert_id, message_id, who.email, kind, status, note, lang, client, raw)

    def _signature(self, who: Person, lang: str, a: AlertMail, short: bool = False) -> list[str]:
        L = LANGS[lang]
        first = who.name.split()[0]
        rng = self.rng
        if short:
            pick = rng.random()
            if pick < 0.4:
                return [f"{rng.choice(L.signoffs).rstrip(',')} {first}"]
            if pick < 0.6 and lang in ("da", "no", "sv"):
                return [f"/{first}"]
            return [rng.choice(L.signoffs), first]
        dealer = next(d for d in ALL_DEALERS if d.code == a.dealer)
        phone = {"en": "+44 113 496 0", "da": "+45 86 12 3", "de": "+49 40 6091 ", "nl": "+31 20 794 ", "sv": "+46 11 15 ",
                 "fr": "+33 4 72 10 ", "no": "+47 55 30 "}[lang] + f"{rng.randint(100, 999)}"  # fmt: skip
        return [rng.choice(L.signoffs), who.name, f"{L.title} | {dealer.name}", f"T: {phone}", f"www.{dealer.domain}"]

    # ---- headers ------------------------------------------------------------------------------

    def _headers(self, m: EmailMessage, a: AlertMail, who: Person, lang: str, message_id: str, at: datetime, subject: str | None = None) -> None:
        domain = who.email.rpartition("@")[2]
        m["Return-Path"] = f"<{who.email}>"
        m["Delivered-To"] = a.reply_to
        m["Received"] = (f"from mail-{self.rng.randint(10, 99)}.{domain} (mail-{self.rng.randint(10, 99)}.{domain} [192.0.2.{self.rng.randint(2, 250)}]) "
                         f"by mx.cx.mazda-importer.example (Postfix) with ESMTPS id 4Tv{self.rng.randint(10**6, 10**7 - 1)} "
                         f"for <{a.reply_to}>; {format_datetime(at)}")  # fmt: skip
        m["Authentication-Results"] = f"mx.cx.mazda-importer.example; dkim=pass header.d={domain}; spf=pass smtp.mailfrom={who.email}; dmarc=pass header.from={domain}"
        m["DKIM-Signature"] = (f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=selector1; h=From:Date:Subject:Message-ID:Content-Type:MIME-Version; "
                               f"bh={self.rng.randbytes(32).hex()[:44]}=; b={self.rng.randbytes(96).hex()}")  # fmt: skip
        m["From"] = formataddr((who.name, who.email))
        m["To"] = formataddr((MAIL_FROM_NAME, a.reply_to))
        m["Subject"] = subject if subject is not None else self.rng.choice(LANGS[lang].re_prefix) + a.subject
        m["Date"] = format_datetime(at)
        m["Message-ID"] = f"<{message_id}>"
        m["In-Reply-To"] = f"<{a.message_id}>"
        m["References"] = f"<{a.message_id}>"
        m["MIME-Version"] = "1.0"

    def _outlook_headers(self, m: EmailMessage, subject: str) -> None:
        m["Thread-Topic"] = subject
        m["Thread-Index"] = "AQH" + self.rng.randbytes(18).hex()[:30] + "=="
        m["Accept-Language"] = "en-GB, en-US"
        m["X-MS-Has-Attach"] = ""
        m["X-MS-TNEF-Correlator"] = ""
        m["X-MS-Exchange-Organization-SCL"] = "1"
        m["X-MS-Office365-Filtering-Correlation-Id"] = str(uuid.UUID(bytes=self.rng.randbytes(16)))
        m["X-Microsoft-Antispam"] = "BCL:0;ARA:13230040|1800799024|366016|376014;"

    def _when(self, a: AlertMail) -> datetime:
        return a.date + timedelta(minutes=self.rng.randint(3, 300))

    def _orig_block(self, a: AlertMail, lang: str, fields: tuple[str, str, str, str] | None = None, sent: str | None = None) -> list[str]:
        f = fields or LANGS[lang].outlook_fields
        return [f"{f[0]}: {self.sender_display}", f"{f[1]}: {sent or _sent_line(lang, a.date)}", f"{f[2]}: {a.recipient}", f"{f[3]}: {a.subject}"]

    # ---- the clients ----------------------------------------------------------------------------

    def _outlook_desktop(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        at = self._when(a)
        sig = self._signature(who, lang, a)
        disclaimer = L.disclaimer if L.disclaimer and rng.random() < 0.5 else None
        sep = rng.random()
        head = self._orig_block(a, lang)
        if sep < 0.5:
            rule = ["________________________________"]
        elif sep < 0.75:
            rule = []
        else:
            rule = [L.original_rule]
        plain = typed + [""] + sig + ([""] + [disclaimer] if disclaimer else []) + ["", *rule, *head, "", a.plain]
        subject = rng.choice(L.re_prefix) + a.subject
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at, subject)
        self._outlook_headers(m, subject)
        m["Content-Language"] = {"en": "en-GB", "da": "da-DK", "de": "de-DE", "nl": "nl-NL", "sv": "sv-SE", "fr": "fr-FR", "no": "nb-NO"}[lang]
        m["X-Mailer"] = "Microsoft Outlook 16.0"
        text = "\n".join(plain)
        charset = "windows-1252" if lang != "en" and rng.random() < 0.35 else "utf-8"
        try:
            text.encode(charset)
        except UnicodeEncodeError:  # Outlook falls back to UTF-8 when the text does not fit
            charset = "utf-8"
        m.set_content(text, charset=charset, cte="quoted-printable")
        body = "\n".join(f'<p class="MsoNormal">{htmllib.escape(x) if x else "<o:p>&nbsp;</o:p>"}<o:p></o:p></p>' for x in typed + [""] + sig)
        fields = "<br>\n".join(f"<b>{htmllib.escape(x.split(':', 1)[0])}:</b>{htmllib.escape(x.split(':', 1)[1])}" for x in head)
        html = (
            '<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:w="urn:schemas-microsoft-com:office:word" xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
            'xmlns="http://www.w3.org/TR/REC-html40">\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
            f'<meta name="Generator" content="Microsoft Word 15 (filtered medium)">\n{OUTLOOK_STYLE}\n</head>\n'
            '<body lang="EN-GB" link="#0563C1" vlink="#954F72" style="word-wrap:break-word">\n<div class="WordSection1">\n'
            f"{body}\n"
            + (f'<p class="MsoNormal"><span style="font-size:8.0pt;color:gray">{htmllib.escape(disclaimer)}</span></p>\n' if disclaimer else "")
            + '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">\n'
            f'<p class="MsoNormal">{fields}<o:p></o:p></p>\n</div>\n{a.html_body}\n</div>\n</body>\n</html>\n'
        )
        m.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        return m.as_bytes(policy=policy.SMTP)

    def _outlook_web_html(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        at = self._when(a)
        sig = self._signature(who, lang, a) if rng.random() < 0.7 else self._signature(who, lang, a, short=True)
        style = 'style="font-family: Aptos, Aptos_EmbeddedFont, Aptos_MSFontService, Calibri, Helvetica, sans-serif; font-size: 12pt; color: rgb(0, 0, 0);"'
        lines = _html_lines(typed + [""] + sig).replace("<div>", f'<div class="elementToProof" {style}>')
        head = self._orig_block(a, lang)
        fields = "<br>\n".join(f"<b>{htmllib.escape(x.split(':', 1)[0])}:</b>{htmllib.escape(x.split(':', 1)[1])}" for x in head)
        html = (
            '<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\r\n'
            '<style type="text/css" style="display:none;"> P {margin-top:0;margin-bottom:0;} </style>\r\n</head>\r\n<body dir="ltr">\r\n'
            f"{lines}\r\n"
            '<div id="appendonsend"></div>\r\n<hr style="display:inline-block;width:98%" tabindex="-1">\r\n'
            f'<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">{fields}</font>\r\n<div>&nbsp;</div>\r\n</div>\r\n'
            f"{a.html_body}\r\n</body>\r\n</html>\r\n"
        )
        m = EmailMessage()
        subject = rng.choice(L.re_prefix) + a.subject
        self._headers(m, a, who, lang, mid, at, subject)
        self._outlook_headers(m, subject)
        m.set_content(html, subtype="html", charset="utf-8", cte="base64")
        return m.as_bytes(policy=policy.SMTP)

    def _outlook_mobile(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        at = self._when(a)
        head = self._orig_block(a, lang)
        plain = typed + ["", L.outlook_mobile, "________________________________", *head, "", a.plain]
        html = (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
            f'<div dir="auto">{_html_lines(typed)}</div>'
            f'<div id="ms-outlook-mobile-signature" dir="auto"><div dir="auto">{htmllib.escape(L.outlook_mobile.split("<")[0])}</div></div>'
            '<div id="mail-editor-reference-message-container"><hr style="display:inline-block;width:98%">'
            + "<br>".join(htmllib.escape(x) for x in head)
            + f"<br>{a.html_body}</div></body></html>"
        )
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at)
        m["X-Mailer"] = "Outlook for iOS"
        m.set_content("\n".join(plain), charset="utf-8", cte=rng.choice(["base64", "quoted-printable"]))
        m.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
        return m.as_bytes(policy=policy.SMTP)

    def _gmail(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        at = self._when(a)
        attribution = L.gmail_attr.format(**_date_words(lang, a.date), who=f"{self.sender_display.split(' <')[0]} <{a.reply_to}>")
        dash_sig = rng.random() < 0.3
        if dash_sig:
            sig_plain = ["-- ", who.name, f"{L.title}"]
            sig_html = f'<div><br></div><span class="gmail_signature_prefix">-- </span><br><div dir="ltr" class="gmail_signature"><div dir="ltr">{htmllib.escape(who.name)}<div>{htmllib.escape(L.title)}</div></div></div>'
        else:
            short = self._signature(who, lang, a, short=True)
            sig_plain = short
            sig_html = "<div><br></div>" + _html_lines(short)
        plain = typed + [""] + sig_plain + ["", _wrap_attribution(attribution), "", _quote(a.plain)]
        html = (
            f'<div dir="ltr">{_html_lines(typed)}{sig_html}</div><br><div class="gmail_quote gmail_quote_container">'
            f'<div dir="ltr" class="gmail_attr">{htmllib.escape(attribution)}<br></div>'
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
            f"{a.html_body}</blockquote></div>\n"
        )
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at)
        cte = "base64" if rng.random() < 0.3 else "quoted-printable"
        m.set_content("\n".join(plain), charset="utf-8", cte=cte)
        m.add_alternative(html, subtype="html", charset="utf-8", cte=cte)
        return m.as_bytes(policy=policy.SMTP)

    def _android(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        at = self._when(a)
        separator, fields = L.samsung
        head = self._orig_block(a, lang, fields, sent=f"{a.date:%d.%m.%Y %H:%M} (GMT+01:00)")
        plain = typed + ["", "", L.samsung_footer, "", "", separator, *head, "", a.plain]
        html = (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"></head><body>'
            f'<div dir="auto">{_html_lines(typed)}</div><div dir="auto"><br></div><div dir="auto"><br></div>'
            f'<div id="composer_signature" dir="auto"><div style="font-size:85%;color:#575757" dir="auto">{htmllib.escape(L.samsung_footer)}</div></div>'
            f'<div dir="auto"><br></div><div><br></div><div align="left" dir="auto" style="font-size:100%;color:#000000"><div>{htmllib.escape(separator)}</div>'
            + "".join(f"<div>{htmllib.escape(x)}</div>" for x in head)
            + f"<div><br></div></div>{a.html_body}</body></html>"
        )
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at)
        m.set_content("\n".join(plain), charset="utf-8", cte=rng.choice(["base64", "quoted-printable", "8bit"]))
        m.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
        return m.as_bytes(policy=policy.SMTP)

    def _apple_mail(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        at = self._when(a)
        attribution = L.apple_attr.format(**_date_words(lang, a.date), who=f"{MAIL_FROM_NAME} <{a.reply_to}>")
        sig = self._signature(who, lang, a) if rng.random() < 0.5 else self._signature(who, lang, a, short=True)
        plain = typed + [""] + sig + ["", attribution, "", _quote(a.plain), ""]
        html = (
            '<html aria-label="message body"><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
            '<body style="overflow-wrap: break-word; -webkit-nbsp-mode: space; line-break: after-white-space;">'
            f"{_html_lines(typed + [''] + sig)}"
            f'<div><br><blockquote type="cite"><div>{htmllib.escape(attribution)}</div><br class="Apple-interchange-newline">'
            f"<div><div>{a.html_body}</div></div></blockquote></div><br></body></html>"
        )
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at)
        m["X-Mailer"] = "Apple Mail (2.3774.500.171.1.1)"
        m.set_content("\n".join(plain), charset="utf-8", cte="quoted-printable")
        m.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        return m.as_bytes(policy=policy.SMTP)

    def _iphone(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        at = self._when(a)
        attribution = L.apple_attr.format(**_date_words(lang, a.date), who=f"{MAIL_FROM_NAME} <{a.reply_to}>")
        sig = self._signature(who, lang, a, short=True) + [""] if rng.random() < 0.4 else []
        plain = typed + [""] + sig + [L.iphone, "", _quote(attribution), ">", _quote(a.plain), ""]
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at)
        m["X-Mailer"] = "iPhone Mail (21D61)"
        m.set_content("\n".join(plain), charset="utf-8", cte="quoted-printable")
        if rng.random() < 0.15:  # a photo of the car, as people do
            m.add_attachment(rng.randbytes(rng.randint(30_000, 80_000)), maintype="image", subtype="jpeg", filename=f"IMG_{rng.randint(1000, 9999)}.jpeg")
        return m.as_bytes(policy=policy.SMTP)

    def _thunderbird_html(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        at = self._when(a)
        # Thunderbird's default "Body Text" mode: lines separated by <br>, a list as <ul>.
        parts: list[str] = []
        for line in typed:
            if line.startswith("- "):
                if parts and parts[-1].endswith("</ul>"):
                    parts[-1] = parts[-1][: -len("</ul>")] + f"<li>{htmllib.escape(line[2:])}</li></ul>"
                else:
                    parts.append(f"<ul><li>{htmllib.escape(line[2:])}</li></ul>")
            else:
                parts.append(htmllib.escape(line) + "<br>")
        body = "\n".join(parts)
        attribution = f"On {a.date:%d.%m.%Y %H:%M}, {MAIL_FROM_NAME} wrote:"
        html = (
            '<!DOCTYPE html>\n<html>\n  <head>\n    <meta http-equiv="Content-Type" content="text/html; charset=UTF-8">\n  </head>\n  <body>\n'
            f"    {body}\n"
            f'    <pre class="moz-signature" cols="72">-- \n{htmllib.escape(who.name)}\n{htmllib.escape(LANGS[lang].title)}</pre>\n'
            f'    <div class="moz-cite-prefix">{htmllib.escape(attribution)}<br>\n    </div>\n'
            f'    <blockquote type="cite" cite="mid:{htmllib.escape(a.message_id)}">{a.html_body}</blockquote>\n  </body>\n</html>\n'
        )
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at)
        m["User-Agent"] = "Mozilla Thunderbird"
        m.set_content(html, subtype="html", charset="utf-8", cte=self.rng.choice(["8bit", "quoted-printable"]))
        return m.as_bytes(policy=policy.SMTP)

    def _thunderbird_flowed(self, a: AlertMail, who: Person, lang: str, typed: list[str], mid: str) -> bytes:
        """Bottom-posted: the attribution and the quote first, the new text below it."""
        at = self._when(a)
        attribution = f"On {a.date:%d.%m.%Y %H:%M}, {MAIL_FROM_NAME} wrote:"
        body: list[str] = [attribution] + _quote(a.plain).split("\n") + [""]
        for line in typed:
            body += _flow(line)
        body += ["", "-- ", who.name, LANGS[lang].title, ""]
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, at)
        m["User-Agent"] = "Mozilla Thunderbird"
        m.set_content("\n".join(body), charset="utf-8", cte="8bit")
        m.set_param("format", "flowed")
        return m.as_bytes(policy=policy.SMTP)

    def _auto(self, a: AlertMail, who: Person, lang: str, mid: str) -> bytes:
        rng, L = self.rng, LANGS[lang]
        back = a.date + timedelta(days=rng.randint(3, 14))
        w = _date_words(lang, back)
        variant = rng.choice(["auto-submitted", "auto-submitted", "x-autoreply", "precedence", "subject-only"])
        subject = (L.auto_subject + a.subject) if variant in ("auto-submitted", "subject-only") else rng.choice(L.re_prefix) + a.subject
        m = EmailMessage()
        self._headers(m, a, who, lang, mid, a.date + timedelta(seconds=rng.randint(2, 30)), subject)
        if variant == "auto-submitted":
            m["Auto-Submitted"] = "auto-replied"
            m["X-Auto-Response-Suppress"] = "All"
        elif variant == "x-autoreply":
            m["X-Autoreply"] = "yes"
        elif variant == "precedence":
            m["Precedence"] = "auto_reply"
        m.set_content(L.auto_body.format(d=w["d"], mon=w["mon"]), charset="utf-8", cte="quoted-printable")
        return m.as_bytes(policy=policy.SMTP)


# =====================================================================================================
# Alerts: intake → outbox → the real mail delivery → the SMTP fake
# =====================================================================================================

CUSTOMER_COMMENTS = {
    "en": "Nobody called me back and the car was not ready at the agreed time.",
    "da": "Ingen ringede tilbage, og bilen var ikke klar til aftalt tid.",
    "de": "Niemand hat zurückgerufen und das Auto war zur vereinbarten Zeit nicht fertig.",
    "nl": "Niemand heeft teruggebeld en de auto was niet op tijd klaar.",
    "sv": "Ingen ringde tillbaka och bilen var inte klar i tid.",
    "fr": "Personne ne m'a rappelé et la voiture n'était pas prête à l'heure convenue.",
    "no": "Ingen ringte tilbake, og bilen var ikke klar til avtalt tid.",
}


def hot_responses(n: int, tag: str, start: int, rng: random.Random) -> tuple[list[SurveyResponse], dict[str, str]]:
    """n answers that each raise exactly one Hot Alert (a low score or a contact request, NPS 7-10
    so no Detractor alert), over the dealers by weight; and each response's customer name."""
    now = datetime.now(timezone.utc)
    out: list[SurveyResponse] = []
    names: dict[str, str] = {}
    for j in range(n):
        i = start + j
        d = rng.choices(ALL_DEALERS, weights=[x.weight for x in ALL_DEALERS])[0]
        firsts, lasts = NAMES[d.lang]
        cust = f"{rng.choice(firsts)} {rng.choice(lasts)}"
        survey = Survey.SERVICE if i % 2 else Survey.SALES
        low = i % 3 != 0
        scores = {"overall": 4, "waiting_time" if survey is Survey.SERVICE else "salesperson": 1 if low else 4, "communication": 3}
        rid = f"bench-mail-{tag}-{i:07d}"
        names[rid] = cust
        out.append(
            SurveyResponse(
                id=rid,
                survey=survey,
                dealer=d.code,
                submitted_at=now - timedelta(minutes=5 + i % 600),
                customer=CustomerIn(f"C-{tag}-{i:07d}", name=cust, email=f"kunde{i}.{tag}@example.net", phones=Phones(mobile=f"+45 2{i % 10_000_000:07d}"), language=d.lang),
                nps=7 + i % 4,
                scores=scores,
                comment=CUSTOMER_COMMENTS[d.lang],
                answers={"contact_requested": not low},
                service_date=(now - timedelta(days=3)).date() if survey is Survey.SERVICE else None,
                purchase_date=(now - timedelta(days=10)).date() if survey is Survey.SALES else None,
            )
        )
    return out, names


_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)


def alert_mails(smtp: FakeSmtp, alerts: dict[str, tuple[str, str]], secret: bytes) -> dict[str, AlertMail]:
    """The alert mails the fake received, one per alert (the first recipient's), checked against
    reply_tag with the app's secret."""
    lang_of = {d.code: d.lang for d in ALL_DEALERS}
    out: dict[str, AlertMail] = {}
    for sent in smtp.messages:
        msg = sent.message
        reply_to = parseaddr(str(msg["Reply-To"]))[1]
        tag = reply_to.partition("@")[0].partition("+")[2]
        alert_id = read_reply_tag(tag)
        if alert_id is None or alert_id not in alerts or alert_id in out:
            continue
        recipient = sent.rcpt_tos[0]
        expected = plus_address(REPLY_ADDRESS, reply_tag(secret, alert_id, recipient))
        if reply_to != expected:
            raise BenchFailed(f"the alert mail of {alert_id} has Reply-To {reply_to}, but reply_tag gives {expected}")
        dealer, customer = alerts[alert_id]
        plain_part = msg.get_body(("plain",))
        html_part = msg.get_body(("html",))
        plain = plain_part.get_content().replace("\r\n", "\n").rstrip("\n") if plain_part is not None else ""
        html_src = html_part.get_content() if html_part is not None else ""
        m = _BODY.search(html_src)
        out[alert_id] = AlertMail(
            alert_id=alert_id,
            number=int(alert_id.split("-")[1]),
            dealer=dealer,
            lang=lang_of[dealer],
            recipient=recipient,
            reply_to=reply_to,
            subject=" ".join(str(msg["Subject"]).split()),
            message_id=str(msg["Message-ID"]).strip().strip("<>"),
            date=datetime.now(timezone.utc),
            plain=plain,
            html_body=(m.group(1) if m else html_src).strip(),
            customer=customer,
        )
    return out


# =====================================================================================================
# Measuring
# =====================================================================================================


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


def _stat_cpu(path: str) -> tuple[float, float, list[str]] | None:
    """(own CPU s, reaped children's CPU s, fields) from a /proc/…/stat file."""
    try:
        raw = Path(path).read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, (int(fields[13]) + int(fields[14])) / CLK_TCK, fields


def session_cpu(sid: int) -> float:
    """CPU of every process in a session (Dovecot's master runs in a session of its own), plus what
    its master reaped from children that exited."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        got = _stat_cpu(f"/proc/{proc.name}/stat")
        if got is None:
            continue
        own, reaped, fields = got
        if int(fields[3]) == sid:
            total += own + (reaped if int(proc.name) == sid else 0.0)
    return total


def pg_backends_cpu(dbname: str | None) -> float | None:
    """CPU of the PostgreSQL backends serving `dbname` (their title is "postgres: USER DB HOST …")."""
    if not dbname:
        return None
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd.startswith("postgres: ") and f" {dbname} " in cmd:
            got = _stat_cpu(f"/proc/{proc.name}/stat")
            if got:
                total += got[0]
    return total


def thread_cpu() -> dict[int, tuple[str, float]]:
    """tid → (group, CPU s) for this process's threads: the event loop, aiosqlite's threads (SQLite
    itself), asyncio.to_thread's pool (imapclient: socket I/O and response parsing), others."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    main = threading.main_thread().native_id
    out: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        got = _stat_cpu(str(task / "stat"))
        if got is None:
            continue
        tid = int(task.name)
        name = names.get(tid, "")
        if tid == main:
            group = "event loop"
        elif "_connection_worker_thread" in name:
            group = "aiosqlite threads"
        elif name.startswith("asyncio_"):
            group = "to_thread pool (IMAP)"
        else:
            group = "other threads"
        out[tid] = (group, got[0])
    return out


def thread_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for tid, (group, cpu) in after.items():
        out[group] += cpu - before.get(tid, (group, 0.0))[1]
    return out


class Split:
    """The bench's finer split: wall time in functions of the product, wrapped from here."""

    def __init__(self) -> None:
        self.t: Counter[str] = Counter()  # wall seconds
        self.c: Counter[str] = Counter()  # CPU seconds of the event-loop thread (thread_time) in the same spans
        self.n: Counter[str] = Counter()
        self._undo: list[Callable[[], None]] = []
        self.in_extract = False
        self.deep: list[str] = []  # keys of the --deep wrappers, in order

    def reset(self) -> None:
        self.t.clear()
        self.c.clear()
        self.n.clear()

    def timed_async(self, owner: Any, name: str, key: str) -> None:
        """Wall and event-loop CPU inside a coroutine function (the reader is sequential, so the CPU
        of the loop thread during it is its own)."""
        fn = getattr(owner, name)
        split = self

        async def wrapper(*args: Any, **kw: Any) -> Any:
            t, c = time.perf_counter(), time.thread_time()
            try:
                return await fn(*args, **kw)
            finally:
                split.t[key] += time.perf_counter() - t
                split.c[key] += time.thread_time() - c
                split.n[key] += 1

        self._patch(owner, name, wrapper)
        self.deep.append(key)

    def install_deep(self) -> None:
        """--deep: the apply path's services and repository calls, one by one."""
        from bot.services import access, alerts, routing
        from storage.repositories.alerts import AlertsRepo
        from storage.repositories.dealers import PeopleRepo
        from storage.repositories.history import HistoryRepo
        from storage.repositories.mail import MailRepo
        from storage.repositories.outbox import OutboxRepo
        from storage.repositories.slack import SlackRepo

        for owner, name, key in (
            (alerts, "change_status", "alerts.change_status (one transaction)"),
            (alerts, "comment", "alerts.comment (one transaction)"),
            (access, "resolve", "  access.resolve (by_email + grants)"),
            (routing, "after_changes", "  routing.after_changes"),
            (MailRepo, "recipients_of", "  MailRepo.recipients_of"),
            (PeopleRepo, "by_email", "  PeopleRepo.by_email"),
            (PeopleRepo, "grants", "  PeopleRepo.grants"),
            (AlertsRepo, "get", "  AlertsRepo.get"),
            (AlertsRepo, "save", "  AlertsRepo.save"),
            (HistoryRepo, "append", "  HistoryRepo.append"),
            (OutboxRepo, "enqueue", "  OutboxRepo.enqueue"),
            (SlackRepo, "first_time", "  SlackRepo.first_time (the Message-ID key)"),
        ):
            self.timed_async(owner, name, key)

    def _patch(self, owner: Any, name: str, new: Any) -> None:
        old = owner.__dict__[name] if name in getattr(owner, "__dict__", {}) else None
        had = old is not None
        setattr(owner, name, new)
        self._undo.append(lambda: setattr(owner, name, old) if had else delattr(owner, name))

    def timed(self, owner: Any, name: str, key: str, *, guard: bool = False) -> None:
        fn = getattr(owner, name)
        split = self

        def wrapper(*args: Any, **kw: Any) -> Any:
            if guard and split.in_extract:
                return fn(*args, **kw)
            t, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kw)
            finally:
                split.t[key] += time.perf_counter() - t
                split.c[key] += time.thread_time() - c
                split.n[key] += 1

        self._patch(owner, name, wrapper)

    def install(self, reader: MailboxReader, db: Database) -> None:
        split = self
        self.timed(parse_mod, "message_from_bytes", "mime_parse")
        self.timed(parse_mod, "_body_text", "body")
        self.timed(parse_mod, "_library_reply", "library")
        self.timed(parse_mod, "read_status", "status", guard=True)
        extract = parse_mod.extract_new_text

        def extract_wrapper(*args: Any, **kw: Any) -> Any:
            t, c = time.perf_counter(), time.thread_time()
            split.in_extract = True
            try:
                return extract(*args, **kw)
            finally:
                split.in_extract = False
                split.t["extract"] += time.perf_counter() - t
                split.c["extract"] += time.thread_time() - c

        self._patch(parse_mod, "extract_new_text", extract_wrapper)
        self.timed(reader_mod, "parse_reply", "parse_reply")  # the reader's own import of it
        self.timed_async(mail_service, "apply_replies", "apply_reply")
        self.deep.remove("apply_reply")
        # imapclient calls run in threads; the reader awaits them: wall time of each.
        self.timed(reader, "_fetch", "imap_fetch")
        self.timed(reader, "_file", "imap_move")
        # The database: time inside transactions and read blocks, and in SQL awaits.
        for attr, key in (("transaction", "db_tx"), ("read", "db_read")):
            orig = getattr(db, attr)

            def make(orig: Any, key: str) -> Any:
                @asynccontextmanager
                async def timed_block() -> Any:
                    t, c = time.perf_counter(), time.thread_time()
                    try:
                        async with orig() as tx:
                            yield tx
                    finally:
                        split.t[key] += time.perf_counter() - t
                        split.c[key] += time.thread_time() - c
                        split.n[key] += 1

                return timed_block

            self._patch(db, attr, make(orig, key))
        for meth in ("execute",):  # scalar() and scalars() await execute()
            orig_meth = getattr(AsyncConnection, meth)

            def make_sql(orig_meth: Any) -> Any:
                async def timed_sql(self_: Any, *args: Any, **kw: Any) -> Any:
                    t, c = time.perf_counter(), time.thread_time()
                    try:
                        return await orig_meth(self_, *args, **kw)
                    finally:
                        split.t["sql"] += time.perf_counter() - t
                        split.c["sql"] += time.thread_time() - c
                        split.n["sql"] += 1

                return timed_sql

            self._patch(AsyncConnection, meth, make_sql(orig_meth))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()


class Tracker:
    """When each message (by Message-ID) was applied and moved; wraps apply_replies and the reader's _file."""

    def __init__(self, reader: MailboxReader) -> None:
        self.applied: dict[str, float] = {}
        self.moved: dict[str, float] = {}
        self.verdicts: dict[str, str] = {}
        self._pending: list[str] = []
        self._apply = mail_service.apply_replies
        tracker = self

        async def apply_replies(cx: Context, batch: Any) -> Any:
            verdicts = await tracker._apply(cx, batch)
            now = time.monotonic()
            for parsed, verdict in zip(batch, verdicts):
                mid = parsed.message_id or ""
                tracker.applied[mid] = now
                tracker.verdicts[mid] = f"{verdict.folder.value}: {verdict.reason}"
                tracker._pending.append(mid)
            return verdicts

        mail_service.apply_replies = apply_replies  # the reader calls mail.apply_replies through the module
        file_ = reader._file
        rejected = reader.config.rejected

        def file_wrapper(client: Any, uids: list[int], folder: str) -> None:
            file_(client, uids, folder)
            if folder == rejected:  # the batch's last MOVE (Processed first, then Rejected)
                now = time.monotonic()
                for mid in tracker._pending:
                    tracker.moved[mid] = now
                tracker._pending.clear()

        self._reader = reader
        self._had = reader.__dict__.get("_file")  # a wrapper of the bench's Split, if installed
        reader._file = file_wrapper  # type: ignore[method-assign]

    def close(self) -> None:
        mail_service.apply_replies = self._apply
        if self._had is not None:
            self._reader._file = self._had  # type: ignore[method-assign]
        else:
            self._reader.__dict__.pop("_file", None)


def profile_report(profile: cProfile.Profile, path: str, n: int) -> None:
    """Where the event-loop thread's CPU went, grouped by package, and the top functions."""
    profile.dump_stats(path)
    st = pstats.Stats(profile)
    by: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    for (f, _line, _fn), (_cc, nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        by[_package(f)] += tt
        calls[_package(f)] += nc
    total = sum(by.values()) or 1e-9
    print(f"\n  cProfile of the timed read (timer: CPU time of the event-loop thread; saved to {path}; profiling inflates it ~2x):")
    print(f"    {total:.2f} s CPU, {sum(calls.values()) / n:,.0f} Python function calls per reply; by package (own time):")
    for k, v in by.most_common(18):
        print(f"    {100 * v / total:5.1f} %  {calls[k] / n:8,.0f} calls/reply  {k}")
    for sort in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(sort).print_stats(28)
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        print(f"    top functions by {sort}:")
        print("\n".join("    " + line for line in lines[start:] if line.strip()))


def _package(f: str) -> str:
    for marker in ("site-packages/", "lib/python3.11/"):
        if marker in f:
            parts = f.split(marker, 1)[1].split("/")
            return "/".join(parts[:2]) if parts[0] in ("sqlalchemy", "asyncio", "email") and len(parts) > 1 else parts[0]
    if f.startswith(str(ROOT) + "/"):
        return "cxbot: " + f[len(str(ROOT)) + 1 :]
    if f.startswith("<frozen importlib"):
        return "importlib"
    return "builtins (C)" if f == "~" else f


def start_spy(path: str) -> subprocess.Popen[bytes]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    proc = subprocess.Popen(
        [exe, "record", "--pid", str(os.getpid()), "--threads", "--rate", "250", "--format", "raw", "--output", path],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    time.sleep(1.0)  # let it attach before the clock starts
    if proc.poll() is not None:
        raise BenchFailed(f"py-spy did not start: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return proc


def stop_spy(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def spy_summary(path: str, top: int = 30) -> list[str]:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        head = frames[0]
        threads["event loop" if "MainThread" in head else "aiosqlite" if "_connection_worker_thread" in head else "asyncio_ pool (IMAP)" if "asyncio_" in head else "other"] += n
        own[_frame(frames[-1])] += n
        for f in {_frame(f) for f in frames}:
            incl[f] += n
    if not total:
        return ["(no samples)"]
    out = [f"{total} samples of non-idle threads; by thread: " + ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in threads.most_common(5))]
    out.append("(py-spy counts a thread waiting in a system call or for the GIL as busy)")
    out.append("self time:")
    out += [f"  {100 * v / total:5.1f} %  {k}" for k, v in own.most_common(top)]
    out.append("inclusive (cxbot code and the libraries it calls):")
    keep = [(k, v) for k, v in incl.most_common() if any(m in k for m in ("handlers/", "storage/", "bot/", "email/", "mailparser_reply", "imapclient", "aiosqlite", "sqlalchemy/engine", "sqlalchemy/ext/asyncio", "asyncpg", "html/parser"))]
    out += [f"  {100 * v / total:5.1f} %  {k}" for k, v in keep[:top]]
    return out


def _frame(f: str) -> str:
    name, _, where = f.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


# =====================================================================================================
# The run
# =====================================================================================================


@dataclass
class Env:
    args: argparse.Namespace
    dovecot: Dovecot
    user: MailUser
    smtp: FakeSmtp
    cx: Context
    runtime: Any
    reader: MailboxReader
    dbname: str | None
    db_label: str
    log_path: Path
    replies: dict[str, Reply] = field(default_factory=dict)  # by Message-ID


def settings_for(db_url: str, smtp: FakeSmtp, dovecot: Dovecot, user: MailUser, batch: int) -> Settings:
    return Settings(
        core=CoreSettings(database_url=db_url, api_keys=["bench-api-key-0123456789abcdef"]),
        http=HttpSettings(),
        rules=Rules(),
        slack=SlackSettings(),
        outbox=OutboxSettings(),
        smtp=SmtpSettings(host=smtp.host, port=smtp.port, tls="none"),
        imap=ImapSettings(host=dovecot.host, port=dovecot.port, username=user.name, password=user.password, tls="none", batch=batch),
        mail=MailSettings(**{"CXBOT_MAIL_FROM": formataddr((MAIL_FROM_NAME, REPLY_ADDRESS)), "secret": MAIL_SECRET}),
    )


async def create_alerts(env: Env, n: int, tag: str, rng: random.Random) -> dict[str, AlertMail]:
    """n Hot Alerts through intake, their mails delivered by the real dispatcher to the SMTP fake."""
    responses, names = hot_responses(n, tag, 0, rng)
    alerts: dict[str, tuple[str, str]] = {}
    t = time.perf_counter()
    for k in range(0, len(responses), 100):
        result = await intake.ingest(env.runtime.cx, responses[k : k + 100])
        if len(result.alerts) != len(responses[k : k + 100]) or any(a.kind is not Kind.HOT_ALERT for a in result.alerts):
            raise BenchFailed(f"a batch of Hot-Alert answers raised {Counter(a.kind.value for a in result.alerts)}")
        for a in result.alerts:
            alerts[a.id] = (a.dealer, names[a.response_id or ""])
    intake_s = time.perf_counter() - t
    t = time.perf_counter()
    before = len(env.smtp.messages)
    sent = await env.runtime.dispatcher.drain(rounds=1000)
    deliver_s = time.perf_counter() - t
    if len(env.smtp.messages) - before < n:
        raise BenchFailed(f"the dispatcher settled {sent} rows but the SMTP fake got {len(env.smtp.messages) - before} mails for {n} alerts")
    mails = alert_mails(env.smtp, alerts, MAIL_SECRET.encode())
    if len(mails) != n:
        raise BenchFailed(f"{n} alerts but {len(mails)} alert mails matched")
    async with env.cx.db.read() as tx:
        rows = (await tx.conn.execute(sql("SELECT count(*) FROM mail_messages WHERE purpose = 'alert'"))).scalar()
    print(f"setup: {n} alerts by intake in {intake_s:.2f} s; {len(env.smtp.messages) - before} alert mails delivered by the real Dispatcher/MailDelivery "
          f"to the SMTP fake in {deliver_s:.2f} s ({rows} mail_messages rows in all)", flush=True)
    return mails


def build_replies(env: Env, mails: dict[str, AlertMail], rng: random.Random, staff: dict[str, list[Person]], tag: str, comments: float, autos: float) -> list[Reply]:
    factory = ReplyFactory(rng, staff, tag)
    out: list[Reply] = []
    for a in mails.values():
        roll = rng.random()
        kind = "auto" if roll < autos else "comment" if roll < autos + comments else "status"
        r = factory.make(a, kind)
        env.replies[r.message_id] = r
        out.append(r)
    rng.shuffle(out)  # staff answer in no particular order
    return out


def append_all(env: Env, replies: list[Reply]) -> float:
    t = time.perf_counter()
    with env.dovecot.client(env.user) as c:
        for k in range(0, len(replies), 100):
            c.multiappend("INBOX", [r.raw for r in replies[k : k + 100]])
    return time.perf_counter() - t


def describe(replies: list[Reply]) -> str:
    kinds = Counter(r.kind if r.kind != "status" else f"status {r.status}" for r in replies)
    langs = Counter(r.lang for r in replies)
    clients = Counter(r.client for r in replies)
    size = sum(len(r.raw) for r in replies)
    return (
        f"{len(replies)} replies, {size / 1e6:.1f} MB (mean {size / len(replies) / 1e3:.1f} kB); "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        + "\n             languages: " + ", ".join(f"{k} {v}" for k, v in sorted(langs.items()))
        + "\n             clients  : " + ", ".join(f"{k} {v}" for k, v in clients.most_common())
    )


async def backlog(env: Env, replies: list[Reply], split: Split | None) -> int:
    args = env.args
    reader = env.reader
    t = time.perf_counter()
    await reader.read_once()  # connect, make the folders, select INBOX (as `serve` has long done)
    await reader.warm()  # the parsing processes `serve` starts with the reader
    connect_s = time.perf_counter() - t
    append_s = await asyncio.to_thread(append_all, env, replies)
    # A selected mailbox learns of messages APPENDed on another connection only at its next command
    # (SEARCH still answers from the old view and reports EXISTS after it). In `serve` that command
    # is the IDLE that woke the reader; here a NOOP plays its part, before the clock starts.
    assert reader._client is not None
    await asyncio.to_thread(reader._client.noop)
    print(f"setup: reader connected in {connect_s * 1e3:.0f} ms; {len(replies)} replies APPENDed (MULTIAPPEND by 100) in {append_s:.2f} s", flush=True)
    print(f"       {describe(replies)}\n", flush=True)

    tracker = Tracker(reader)
    reader.timings = Timings()
    if split:
        split.reset()
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    spy = start_spy(args.spy) if args.spy else None
    th0, ru0, dov0, pg0 = thread_cpu(), resource.getrusage(resource.RUSAGE_SELF), session_cpu(env.dovecot._process.pid), pg_backends_cpu(env.dbname)
    t0 = time.perf_counter()
    if profile:
        profile.enable()
    filed = 0
    try:
        while filed < len(replies):
            got = await reader.read_once()
            if got == 0:
                break
            filed += got
    finally:
        if profile:
            profile.disable()
    elapsed = time.perf_counter() - t0
    th1, ru1, dov1, pg1 = thread_cpu(), resource.getrusage(resource.RUSAGE_SELF), session_cpu(env.dovecot._process.pid), pg_backends_cpu(env.dbname)
    if spy:
        stop_spy(spy)
    tracker.close()
    n = len(replies)
    if filed != n:
        raise BenchFailed(f"read_once filed {filed} of {n} messages")
    tm = reader.timings
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    by_thread = thread_delta(th0, th1)
    rate = n / elapsed
    print("backlog: 1 × MailboxReader.read_once() over the waiting messages")
    print(f"  throughput      : {rate:8.0f} replies/s   ({n} filed in {elapsed:.2f} s; IMAP batch {reader.config.batch})      goal >= {GOALS['rate']:.0f}/s: {'ok' if rate >= GOALS['rate'] else 'MISSED'}")
    print(f"  CPU per reply   : {cpu / n * 1e3:8.2f} ms this process ({cpu:.2f} s user+sys = {100 * cpu / elapsed:.0f} % of one CPU; "
          + ", ".join(f"{k} {v / n * 1e3:.2f} ms" for k, v in by_thread.most_common()) + ")")
    print(f"                    {(dov1 - dov0) / n * 1e3:8.2f} ms Dovecot ({dov1 - dov0:.2f} s, all its processes)"
          + (f";  {(pg1 - pg0) / n * 1e3:.2f} ms PostgreSQL backends ({pg1 - pg0:.2f} s)" if pg0 is not None and pg1 is not None else ""))
    accounted = tm.imap + tm.parse + tm.apply
    print(f"  reader Timings  : imap {100 * tm.imap / elapsed:4.1f} %  ({tm.imap / n * 1e3:.2f} ms/reply)   "
          f"parse {100 * tm.parse / elapsed:4.1f} %  ({tm.parse / n * 1e3:.2f} ms)   apply {100 * tm.apply / elapsed:4.1f} %  ({tm.apply / n * 1e3:.2f} ms)   "
          f"other {100 * (elapsed - accounted) / elapsed:4.1f} %   (share of wall time)")
    print(f"  filed           : " + ", ".join(f"{k} {v}" for k, v in sorted(tm.by_folder.items())))
    if split:
        s = split.t

        c = split.c

        def row(label: str, secs: float, cpu: float | None = None, note: str = "") -> None:
            cpu_s = f"{cpu / n * 1e3:6.3f}" if cpu is not None else "     -"
            print(f"    {label:<46} {100 * secs / elapsed:5.1f} %  {secs / n * 1e3:6.3f} ms  {cpu_s} ms  {note}")

        print("  finer split (bench wrappers): share of wall time, wall ms/reply, event-loop CPU ms/reply")
        row("IMAP fetch (SEARCH + FETCH BODY.PEEK[])", s["imap_fetch"], None, f"{split.n['imap_fetch']} calls, in a worker thread")
        row("IMAP MOVE (one per folder and batch)", s["imap_move"], None, f"{split.n['imap_move']} calls, in a worker thread")
        mime_rest = s["parse_reply"] - s["body"] - s["extract"] - s["status"]
        mime_rest_c = c["parse_reply"] - c["body"] - c["extract"] - c["status"]
        row("MIME: message_from_bytes", s["mime_parse"], c["mime_parse"])
        row("MIME: headers, tags, auto-reply/bounce checks", mime_rest - s["mime_parse"], mime_rest_c - c["mime_parse"])
        row("MIME: body part decode (+ HTML→text)", s["body"], c["body"])
        row("extraction: cxbot's own rules", s["extract"] - s["library"], c["extract"] - c["library"])
        row("extraction: mail-parser-reply", s["library"], c["library"])
        row("status word (read_status)", s["status"], c["status"])
        row("apply_reply in all", s["apply_reply"], c["apply_reply"])
        row("  inside db.transaction() blocks", s["db_tx"], c["db_tx"], f"{split.n['db_tx'] / n:.1f} per reply")
        row("  inside db.read() blocks", s["db_read"], c["db_read"], f"{split.n['db_read'] / n:.1f} per reply")
        row("  of which SQL awaits (execute/scalar/s)", s["sql"], c["sql"], f"{split.n['sql'] / n:.1f} statements per reply")
        row("  outside database blocks", s["apply_reply"] - s["db_tx"] - s["db_read"], c["apply_reply"] - c["db_tx"] - c["db_read"])
        row("other (logging, loop, asyncio.to_thread hops)", elapsed - accounted)
        if split.deep:
            print("  --deep: the apply path call by call (wall ms/reply, event-loop CPU ms/reply, calls/reply):")
            for key in split.deep:
                if split.n[key]:
                    row(key, s[key], c[key], f"{split.n[key] / n:.2f} calls/reply")
    if profile:
        profile_report(profile, f"{args.profile}-backlog.prof", n)
    if spy:
        print(f"\n  py-spy of the timed read (this process, all threads; saved to {args.spy}):")
        print("\n".join("    " + line for line in spy_summary(args.spy)))
    print(flush=True)
    return filed


async def latency(env: Env, replies: list[Reply]) -> None:
    args = env.args
    reader = env.reader
    tracker = Tracker(reader)
    reader.timings = Timings()
    appended: dict[str, float] = {}
    stop = asyncio.Event()
    task = asyncio.create_task(reader.run(stop), name="mailbox")
    await asyncio.sleep(1.0)  # let it take the lease, read (nothing) and enter IDLE

    def appender() -> None:
        with env.dovecot.client(env.user) as c:
            t0 = time.monotonic()
            for k, r in enumerate(replies):
                due = t0 + k / args.rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                c.append("INBOX", r.raw)
                appended[r.message_id] = time.monotonic()

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    dov0 = session_cpu(env.dovecot._process.pid)
    t0 = time.monotonic()
    await asyncio.to_thread(appender)
    append_s = time.monotonic() - t0
    deadline = time.monotonic() + 30
    while len(tracker.moved) < len(replies) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    dov1 = session_cpu(env.dovecot._process.pid)
    wall = time.monotonic() - t0
    stop.set()
    await task
    tracker.close()
    missing = [r.message_id for r in replies if r.message_id not in tracker.moved]
    applied = [tracker.applied[m] - appended[m] for m in appended if m in tracker.applied]
    moved = [tracker.moved[m] - appended[m] for m in appended if m in tracker.moved]
    n = len(replies)
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    worst = max(applied) if applied else float("inf")
    print(f"latency: MailboxReader.run(stop) (lease, read_once, IDLE) while {n} replies were APPENDed one at a time at {args.rate:g}/s ({append_s:.1f} s)")
    print(f"  appended → applied : p50 {percentile(applied, 50):.2f} s, p90 {percentile(applied, 90):.2f} s, p99 {percentile(applied, 99):.2f} s, max {worst:.2f} s"
          f"      goal: each within {GOALS['latency_s']:.0f} s: {'ok' if worst <= GOALS['latency_s'] and not missing else 'MISSED'}")
    print(f"  appended → moved   : p50 {percentile(moved, 50):.2f} s, p90 {percentile(moved, 90):.2f} s, p99 {percentile(moved, 99):.2f} s, max {max(moved):.2f} s")
    print(f"  reader             : {reader.timings.messages} messages read in {len(set(tracker.moved.values()))} batches (one per IDLE wake-up or read); "
          f"CPU {cpu / n * 1e3:.2f} ms/reply this process, {(dov1 - dov0) / n * 1e3:.2f} ms Dovecot ({wall:.1f} s wall)")
    if missing:
        print(f"  NOT FILED within 30 s of the last APPEND: {len(missing)}")
    print(flush=True)


def parse_table(replies: list[Reply], words: Any) -> None:
    """parse_reply again on every reply (untimed part), grouped by mail client: what the formats cost."""
    by: dict[str, list[tuple[float, int]]] = defaultdict(list)
    cache = getattr(parse_mod, "_parsed_header", None)
    if cache is not None and hasattr(cache, "cache_clear"):
        cache.cache_clear()  # each mail's headers parsed afresh, as in the run (its cache would flatter a second parse)
    for r in replies:
        c = time.thread_time()
        parse_mod.parse_reply(r.raw, words)
        by[r.client].append((time.thread_time() - c, len(r.raw)))
    print("  parse_reply by client (again, after the run; CPU ms per mail p50 / p90, mean size):")
    for client, xs in sorted(by.items(), key=lambda kv: -percentile([x for x, _ in kv[1]], 50)):
        cpu = [x for x, _ in xs]
        print(f"    {client:<20} {percentile(cpu, 50) * 1e3:6.2f} / {percentile(cpu, 90) * 1e3:5.2f} ms  {sum(b for _, b in xs) / len(xs) / 1e3:6.1f} kB  ({len(xs)} mails)")


async def check(env: Env) -> list[str]:
    """The database and the folders against what every reply should have done."""
    problems: list[str] = []
    replies = list(env.replies.values())
    left = env.dovecot.folder(env.user, "INBOX")
    if left:
        problems.append(f"{len(left)} messages still in INBOX")
    mid_re = re.compile(rb"^Message-ID:\s*<([^>\r\n]+)>", re.IGNORECASE | re.MULTILINE)
    processed = {m.group(1).decode() for raw in env.dovecot.folder(env.user, "Processed") if (m := mid_re.search(raw))}
    rejected = {m.group(1).decode() for raw in env.dovecot.folder(env.user, "Rejected") if (m := mid_re.search(raw))}
    want_processed = {r.message_id for r in replies if r.kind != "auto"}
    want_rejected = {r.message_id for r in replies if r.kind == "auto"}
    if processed != want_processed:
        problems.append(f"Processed: {len(processed - want_processed)} unexpected, {len(want_processed - processed)} missing (holds {len(processed)}, want {len(want_processed)})")
    if rejected != want_rejected:
        problems.append(f"Rejected: {len(rejected - want_rejected)} unexpected, {len(want_rejected - rejected)} missing (holds {len(rejected)}, want {len(want_rejected)})")
    wrong_notes: list[tuple[Reply, str]] = []
    by_client: Counter[str] = Counter()
    by_client_ok: Counter[str] = Counter()
    async with env.cx.db.read() as tx:
        for r in replies:
            alert = await tx.alerts.get(r.alert_id)
            history = [h for h in await tx.history.of(r.alert_id) if h.channel is Channel.EMAIL]
            if alert is None:
                problems.append(f"{r.alert_id}: alert missing")
                continue
            if r.kind == "auto":
                if alert.status is not Status.NEW or history:
                    problems.append(f"{r.alert_id}: an auto-reply changed it ({alert.status}, {len(history)} email entries)")
                continue
            by_client[r.client] += 1
            if len(history) != 1:
                problems.append(f"{r.alert_id} ({r.client}, {r.lang}, {r.kind}): {len(history)} email history entries, want 1")
                continue
            h = history[0]
            if h.actor.removeprefix("email:") != r.sender:  # the actor's label, "email:ADDRESS"
                problems.append(f"{r.alert_id}: history actor {h.actor}, want {r.sender}")
            if r.kind == "status":
                if alert.status is not r.status or h.event is not HistoryEvent.STATUS or h.new_status is not r.status:
                    problems.append(f"{r.alert_id} ({r.client}, {r.lang}): status {alert.status}/{h.event}, want {r.status}")
            elif h.event is not HistoryEvent.COMMENT or alert.status is not Status.NEW:
                problems.append(f"{r.alert_id} ({r.client}, {r.lang}): a comment stored as {h.event}, status {alert.status}")
            if h.note != r.note:
                wrong_notes.append((r, h.note))
            else:
                by_client_ok[r.client] += 1
        notes = dict(
            (await tx.conn.execute(sql("SELECT alert_id, count(*) FROM outbox WHERE action = 'mail.note' GROUP BY alert_id"))).all()
        )
    for r in replies:
        want = 0 if r.kind == "auto" else 1
        if notes.get(r.alert_id, 0) != want:
            problems.append(f"{r.alert_id}: {notes.get(r.alert_id, 0)} mail.note rows queued, want {want}")
    applied = [r for r in replies if r.kind != "auto"]
    exact = len(applied) - len(wrong_notes)
    print("checks")
    print(f"  notes exactly as typed : {exact} of {len(applied)} ({100 * exact / max(1, len(applied)):.1f} %); by client: "
          + ", ".join(f"{c} {by_client_ok[c]}/{by_client[c]}" for c in sorted(by_client)))
    if wrong_notes:
        problems.append(f"{len(wrong_notes)} notes differ from what was typed")
        for r, got in wrong_notes[:8]:
            print(f"    {r.alert_id} {r.client} {r.lang} {r.kind}:\n      want {r.note!r}\n      got  {got!r}")
    print(f"  folders                : Processed {len(processed)}, Rejected {len(rejected)}, INBOX {len(left)}")
    parse_table(replies, env.reader.words)
    print(f"  outbox                 : {sum(notes.values())} mail.note rows (confirmations / comment answers) queued, not sent")
    return problems


async def main_async(args: argparse.Namespace, db_url: str, db_label: str, dbname: str | None, workdir: Path) -> int:
    rng = random.Random(args.seed)
    tag = uuid.uuid4().hex[:6]
    dovecot = Dovecot.start(args.dovecot)
    smtp = FakeSmtp()
    await smtp.start()
    db = Database(db_url)
    try:
        user = dovecot.new_user()
        await migrate.upgrade(db)
        cx = Context(db=db, rules=Rules(), clock=SystemClock())
        settings = settings_for(db_url, smtp, dovecot, user, args.imap_batch)
        runtime = build_runtime(settings, cx, background=False)
        reader = runtime.reader
        assert reader is not None
        env = Env(args, dovecot, user, smtp, runtime.cx, runtime, reader, dbname, db_label, workdir / "cxbot.log")
        print("cxbot reply-by-email benchmark")
        print(f"  database : {db_label}")
        print(f"  mailbox  : Dovecot {dovecot.host}:{dovecot.port} (tests/fakes/dovecot.py, pid {dovecot._process.pid}), user {user.name}; "
              f"IDLE {reader.config.idle}, IMAP batch {reader.config.batch}, local part {reader.config.local_part!r}")
        print(f"  smtp     : FakeSmtp {smtp.host}:{smtp.port} (aiosmtpd on this loop): alert mails delivered for real; confirmations only queued")
        print(f"  logs     : level {args.log_level} (as `serve`), to {env.log_path}")
        print(f"  machine  : {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}, load average {os.getloadavg()[0]:.2f} "
              "(others' work inflates every figure; read CPU per reply next to the rate)")
        print(flush=True)

        directory, staff = build_directory(rng, args.staff)
        t = time.perf_counter()
        report = await dealers.load(runtime.cx, directory)
        print(f"setup: dealers.load: {len(report.added)} added (8 dealers in 7 languages, {sum(len(v) for v in staff.values())} generated staff + the example people) "
              f"in {time.perf_counter() - t:.2f} s", flush=True)
        n_latency = int(args.rate * args.seconds)
        mails = await create_alerts(env, args.n + n_latency, tag, rng)
        ordered = sorted(mails.values(), key=lambda m: m.number)
        backlog_mails = {m.alert_id: m for m in ordered[: args.n]}
        latency_mails = {m.alert_id: m for m in ordered[args.n :]}
        t = time.perf_counter()
        replies = build_replies(env, backlog_mails, rng, staff, tag, args.comments, args.autos)
        late = build_replies(env, latency_mails, rng, staff, tag, args.comments, args.autos)
        print(f"setup: {len(replies) + len(late)} reply mails built in {time.perf_counter() - t:.2f} s", flush=True)

        if args.try_no_library:
            parse_mod._library_reply = lambda text: text  # type: ignore[assignment]  # experiment only, this process
            print("EXPERIMENT: mail-parser-reply switched off (handlers.email.parse._library_reply → identity)\n")
        split = None if args.no_split else Split()
        if split:
            split.install(reader, runtime.cx.db)
            if args.deep:
                split.install_deep()
        try:
            await backlog(env, replies, split)
            if late:
                await latency(env, late)
        finally:
            if split:
                split.uninstall()
        problems = await check(env)
        reader.close()
        warnings = [line for line in env.log_path.read_text(errors="replace").splitlines() if "[warning" in line or "[error" in line or "Traceback" in line] if env.log_path.exists() else []
        if warnings:
            print(f"  log warnings/errors    : {len(warnings)}, first: {warnings[0][:300]}")
        print(f"\nload average after the run: {os.getloadavg()[0]:.2f} (1 min; {os.cpu_count()} CPUs)")
        if problems:
            print("\nCHECKS FAILED:")
            for p in problems[:40]:
                print(f"  - {p}")
            if len(problems) > 40:
                print(f"  … and {len(problems) - 40} more")
            return 1
        print("all checks passed")
        return 0
    finally:
        await db.close()
        await smtp.stop()
        dovecot.stop()



def _pg_urls(base: str, name: str) -> tuple[str, str]:
    """(asyncpg DSN of the maintenance database, SQLAlchemy URL of the new database)."""
    from sqlalchemy.engine import make_url

    url = make_url(base)
    if url.get_backend_name() != "postgresql":
        raise BenchFailed(f"--postgres needs a postgresql+asyncpg:// URL, got {base!r}")
    admin = str(url.set(drivername="postgresql").render_as_string(hide_password=False))
    new = str(url.set(database=name).render_as_string(hide_password=False))
    return admin, new


def configure_logs(level: str, path: Path) -> Any:
    """The product's own log setup (bot.logs), writing to a file instead of stderr."""
    out = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed at the end of run()
    saved = sys.stderr
    sys.stderr = out
    try:
        logs.configure(level)
    finally:
        sys.stderr = saved
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000, help="replies waiting in the mailbox for the timed read (default 1000)")
    p.add_argument("--postgres", nargs="?", const=DEFAULT_PG, default=None, metavar="URL", help=f"PostgreSQL instead of SQLite (default URL {DEFAULT_PG}); a database of its own is created and dropped")
    p.add_argument("--imap-batch", type=int, default=ImapSettings().batch, help=f"CXBOT_IMAP_BATCH (default {ImapSettings().batch})")
    p.add_argument("--rate", type=float, default=20.0, help="latency part: APPENDs per second (default 20)")
    p.add_argument("--seconds", type=float, default=10.0, help="latency part: for this long (default 10; 0 skips the part)")
    p.add_argument("--comments", type=float, default=0.10, help="share of comments (no status word; default 0.10)")
    p.add_argument("--autos", type=float, default=0.02, help="share of auto-replies (default 0.02)")
    p.add_argument("--staff", type=int, default=6, help="generated staff per dealer (default 6)")
    p.add_argument("--seed", type=int, default=7, help="seed of the generated mail (default 7)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"], help="cxbot's log level (default info, as `serve`)")
    p.add_argument("--no-split", action="store_true", help="no bench wrappers: only the reader's own Timings")
    p.add_argument("--try-no-library", action="store_true", help="experiment: replace handlers.email.parse._library_reply (mail-parser-reply) by the identity, to see what it costs and whether any note changes")
    p.add_argument("--deep", action="store_true", help="also wrap the apply path's services and repository calls (more overhead)")
    p.add_argument("--profile", metavar="PREFIX", help="cProfile the timed read (event-loop thread, CPU timer); writes PREFIX-backlog.prof")
    p.add_argument("--spy", metavar="PATH", help="py-spy record (raw) this process during the timed read")
    p.add_argument("--dovecot", default=os.environ.get("TEST_DOVECOT_BINARY", DOVECOT_BINARY), help="the dovecot binary")
    p.add_argument("--keep", action="store_true", help="keep the temp directory (SQLite file, cxbot's log)")
    args = p.parse_args(argv)
    if args.n < 1:
        p.error("--n must be at least 1")
    return args


def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="cxbench-mail-"))
    log_file = configure_logs(args.log_level, workdir / "cxbot.log")
    pg_drop: tuple[str, str] | None = None
    try:
        if not os.path.exists(args.dovecot):
            raise BenchFailed(f"{args.dovecot} is not installed (Debian package dovecot-imapd)")
        if args.postgres:
            name = f"cxbench_mail_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin, db_url = _pg_urls(args.postgres, name)
            asyncio.run(pg_execute(admin, f'CREATE DATABASE "{name}"'))
            pg_drop = (admin, name)
            label = f"PostgreSQL, fresh database {name} (dropped at the end)"
            dbname: str | None = name
        else:
            db_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            label = f"SQLite, fresh temp file {workdir / 'bench.db'} (WAL, synchronous=FULL)"
            dbname = None
        return asyncio.run(main_async(args, db_url, label, dbname, workdir))
    except BenchFailed as e:
        print(f"\nBENCHMARK FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        log_file.close()
        if pg_drop is not None:
            admin, name = pg_drop
            try:
                asyncio.run(pg_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as e:  # noqa: BLE001 - a note rather than hiding the result
                print(f"warning: could not drop database {name}: {e}", file=sys.stderr)
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
