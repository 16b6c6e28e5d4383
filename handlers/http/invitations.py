"""Survey invitations: POST /api/v1/invitations (the survey platform's status reports) and the
communication list, GET /api/v1/invitations (JSON pages or a CSV download)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, AsyncIterator, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from bot.domain.errors import NotFound
from bot.domain.invitations import InvitationFilter, InvitationStatus
from bot.domain.values import Scope, Survey
from bot.services import invitations
from bot.services.keys import Principal
from handlers.http.common import batch_doc, scoped, state
from handlers.http.intake import read_batch, refuse
from handlers.invitation_list import counts_json, csv_lines, invitation_json
from handlers.wire import parse_invitations

router = APIRouter(tags=["invitations"])

_BODY_DOC = batch_doc(
    {"$ref": "#/components/schemas/InvitationWire"},
    "invitations",
    {
        "200": "Nothing changed: every invitation was known with the same or a later status.",
        "202": "Stored: `accepted` new invitations, `updated` whose status moved forward, `duplicates` unchanged.",
        "409": "A known invitation id came for another dealer, customer or survey; nothing was stored.",
    },
)


@router.post("/api/v1/invitations", status_code=202, openapi_extra=_BODY_DOC, summary="Record survey invitations and their status")
async def post_invitations(request: Request, who: Principal = scoped(Scope.INTAKE)) -> JSONResponse:
    st = state(request)
    raw, items = await read_batch(request, who, "invitations", "invitation")
    found, problems = parse_invitations(items, check_nul=b"\\u0000" in raw)  # JSON can carry NUL only escaped
    if problems:
        await refuse(request, items, problems)
    result = await invitations.record(st.cx, who.actor, found)
    body = {"accepted": len(result.accepted), "updated": len(result.updated), "duplicates": len(result.duplicates)}
    return JSONResponse(body, status_code=202 if result.accepted or result.updated else 200)


def _filter(
    q: Annotated[str | None, Query(description="Part of the customer's name, email or id; any case.")] = None,
    date_field: Annotated[Literal["purchase", "sent"], Query(description="What `from` and `to` are days of: the purchase or service date, or the day the message was sent (the dealer's time zone).")] = "purchase",
    date_from: Annotated[date | None, Query(alias="from", description="First day, inclusive (2026-10-01).")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="Last day, inclusive.")] = None,
    status: InvitationStatus | None = None,
    survey: Survey | None = None,
    dealer_id: str | None = None,
) -> InvitationFilter:
    return InvitationFilter(frozenset([dealer_id]) if dealer_id else None, q, date_field, date_from, date_to, status, survey)


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get("/api/v1/invitations", summary="The communication list: invitations with filters, paging and counts per status")
async def list_invitations(
    request: Request,
    f: InvitationFilter = Depends(_filter),
    limit: Annotated[int, Query(ge=1, le=invitations.MAX_PAGE)] = 50,
    cursor: str | None = None,
    format: Annotated[Literal["json", "csv"] | None, Query(description="csv: every matching invitation as a download (also with Accept: text/csv).")] = None,
    who: Principal = scoped(Scope.READ),
) -> Response:
    if _wants_csv(request, format):
        return await _csv(request, who, f)
    page = await invitations.find(state(request).cx, who.actor, f, limit, cursor)
    return JSONResponse({
        "items": [invitation_json(r) for r in page.items],
        "next_cursor": page.next_cursor,
        "total": page.total,
        "counts": counts_json(page.counts),
    })


@router.get("/api/v1/invitations.csv", summary="The communication list as a CSV download", response_class=Response)
async def invitations_csv(request: Request, f: InvitationFilter = Depends(_filter), who: Principal = scoped(Scope.READ)) -> Response:
    return await _csv(request, who, f)


async def _csv(request: Request, who: Principal, f: InvitationFilter) -> Response:
    cx = state(request).cx
    rows = invitations.each(cx, who.actor, f)
    try:  # the first row is read here, so a refused filter is a 403/422 answer, not a broken download
        first = await anext(rows)
    except StopAsyncIteration:
        first = None

    async def body() -> AsyncIterator[bytes]:
        yield ("\ufeff" + csv_lines([first] if first else [])).encode()  # the BOM: Excel reads UTF-8
        batch = []
        async for r in rows:
            batch.append(r)
            if len(batch) == 500:
                yield csv_lines(batch, header=False).encode()
                batch = []
        if batch:
            yield csv_lines(batch, header=False).encode()

    name = f"invitations-{cx.clock.now():%Y-%m-%d}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/v1/invitations/{invitation_id}", summary="One invitation and the time of each status")
async def get_invitation(request: Request, invitation_id: str, who: Principal = scoped(Scope.READ)) -> dict[str, Any]:
    row = await invitations.get(state(request).cx, who.actor, invitation_id)
    if row is None:
        raise NotFound(f"No invitation {invitation_id!r}.")
    return invitation_json(row)
