"""Status words: the "resolved", "løst", "in Bearbeitung" … that a thread reply or a mail's first line starts with."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from bot.domain.values import Status

# Every default form is one nobody starts an ordinary comment with. ASCII spellings are listed only
# where they are no word of their own in the seven languages (or in English, which everyone mixes in).
DEFAULT_RESOLVED: tuple[str, ...] = (
    "resolved",  # English
    "løst",  # Danish, Norwegian. Never its ASCII form "lost": "Lost the customer to …" is a comment.
    "loest",  # ø/ö typed as "oe" (the usual fallback); no word anywhere
    "erledigt",  # German
    "gelöst",  # German
    "geloest",  # German without ö, the standard "oe" spelling; no word anywhere
    "opgelost",  # Dutch
    "löst",  # Swedish ("lost" without the dots: see above)
    "résolu",  # French
    "résolue",  # French, feminine: "l'alerte" / "l'affaire" is feminine
    "resolu",  # French without accents; no English or Nordic word
    "resolue",  # likewise
    "réglé",  # French, "settled". No unaccented "regle": that is "règle" (a rule) typed
    "réglée",  # plainly, and a rhyme in Danish and Norwegian.
)
DEFAULT_ONGOING: tuple[str, ...] = (
    "ongoing",  # English
    "in progress",  # English
    "igangværende",  # Danish
    "igangvaerende",  # Danish with æ typed as "ae"; no word anywhere
    "in bearbeitung",  # German
    "in arbeit",  # German
    "in behandeling",  # Dutch. Not "bezig" ("busy"): it opens plain sentences ("Bezig geweest, maar …").
    "pågående",  # Swedish, also Norwegian
    "pagaende",  # Swedish without å; no word anywhere
    "paagaaende",  # å typed as "aa" (the Danish/Norwegian fallback)
    "en cours",  # French
    "pågår",  # Norwegian. Not "pagar": a Spanish and Portuguese word ("to pay").
    "paagaar",  # Norwegian with å typed as "aa"; no word anywhere
)
# A negation *before* the word needs no list: only a text that starts with a status word counts, so
# "not resolved", "ikke løst", "noch nicht erledigt" are comments anyway. These cancel a word when they
# make up the whole clause right after it: "Resolved – not yet.", "Løst: nej", "Erledigt – noch nicht".
# ("Resolved: not the customer's fault, …" still resolves: the negation does not end the clause.)
DEFAULT_NEGATIONS: tuple[str, ...] = (
    "not", "not yet", "no",  # English
    "ikke", "ikke endnu", "endnu ikke", "nej",  # Danish
    "ikke ennå", "ennå ikke", "nei",  # Norwegian
    "nicht", "noch nicht", "nein",  # German
    "niet", "nog niet", "nee",  # Dutch
    "inte", "inte än", "inte ännu", "ännu inte",  # Swedish ("nej" above)
    "pas", "pas encore", "non",  # French
)  # fmt: skip

# Ignored before the word: whitespace, list bullets, a quote mark, Markdown/Slack emphasis (* and _).
# Not "~": in Slack that strikes the word out.
_LEAD = r"[\s>*_\-‐‑‒–—―•·◦‣▪●\"'“”„‘’‚«»‹›]*"
# Closing emphasis or quote right after the word; French sets guillemets apart: « Résolu » …
_CLOSE = r"[*_\"'“”„‘’‚«»‹›]*(?:[^\S\n]+[»›](?![^\W_]))?"
# Between the word and the note, on the word's own line: a line break ends it, so a note that is a
# hyphen list keeps its first hyphen.
_SEP = r"(?:[^\S\n]|[:;,.!…\-‐‑‒–—―>→])*"
_LETTER = r"[^\W_]"  # a letter or digit: the word must not run on into one
# The end of a clause after a negation. A hyphen only with a space before it: "Resolved: no-show, …" resolves.
_CLAUSE_END = r"(?:[^\S\n]*(?:[.,;:!?…)\"'”’»]|\n|\Z)|[^\S\n]+[\-–—])"


@dataclass(frozen=True)
class StatusWords:
    """The words that set a status at the start of a reply, and the negations that cancel one."""

    resolved: tuple[str, ...]
    ongoing: tuple[str, ...]
    negations: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("resolved", "ongoing", "negations"):
            words = getattr(self, name)
            if isinstance(words, str):
                raise ValueError(f"status words {name}: a list of words, not one string")
            object.__setattr__(self, name, tuple(words))  # a TOML list arrives as a list
            for w in getattr(self, name):
                if not isinstance(w, str) or not _key(w):
                    raise ValueError(f"status words {name}: {w!r} is not a word")
        both = {_key(w) for w in self.resolved} & {_key(w) for w in self.ongoing}
        if both:
            raise ValueError(f"status words: {', '.join(sorted(both))} cannot mean both resolved and ongoing")

    @classmethod
    def default(cls) -> StatusWords:
        return _DEFAULT

    def merged(
        self, resolved: Iterable[str] = (), ongoing: Iterable[str] = (), negations: Iterable[str] = ()
    ) -> StatusWords:
        """These words plus a group's own (from the rules file); a word given twice is kept once."""
        return StatusWords(
            _union(self.resolved, resolved), _union(self.ongoing, ongoing), _union(self.negations, negations)
        )


@dataclass(frozen=True)
class StatusRead:
    status: Status | None  # None: no status word; the text is a plain comment
    note: str  # after the word on its line plus the lines below, stripped; the whole text if no status
    word: str | None  # the word as typed (NFC), e.g. "LØST" or "in   Bearbeitung"


def read_status(text: str, words: StatusWords) -> StatusRead:
    """The status a reply sets: a status word at the very start (after bullets, quote marks and
    emphasis), case and Unicode composition as typed, ending at a word boundary. A question
    ("Resolved?") or a negation making up the rest of the clause ("Resolved – not yet") is a comment.
    A word with nothing after it gives an empty note; callers refuse it. The note is NFC-normalised."""
    nfc = unicodedata.normalize("NFC", text)
    folded = nfc.casefold()
    aligned = len(folded) == len(nfc)  # no "ß" → "ss": an index in one is the same in the other
    matcher = _matcher(words)
    plain = StatusRead(None, nfc.strip(), None)
    m = matcher.start.match(folded)
    if m is None:
        return plain
    word_end, end = m.end("word"), m.end()
    if word_end < len(folded) and unicodedata.category(folded[word_end]).startswith("M"):
        return plain  # an accent on the last letter makes it another word
    if folded.startswith("?", end) or matcher.negation.match(folded, end):
        return plain

    def at(i: int) -> int:
        return i if aligned else _unfolded(nfc, i)

    status = matcher.status[" ".join(m.group("word").split())]
    return StatusRead(status, nfc[at(end) :].strip(), nfc[at(m.start("word")) : at(word_end)])


@dataclass(frozen=True)
class _Matcher:
    start: re.Pattern[str]  # lead, the word, closing emphasis and separators
    negation: re.Pattern[str]  # a negation that ends the clause, matched where the note would start
    status: dict[str, Status]  # folded word (single spaces) → status


@lru_cache(maxsize=64)
def _matcher(words: StatusWords) -> _Matcher:
    status = {_key(w): Status.RESOLVED for w in words.resolved} | {_key(w): Status.ONGOING for w in words.ongoing}
    start = re.compile(rf"{_LEAD}(?P<word>{_alternatives(status)})(?!{_LETTER}){_CLOSE}{_SEP}")
    negs = {_key(w) for w in words.negations}
    negation = re.compile(
        rf"[*_\"'“„«‘‚]*(?:{_alternatives(negs)})(?!{_LETTER}){_CLOSE}{_CLAUSE_END}"
        if negs
        else r"(?!)"
    )
    return _Matcher(start, negation, status)


def _alternatives(keys: Iterable[str]) -> str:
    """One alternation, longest phrase first; words of a phrase match across any whitespace."""
    ordered = sorted(keys, key=lambda k: (-len(k), k))
    return "|".join(r"\s+".join(re.escape(part) for part in k.split(" ")) for k in ordered)


def _key(word: str) -> str:
    return " ".join(unicodedata.normalize("NFC", word).casefold().split())


def _unfolded(text: str, folded_index: int) -> int:
    """The index in `text` of what is at `folded_index` in `text.casefold()` ("ß" folds to "ss")."""
    n = 0
    for i, ch in enumerate(text):
        if n >= folded_index:
            return i
        n += len(ch.casefold())
    return len(text)


def _union(ours: tuple[str, ...], theirs: Iterable[str]) -> tuple[str, ...]:
    seen = {_key(w) for w in ours}
    added = []
    for w in theirs:
        key = _key(w) if isinstance(w, str) else w  # not a string: __post_init__ says so
        if key not in seen:
            seen.add(key)
            added.append(w)
    return ours + tuple(added)


_DEFAULT = StatusWords(DEFAULT_RESOLVED, DEFAULT_ONGOING, DEFAULT_NEGATIONS)
