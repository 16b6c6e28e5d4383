"""Status words at the start of a reply: every language's words, how people type them, negations, near misses."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from bot.domain.status_words import (
    DEFAULT_NEGATIONS,
    DEFAULT_ONGOING,
    DEFAULT_RESOLVED,
    StatusRead,
    StatusWords,
    _matcher,
    read_status,
)
from bot.domain.values import Status

R, O = Status.RESOLVED, Status.ONGOING
WORDS = StatusWords.default()
DEFAULTS = [(w, R) for w in DEFAULT_RESOLVED] + [(w, O) for w in DEFAULT_ONGOING]
SEPARATORS = [" ", ": ", ":", " : ", " - ", " – ", " — ", "—", "-", ", ", ". ", "! ", "!!! ", "… ", "... "]
SEPARATORS += ["\n", ":\n\n", "; "]


def read(text: str) -> StatusRead:
    return read_status(text, WORDS)


def plain(text: str) -> StatusRead:
    return StatusRead(None, unicodedata.normalize("NFC", text).strip(), None)


# --- the table ---------------------------------------------------------------------------------------


# As the issue lists them, typed as people type them.
@pytest.mark.parametrize(
    ("text", "status", "word", "note"),
    [
        ("Resolved: called the customer, new date agreed", R, "Resolved", "called the customer, new date agreed"),
        ("ongoing - left a voicemail", O, "ongoing", "left a voicemail"),
        ("In progress: waiting for the part", O, "In progress", "waiting for the part"),
        ("Løst: ringet til kunden, ny tid aftalt", R, "Løst", "ringet til kunden, ny tid aftalt"),
        ("Igangværende – venter på reservedel", O, "Igangværende", "venter på reservedel"),
        ("Erledigt. Kunde angerufen, neuer Termin", R, "Erledigt", "Kunde angerufen, neuer Termin"),
        ("Gelöst: Ersatzwagen gestellt", R, "Gelöst", "Ersatzwagen gestellt"),
        ("In Bearbeitung: Teil bestellt", O, "In Bearbeitung", "Teil bestellt"),
        ("in Arbeit, Rückruf morgen", O, "in Arbeit", "Rückruf morgen"),
        ("Opgelost, klant gebeld", R, "Opgelost", "klant gebeld"),
        ("In behandeling: offerte gestuurd", O, "In behandeling", "offerte gestuurd"),
        ("Löst – kunden är nöjd", R, "Löst", "kunden är nöjd"),
        ("Pågående: väntar på svar", O, "Pågående", "väntar på svar"),
        ("Résolu : client rappelé", R, "Résolu", "client rappelé"),  # French space before the colon
        ("Résolue. Geste commercial accordé", R, "Résolue", "Geste commercial accordé"),
        ("Réglé — client satisfait", R, "Réglé", "client satisfait"),
        ("En cours : rendez-vous jeudi", O, "En cours", "rendez-vous jeudi"),
        ("Pågår: venter på tilbakemelding", O, "Pågår", "venter på tilbakemelding"),
        ("Løst, kunden fikk ny bil", R, "Løst", "kunden fikk ny bil"),  # Norwegian, same word as Danish
    ],
)
def test_each_language_reads_status_and_note(text: str, status: Status, word: str, note: str) -> None:
    assert read(text) == StatusRead(status, note, word)


@pytest.mark.parametrize(("word", "status"), DEFAULTS)
def test_every_default_word_with_a_note(word: str, status: Status) -> None:
    assert read(f"{word}: rang the customer") == StatusRead(status, "rang the customer", word)


@pytest.mark.parametrize(("word", "status"), DEFAULTS)
def test_every_default_word_alone_gives_an_empty_note(word: str, status: Status) -> None:
    assert read(word) == StatusRead(status, "", word)
    assert read(f"  {word}.  \n") == StatusRead(status, "", word)


@pytest.mark.parametrize(("word", "status"), DEFAULTS)
@pytest.mark.parametrize("case", [str.upper, str.lower, str.title, str.capitalize, str.swapcase])
def test_case_does_not_matter(word: str, status: Status, case: object) -> None:
    typed = case(word)  # type: ignore[operator]
    assert read(f"{typed} - done today") == StatusRead(status, "done today", typed)


@pytest.mark.parametrize(
    ("ascii_form", "status"),
    [
        ("loest", R),
        ("geloest", R),
        ("resolu", R),
        ("resolue", R),
        ("igangvaerende", O),
        ("pagaende", O),
        ("paagaaende", O),
        ("paagaar", O),
    ],
)
def test_ascii_spellings_without_special_letters(ascii_form: str, status: Status) -> None:
    assert read(f"{ascii_form.capitalize()}: ok").status is status


# Ordinary words that an accent-less spelling of a status word would collide with.
@pytest.mark.parametrize(
    "text",
    [
        "Lost the customer to another dealer, sadly",  # "løst"/"löst" without the special letter
        "lost: customer bought elsewhere",
        "Pagar la factura",  # "pågår" without å is Spanish "to pay"
        "Regle: always call back within 24h",  # "règle" (a rule) typed plainly; a rhyme in Danish
        "Bezig geweest maar de klant neemt niet op",  # Dutch "busy": opens plain sentences
        "Done: called her",  # not in the table: too common as an ordinary word
        "Fixed the brakes",
        "Resolve this please",
    ],
)
def test_ordinary_words_are_no_status(text: str) -> None:
    assert read(text) == plain(text)


def test_default_table_has_each_language_of_the_issue() -> None:
    resolved = {unicodedata.normalize("NFC", w) for w in DEFAULT_RESOLVED}
    ongoing = set(DEFAULT_ONGOING)
    assert {"resolved", "løst", "erledigt", "opgelost", "löst", "résolu"} <= resolved
    assert {"ongoing", "igangværende", "in bearbeitung", "in behandeling", "pågående", "en cours", "pågår"} <= ongoing
    assert "lost" not in resolved and "pagar" not in ongoing and "bezig" not in ongoing
    assert StatusWords.default() is StatusWords.default()


# --- how it is typed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "status"), [(w, s) for w, s in DEFAULTS if unicodedata.normalize("NFD", w) != w])
def test_decomposed_accents_match(word: str, status: Status) -> None:
    """macOS and some mail clients send "ö" as "o" + combining diaeresis."""
    nfd = unicodedata.normalize("NFD", f"{word.upper()}: kunden är nöjd")
    assert read(nfd) == StatusRead(status, "kunden är nöjd", unicodedata.normalize("NFC", word.upper()))


def test_decomposed_text_without_a_status_word_comes_back_composed() -> None:
    nfd = unicodedata.normalize("NFD", "Kunden är nöjd")
    assert read(nfd) == StatusRead(None, "Kunden är nöjd", None)


def test_a_combining_accent_on_the_last_letter_makes_another_word() -> None:
    assert read("resolve\u0301d").status is None  # an accent on the d: not the word
    assert read("resolved\u0301: x").status is None


@pytest.mark.parametrize(
    "punctuation", [".", "!", "!!!", ":", "::", ";", ",", "…", "...", " -", " –", " —", " :", " →", " ->"]
)
def test_trailing_punctuation_is_ignored(punctuation: str) -> None:
    assert read(f"Resolved{punctuation}") == StatusRead(R, "", "Resolved")
    assert read(f"Løst{punctuation} ringet op") == StatusRead(R, "ringet op", "Løst")


@pytest.mark.parametrize(
    ("text", "word", "note"),
    [
        ("RESOLVED!", "RESOLVED", ""),
        ("Resolved.", "Resolved", ""),
        ("resolved:", "resolved", ""),
        ("resolved - called her", "resolved", "called her"),
        ("resolved – called her", "resolved", "called her"),
        ("resolved—called her", "resolved", "called her"),
        ("Resolved-called her", "Resolved", "called her"),
        ("resolved:called her", "resolved", "called her"),
        ("resolved (called her)", "resolved", "(called her)"),
        ("resolved\tcalled her", "resolved", "called her"),
    ],
)
def test_separators_between_word_and_note_are_dropped(text: str, word: str, note: str) -> None:
    assert read(text) == StatusRead(R, note, word)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("*resolved*: called her", "resolved"),
        ("_løst_ ringet op", "løst"),
        ("*_erledigt_* Kunde angerufen", "erledigt"),
        ("**Resolved** called her", "Resolved"),
        ("> resolved: called her", "resolved"),
        ("- resolved: called her", "resolved"),
        ("• løst: ringet op", "løst"),
        ("* Opgelost, klant gebeld", "Opgelost"),
        ('"Resolved" called her', "Resolved"),
        ("„Erledigt“ Kunde angerufen", "Erledigt"),
        ("« Résolu » client rappelé", "Résolu"),
        ("   \n\n  Resolved: called her", "Resolved"),
        ("\u00a0Resolved: called her", "Resolved"),
    ],
)
def test_leading_space_bullets_quotes_and_emphasis_are_ignored(text: str, word: str) -> None:
    read_ = read(text)
    assert read_.status is R and read_.word == word
    assert read_.note in {"called her", "ringet op", "Kunde angerufen", "klant gebeld", "client rappelé"}


def test_emphasis_in_the_note_is_kept() -> None:
    assert read("*resolved*: *called her* _twice_").note == "*called her* _twice_"


def test_struck_out_word_is_no_status() -> None:
    assert read("~resolved~ after all not") == plain("~resolved~ after all not")


@pytest.mark.parametrize(
    ("text", "status", "word", "note"),
    [
        ("in   Bearbeitung: Teil bestellt", O, "in   Bearbeitung", "Teil bestellt"),
        ("in\tprogress: waiting", O, "in\tprogress", "waiting"),
        ("En\u00a0cours : rappel demain", O, "En\u00a0cours", "rappel demain"),
        ("In\nbehandeling\nofferte gestuurd", O, "In\nbehandeling", "offerte gestuurd"),
    ],
)
def test_phrases_match_across_any_whitespace(text: str, status: Status, word: str, note: str) -> None:
    assert read(text) == StatusRead(status, note, word)


def test_note_keeps_its_lines() -> None:
    text = "Resolved: called her\n\nNew date: Friday.\n  Courtesy car booked.  \n\n"
    assert read(text).note == "called her\n\nNew date: Friday.\n  Courtesy car booked."


def test_note_may_start_on_the_next_line_and_keeps_a_hyphen_list() -> None:
    assert read("Løst:\n- ringet op\n- ny tid fredag") == StatusRead(R, "- ringet op\n- ny tid fredag", "Løst")
    assert read("Erledigt\n\nKunde angerufen.\nTermin Freitag.").note == "Kunde angerufen.\nTermin Freitag."


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "*", "- "])
def test_empty_text_is_an_empty_comment(text: str) -> None:
    assert read(text) == StatusRead(None, text.strip(), None)


# --- negations, questions, mid-sentence ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "not resolved",
        "Not resolved, customer still waiting",
        "NOT resolved yet",
        "not yet resolved",
        "*Not* resolved",
        "not ongoing",
        "ikke løst",
        "Ikke løst endnu, kunden venter",
        "endnu ikke løst",
        "ikke igangværende",
        "Ikke løst ennå",  # Norwegian
        "ennå ikke løst",
        "ikke pågår",
        "noch nicht erledigt",
        "Nicht erledigt: Kunde nicht erreicht",
        "nicht in Bearbeitung",
        "niet opgelost",
        "Nog niet opgelost",
        "niet in behandeling",
        "inte löst",
        "Inte löst än",
        "ännu inte löst",
        "inte pågående",
        "pas résolu",
        "Pas encore résolu",
        "non résolu",
        "pas en cours",
    ],
)
def test_a_negation_before_the_word_is_a_comment(text: str) -> None:
    assert read(text) == plain(text)


@pytest.mark.parametrize(
    "text",
    [
        "Resolved - not yet",
        "Resolved: not yet, waiting for the part",
        "Resolved — no.",
        "Ongoing: not",
        "Løst: ikke endnu.",
        "Løst – nej",
        "Løst - ikke ennå",
        "Pågår: nei",
        "Erledigt – noch nicht",
        "Erledigt: nein!",
        "Opgelost: nog niet",
        "Opgelost - nee",
        "Löst: inte än",
        "Löst – inte ännu",
        "Résolu : pas encore.",
        "Résolu : non",
        "Resolved: *not yet*",
        "Resolved - NOT YET\nwaiting for the part",
    ],
)
def test_a_negation_making_up_the_clause_after_the_word_is_a_comment(text: str) -> None:
    assert read(text) == plain(text)


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("Resolved: not the customer's fault, part replaced", "not the customer's fault, part replaced"),
        ("Ongoing - not reachable today, calling tomorrow", "not reachable today, calling tomorrow"),
        ("Resolved: no-show, closing", "no-show, closing"),
        ("Resolved: no answer after three calls, closing", "no answer after three calls, closing"),
        ("Resolved: nothing more to do", "nothing more to do"),
        ("Løst, ikke endnu betalt", "ikke endnu betalt"),
        ("Erledigt: nicht unsere Schuld, Teil getauscht", "nicht unsere Schuld, Teil getauscht"),
        ("Résolu : pas de frais pour le client", "pas de frais pour le client"),
    ],
)
def test_a_negation_that_does_not_end_the_clause_is_part_of_the_note(text: str, note: str) -> None:
    assert read(text).note == note and read(text).status is not None


@pytest.mark.parametrize(
    "text", ["Resolved?", "resolved ?", "Løst? Nej", "Erledigt?! Noch nicht", "*resolved?* not sure"]
)
def test_a_question_is_a_comment(text: str) -> None:
    assert read(text) == plain(text)


@pytest.mark.parametrize(
    "text",
    [
        "I think it is resolved",
        "Customer says: resolved",
        "Kunden er tilfreds, løst",
        "Das ist erledigt",
        "Het is opgelost",
        "C'est résolu",
        "Status: ongoing",
        "Unresolved: customer still angry",
        "Unerledigt",
        "Ikkeløst",
    ],
)
def test_a_word_not_at_the_start_is_a_comment(text: str) -> None:
    assert read(text) == plain(text)


@pytest.mark.parametrize(
    "text",
    [
        "resolvedness is a word now",
        "Resolvedly",
        "Erledigtes bitte ablegen",
        "Løsten er fundet",
        "Löste problemet själv",  # Swedish past tense, a sentence of its own
        "Opgeloste problemen: geen",
        "Gelöste Teile zurückgeschickt",
        "Ongoings",
        "Encours",
        "En course vers le garage",
        "In Bearbeitungsphase",
        "in progression",
        "In Arbeitszeit angerufen",
        "Résolument pas",
        "Igangværendes",
        "Pågåendeprojekt",
        "resolved2",
    ],
)
def test_near_misses_are_comments(text: str) -> None:
    assert read(text) == plain(text)


# --- a group's own words -----------------------------------------------------------------------------


def test_a_group_adds_its_own_words_to_the_defaults() -> None:
    words = StatusWords.default().merged(
        resolved=("klaret",), ongoing=("under behandling",), negations=("ikkje",)  # Nynorsk "not"
    )
    assert read_status("Klaret: kunden ringet op", words) == StatusRead(R, "kunden ringet op", "Klaret")
    assert read_status("Under  behandling – venter", words) == StatusRead(O, "venter", "Under  behandling")
    assert read_status("Løst – ikkje", words).status is None
    assert read_status("Resolved: ok", words).status is R  # the defaults stay
    assert read_status("Klaret: x", WORDS).status is None  # and the defaults are unchanged


def test_merging_keeps_a_word_once_and_accepts_lists() -> None:
    words = StatusWords.default().merged(resolved=["RESOLVED", "Klaret", "klaret"])
    assert words.resolved == DEFAULT_RESOLVED + ("Klaret",)
    assert isinstance(StatusWords(["a"], ["b"], []).resolved, tuple)  # type: ignore[arg-type]


def test_longest_phrase_wins() -> None:
    words = StatusWords.default().merged(resolved=("in",), ongoing=("løst delvist",))
    assert read_status("In behandeling: offerte", words) == StatusRead(O, "offerte", "In behandeling")
    assert read_status("in: ok", words) == StatusRead(R, "ok", "in")
    assert read_status("Løst delvist: mangler del", words) == StatusRead(O, "mangler del", "Løst delvist")
    assert read_status("Løst: alt", words) == StatusRead(R, "alt", "Løst")


def test_casefold_makes_sharp_s_and_ss_equal() -> None:
    words = StatusWords((), ("in maßnahme",), ())
    assert read_status("IN MASSNAHME: Termin", words) == StatusRead(O, "Termin", "IN MASSNAHME")
    assert read_status("In Maßnahme – Termin", words) == StatusRead(O, "Termin", "In Maßnahme")
    assert read_status("Straße: in Maßnahme", words).status is None


def test_note_after_a_sharp_s_is_cut_where_typed() -> None:
    """ß folds to two letters; the note must still start at the right character of the original."""
    words = StatusWords(("großartig erledigt",), (), ())
    assert read_status("GROẞARTIG ERLEDIGT: Grüße", words) == StatusRead(R, "Grüße", "GROẞARTIG ERLEDIGT")
    assert read_status("Großartig erledigt – Maße geprüft", words).note == "Maße geprüft"


@pytest.mark.parametrize(
    ("resolved", "ongoing", "negations"),
    [
        (("resolved",), ("Resolved",), ()),  # both statuses
        (("løst",), ("LØST",), ()),
        (("",), (), ()),
        (("  ",), (), ()),
        ((), (), ("",)),
        ("resolved", (), ()),  # one string, not a list of words
        ((3,), (), ()),
    ],
)
def test_bad_word_lists_are_refused(resolved: object, ongoing: object, negations: object) -> None:
    with pytest.raises(ValueError, match="status words"):
        StatusWords(resolved, ongoing, negations)  # type: ignore[arg-type]


def test_merging_a_word_of_the_other_status_is_refused() -> None:
    with pytest.raises(ValueError, match="løst"):
        StatusWords.default().merged(ongoing=("Løst",))


def test_one_compiled_matcher_per_word_table() -> None:
    assert _matcher(WORDS) is _matcher(StatusWords(DEFAULT_RESOLVED, DEFAULT_ONGOING, DEFAULT_NEGATIONS))
    assert _matcher(WORDS.merged(resolved=("klaret",))) is not _matcher(WORDS)


def test_a_table_without_negations_reads_words() -> None:
    words = StatusWords(("done",), (), ())
    assert read_status("Done - not yet", words) == StatusRead(R, "not yet", "Done")


# --- properties --------------------------------------------------------------------------------------

NEGATION_STARTS = {unicodedata.normalize("NFC", n).casefold().split()[0] for n in DEFAULT_NEGATIONS}


def starts_with_negation(note: str) -> bool:
    first = re.match(r"\s*[^\W_]+", unicodedata.normalize("NFC", note).casefold())
    return first is not None and first.group().strip() in NEGATION_STARTS


notes = st.text(max_size=60).filter(lambda n: not n.strip() or n.strip()[0].isalnum())
cases = st.sampled_from([str, str.upper, str.lower, str.title])


@given(st.sampled_from(DEFAULTS), st.sampled_from(SEPARATORS), notes, cases)
@example(("løst", R), ": ", "ringet op\n- ny tid", str)
@example(("in bearbeitung", O), " - ", "Maße geprüft, Grüße", str.title)
@example(("pågår", O), "\n", "no-show", str.upper)
def test_word_separator_note_gives_status_and_note(
    default: tuple[str, Status], sep: str, note: str, case: object
) -> None:
    assume(not starts_with_negation(note))
    word, status = default
    typed = case(word)  # type: ignore[operator]
    assert read(typed + sep + note) == StatusRead(status, unicodedata.normalize("NFC", note).strip(), typed)


@given(st.sampled_from(DEFAULTS), st.sampled_from(SEPARATORS), notes)
def test_a_composed_note_comes_back_exactly(default: tuple[str, Status], sep: str, note: str) -> None:
    note = unicodedata.normalize("NFC", note)
    assume(not starts_with_negation(note))
    assert read(default[0] + sep + note).note == note.strip()


@given(st.text(max_size=80))
@example("resolved\u0301")
@example("ß" * 3 + " resolved")
def test_any_text_reads_as_a_comment_or_a_word_and_the_rest(text: str) -> None:
    r = read(text)
    whole = unicodedata.normalize("NFC", text).strip()
    if r.status is None:
        assert r == StatusRead(None, whole, None)
    else:
        assert r.word is not None and r.word.casefold() != "" and whole.endswith(r.note)
        assert r.word in whole


@given(st.sampled_from(DEFAULTS), st.sampled_from(DEFAULT_NEGATIONS), st.sampled_from([" ", "  ", "\n", " *"]))
def test_a_negation_before_any_word_is_a_comment(default: tuple[str, Status], negation: str, gap: str) -> None:
    text = f"{negation}{gap}{default[0]}: customer still waiting"
    assert read(text) == plain(text)
