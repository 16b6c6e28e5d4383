"""POST /api/v1/dealers/{dealer_id}/customers/{customer_id}/message as the dealer system calls it over the
real HTTP server: cxbot's detractor part added beside the dealer's own text and removed when the customer
is no longer a detractor, the 32/1,024-character limits counted in characters (long and non-ASCII text),
the last message seen and returned kept per customer, and refusals that change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from bot.domain.dealer_message import BODY_LIMIT, SUBJECT_LIMIT, strip_ours
from bot.domain.values import Scope
from bot.services import keys
from tests.conftest import Api, response

pytestmark = pytest.mark.usefixtures("example_dealers")

PATH = "/api/v1/dealers/{dealer}/customers/{customer}/message"
COMMENT = (
    "Bilen var ikke klar til tiden 😡, ingen ringede tilbage, og regningen var højere end tilbuddet. "
    "Jeg måtte tage en taxa på arbejde to gange, og værkstedet undskyldte ikke engang. Næste gang går jeg et andet sted hen."
)
HEADLINE = "NPS 3, kritiker – giv denne kunde en perfekt oplevelse."  # Autohuset Vest writes Danish


async def answer(api: Api, id_: str, nps: int, customer: str = "K-1", submitted_at: str = "2026-11-01T10:00:00+01:00", **over: Any) -> None:
    body = response(
        id_, survey="service", customer={"id": customer, "name": "Bob's Print Shack"}, contact={"name": "Bob Jensen"},
        nps=nps, comment=COMMENT, submitted_at=submitted_at,
    )
    body.update(over)
    r = await api.post("/api/v1/responses", body)
    assert r.status_code == 202, r.text


async def message(api: Api, subject: Any = "", body: Any = "", dealer: str = "DK-1001", customer: str = "K-1", **kw: Any) -> Any:
    return await api.post(PATH.format(dealer=dealer, customer=customer), {"subject": subject, "body": body}, **kw)


async def kept(api: Api, customer: str = "K-1", dealer: str = "DK-1001") -> Any:
    async with api.cx.db.read() as tx:
        return await tx.detractors.message(dealer, customer)


async def test_detractor_gets_cxbots_part_beside_the_dealers_text_and_feeding_it_back_changes_nothing(api: Api) -> None:
    await answer(api, "r-1", nps=3)
    own_body = "Kunden betaler på faktura (30 dage).\r\nRing til Bob først."
    r = await message(api, "Nøglekunde", own_body)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["subject"] == "[NPS 3] Nøglekunde"
    assert got["body"] == (
        "[cxbot]\r\n" + HEADLINE + "\r\nServiceundersøgelse, besvaret 1.11.2026, kontakt: Bob Jensen\r\n"
        f"»{COMMENT}«\r\n[/cxbot]\r\n" + own_body
    )
    assert got["changed"] is True and got["error"] is None
    # The dealer system writes it back and sends it again next time: nothing changes.
    again = (await message(api, got["subject"], got["body"])).json()
    assert again == {**got, "changed": False}
    row = await kept(api)
    assert (row.seen_subject, row.seen_body, row.returned_subject, row.returned_body) == (got["subject"], got["body"], got["subject"], got["body"])


async def test_when_the_newest_answer_is_no_longer_a_detractor_cxbots_part_is_removed(api: Api) -> None:
    await answer(api, "r-1", nps=2)
    first = (await message(api, "Nøglekunde", "Ring til Bob først.")).json()
    assert first["subject"].startswith("[NPS 2] ")
    # Bob's assistant answers a later survey with a 10: the flag is on the customer, so it goes.
    await answer(api, "r-2", nps=10, submitted_at="2026-11-15T10:00:00+01:00")
    cleared = (await message(api, first["subject"], first["body"])).json()
    assert cleared == {"subject": "Nøglekunde", "body": "Ring til Bob først.", "changed": True, "error": None}
    row = await kept(api)
    assert (row.seen_subject, row.returned_subject, row.returned_error) == (first["subject"], "Nøglekunde", None)


async def test_not_a_detractor_and_empty_message_stays_empty(api: Api) -> None:
    await answer(api, "r-1", nps=8)
    assert (await message(api)).json() == {"subject": "", "body": "", "changed": False, "error": None}
    both_missing = await api.post(PATH.format(dealer="DK-1001", customer="K-1"), {})
    assert both_missing.status_code == 200 and both_missing.json()["subject"] == ""
    nulls = await message(api, None, None)
    assert nulls.status_code == 200 and nulls.json()["body"] == ""


async def test_limits_are_counted_in_characters_with_non_ascii_text(api: Api) -> None:
    await answer(api, "r-1", nps=3)
    # 26 characters but 40 bytes: "[NPS 3] " does not fit, the short tag does — exactly 32 characters.
    subject = "Særlig kunde – æøå ÆØÅ — ok"[:26]
    assert len(subject) == 26 and len(subject.encode()) > SUBJECT_LIMIT
    own_body = ("Vigtig kunde: ring altid før kl. 9. Ønsker kørsel til og fra værkstedet. " * 12)[:800]
    got = (await message(api, subject, own_body)).json()
    assert got["subject"] == "[NPS] " + subject and len(got["subject"]) == SUBJECT_LIMIT
    assert len(got["body"]) <= BODY_LIMIT < len(got["body"].encode())
    assert got["body"].endswith("\r\n" + own_body)  # the dealer's text, whole, after cxbot's part
    quoted = got["body"].split("\r\n")[3]
    assert quoted.startswith("»Bilen var ikke klar til tiden 😡,") and quoted.endswith("…«")
    cut = quoted[1:-2]
    assert COMMENT.startswith(cut) and COMMENT[len(cut)] in " ,"  # cut at a word
    assert got["error"] is None and strip_ours(got["subject"], got["body"]) == (subject, own_body)


async def test_dealer_text_that_leaves_no_room_is_never_cut_and_the_error_names_the_limit(api: Api) -> None:
    await answer(api, "r-1", nps=3)
    subject = "Ø" * 30
    own_body = "Å" * 1000  # 1,000 characters, 2,000 bytes
    got = (await message(api, subject, own_body)).json()
    assert got["subject"] == subject and got["body"] == own_body and got["changed"] is False
    assert got["error"] == (
        "subject: the dealer's text is 30 of 32 characters; cxbot needs 6 — shorten it to 26 or fewer; "
        "body: the dealer's text is 1,000 of 1,024 characters; cxbot needs 63 — shorten it to 961 or fewer"
    )
    assert (await kept(api)).returned_error == got["error"]
    # An old cxbot part is taken out even so: no stale score stays behind.
    stale = (await message(api, "[NPS 1] " + subject, "[cxbot]\r\nNPS 1 …\r\n[/cxbot]\r\n" + own_body)).json()
    assert (stale["subject"], stale["body"], stale["changed"]) == (subject, own_body, True)
    # Over the limit on its own (a customer who is not a detractor).
    await answer(api, "r-2", nps=9, customer="K-2")
    over = (await message(api, "x" * 40, "", customer="K-2")).json()
    assert over["subject"] == "x" * 40 and over["error"] == "subject: the dealer's text is 40 of 32 characters — shorten it to 32 or fewer"


async def test_unknown_dealer_or_customer_is_404_naming_it_and_keeps_nothing(api: Api) -> None:
    r = await message(api, "a", "b", dealer="XX-1")
    assert r.status_code == 404 and r.json() == {"error": "No dealer 'XX-1'."}
    r = await message(api, "a", "b", customer="K-404")
    assert r.status_code == 404 and "No customer 'K-404' at dealer 'DK-1001'" in r.json()["error"]
    assert await kept(api, "K-404") is None


@pytest.mark.parametrize(
    "body,field,text",
    [
        ({"subject": 12, "body": ""}, "subject", "valid string"),
        ({"subject": "", "body": ["x"]}, "body", "valid string"),
        ({"subject": "", "body": "", "note": "x"}, "note", "is not a field of a message"),
        ({"subject": "a\x00b", "body": ""}, "subject", "NUL"),
        ({"subject": "", "body": "x" * 100_001}, "body", "at most 100000"),
        (["subject", "body"], "body", "must be an object"),
    ],
)
async def test_bad_bodies_are_422_naming_the_field_and_keep_nothing(api: Api, body: Any, field: str, text: str) -> None:
    await answer(api, "r-1", nps=3)
    r = await api.post(PATH.format(dealer="DK-1001", customer="K-1"), body)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == field and text in error["message"]
    assert await kept(api) is None


async def test_not_json_is_422(api: Api) -> None:
    r = await api.client.post(PATH.format(dealer="DK-1001", customer="K-1"), content=b"subject=x", headers=api.auth())
    assert r.status_code == 422 and r.json()["errors"][0]["message"] == "is not valid JSON"


async def test_keys_need_the_intake_scope_and_the_dealer(api: Api) -> None:
    await answer(api, "r-1", nps=3)
    assert (await message(api, key=None)).status_code == 401
    _, read = await keys.create(api.cx, "reader", Scope.READ, None)
    assert (await message(api, key=read)).status_code == 403
    _, brandt = await keys.create(api.cx, "brandt system", Scope.INTAKE, ["DE-2001"])
    r = await message(api, key=brandt)
    assert r.status_code == 403 and "DK-1001" in r.json()["error"]
    assert await kept(api) is None
    _, vest = await keys.create(api.cx, "vest system", Scope.INTAKE, ["DK-1001"])
    assert (await message(api, "", "", key=vest)).json()["subject"] == "[NPS 3]"
