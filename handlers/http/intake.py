"""POST /api/v1/responses: the survey platform's way in."""

from __future__ import annotations

from typing import Any, NoReturn

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.domain.errors import InvalidInput, NotAllowed, Problem
from bot.domain.values import Scope
from bot.services import intake
from bot.services.keys import Principal
from handlers.http.common import batch_doc, iso, read_body, scoped, state
from handlers.wire import parse_responses

router = APIRouter(tags=["intake"])

_BODY_DOC = batch_doc(
    {"$ref": "#/components/schemas/ResponseWire"},
    "responses",
    {
        "200": "Every response was already stored with the same content; nothing was created.",
        "202": "Stored: `accepted` new responses, `duplicates` already known, the `alerts` raised.",
        "409": "A known response id came with different content; nothing was stored.",
    },
)


def _items(body: bytes, key: str = "responses", noun: str = "response") -> list[Any]:
    try:
        # orjson: a third of json.loads' cost on a batch, and strict where json.loads is not
        # (NaN, lone surrogates, integers past 64 bits are refused, not stored)
        data = orjson.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput([Problem("body", "is not valid JSON")]) from None
    if isinstance(data, dict) and key in data:
        items = data[key]
        if not isinstance(items, list):
            raise InvalidInput([Problem(key, f"must be a list of {key}")])
        extra = sorted(set(data) - {key})
        if extra:
            raise InvalidInput([Problem(k, f"is not a field of a batch (only `{key}`)") for k in extra])
        return items
    if isinstance(data, dict):
        return [data]
    raise InvalidInput([Problem("body", f"must be {'an' if noun[0] in 'aeiou' else 'a'} {noun} object or {{\"{key}\": [...]}}")])


async def read_batch(request: Request, who: Principal, key: str = "responses", noun: str = "response") -> tuple[bytes, list[Any]]:
    """The body's items (one object or a batch under `key`), within the size and batch limits;
    a dealer the key is not allowed for refuses the whole request before anything is parsed."""
    st = state(request)
    raw = await read_body(request, st.limits.max_body_bytes)
    items = _items(raw, key, noun)
    if not items:
        raise InvalidInput([Problem(key, f"must hold at least one {noun}")])
    if len(items) > st.limits.max_batch:
        raise InvalidInput([Problem(key, f"holds {len(items)} {key}; at most {st.limits.max_batch} per request")])
    for item in items:
        dealer = item.get("dealer_id") if isinstance(item, dict) else None
        if isinstance(dealer, str) and not who.actor.may_see(dealer.strip()):
            raise NotAllowed(f"this key is not allowed for dealer {dealer!r}")
    return raw, items


async def refuse(request: Request, items: list[Any], problems: list[Problem]) -> NoReturn:
    """Refuse the batch with every problem, unknown dealers included, in item order."""
    named = {
        i: item["dealer_id"].strip()
        for i, item in enumerate(items)
        if isinstance(item, dict) and isinstance(item.get("dealer_id"), str) and "\x00" not in item["dealer_id"]
    }
    unknown = await intake.unknown_dealers(state(request).cx, sorted(set(named.values())))
    problems = problems + [Problem("dealer_id", f"unknown dealer {code!r}", i) for i, code in named.items() if code in unknown]
    raise InvalidInput(sorted(problems, key=lambda p: (p.index or 0, p.field)))


@router.post("/api/v1/responses", status_code=202, openapi_extra=_BODY_DOC, summary="Submit survey responses")
async def post_responses(request: Request, who: Principal = scoped(Scope.INTAKE)) -> JSONResponse:
    st = state(request)
    raw, items = await read_batch(request, who)
    responses, problems = parse_responses(items, check_nul=b"\\u0000" in raw)  # JSON can carry NUL only escaped
    if problems:
        await refuse(request, items, problems)
    result = await intake.ingest(st.cx, responses)
    body = {
        "accepted": len(result.accepted),
        "duplicates": len(result.duplicates),
        "alerts": [{"id": a.id, "kind": a.kind.value, "due_at": iso(a.due_at), "response_id": a.response_id} for a in result.alerts],
    }
    return JSONResponse(body, status_code=202 if result.accepted else 200)
