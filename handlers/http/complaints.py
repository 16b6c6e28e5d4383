"""POST /api/v1/complaints: register an external complaint; GET /api/v1/complaints/{id}: its
complete handling record."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.domain.complaints import VIA_FORMS, parse_complaint
from bot.domain.values import Scope
from bot.services import complaints
from bot.services.keys import Principal
from handlers.complaint_record import record_json
from handlers.http.common import alert_json, scoped, state

router = APIRouter(tags=["complaints"])


# Every field is optional here so that one check (bot.domain.complaints) names every missing or
# wrong one at once, in the same words for the API, the CLI and Slack.
class ComplaintCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, description="The dealer system's customer id. Required.")
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dealer_id: str | None = Field(default=None, description="Required.")
    customer: ComplaintCustomer | None = Field(default=None, description="Required: at least `id`.")
    received_via: str | None = Field(default=None, description=f"Required: {VIA_FORMS}.")
    received_at: AwareDatetime | None = Field(default=None, description="When it came in (with a UTC offset). Default: now.")
    description: str | None = Field(default=None, description="Required: the complaint as received; pasted mail text too (no attachments).")
    registered_by: str | None = Field(default=None, description="The address of the person who took the complaint (granted to the dealer).")


_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "Registered: the new alert (`id` like CO-12), due in 48 hours."},
    401: {"description": "Missing or unknown key."},
    403: {"description": "The key is not allowed for this dealer."},
    422: {"description": "`errors`: one entry per wrong field (`field`, `message`); nothing was stored."},
}


@router.post("/api/v1/complaints", status_code=201, responses=_RESPONSES, summary="Register an external complaint")
async def post_complaint(request: Request, body: ComplaintIn, who: Principal = scoped(Scope.INTAKE)) -> JSONResponse:
    cx = state(request).cx
    if body.dealer_id and body.dealer_id.strip():
        who.require_dealer(body.dealer_id.strip())  # 403 before anything about the other fields
    customer = body.customer or ComplaintCustomer()
    c = parse_complaint(
        dealer=body.dealer_id,
        customer_id=customer.id,
        customer_name=customer.name,
        customer_email=customer.email,
        customer_phone=customer.phone,
        received_via=body.received_via,
        received_at=body.received_at,
        description=body.description,
        registered_by=body.registered_by,
        now=cx.clock.now(),
    )
    alert = await complaints.register(cx, who.actor, c)
    return JSONResponse(alert_json(alert, cx.clock.now()), status_code=201, headers={"Location": f"/api/v1/complaints/{alert.id}"})


@router.get("/api/v1/complaints/{alert_id}", summary="A complaint's complete handling record")
async def get_complaint(request: Request, alert_id: str, who: Principal = scoped(Scope.READ)) -> dict[str, Any]:
    cx = state(request).cx
    return record_json(await complaints.record(cx, who.actor, alert_id), cx.clock.now())
