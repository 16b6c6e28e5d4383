"""Test-drive leads from the brand's website: POST /api/v1/leads (the lost-sales cycle, seed 001)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.domain.values import Scope
from bot.services import lost_sales
from bot.services.keys import Principal
from handlers.http.common import batch_doc, scoped, state
from handlers.http.intake import read_batch, refuse
from handlers.lead_wire import parse_leads

router = APIRouter(tags=["leads"])

_BODY_DOC = batch_doc(
    {"$ref": "#/components/schemas/LeadWire"},
    "leads",
    {
        "200": "Nothing new: every lead was stored before with the same content.",
        "202": "Stored: `accepted` new leads, `duplicates` known with the same content.",
        "409": "A known lead id came with other content; nothing was stored.",
    },
)


@router.post("/api/v1/leads", status_code=202, openapi_extra=_BODY_DOC, summary="Record test-drive requests (lost-sales prospects)")
async def post_leads(request: Request, who: Principal = scoped(Scope.INTAKE)) -> JSONResponse:
    st = state(request)
    raw, items = await read_batch(request, who, "leads", "lead")
    found, problems = parse_leads(items, check_nul=b"\\u0000" in raw)  # JSON can carry NUL only escaped
    if problems:
        await refuse(request, items, problems)
    result = await lost_sales.record_leads(st.cx, who.actor, found)
    body = {"accepted": len(result.accepted), "duplicates": len(result.duplicates)}
    return JSONResponse(body, status_code=202 if result.accepted else 200)
