"""The customer message in the dealer system (seed 004, ID612): the dealer's own text plus cxbot's detractor part.

The dealer system (eAutomate's "Service & Sales Message") keeps one subject of at most 32 characters and one
body of at most 1,024, counted in characters (Unicode code points, `len(str)`), not bytes. cxbot writes its
part into that message so staff see it whenever they open a call or an order for the customer, and takes it
out again once the customer's most recent answer is no longer a detractor. The dealer's own text ("your old
info stays") is never changed, shortened or moved: cxbot's part is added beside it and found again by fixed
markers.

Subject: cxbot's tag is put in front, followed by one space when the dealer has a subject of its own:

    [NPS 3] Key account – call Bob

The tag is `[NPS 3]`, or `[NPS]` when the score does not fit. A subject is cxbot's only from its first
character: a tag (or several, each followed by at most one space) at the very start is removed together
with the one space after it; a tag anywhere else is the dealer's text.

Body: cxbot's part is a block of whole lines at the top, between an opening line `[cxbot]` and a closing
line `[/cxbot]`; the closing line's own line break separates it from the dealer's text (no line break
follows when the dealer's body is empty):

    [cxbot]
    NPS 3 detractor – give this customer a perfect experience.
    Service survey, answered 2026-03-02, contact: Bob Jensen
    “The car was not ready when promised and nobody…”
    [/cxbot]
    <the dealer's text, byte for byte>

The block's first line is the headline (always starting "NPS n"), the second the optional details, the last
the customer's comment in quotes; the comment, the contact and the survey name are folded onto one line,
so nothing cxbot writes can ever look like a marker. A marker line may carry spaces or tabs around it and
end in LF or CRLF. Line breaks follow the dealer's text: CRLF if it has any, else LF if it has any, else
what an old cxbot block used, else `newline` (default CRLF: eAutomate is a Windows application, whose text
boxes break lines only on CRLF). cxbot's own wording uses only characters found in Windows-1252 (– … “ „ »),
so a non-Unicode column keeps them.

When cxbot's part does not fit beside the dealer's text it is shortened by rule, each step only when the
previous one still does not fit:
  1. the comment is cut at a word boundary and ends in "…" (a single word longer than the room is cut
     inside the word when at least 10 characters of it fit), and left out when nothing of it fits;
  2. the details are dropped: first the contact, then the survey name, then the date (the comment then
     gets whatever room the shorter details leave);
  3. the minimal form: "NPS 3 detractor – give a perfect experience", without details or comment.
If even the minimal form does not fit, nothing is cut from the dealer's text: cxbot's part is left out and
`error` names the limit ("body: the dealer's text is 1,000 of 1,024 characters; cxbot needs 64 — shorten it
to 960 or fewer"). Subject and body are decided separately.

Damaged markers. Markers pair like brackets: a closing line closes the nearest opening line before it that
is still open, so nested pairs are one block and text between an unmatched opening line and the next pair
is never taken. Every matched pair is cxbot's and is removed with its lines (each line with its own line
break); a marker line without a partner — the dealer deleted the other one, or typed one — is kept as the
dealer's text, together with everything around it, because nothing proves where cxbot's text would end.
Such leftovers (and any "[cxbot]"/"[/cxbot]" inside a longer line) are reported in `error` on every run
until the dealer removes them; cxbot's new block is still written at the top. A matched block anywhere
in the body (the dealer may have moved it) is replaced by the one new block at the top.

When the dealer's text is over a limit by itself, it is returned as it is with an error; an old cxbot part
is always removed when the new one cannot be written, so no stale score stays behind.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

SUBJECT_LIMIT = 32
BODY_LIMIT = 1024

SUBJECT_TAG = "[NPS {nps}]"
SUBJECT_TAG_SHORT = "[NPS]"
SUBJECT_SEPARATOR = " "
_SUBJECT_TAG_RE = re.compile(r"\[NPS(?: \d{1,2})?\]")

BODY_OPEN = "[cxbot]"
BODY_CLOSE = "[/cxbot]"
CRLF = "\r\n"
LF = "\n"
DEFAULT_NEWLINE = CRLF

# A word longer than the room is cut inside the word only when this much of it survives.
MIN_HARD_CUT = 10
ELLIPSIS = "…"


@dataclass(frozen=True)
class DetractorFacts:
    """What cxbot knows of the customer's most recent answer, a detractor."""

    nps: int
    answered_on: date
    comment: str | None
    survey: str | None = None  # a `Survey` value ("sales", "service", "lost_sales") or a name shown as is
    contact: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.nps <= 10:
            raise ValueError(f"an NPS score is 0–10, not {self.nps}")


@dataclass(frozen=True)
class MessageResult:
    subject: str
    body: str
    changed: bool  # differs from the message passed in
    error: str | None  # "subject: …; body: …" — a limit exceeded or a damaged marker, else None


@dataclass(frozen=True)
class _Wording:
    headline: str
    minimal: str
    surveys: dict[str, str]
    answered: str
    contact: str
    quotes: tuple[str, str]
    date_format: str


_WORDING = {
    "en": _Wording(
        headline="NPS {nps} detractor – give this customer a perfect experience.",
        minimal="NPS {nps} detractor – give a perfect experience",
        surveys={"sales": "Sales survey", "service": "Service survey", "lost_sales": "Lost-sales survey"},
        answered="answered {date}",
        contact="contact: {name}",
        quotes=("“", "”"),
        date_format="{d:%Y-%m-%d}",
    ),
    "da": _Wording(
        headline="NPS {nps}, kritiker – giv denne kunde en perfekt oplevelse.",
        minimal="NPS {nps}, kritiker – giv en perfekt oplevelse",
        surveys={
            "sales": "Salgsundersøgelse",
            "service": "Serviceundersøgelse",
            "lost_sales": "Undersøgelse om tabt salg",
        },
        answered="besvaret {date}",
        contact="kontakt: {name}",
        quotes=("»", "«"),
        date_format="{d.day}.{d.month}.{d.year}",
    ),
    "de": _Wording(
        headline="NPS {nps}, Kritiker – bieten Sie diesem Kunden ein perfektes Erlebnis.",
        minimal="NPS {nps}, Kritiker – perfektes Erlebnis bieten",
        surveys={
            "sales": "Verkaufsumfrage",
            "service": "Serviceumfrage",
            "lost_sales": "Umfrage zu verlorenem Verkauf",
        },
        answered="beantwortet am {date}",
        contact="Kontakt: {name}",
        quotes=("„", "“"),
        date_format="{d:%d.%m.%Y}",
    ),
}
LANGUAGES = tuple(_WORDING)


def compose(
    subject: str, body: str, facts: DetractorFacts | None, lang: str = "en", *, newline: str = DEFAULT_NEWLINE
) -> MessageResult:
    """The message to write back: the dealer's own text unchanged, plus cxbot's part when `facts` is a
    detractor answer (None: cxbot's part is removed). Same input twice gives the same output."""
    if newline not in (CRLF, LF):
        raise ValueError("newline must be CRLF or LF")
    own_subject = _strip_subject(subject)
    own_body, stray = _strip_body(body)
    errors: list[str] = []

    new_subject = own_subject
    tag = _subject_part(facts, SUBJECT_LIMIT - len(own_subject) - _sep_len(own_subject, SUBJECT_SEPARATOR))
    if tag is not None:
        new_subject = tag + SUBJECT_SEPARATOR + own_subject if own_subject else tag
    elif facts is not None or len(own_subject) > SUBJECT_LIMIT:
        need = len(SUBJECT_TAG_SHORT) + _sep_len(own_subject, SUBJECT_SEPARATOR) if facts is not None else 0
        errors.append(_limit_error("subject", len(own_subject), SUBJECT_LIMIT, need))

    nl = _newline_of(own_body) or _newline_of(body) or newline
    new_body = own_body
    wording = _wording(lang)
    block = _body_part(facts, wording, nl, BODY_LIMIT - len(own_body) - _sep_len(own_body, nl))
    if block is not None:
        new_body = block + nl + own_body if own_body else block
    elif facts is not None or len(own_body) > BODY_LIMIT:
        # Counted with the line breaks the next write will use: an old block's are gone once this is returned.
        nl = _newline_of(own_body) or newline
        need = len(_block([_minimal(facts, wording)], nl)) + _sep_len(own_body, nl) if facts is not None else 0
        errors.append(_limit_error("body", len(own_body), BODY_LIMIT, need))
    if stray:
        errors.append(
            "body: a cxbot marker without its partner (a lone [cxbot] or [/cxbot]) was kept as the dealer's "
            "text — remove the leftover cxbot lines by hand"
        )

    return MessageResult(
        subject=new_subject,
        body=new_body,
        changed=(new_subject, new_body) != (subject, body),
        error="; ".join(errors) or None,
    )


def strip_ours(subject: str, body: str) -> tuple[str, str]:
    """The dealer's own text: the message with every part cxbot can prove is its own removed."""
    return _strip_subject(subject), _strip_body(body)[0]


# --- subject ---------------------------------------------------------------------------------------------


def _strip_subject(subject: str) -> str:
    while m := _SUBJECT_TAG_RE.match(subject):
        subject = subject[m.end() :]
        subject = subject.removeprefix(SUBJECT_SEPARATOR)
    return subject


def _subject_part(facts: DetractorFacts | None, room: int) -> str | None:
    if facts is None:
        return None
    for tag in (SUBJECT_TAG.format(nps=facts.nps), SUBJECT_TAG_SHORT):
        if len(tag) <= room:
            return tag
    return None


# --- body ------------------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """Lines with their own "\\n" (a CR before it stays part of the line); joined, they give `text` back."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _marker(line: str) -> str | None:
    core = line.removesuffix("\n").strip(" \t\r")
    return core if core in (BODY_OPEN, BODY_CLOSE) else None


def _strip_body(body: str) -> tuple[str, bool]:
    """The body without cxbot's blocks, and whether a marker without a partner (or inside a line) is left."""
    lines = _lines(body)
    opened: list[int] = []
    ours: set[int] = set()
    for j, line in enumerate(lines):
        kind = _marker(line)
        if kind == BODY_OPEN:
            opened.append(j)
        elif kind == BODY_CLOSE and opened:
            ours.update(range(opened.pop(), j + 1))
    own = "".join(line for i, line in enumerate(lines) if i not in ours)
    return own, BODY_OPEN in own or BODY_CLOSE in own


def _newline_of(text: str) -> str | None:
    if CRLF in text:
        return CRLF
    return LF if LF in text else None


def _sep_len(own: str, separator: str) -> int:
    return len(separator) if own else 0


def _wording(lang: str) -> _Wording:
    base = lang.replace("_", "-").split("-")[0].lower()
    return _WORDING.get(base, _WORDING["en"])


def _one_line(text: str | None) -> str:
    """Whitespace and control characters folded into single spaces, composed (NFC) so "é" counts once."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return " ".join(text.split())


def _minimal(facts: DetractorFacts, wording: _Wording) -> str:
    return wording.minimal.format(nps=facts.nps)


def _details(facts: DetractorFacts, wording: _Wording) -> list[str]:
    """Each detail line cxbot may write, longest first, ending with none (""): contact goes first, then the
    survey name, then the date."""
    when = wording.answered.format(date=wording.date_format.format(d=facts.answered_on))
    survey = _one_line(facts.survey)
    survey = wording.surveys.get(survey, survey)
    contact = _one_line(facts.contact)
    full = [survey, when, wording.contact.format(name=contact) if contact else ""]
    options = [full, full[:2], [when], []]
    lines: list[str] = []
    for option in options:
        line = ", ".join(p for p in option if p)
        if line not in lines:
            lines.append(line)
    return lines


def _block(content: list[str], nl: str) -> str:
    return nl.join([BODY_OPEN, *content, BODY_CLOSE])


def _body_part(facts: DetractorFacts | None, wording: _Wording, nl: str, room: int) -> str | None:
    if facts is None:
        return None
    headline = wording.headline.format(nps=facts.nps)
    comment = _one_line(facts.comment)
    for details in _details(facts, wording):
        content = [headline, details] if details else [headline]
        if len(_block(content, nl)) > room:
            continue
        if comment:
            left = room - len(_block(content, nl)) - len(nl) - len(wording.quotes[0]) - len(wording.quotes[1])
            cut = _cut(comment, left)
            if cut:
                content.append(wording.quotes[0] + cut + wording.quotes[1])
        return _block(content, nl)
    minimal = _block([_minimal(facts, wording)], nl)
    return minimal if len(minimal) <= room else None


def _cut(text: str, room: int) -> str | None:
    """`text` if it fits in `room` characters, else its longest start that ends at a word and fits with "…"."""
    if len(text) <= room:
        return text
    keep = room - len(ELLIPSIS)
    if keep <= 0:
        return None
    head, space = "", len(text)
    while (space := text.rfind(" ", 0, space)) > 0:  # "promised, nobody": "promised" ends a word too
        head = text[:space].rstrip(" ,;:")
        if len(head) <= keep:
            break
        head = ""
    if not head and keep >= MIN_HARD_CUT:
        head = _safe_prefix(text, keep)
    return head + ELLIPSIS if head else None


def _safe_prefix(text: str, n: int) -> str:
    """text[:n], moved back so no accent, variation selector, skin tone or joined emoji is split."""
    while n > 0 and (_joins_previous(text[n]) or text[n - 1] == "\u200d"):
        n -= 1
    return text[:n]


def _joins_previous(c: str) -> bool:
    return (
        unicodedata.combining(c) != 0
        or c == "\u200d"
        or "\ufe00" <= c <= "\ufe0f"
        or "\U0001f3fb" <= c <= "\U0001f3ff"
        or "\U000e0020" <= c <= "\U000e007f"  # tag characters (flag subdivisions)
    )


def _limit_error(part: str, own: int, limit: int, need: int) -> str:
    if need == 0:
        return f"{part}: the dealer's text is {own:,} of {limit:,} characters — shorten it to {limit:,} or fewer"
    return (
        f"{part}: the dealer's text is {own:,} of {limit:,} characters; cxbot needs {need:,} — "
        f"shorten it to {max(limit - need, 0):,} or fewer"
    )
