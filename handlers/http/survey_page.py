"""The lost-sales survey page behind an invitation's personal link: GET shows it, POST answers.
Public (the signed token is the key); every refusal is a page in the customer's language."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.domain.lost_sales import MAX_COMMENT, REASONS, TEST_DRIVE, LostSalesAnswer
from bot.services import survey_links
from bot.services.survey_links import LinkProblem, LinkState
from handlers.http.common import state
from handlers.http.survey_texts import page_words

router = APIRouter(include_in_schema=False)
ENV = Environment(loader=PackageLoader("handlers.http", "templates"), autoescape=select_autoescape(default=True), undefined=StrictUndefined)

# The token is in the URL: keep it out of referrers and caches; the page loads nothing from elsewhere.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}
PROBLEM_STATUS = {LinkProblem.INVALID: 404, LinkProblem.EXPIRED: 410, LinkProblem.USED: 410}
MAX_FORM_BYTES = 64 * 1024  # the comment's 4,000 characters, percent-encoded, with room to spare
EMPTY = {"considering": "", "contact": "", "test_drive": "", "reason": "", "comment": ""}


def _page(code: int, lang: str, **context: Any) -> HTMLResponse:
    html = ENV.get_template("survey.html.j2").render(lang=lang, **{"form": False, "errors": {}, "values": EMPTY, "extra": None, **context})
    return HTMLResponse(html, status_code=code, headers=HEADERS)


def _browser_lang(request: Request) -> str:
    return request.headers.get("accept-language", "en").split(",")[0].strip()[:2]


def _problem(request: Request, found: LinkState) -> HTMLResponse:
    assert found.problem is not None
    lang, t = page_words(found.invitation.lang if found.invitation else _browser_lang(request))
    p = found.problem.value
    return _page(PROBLEM_STATUS[found.problem], lang, t=t, heading=t[f"{p}_title"], message=t[p])


def _form(found: LinkState, values: dict[str, str], errors: dict[str, str], code: int = 200) -> HTMLResponse:
    assert found.invitation is not None
    inv = found.invitation
    lang, t = page_words(inv.lang)
    dealer = " ".join(inv.dealer_name.split())
    labels = {"considering": t["considering"], "contact": t["contact"].format(dealer=dealer), "comment": t["comment"]}
    return _page(
        code, lang, t=t, form=True, heading=t["title"].format(dealer=dealer), dealer=dealer, labels=labels, values=values,
        errors=errors, max_comment=MAX_COMMENT,
    )


@router.get("/s/{token}", response_class=HTMLResponse)
async def show(request: Request, token: str) -> HTMLResponse:
    found = await survey_links.open_link(state(request).cx, token)
    if found.problem is not None:
        return _problem(request, found)
    return _form(found, dict(EMPTY), {})


def read_form(body: bytes, t: dict[str, Any]) -> tuple[dict[str, str], dict[str, str], LostSalesAnswer | None]:
    """The posted fields, what is wrong with them (field → message), and the answer when nothing is."""
    raw = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    values = {k: (raw.get(k) or [""])[0] for k in EMPTY}
    values["comment"] = values["comment"].replace("\x00", "").strip()
    errors = {k: t["missing"] for k in ("considering", "contact") if values[k] not in ("yes", "no")}
    if len(values["comment"]) > MAX_COMMENT:
        errors["comment"] = t["too_long"].format(n=MAX_COMMENT)
    if values["test_drive"] not in TEST_DRIVE:
        values["test_drive"] = ""  # not one of the offered answers: as if none was chosen
    if values["reason"] not in REASONS:
        values["reason"] = ""
    if errors:
        return values, errors, None
    given = LostSalesAnswer(
        values["considering"] == "yes", values["contact"] == "yes", values["test_drive"] or None, values["reason"] or None, values["comment"] or None
    )
    return values, errors, given


@router.post("/s/{token}", response_class=HTMLResponse)
async def send(request: Request, token: str) -> HTMLResponse:
    cx = state(request).cx
    checked = await survey_links.check(cx, token)
    if checked.problem is not None:
        return _problem(request, checked)
    assert checked.invitation is not None
    lang, t = page_words(checked.invitation.lang)
    body = b""
    async for chunk in request.stream():  # a public form: read no more than an answer can be
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _page(413, lang, t=t, heading=t["invalid_title"], message=t["too_long"].format(n=MAX_COMMENT))
    values, errors, given = read_form(body, t)
    if given is None:
        return _form(checked, values, errors, 422)
    done = await survey_links.answer(cx, checked, given)
    if done.problem is not None:
        return _problem(request, done)
    dealer = " ".join(checked.invitation.dealer_name.split())
    extra = t["thanks_contact"].format(dealer=dealer) if given.still_considering and given.wants_contact else None
    return _page(200, lang, t=t, heading=t["thanks_title"], message=t["thanks"].format(dealer=dealer), extra=extra)
