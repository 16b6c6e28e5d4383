"""Raw reply mail → `ParsedReply`: headers, tags, the new text, the status word, auto-reply and bounce flags; no I/O."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from mailparser_reply.parser import EmailMessage as _LibraryMessage

from bot.domain.mail import Bounce, ParsedReply
from bot.domain.status_words import StatusWords, read_status
from bot.domain.values import Status

__all__ = ["Bounce", "ParsedReply", "extract_new_text", "parse_reply"]

MAX_CHARS = 20_000  # mail-parser-reply took 1.5 s on a 0.45 MB thread; nobody types a note this long
_LIBRARY_LANGUAGES = ("en", "de", "da", "nl", "sv", "fr")
_MAX_HTML = 1_000_000  # characters of HTML looked at: the new text is at the top; a thread below it can be megabytes


def parse_reply(raw: bytes, words: StatusWords, local_part: str = "cxbot", max_chars: int = MAX_CHARS) -> ParsedReply:
    """Everything cxbot reads from one raw message. Never raises: a field that cannot be read is None or
    empty. A bounce or an auto-reply sets no status (the service files it away); parsing judges no sender."""
    try:
        msg = message_from_bytes(raw or b"", policy=_POLICY)
    except Exception:  # the parser is lenient; this is only a last resort
        return _empty()
    message_id = _guard(lambda: _message_id(msg))
    sender, sender_name = _guard(lambda: _sender(msg)) or (None, None)
    subject = _guard(lambda: _text_header(msg, "subject")) or ""
    references = _guard(lambda: _references(msg)) or ()
    tags = _guard(lambda: _tags(msg, local_part)) or ()
    subject_alert = _guard(lambda: _subject_alert(subject))
    auto_reply = bool(_guard(lambda: _is_auto_reply(msg, subject)))
    bounce = _guard(lambda: _bounce(msg, sender, sender_name, local_part))
    text = ""
    status: Status | None = None
    note = ""
    if bounce is None:
        body = _guard(lambda: _body_text(msg, max_chars)) or ""
        text = _guard(lambda: extract_new_text(body, words=words, sender_name=sender_name, max_chars=max_chars)) or ""
        if not auto_reply:
            read = _guard(lambda: read_status(text, words))
            if read is not None:
                status, note = read.status, read.note
    return ParsedReply(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        references=references,
        tags=tags,
        subject_alert=subject_alert,
        text=text,
        status=status,
        note=note,
        auto_reply=auto_reply,
        bounce=bounce,
    )


class _CachingPolicy(EmailPolicy):
    """`policy.default`, remembering parsed headers: the parser and `get_body` ask for each part's
    Content-Type many times, and policy.default parses it afresh every time (most of the parsing time)."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if len(value) > 2_000:  # a huge header is parsed once anyway, and not kept
            return super().header_fetch_parse(name, value)
        return _parsed_header(name, value)


_POLICY = _CachingPolicy()


@lru_cache(maxsize=4096)
def _parsed_header(name: str, value: str) -> Any:
    return EmailPolicy.header_fetch_parse(_POLICY, name, value)


def _empty() -> ParsedReply:
    return ParsedReply(None, None, None, "", (), (), None, "", None, "", False, None)


def _guard(fn: Any) -> Any:
    """One field's reading; a malformed mail loses that field only."""
    try:
        return fn()
    except Exception:
        return None


# --- headers -----------------------------------------------------------------------------------------

_ID = re.compile(r"<([^<>\s]+)>")
_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).strip()


def _fix_8bit(value: str) -> str:
    """Raw 8-bit header bytes arrive as surrogates: read them as UTF-8 (else Latin-1)."""
    if value.isascii() or not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _raw_values(msg: Message, name: str) -> list[str]:
    """A header's values as written (unfolded), without the policy's parsing, which can trip on junk.
    The index of all headers is built once per message and kept on it."""
    index: dict[str, list[str]] | None = msg.__dict__.get("_cx_raw_headers")
    if index is None:
        index = {}
        for key, value in msg.raw_items():
            index.setdefault(key.lower(), []).append(_unfold(_fix_8bit(str(value))))
        msg.__dict__["_cx_raw_headers"] = index
    return index.get(name, [])


def _raw(msg: Message, name: str) -> str | None:
    values = _raw_values(msg, name)
    return values[0] if values else None


def _decoded(value: str) -> str:
    """RFC 2047 words decoded; what cannot be decoded is kept as written."""
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def _text_header(msg: Message, name: str) -> str:
    raw = _raw(msg, name)
    if raw is None:
        return ""
    if "=?" not in raw:
        return " ".join(raw.split())
    try:
        value = str(msg[name])
    except Exception:
        value = _decoded(raw)
    return " ".join(_fix_8bit(value).split())


def _message_id(msg: Message) -> str | None:
    raw = _raw(msg, "message-id")
    if not raw:
        return None
    m = _ID.search(raw)
    if m:
        return m.group(1)
    bare = raw.strip().strip("<>").strip()
    return bare.split()[0] if bare else None


def _references(msg: Message) -> tuple[str, ...]:
    ids: list[str] = []
    for name in ("in-reply-to", "references"):
        for raw in _raw_values(msg, name):
            found = _ID.findall(raw)
            if not found and "@" in raw:
                found = [t.strip("<>,;") for t in raw.split() if "@" in t]
            ids.extend(found)
    return tuple(dict.fromkeys(i for i in ids if i))


def _sender(msg: Message) -> tuple[str | None, str | None]:
    raw = _raw(msg, "from")
    if not raw:
        return None, None
    address = name = None
    try:
        addresses = getattr(msg["from"], "addresses", ())
        if addresses:
            address = addresses[0].addr_spec or None
            name = addresses[0].display_name or None
    except Exception:
        pass
    if not address or "@" not in address:
        m = _ADDRESS.search(raw)
        address = m.group(0) if m else None
        if name is None:
            before = raw[: m.start()] if m else raw
            name = _decoded(before).strip().strip("<>\"' ").strip() or None
    if name is not None:
        name = " ".join(_fix_8bit(name).split()).strip("\"' ") or None
    return (address.strip("<>").lower() if address else None), name


_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")


def _tags(msg: Message, local_part: str) -> tuple[str, ...]:
    tag = re.compile(rf"(?<![\w.!#$%&'*+/=?^`{{|}}~-]){re.escape(local_part)}\+([^@\s<>\"',;()]+)@", re.IGNORECASE)
    found: list[str] = []
    for name in _RECIPIENT_HEADERS:
        for raw in _raw_values(msg, name):
            found.extend(tag.findall(raw))
    return tuple(dict.fromkeys(found))


_SUBJECT_TAG = re.compile(r"\[\s*cx\s+([A-Za-z]{2,4}-\d{1,12})\s*\]", re.IGNORECASE)


def _subject_alert(subject: str) -> str | None:
    m = _SUBJECT_TAG.search(subject)
    return m.group(1).upper() if m else None


# --- auto-replies ------------------------------------------------------------------------------------

# Subjects of out-of-office answers: anywhere in the subject when the phrase says "automatic" or "absent"
# outright; at the very start only when the word also opens ordinary subjects ("Absence", "Ferie").
_AUTO_ANYWHERE = (
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|away from (?:the )?office"
    r"|autosvar|automatisk svar|automatiskt svar|fraværende|fraværsmelding|ikke på kontoret|ikke til stede"
    r"|abwesenheitsnotiz|automatische antwort|abwesend|nicht im büro"
    r"|afwezigheidsbericht|automatisch antwoord|niet op kantoor|afwezig"
    r"|frånvaro(?:meddelande)?|inte på kontoret"
    r"|réponse automatique|reponse automatique|absent du bureau|message d'absence"
)
_AUTO_START = r"absence|absent|ferie|semester|vacation|holiday|urlaub|vakantie|congés|on leave"
_AUTO_SUBJECT = re.compile(
    rf"(?<![^\W\d_])(?:{_AUTO_ANYWHERE})(?![^\W\d_])"
    rf"|^\s*(?:(?:re|aw|sv|antw|vs|fw|fwd|wg|tr|ynt)\s*:\s*)*(?:{_AUTO_START})(?![^\W\d_])",
    re.IGNORECASE,
)


def _is_auto_reply(msg: Message, subject: str) -> bool:
    """RFC 3834 and the usual vendor headers, then the subject. X-Auto-Response-Suppress is not a signal:
    Outlook sets it on ordinary mail too."""
    for value in _raw_values(msg, "auto-submitted"):
        if value.split(";")[0].strip().lower() not in ("", "no"):
            return True
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autoreply-from", "x-mail-autoreply"):
        for value in _raw_values(msg, name):
            if value.strip().lower() not in ("no", "false", "0"):
                return True
    if any(v.strip().lower() == "reply" for v in _raw_values(msg, "x-autogenerated")):
        return True
    if any(v.strip().lower() in ("bulk", "auto_reply", "junk", "list") for v in _raw_values(msg, "precedence")):
        return True
    return bool(_AUTO_SUBJECT.search(subject))


# --- bounces -----------------------------------------------------------------------------------------

_DAEMONS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_STATUS_CODE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_COPY_MARKER = re.compile(
    r"^[-\s]*(?:this is a copy of the message|original message follows|the original message"
    r"|undelivered message attached|--- below this line is a copy|included is a copy"
    r"|-+ ?(?:original|returned) message)",
    re.IGNORECASE | re.MULTILINE,
)
_PERMANENT_WORDS = re.compile(
    r"permanent|could not be delivered|couldn't be delivered|wasn't delivered|user unknown|unknown user"
    r"|no such user|does not exist|doesn't exist|mailbox unavailable|address rejected|recipient rejected"
    r"|unzustellbar|existiert nicht|onbestelbaar|kunne ikke leveres|kunde inte levereras|non remis",
    re.IGNORECASE,
)


def _bounce(msg: Message, sender: str | None, sender_name: str | None, local_part: str) -> Bounce | None:
    """A delivery-status report (RFC 3464), or a plain-text bounce from a mailer daemon."""
    if msg.get_content_type() == "multipart/report":
        report_type = str(msg.get_param("report-type") or "").lower()
        if report_type in ("delivery-status", ""):
            found = _dsn(msg)
            if found is not None:
                return found
            if report_type == "delivery-status":
                return _text_bounce(msg, local_part) or Bounce((), None, None)
    local = (sender or "").split("@")[0]
    if local in _DAEMONS or re.search(r"mail delivery (?:system|subsystem)", sender_name or "", re.IGNORECASE):
        return _text_bounce(msg, local_part) or Bounce((), None, None)
    return None


def _dsn(msg: Message) -> Bounce | None:
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        failed: list[str] = []
        first: tuple[str | None, str | None] | None = None  # status and diagnostic, a failed one first
        for block in _dsn_blocks(part):
            recipient = block.get("final-recipient") or block.get("original-recipient")
            if not recipient:
                continue
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            code = _STATUS_CODE.search(block.get("status", ""))
            status = ".".join(code.groups()) if code else None
            permanent = block.get("action", "").strip().lower() == "failed" and (status or "5").startswith("5")
            diagnostic = " ".join(block.get("diagnostic-code", "").split(";", 1)[-1].split()) or None
            if permanent and address:
                if not failed:
                    first = (status, diagnostic)
                failed.append(address)
            elif first is None:
                first = (status, diagnostic)
        status, diagnostic = first or (None, None)
        return Bounce(tuple(dict.fromkeys(failed)), status, diagnostic)
    return None


def _dsn_blocks(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient field blocks, lower-case names."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                blocks.append({k.lower(): _unfold(_fix_8bit(str(v))) for k, v in sub.raw_items()})
        return blocks
    text = payload if isinstance(payload, str) else ""
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text):
        fields: dict[str, str] = {}
        for m in re.finditer(r"^([A-Za-z-]+):[ \t]*(.*(?:\r?\n[ \t]+.*)*)", chunk, re.MULTILINE):
            fields[m.group(1).lower()] = _unfold(m.group(2))
        if fields:
            blocks.append(fields)
    return blocks


def _text_bounce(msg: Message, local_part: str) -> Bounce | None:
    """A non-standard bounce: the addresses its own text names (before the returned copy), when it says
    the failure is permanent (a 5.x.x code or the usual words)."""
    body = _body_text(msg, 50_000)
    m = _COPY_MARKER.search(body)
    if m:
        body = body[: m.start()]
    codes = [".".join(code) for code in _STATUS_CODE.findall(body)]
    permanent = any(c.startswith("5") for c in codes) or (not codes and bool(_PERMANENT_WORDS.search(body)))
    ours = re.compile(rf"^(?:{re.escape(local_part)}(?:\+.*)?|{'|'.join(_DAEMONS)})@", re.IGNORECASE)
    addresses = [a.lower().rstrip(".") for a in _ADDRESS.findall(body)]
    addresses = [a for a in addresses if not ours.match(a)]
    status = next((c for c in codes if c.startswith("5")), codes[0] if codes else None)
    diagnostic = None
    for line in body.splitlines():
        if _STATUS_CODE.search(line) or re.match(r"\s*[45]\d\d[ -]", line):
            diagnostic = " ".join(line.split())
            break
    return Bounce(tuple(dict.fromkeys(addresses)) if permanent else (), status, diagnostic)


# --- the body ----------------------------------------------------------------------------------------


def _body_text(msg: Message, max_chars: int) -> str:
    """The text/plain body, else the text/html one converted; attachments and forwarded mails aside."""
    plain = html = None
    if isinstance(msg, EmailMessage):  # always, with our policy
        plain = _guard(lambda: msg.get_body(preferencelist=("plain",)))
        html = _guard(lambda: msg.get_body(preferencelist=("html",)))
    if plain is None and html is None and not msg.is_multipart():
        # a message with no Content-Type, or an odd one: read it as text when it decodes as text
        maintype = msg.get_content_maintype()
        if maintype == "text" or not msg.get("content-type"):
            plain = msg
    if plain is not None:
        text = _decode_part(plain)
        if str(plain.get_param("format", "")).lower() == "flowed":
            text = _unflow(text, str(plain.get_param("delsp", "")).lower() == "yes")
        if text.strip() or html is None:
            return text
    if html is not None:
        return html_to_text(_decode_part(html)[:_MAX_HTML], max_chars)
    return ""


def _decode_part(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("cp1252", errors="replace")


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: soft line breaks (a trailing space) joined, space-stuffing removed."""
    out: list[str] = []
    current = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        quote = len(line) - len(line.lstrip(">"))
        body = line[quote:].removeprefix(" ")  # space-stuffing
        if body.endswith(" ") and body != "-- ":
            current += (body[:-1] if delsp else body) if quote == 0 else line
            continue
        out.append(current + (body if quote == 0 else line))
        current = ""
    if current:
        out.append(current)
    return "\n".join(out)


# --- HTML to text ------------------------------------------------------------------------------------

_BLOCKS = frozenset(
    "address article aside blockquote center dd div dl dt fieldset figure footer form h1 h2 h3 h4 h5 h6 header "
    "hr li main nav ol p pre section table tbody thead tfoot tr ul".split()
)
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())
_DROP = frozenset(("style", "script", "title", "template", "noscript", "xml"))  # not <head>: often left open
_DROP_CLASSES = ("gmail_signature", "moz-signature")
_DROP_IDS = ("signature", "ms-outlook-mobile-signature")
# Quotes: Gmail's, Thunderbird's, Yahoo's and any <blockquote>. Below text already typed, a quote and all
# after it are old (a top-posted reply; stopping there also spares parsing a long thread); above any text
# (a bottom-posted reply) only the quote is dropped.
_QUOTE_CLASSES = ("gmail_quote", "gmail_attr", "moz-cite-prefix", "yahoo_quoted")
# Outlook puts the quoted original *after* these, not inside them: everything after them is old.
_STOP_IDS = ("divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container", "x_divrplyfwdmsg")


class _HtmlText(HTMLParser):
    def __init__(self, max_chars: int) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.size = 0
        self.max_chars = max_chars
        self.stopped = False
        self.skip_tag: str | None = None
        self.skip_depth = 0
        self.pre = 0
        self.has_text = False

    def _emit(self, s: str) -> None:
        self.out.append(s)
        self.size += len(s)
        if self.size > self.max_chars:
            self.stopped = True

    def _break(self) -> None:
        if self.out and not self.out[-1].endswith("\n"):
            self._emit("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        if self.skip_tag is not None:
            if tag == self.skip_tag and tag not in _VOID:
                self.skip_depth += 1
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        ident = a.get("id", "").lower()
        classes = a.get("class", "").lower().split()
        if ident in _STOP_IDS:
            self.stopped = True
            return
        quote = tag == "blockquote" or any(c in _QUOTE_CLASSES for c in classes)
        if quote and self.has_text:
            self.stopped = True
            return
        if quote or tag in _DROP or ident in _DROP_IDS or any(c in _DROP_CLASSES for c in classes):
            if tag not in _VOID:
                self.skip_tag, self.skip_depth = tag, 1
            return
        if tag == "br":
            self._emit("\n")
        elif tag == "li":
            self._break()
            self._emit("- ")
        elif tag in _BLOCKS:
            self._break()
            if tag == "pre":
                self.pre += 1
        elif tag in ("td", "th"):
            self._emit(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.skip_tag == tag:  # <div class="gmail_quote"/>: nothing to skip
            self.skip_depth -= 1
            if self.skip_depth <= 0:
                self.skip_tag = None

    def handle_endtag(self, tag: str) -> None:
        if self.stopped:
            return
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth <= 0:
                    self.skip_tag = None
            return
        if tag in _BLOCKS:
            self._break()
            if tag == "pre" and self.pre:
                self.pre -= 1

    def handle_data(self, data: str) -> None:
        if self.stopped or self.skip_tag is not None:
            return
        if not self.pre:
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
            if self.out and self.out[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
            if not data:
                return
        self.has_text = self.has_text or not data.isspace()
        self._emit(data)


def html_to_text(html: str, max_chars: int = MAX_CHARS) -> str:
    """Readable text of an HTML mail body, without quoted replies, styles and scripts."""
    parser = _HtmlText(max_chars)
    try:
        for i in range(0, len(html), 16_384):
            parser.feed(html[i : i + 16_384])
            if parser.stopped:
                break
        else:
            parser.close()
    except Exception:
        pass
    text = "".join(parser.out).translate(_SPACES)
    return "\n".join(line.strip() for line in text.split("\n"))


# --- the new text of a reply -------------------------------------------------------------------------

_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\t": " ", "\u200b": None,
                         "\ufeff": None, "\u200e": None, "\u200f": None, "\u2060": None, "\r": None})  # fmt: skip

# "On … wrote:" in each language; Gmail wraps it over two or three lines, so it is matched on joined lines.
_ATTRIBUTION_OPENER = re.compile(
    r"^(?:on|den|am|le|op|el|il|em|dne|dnia|\d{1,4}[./ -]|[^\W\d_]{2,4}\.?,?\s+\d)\b|.*<[^<>\s]*@|.*<$", re.IGNORECASE
)
_ATTRIBUTION_END = re.compile(
    r"\b(?:wrote|writes|skrev|schrieb|a\s+écrit|schreef|het\s+volgende\s+geschreven|kirjoitti|escribió"
    r"|ha\s+scritto|escreveu)\b[^\n]{0,120}?\s*:$",
    re.IGNORECASE,
)
_BLOCK_FROM = re.compile(r"^\**\s*(?:from|fra|frå|von|van|från|de|frá)\s*\**\s*:", re.IGNORECASE)
_BLOCK_FIELD = re.compile(
    r"^\**\s*(?:sent|date|to|subject|cc|sendt|dato|til|emne|kopi|gesendet|datum|an|betreff|verzonden|aan"
    r"|onderwerp|skickat|till|ämne|kopia|envoyé|à|objet|date d'envoi|sendt dato|kopie)\s*\**\s*:",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^[-=_*\s]*(?:original message|oprindelig (?:meddelelse|besked|e-?mail)|opprinnelig (?:melding|e-?post)"
    r"|ursprüngliche nachricht|originalnachricht|oorspronkelijk bericht|origineel bericht|oorspronkelijke bericht"
    r"|ursprungligt meddelande|originalmeddelande|message d'origine|message original|forwarded message"
    r"|videresendt (?:besked|meddelelse|melding)|weitergeleitete nachricht|doorgestuurd bericht"
    r"|vidarebefordrat meddelande|message transféré|original melding)[-=_*\s]*$",
    re.IGNORECASE,
)
_FORWARD_INTRO = re.compile(
    r"^(?:begin forwarded message|start på videresendt (?:besked|meddelelse)|anfang der weitergeleiteten nachricht"
    r"|begin doorgestuurd bericht|vidarebefordrat brev|début du message réexpédié|videresendt melding)\s*:$",
    re.IGNORECASE,
)
_RULE = re.compile(r"^[_\-=]{10,}$")

_MOBILE = re.compile(
    r"^(?:(?:sent|sendt|skickat|envoyé|verzonden|verstuurd|gesendet|enviado|inviato)\s+"
    r"(?:from|fra|från|de|depuis|vanaf|met|von|mit|with|via|à\s+partir\s+de|desde|da|med|fra\s+min)\s+"
    r"(?:my|min|mit|mitt|mine|mon|ma|mijn|meinem|meiner|mein|outlook|mail|yahoo|samsung|iphone|ipad"
    r"|android|galaxy|gmail|huawei|xiaomi|blackberry|proton|aol)(?![^\W\d_])"
    r"|von\s+meinem\s+\S+(?:\s+\S+){0,3}\s+gesendet"
    r"|(?:get|hent|få|skaffa|obtenir|hol dir)\s+outlook\s+(?:for|til|för|pour|für)"
    r"|outlook\s+(?:für|voor)\s+\S+\s+(?:beziehen|downloaden|herunterladen))[^\n]{0,100}$",
    re.IGNORECASE,
)

_DISCLAIMER = re.compile(
    r"^(?:"
    r"(?:this|the information (?:contained )?in this|the contents? of this) (?:e-?mail|message|communication"
    r"|transmission)\b.{0,120}?\b(?:confidential|privileged|intended (?:solely|only)|may contain|is intended)"
    r"|confidentiality notice|disclaimer\s*:|caution: this (?:e-?mail|message) originated"
    r"|denne (?:e-?mail|mail|meddelelse|besked)\b.{0,120}?\b(?:fortrolig|kan indeholde|er kun beregnet"
    r"|er udelukkende|er alene)"
    r"|denne (?:e-?posten|e-?post|eposten|meldingen)\b.{0,120}?\b(?:konfidensiell|fortrolig|kan inneholde"
    r"|er kun ment|er bare ment)"
    r"|(?:diese (?:e-?mail|nachricht)|der inhalt dieser (?:e-?mail|nachricht))\b.{0,120}?\b(?:vertraulich"
    r"|enthält|ist ausschließlich|ist nur)"
    r"|(?:deze e-?mail|dit (?:e-?mail)?bericht)\b.{0,120}?\b(?:vertrouwelijk|kan \w+ informatie|bevat"
    r"|is uitsluitend|is alleen)"
    r"|detta (?:e-?post(?:meddelande)?|mejl|meddelande)\b.{0,120}?\b(?:konfidentiell|kan innehålla|är avsett"
    r"|innehåller|är endast)"
    r"|ce (?:message|courriel|e-?mail|mail)\b.{0,120}?\b(?:confidentiel|est destiné|peut contenir"
    r"|sont établis|est strictement)"
    r")",
    re.IGNORECASE,
)

# Sign-offs. A sign-off cuts the rest only when what follows looks like a signature (a name, a title, a
# phone number), never prose; and a thank-you that opens the note is the note, not a sign-off.
_GRATITUDE = (
    "thanks", "thank you", "many thanks", "thx", "tak", "mange tak", "tusind tak", "takk", "tusen takk",
    "danke", "vielen dank", "danke schön", "bedankt", "dank je", "dank u", "hartelijk dank", "tack",
    "tack så mycket", "stort tack", "merci", "merci beaucoup",
)  # fmt: skip
_SIGNOFFS = _GRATITUDE + (
    "best regards", "kind regards", "warm regards", "regards", "best wishes", "best", "cheers", "br",
    "sincerely", "yours sincerely", "all the best", "thanks and regards", "thanks & regards",
    "med venlig hilsen", "venlig hilsen", "de bedste hilsner", "bedste hilsner", "bedste hilsen", "mvh", "vh",
    "hilsen", "kh", "kærlig hilsen", "på forhånd tak",
    "med vennlig hilsen", "vennlig hilsen", "beste hilsen", "hilsen fra",
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "freundliche grüsse",
    "viele grüße", "viele grüsse", "beste grüße", "beste grüsse", "liebe grüße", "lg", "vg", "mfg", "gruß",
    "grüße", "gruss", "grüsse",
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groet", "vriendelijke groeten",
    "hartelijke groet", "hartelijke groeten", "groet", "groeten", "mvg",
    "med vänlig hälsning", "med vänliga hälsningar", "vänliga hälsningar", "vänlig hälsning", "hälsningar",
    "bästa hälsningar", "hälsning",
    "cordialement", "bien cordialement", "bien à vous", "salutations", "meilleures salutations",
    "sincères salutations", "bonne journée", "bonne réception", "amicalement",
)  # fmt: skip
_SIGNOFF = re.compile(
    r"^(?:"
    + "|".join(re.escape(s).replace(r"\ ", r"\s+") for s in sorted(set(_SIGNOFFS), key=len, reverse=True))
    + r")(?![^\W\d_])[\s,.!:;–-]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_GRATITUDE_LINE = re.compile(
    r"^(?:" + "|".join(re.escape(s).replace(r"\ ", r"\s+") for s in _GRATITUDE) + r")(?![^\W\d_])", re.IGNORECASE
)
_INITIALS = re.compile(r"^/\s?[^\W\d_][\w.-]{0,30}$")  # "/Jens", "/ Anna": a Nordic sign-off


def extract_new_text(
    body: str, *, words: StatusWords | None = None, sender_name: str | None = None, max_chars: int = MAX_CHARS
) -> str:
    """The text the sender typed: without quoted lines, reply headers and what follows them, mobile
    footers, signatures, sign-offs and disclaimers. `words` tells which first line carries a status
    word, so that a thank-you right after it stays part of the note; a last line that is only the
    sender's name (from the From header) is a signature too."""
    text = (body or "").translate(_SPACES)
    lines = [line.rstrip() for line in text.split("\n") if not line.lstrip().startswith(">")]
    text = "\n".join(lines)[:max_chars]
    cut = _cut_headers(text)
    # mail-parser-reply only looks where cxbot's own header rules found nothing (a third of the
    # parsing time, and on the test corpus it never changed a note our rules had already cut).
    text = cut if cut != text else _library_reply(text)
    lines = [line.strip() for line in text.split("\n")]
    lines = _cut_footers(lines, words or StatusWords.default())
    lines = _cut_name(lines, sender_name)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _library_reply(text: str) -> str:
    """mail-parser-reply's first reply: the headers it knows in our languages, in case ours missed one.
    Only its split is used: its signature and disclaimer rules cut notes ("Tak", hyphen lists, "Bemærk:")."""
    if not text.strip():
        return ""
    try:
        parsed = _LibraryMessage(text=text, languages=list(_LIBRARY_LANGUAGES), keep_hyphen_lists=True).read()
    except Exception:
        return text
    replies = parsed.replies
    if not replies:
        return text
    # the header that ended the first reply, or opened it when the text starts with one
    header = replies[0].headers or (replies[1].headers if len(replies) > 1 else "")
    if header and not re.search(r"\d|@", header):
        return text  # no date, no address: a line of the note ("Torben skrev til kunden:"), not a header
    return str(replies[0].full_body)


def _cut_headers(text: str) -> str:
    """Cut at the first reply header. A header with nothing above it is the top of a bottom-posted reply
    when it is an "On … wrote:" line (the quote is gone already: keep what follows); an Outlook block at
    the top means nothing new was typed."""
    lines = text.split("\n")
    start = 0
    while True:
        found = _first_header(lines, start)
        if found is None:
            return "\n".join(lines[start:])
        at, end, attribution = found
        if any(line.strip() for line in lines[start:at]):
            return "\n".join(lines[start:at])
        if not attribution:
            return ""
        start = end


def _first_header(lines: list[str], start: int) -> tuple[int, int, bool] | None:
    """(first line, line after it, is an attribution) of the first reply header from `start`."""
    n = len(lines)
    for i in range(start, n):
        line = lines[i].strip()
        if not line:
            continue
        if _SEPARATOR.match(line) or _FORWARD_INTRO.match(line):
            return i, i + 1, False
        if (
            _BLOCK_FROM.match(line)
            and sum(bool(_BLOCK_FIELD.match(lines[j].strip())) for j in range(i + 1, min(n, i + 7))) >= 2
        ):
            at = i
            prev = i - 1
            while prev >= start and not lines[prev].strip():
                prev -= 1
            if prev >= start and _RULE.match(lines[prev].strip()):
                at = prev
            return at, i + 1, False
        if _RULE.match(line) and i + 1 < n and _BLOCK_FROM.match(lines[i + 1].strip()):
            continue  # the block itself is found on the next line
        if len(line) <= 300 and _ATTRIBUTION_OPENER.match(line):
            joined = line
            for j in range(i, min(n, i + 3)):
                if j > i:
                    nxt = lines[j].strip()
                    if not nxt or joined.endswith((".", "!", "?")):
                        break
                    joined += " " + nxt
                if _ATTRIBUTION_END.search(joined) and re.search(r"\d|@", joined):
                    return i, j + 1, True
    return None


def _cut_footers(lines: list[str], words: StatusWords) -> list[str]:
    """Mobile footers, "-- " signatures and disclaimers cut everything below them; then sign-offs."""
    for i, line in enumerate(lines):
        if line == "--" or (len(line) <= 100 and _MOBILE.match(line)):
            lines = lines[:i]
            break
    for i, line in enumerate(lines):
        if _DISCLAIMER.match(line) and (i == 0 or not lines[i - 1] or _RULE.match(lines[i - 1])):
            lines = lines[:i]
            break
    protected = _first_note_line(lines, words)
    for i, line in enumerate(lines):
        if i == 0 or i == protected:
            continue
        m = _SIGNOFF.match(line)
        if m:
            rest = m.group("rest").strip()
            if len(rest) > 40 or len(rest.split()) > 4:
                continue
        elif not _INITIALS.match(line):
            continue
        if _signature_like(lines[i + 1 :]):
            return lines[:i]
    return lines


def _cut_name(lines: list[str], sender_name: str | None) -> list[str]:
    """A bare name as the last line ("Marc", "/Jens", "Jens Hansen"), when it is the sender's."""
    if not sender_name:
        return lines
    full = " ".join(re.sub(r"\(.*?\)|[\"']", " ", sender_name).split()).casefold()
    names = {full, full.split(" ")[0]} if full else set()
    filled = [i for i, line in enumerate(lines) if line]
    if len(filled) < 2:
        return lines
    last = lines[filled[-1]].strip(" -–—/~.,!").casefold()
    return lines[: filled[-1]] if last in names else lines


def _first_note_line(lines: list[str], words: StatusWords) -> int | None:
    """The index of the line a thank-you may open the note on: the line after a status word standing
    alone on the first line, when that line is a thank-you."""
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        return None
    read = read_status(lines[first], words)
    if read.status is None or read.note:
        return None
    nxt = next((i for i in range(first + 1, len(lines)) if lines[i]), None)
    if nxt is not None and _GRATITUDE_LINE.match(lines[nxt]):
        return nxt
    return None


def _signature_like(lines: list[str]) -> bool:
    """A name, a title, a company, phone numbers, links: short lines, no prose."""
    filled = [line for line in lines if line]
    if len(filled) > 8:
        return False
    for line in filled:
        if len(line) > 80:
            return False
        if len(re.findall(r"[^\W\d_]{2,}", line)) >= 6 and line.endswith((".", "!", "?")):
            return False
    return True
