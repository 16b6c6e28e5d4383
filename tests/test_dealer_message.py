"""The customer message for the dealer system (seed 004, ID612): cxbot's detractor part beside the dealer's
own text, within 32 characters of subject and 1,024 of body, found again by its markers and removed."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.dealer_message import (
    BODY_CLOSE,
    BODY_LIMIT,
    BODY_OPEN,
    CRLF,
    LF,
    SUBJECT_LIMIT,
    DetractorFacts,
    MessageResult,
    compose,
    strip_ours,
)

DAY = date(2026, 3, 2)
COMMENT = (
    "The car was not ready when promised, nobody called me back and the invoice was higher than the quote. "
    "I had to take a taxi to work twice."
)
FACTS = DetractorFacts(nps=3, answered_on=DAY, comment=COMMENT, survey="service", contact="Bob Jensen")
HEADLINE = "NPS 3 detractor – give this customer a perfect experience."
MINIMAL = "NPS 3 detractor – give a perfect experience"
DETAILS = "Service survey, answered 2026-03-02, contact: Bob Jensen"


def block(*content: str, nl: str = CRLF) -> str:
    return nl.join([BODY_OPEN, *content, BODY_CLOSE])


def content_of(body: str) -> list[str]:
    """The lines of the (first) cxbot block in a body; [] when there is none."""
    lines = body.replace(CRLF, LF).split(LF)
    if BODY_OPEN not in lines:
        return []
    start = lines.index(BODY_OPEN)
    return lines[start + 1 : lines.index(BODY_CLOSE, start)]


# --- the message cxbot writes ------------------------------------------------------------------------------


def test_empty_dealer_text_gets_cxbot_part_only() -> None:
    r = compose("", "", FACTS)
    assert r == MessageResult(
        subject="[NPS 3]",
        body=block(HEADLINE, DETAILS, f"“{COMMENT}”"),
        changed=True,
        error=None,
    )
    assert not r.body.endswith(("\n", " "))  # no separator after the block when the dealer has no text


def test_dealer_text_is_kept_byte_for_byte_after_cxbot_part() -> None:
    subject = " Key account  "
    body = "\r\nCall Bob first, not the front desk.\r\n\tPays by invoice (30 days).  \r\n\r\n"
    r = compose(subject, body, FACTS)
    assert r.subject == "[NPS 3] " + subject
    assert r.body == block(HEADLINE, DETAILS, f"“{COMMENT}”") + CRLF + body
    assert strip_ours(r.subject, r.body) == (subject, body)
    assert r.changed and r.error is None


def test_comment_missing_or_blank_writes_no_comment_line() -> None:
    for comment in (None, "", " \r\n\t "):
        facts = DetractorFacts(nps=5, answered_on=DAY, comment=comment)
        assert content_of(compose("", "", facts).body) == [
            "NPS 5 detractor – give this customer a perfect experience.",
            "answered 2026-03-02",
        ]


def test_details_leave_out_what_is_unknown_and_show_an_unknown_survey_as_given() -> None:
    facts = DetractorFacts(nps=0, answered_on=DAY, comment=None, survey="Workshop pickup")
    assert content_of(compose("", "", facts).body)[1] == "Workshop pickup, answered 2026-03-02"
    facts = DetractorFacts(nps=0, answered_on=DAY, comment=None, survey="lost_sales", contact="  Ann\nLee ")
    assert content_of(compose("", "", facts).body)[1] == "Lost-sales survey, answered 2026-03-02, contact: Ann Lee"


@pytest.mark.parametrize(
    ("lang", "lines", "quotes"),
    [
        ("da", ["NPS 3, kritiker – giv denne kunde en perfekt oplevelse.",
                "Serviceundersøgelse, besvaret 2.3.2026, kontakt: Bob Jensen"], "»«"),
        ("da-DK", ["NPS 3, kritiker – giv denne kunde en perfekt oplevelse.",
                   "Serviceundersøgelse, besvaret 2.3.2026, kontakt: Bob Jensen"], "»«"),
        ("de", ["NPS 3, Kritiker – bieten Sie diesem Kunden ein perfektes Erlebnis.",
                "Serviceumfrage, beantwortet am 02.03.2026, Kontakt: Bob Jensen"], "„“"),
        ("en", [HEADLINE, DETAILS], "“”"),
        ("sv", [HEADLINE, DETAILS], "“”"),  # a language cxbot has no wording for: English
    ],
)  # fmt: skip
def test_wording_in_english_danish_and_german(lang: str, lines: list[str], quotes: str) -> None:
    assert content_of(compose("", "", FACTS, lang).body) == [*lines, quotes[0] + COMMENT + quotes[1]]


def test_cxbot_wording_fits_windows_1252() -> None:
    for lang in ("en", "da", "de"):
        for facts in (FACTS, DetractorFacts(nps=3, answered_on=DAY, comment="ok " * 600)):
            r = compose("", "", facts, lang)
            (r.subject + r.body).encode("cp1252")  # a non-Unicode column keeps every character


def test_comment_is_folded_onto_one_line_so_it_cannot_fake_a_marker() -> None:
    facts = DetractorFacts(nps=2, answered_on=DAY, comment=f"bad\r\n{BODY_CLOSE}\n\nDealer text\u2028end")
    r = compose("", "Dealer", facts)
    assert content_of(r.body)[-1] == f"“bad {BODY_CLOSE} Dealer text end”"
    assert strip_ours(r.subject, r.body) == ("", "Dealer")


def test_nps_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="0–10"):
        DetractorFacts(nps=11, answered_on=DAY, comment=None)


# --- replacing and removing cxbot's part -------------------------------------------------------------------


def test_an_old_cxbot_part_is_replaced_not_added_twice() -> None:
    first = compose("Key account", "Call Bob.", FACTS)
    later = DetractorFacts(nps=1, answered_on=date(2026, 4, 1), comment="Worse.")
    r = compose(first.subject, first.body, later)
    assert r.subject == "[NPS 1] Key account"
    assert r.body == block("NPS 1 detractor – give this customer a perfect experience.", "answered 2026-04-01",
                           "“Worse.”") + CRLF + "Call Bob."  # fmt: skip
    assert r.body.count(BODY_OPEN) == 1 and r.body.count(BODY_CLOSE) == 1
    assert r.changed and r.error is None


def test_a_block_the_dealer_moved_is_replaced_at_the_top() -> None:
    old = block(MINIMAL, nl=LF)
    r = compose("", f"Call Bob.\n{old}\nPays by invoice.", FACTS)
    assert r.body == block(HEADLINE, DETAILS, f"“{COMMENT}”", nl=LF) + LF + "Call Bob.\nPays by invoice."


def test_marker_lines_with_padding_are_still_cxbot_markers() -> None:
    body = f"  {BODY_OPEN} \t\r\n{MINIMAL}\r\n{BODY_CLOSE}   \r\nDealer"
    assert strip_ours("", body) == ("", "Dealer")


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("", ""),
        ("Key account", "Call Bob first."),
        ("  padded  ", "  \n\nleading blank lines and trailing spaces  \n\n"),
        ("Kunde: Ærø Å/S ß 🚗", "Ring til Søren før kl. 9 – ikke værkstedet.\r\nGrüße, Jürgen 👍🏽👨‍👩‍👧\r\n"),
        ("", "only a body\r\nwith CRLF\r\n"),
        ("only a subject", ""),
        ("x" * 24, "y" * 900),  # still room for the full subject tag and a shortened body part
    ],
)
def test_removal_restores_the_dealers_text_exactly(subject: str, body: str) -> None:
    written = compose(subject, body, FACTS)
    assert written.changed and written.error is None
    removed = compose(written.subject, written.body, None)
    assert removed == MessageResult(subject=subject, body=body, changed=True, error=None)
    assert compose(subject, body, None) == MessageResult(subject=subject, body=body, changed=False, error=None)


def test_subject_tags_are_only_recognised_at_the_start() -> None:
    assert strip_ours("[NPS 3] Key account", "") == ("Key account", "")
    assert strip_ours("[NPS]  two spaces", "") == (" two spaces", "")
    assert strip_ours("[NPS 3]", "") == ("", "")
    assert strip_ours("[NPS 3][NPS] x", "") == ("x", "")
    assert strip_ours("Key [NPS 3] account", "") == ("Key [NPS 3] account", "")
    assert strip_ours("[NPS three] x", "") == ("[NPS three] x", "")


@pytest.mark.parametrize("facts", [FACTS, None, DetractorFacts(nps=6, answered_on=DAY, comment="x " * 700)])
@pytest.mark.parametrize(("subject", "body"), [("", ""), ("Key", "Call\r\nBob"), ("s" * 30, "b" * 1000)])
def test_applying_the_same_input_twice_changes_nothing(facts: DetractorFacts | None, subject: str, body: str) -> None:
    once = compose(subject, body, facts)
    twice = compose(once.subject, once.body, facts)
    assert (twice.subject, twice.body, twice.error) == (once.subject, once.body, once.error)
    assert twice.changed is False


# --- line breaks ------------------------------------------------------------------------------------------


def test_line_breaks_follow_the_dealers_text() -> None:
    assert compose("", "a\nb", FACTS).body == block(HEADLINE, DETAILS, f"“{COMMENT}”", nl=LF) + "\na\nb"
    assert compose("", "a\r\nb", FACTS).body == block(HEADLINE, DETAILS, f"“{COMMENT}”") + "\r\na\r\nb"
    # a dealer's text with both: CRLF, and the dealer's text itself is not touched
    assert compose("", "a\r\nb\nc", FACTS).body.endswith("[/cxbot]\r\na\r\nb\nc")


def test_line_breaks_without_any_in_the_dealers_text() -> None:
    assert compose("", "one line", FACTS).body == block(HEADLINE, DETAILS, f"“{COMMENT}”") + "\r\none line"
    assert compose("", "one line", FACTS, newline=LF).body == block(HEADLINE, DETAILS, f"“{COMMENT}”", nl=LF) + (
        "\none line"
    )
    # the system stored cxbot's earlier block with LF: keep LF
    old = block(MINIMAL, nl=LF) + "\none line"
    r = compose("", old, FACTS)
    assert r.body == block(HEADLINE, DETAILS, f"“{COMMENT}”", nl=LF) + "\none line"
    assert compose(r.subject, r.body, FACTS).changed is False


def test_a_system_that_turned_crlf_into_lf_still_has_its_block_found() -> None:
    written = compose("", "Dealer\r\ntext", FACTS)
    as_lf = written.body.replace(CRLF, LF)
    assert strip_ours("", as_lf) == ("", "Dealer\ntext")


# --- limits ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("own", "subject"),
    [
        ("k" * 24, "[NPS 3] " + "k" * 24),  # exactly 32
        ("k" * 25, "[NPS] " + "k" * 25),  # the score no longer fits: short tag
        ("k" * 26, "[NPS] " + "k" * 26),  # exactly 32 with the short tag
        ("Kunde Ærø Å/S – Søren 🚗🚗", "[NPS 3] Kunde Ærø Å/S – Søren 🚗🚗"),  # 24 characters, 36 bytes
        ("Kunde Ærø Å/S – Søren 🚗🚗🚗🚗", "[NPS] Kunde Ærø Å/S – Søren 🚗🚗🚗🚗"),  # 26 characters, 44 bytes
        ("Grüße, Köln 👨‍👩‍👧 Jürgen", "[NPS 3] Grüße, Köln 👨‍👩‍👧 Jürgen"),  # 24 code points; the ZWJ emoji is 5
    ],
)
def test_subject_limit_counts_characters(own: str, subject: str) -> None:
    r = compose(own, "", FACTS)
    assert r.subject == subject and len(r.subject) <= SUBJECT_LIMIT and r.error is None
    assert len(r.subject.encode()) >= len(r.subject)


def test_subject_with_no_room_is_left_as_it_is_with_an_error() -> None:
    for own in ("k" * 27, "Grüße aus Köln 👨‍👩‍👧 Jürgen", "Søren 🚗" * 4, "k" * 32):
        r = compose(own, "Dealer body", FACTS)
        assert r.subject == own
        assert r.error == (
            f"subject: the dealer's text is {len(own)} of 32 characters; cxbot needs 6 — shorten it to 26 or fewer"
        )
        assert r.body.startswith(BODY_OPEN)  # the body is decided on its own


def test_an_old_subject_tag_is_removed_when_the_new_one_has_no_room() -> None:
    r = compose("[NPS 3] " + "k" * 24, "", FACTS)
    assert r.subject == "[NPS 3] " + "k" * 24 and r.error is None
    r = compose("[NPS 3] " + "k" * 24 + "!!!", "", FACTS)  # the dealer lengthened its subject
    assert r.subject == "k" * 24 + "!!!" and r.error is not None and r.error.startswith("subject:") and r.changed


def minimal_need(nl: str = CRLF) -> int:
    """What the minimal body part takes beside a non-empty dealer text: the block and its line break."""
    return len(block(MINIMAL, nl=nl)) + len(nl)


@pytest.mark.parametrize("fill", ["d", "ø", "ß", "🚗"])
def test_body_at_exactly_the_limit_with_the_minimal_part(fill: str) -> None:
    own = fill * (BODY_LIMIT - minimal_need())
    r = compose("", own, FACTS)
    assert r.body == block(MINIMAL) + CRLF + own
    assert len(r.body) == BODY_LIMIT and r.error is None


@pytest.mark.parametrize("fill", ["d", "æ", "🚗"])
def test_body_one_character_over_leaves_cxbot_out_and_names_the_limit(fill: str) -> None:
    own = fill * (BODY_LIMIT - minimal_need() + 1)
    r = compose("Key", own, FACTS)
    assert r.body == own  # nothing cut from the dealer's text, nothing of cxbot's added
    assert BODY_OPEN not in r.body
    assert r.subject == "[NPS 3] Key"
    assert r.error == (
        f"body: the dealer's text is {len(own):,} of 1,024 characters; cxbot needs {minimal_need()} — "
        f"shorten it to {BODY_LIMIT - minimal_need():,} or fewer"
    )


def test_error_names_both_limits_and_keeps_the_dealers_text() -> None:
    r = compose("x" * 30, "y" * 1000, FACTS)
    assert r == MessageResult(
        subject="x" * 30,
        body="y" * 1000,
        changed=False,
        error="subject: the dealer's text is 30 of 32 characters; cxbot needs 6 — shorten it to 26 or fewer; "
        "body: the dealer's text is 1,000 of 1,024 characters; cxbot needs 64 — shorten it to 960 or fewer",
    )


def test_an_old_cxbot_part_is_removed_when_the_new_one_has_no_room() -> None:
    own = "y" * 1000  # the block fitted once, before the dealer wrote more
    r = compose("", block(MINIMAL, nl=LF) + LF + own, FACTS)
    assert r.body == own and r.changed
    # what cxbot needs is counted with the line breaks it will use from now on: the old block's are gone
    assert r.error == (
        "body: the dealer's text is 1,000 of 1,024 characters; cxbot needs 64 — shorten it to 960 or fewer"
    )
    assert compose(r.subject, r.body, FACTS) == MessageResult("[NPS 3]", own, False, r.error)


def test_dealer_text_over_the_limit_on_its_own_is_returned_with_an_error() -> None:
    r = compose("s" * 40, "b" * 1100, None)
    assert r == MessageResult(
        subject="s" * 40,
        body="b" * 1100,
        changed=False,
        error="subject: the dealer's text is 40 of 32 characters — shorten it to 32 or fewer; "
        "body: the dealer's text is 1,100 of 1,024 characters — shorten it to 1,024 or fewer",
    )
    assert compose("s" * 32, "b" * 1024, None).error is None


# --- shortening order ------------------------------------------------------------------------------------


def test_comment_is_cut_at_a_word_boundary_with_an_ellipsis() -> None:
    base = len(block(HEADLINE, DETAILS)) + len(CRLF) + len(CRLF)  # block, line break before the comment, separator
    words_end = [i for i, c in enumerate(COMMENT) if c == " "]
    for room in range(6, len(COMMENT) + 3):  # room for the quoted comment
        own = "d" * (BODY_LIMIT - base - room)
        r = compose("", own, FACTS)
        assert len(r.body) <= BODY_LIMIT and r.body.endswith(own)
        lines = content_of(r.body)
        assert lines[:2] == [HEADLINE, DETAILS]
        quoted = lines[2]
        assert quoted.startswith("“") and quoted.endswith("”") and len(quoted) <= room
        if room >= len(COMMENT) + 2:
            assert quoted == f"“{COMMENT}”"
            continue
        longest = max(
            (COMMENT[:i].rstrip(" ,") for i in words_end if len(COMMENT[:i].rstrip(" ,")) + 3 <= room), key=len
        )
        assert quoted == f"“{longest}…”"


def test_comment_that_would_not_keep_a_word_is_left_out() -> None:
    base = len(block(HEADLINE, DETAILS)) + len(CRLF) + len(CRLF)
    own = "d" * (BODY_LIMIT - base - 5)  # room for “The…” is 6: not there
    assert content_of(compose("", own, FACTS).body) == [HEADLINE, DETAILS]
    own = "d" * (BODY_LIMIT - base - 6)
    assert content_of(compose("", own, FACTS).body) == [HEADLINE, DETAILS, "“The…”"]


def test_one_long_word_is_cut_inside_it_without_splitting_a_character() -> None:
    url = "https://example.com/" + "a" * 2000
    r = compose("", "", DetractorFacts(nps=4, answered_on=DAY, comment=url))
    quoted = content_of(r.body)[-1]
    assert quoted.startswith("“https://example.com/aaa") and quoted.endswith("…”") and len(r.body) == BODY_LIMIT

    family = "👨‍👩‍👧"  # five code points joined by ZWJ
    facts = DetractorFacts(nps=4, answered_on=DAY, comment=family * 300)
    text = content_of(compose("", "", facts).body)[-1][1:-2]
    assert text and len(text) % len(family) == 0 and text == family * (len(text) // len(family))


def test_accented_letters_count_once() -> None:
    decomposed = "Re\u0301ponse tre\u0300s lente"  # e + combining accent: composed to one character each
    facts = DetractorFacts(nps=4, answered_on=DAY, comment=decomposed)
    assert content_of(compose("", "", facts).body)[-1] == "“Réponse très lente”"


def stage(body: str, details: str) -> tuple[int, int]:
    """How far cxbot's part was shortened: (details level, -comment length); higher is shorter.
    Levels: 0 all details, 1 without contact, 2 without survey, 3 without date, 4 minimal, 5 left out."""
    lines = content_of(body)
    if not lines:
        return (5, 0)
    if lines == [MINIMAL]:
        return (4, 0)
    assert lines[0] == HEADLINE
    rest = lines[1:]
    shown = rest[0] if rest and not rest[0].startswith("“") else ""
    comment = rest[-1] if rest and rest[-1].startswith("“") else ""
    level = {details: 0, "Service survey, answered 2026-03-02": 1, "answered 2026-03-02": 2, "": 3}[shown]
    return (level, -len(comment))


@pytest.mark.parametrize("nl", [CRLF, LF])
def test_shortening_order_comment_then_contact_survey_date_then_minimal(nl: str) -> None:
    contact = " ".join(["Bob Jensen"] * 3)
    facts = DetractorFacts(nps=3, answered_on=DAY, comment=COMMENT, survey="service", contact=contact)
    stages = []
    for n in range(BODY_LIMIT + 1):
        own = "d" * (n - len(nl)) + nl if n >= len(nl) else "d" * n  # n characters in the line break style
        r = compose("", own, facts, newline=nl)
        assert len(r.body) <= BODY_LIMIT and strip_ours("", r.body) == ("", own)
        stages.append(stage(r.body, f"Service survey, answered 2026-03-02, contact: {contact}"))
    assert stages == sorted(stages)  # never longer again as the dealer's text grows
    assert {level for level, _ in stages} == {0, 1, 2, 3, 4, 5}
    comments = {c for level, c in stages if level == 0}
    assert -len(f"“{COMMENT}”") in comments and 0 in comments and len(comments) > 10  # full, cut, left out


def test_full_headline_gives_way_to_the_minimal_form_only_at_the_end() -> None:
    facts = DetractorFacts(nps=3, answered_on=DAY, comment=None)
    headline_only = len(block(HEADLINE)) + len(CRLF)
    assert content_of(compose("", "d" * (BODY_LIMIT - headline_only), facts).body) == [HEADLINE]
    assert content_of(compose("", "d" * (BODY_LIMIT - headline_only + 1), facts).body) == [MINIMAL]


# --- damaged markers ---------------------------------------------------------------------------------------


DAMAGED = "body: a cxbot marker without its partner (a lone [cxbot] or [/cxbot]) was kept as the dealer's text"


def test_an_opening_marker_without_its_closing_keeps_everything_as_dealer_text() -> None:
    body = f"{BODY_OPEN}\r\nNPS 2 detractor – old text\r\nCall Bob first.\r\n"
    r = compose("", body, FACTS)
    assert r.body == block(HEADLINE, DETAILS, f"“{COMMENT}”") + CRLF + body  # nothing of it deleted
    assert r.error is not None and r.error.startswith(DAMAGED)
    again = compose(r.subject, r.body, FACTS)
    assert (again.body, again.error, again.changed) == (r.body, r.error, False)
    cleared = compose(r.subject, r.body, None)
    assert (cleared.subject, cleared.body) == ("", body) and cleared.error == r.error  # reported until fixed


def test_a_closing_marker_without_its_opening_keeps_everything_as_dealer_text() -> None:
    body = f"NPS 2 detractor – old text\n{BODY_CLOSE}\nCall Bob first."
    r = compose("", body, FACTS)
    assert r.body == block(HEADLINE, DETAILS, f"“{COMMENT}”", nl=LF) + LF + body
    assert strip_ours(r.subject, r.body) == ("", body)
    assert r.error is not None and DAMAGED in r.error


def test_an_unmatched_opening_does_not_swallow_the_text_before_a_later_pair() -> None:
    body = f"{BODY_OPEN}\nDealer's own line\n{BODY_OPEN}\n{MINIMAL}\n{BODY_CLOSE}\nMore dealer text"
    assert strip_ours("", body) == ("", f"{BODY_OPEN}\nDealer's own line\nMore dealer text")


def test_nested_pairs_are_one_block() -> None:
    body = f"{BODY_OPEN}\n{BODY_OPEN}\n{MINIMAL}\n{BODY_CLOSE}\n{BODY_CLOSE}\nDealer"
    assert strip_ours("", body) == ("", "Dealer")
    assert compose("", body, None) == MessageResult("", "Dealer", True, None)


def test_a_marker_inside_a_longer_line_is_dealer_text_and_reported() -> None:
    body = f"See {BODY_OPEN} notes"
    r = compose("", body, None)
    assert (r.body, r.changed) == (body, False) and r.error is not None and DAMAGED in r.error


def test_errors_for_limit_and_damage_are_both_named() -> None:
    own = f"{BODY_OPEN}\n" + "d" * 1010
    r = compose("", own, FACTS)
    assert r.body == own
    assert r.error is not None and DAMAGED in r.error
    assert r.error.startswith("body: the dealer's text is 1,018 of 1,024 characters; cxbot needs 61")


# --- properties --------------------------------------------------------------------------------------------

text_chars = st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs", "Cc"))
line = st.one_of(
    st.text(text_chars, max_size=30),
    st.sampled_from([BODY_OPEN, BODY_CLOSE, f" {BODY_OPEN}\t", f"{BODY_CLOSE} ", MINIMAL, "", " ", "[NPS 3]"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["d", "ø", "🚗", "👍🏽", " "]), st.integers(0, 1100)),
)
ending = st.sampled_from(["\n", "\r\n", "\r", ""])
bodies = st.lists(st.tuples(line, ending), max_size=8).map(lambda ls: "".join(a + b for a, b in ls))
subjects = st.one_of(
    st.text(text_chars, max_size=40),
    st.builds(
        lambda tag, rest: tag + rest,
        st.sampled_from(["[NPS 3] ", "[NPS]", "[NPS 10]  ", ""]),
        st.text(text_chars, max_size=34),
    ),
)
facts_or_none = st.none() | st.builds(
    DetractorFacts,
    nps=st.integers(0, 10),
    answered_on=st.dates(),
    comment=st.none() | st.text(text_chars, max_size=1500),
    survey=st.none() | st.sampled_from(["sales", "service", "lost_sales"]) | st.text(text_chars, max_size=60),
    contact=st.none() | st.text(text_chars, max_size=60),
)
langs = st.sampled_from(["en", "da", "de", "fr"])
PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(subjects, bodies, facts_or_none, langs)
def test_property_limits_hold_unless_the_dealers_text_alone_exceeds_them(
    subject: str, body: str, facts: DetractorFacts | None, lang: str
) -> None:
    own_subject, own_body = strip_ours(subject, body)
    r = compose(subject, body, facts, lang)
    checks = (("subject", own_subject, r.subject, SUBJECT_LIMIT), ("body", own_body, r.body, BODY_LIMIT))
    for part, own, got, limit in checks:
        if len(own) <= limit:
            assert len(got) <= limit
        else:
            assert got == own  # returned as it is, with the limit named
            assert r.error is not None and f"{part}: the dealer's text is {len(own):,} of {limit:,}" in r.error
        if facts is not None and got == own:  # cxbot's part left out only for want of room
            assert r.error is not None and f"{part}: the dealer's text is {len(own):,}" in r.error


@PROPERTY
@given(subjects, bodies, facts_or_none, langs)
def test_property_the_dealers_text_survives_compose_and_removal(
    subject: str, body: str, facts: DetractorFacts | None, lang: str
) -> None:
    own = strip_ours(subject, body)
    r = compose(subject, body, facts, lang)
    assert strip_ours(r.subject, r.body) == own
    assert strip_ours(*own) == own
    cleared = compose(r.subject, r.body, None, lang)
    assert (cleared.subject, cleared.body) == own
    if facts is not None and r.error is None:
        assert r.subject.startswith("[NPS") and r.body.startswith(BODY_OPEN)
        assert r.subject.endswith(own[0]) and r.body.endswith(own[1])


@PROPERTY
@given(subjects, bodies, facts_or_none, langs)
def test_property_compose_is_idempotent(subject: str, body: str, facts: DetractorFacts | None, lang: str) -> None:
    once = compose(subject, body, facts, lang)
    twice = compose(once.subject, once.body, facts, lang)
    assert (twice.subject, twice.body, twice.error, twice.changed) == (once.subject, once.body, once.error, False)
    assert once.changed == ((once.subject, once.body) != (subject, body))


@PROPERTY
@given(
    st.text(st.characters(codec="utf-8", exclude_characters="[]"), max_size=40),
    st.text(st.characters(codec="utf-8", exclude_characters="[]"), max_size=1100),
    facts_or_none,
)
def test_property_text_without_markers_comes_back_byte_for_byte(
    subject: str, body: str, facts: DetractorFacts | None
) -> None:
    assert strip_ours(subject, body) == (subject, body)
    written = compose(subject, body, facts)
    cleared = compose(written.subject, written.body, None)
    assert (cleared.subject, cleared.body) == (subject, body)
    assert cleared.changed == ((written.subject, written.body) != (subject, body))
    assert cleared.error == compose(subject, body, None).error
