"""The dealer system's two ways in (seed 004): POST /api/v1/activities (a service call, workshop booking,
sales order or purchase was opened for a customer: ID559) and POST /api/v1/dealers/{d}/customers/{c}/message
(its current customer message in, the message to write back out: ID612). Both take intake keys."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, TypeAdapter, ValidationError, field_validator

from bot.domain.detractors import ActivityIn, ActivityType
from bot.domain.errors import InvalidInput, Problem
from bot.domain.values import Scope
from bot.services import activities, customer_messages
from bot.services.keys import Principal
from handlers.http.common import batch_doc, read_body, scoped, state
from handlers.http.intake import read_batch, refuse
from handlers.wire import _email, _nul_fields, problems_of

router = APIRouter(tags=["dealer system"])

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
NUL = "must not contain the NUL character (\\u0000)"
# A Literal, not the enum, so the OpenAPI document shows the values inline.
ActivityTypeWire = Literal["service_call", "workshop_booking", "sales_order", "purchase"]
assert set(get_args(ActivityTypeWire)) == {t.value for t in ActivityType}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActivityWire(_Strict):
    dealer_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    customer_id: Id
    type: ActivityTypeWire
    reference: Id
    opened_at: AwareDatetime
    assignee_email: str | None = None

    _emails = field_validator("assignee_email")(_email)

    def to_domain(self) -> ActivityIn:
        assignee = self.assignee_email.lower() if self.assignee_email else None
        return ActivityIn(self.dealer_id, self.customer_id, ActivityType(self.type), self.reference, self.opened_at, assignee)


class MessageWire(_Strict):
    """The dealer system's message as it is now; the dealer's text is kept exactly (no trimming)."""

    subject: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    body: Annotated[str, StringConstraints(max_length=100_000)] | None = None


_ACTIVITY = TypeAdapter(ActivityWire)
_MESSAGE = TypeAdapter(MessageWire)


def _problems(err: ValidationError, index: int | None, what: str) -> list[Problem]:
    return [Problem(p.field, p.message.replace("is not a field of a response", f"is not a field of {what}"), p.index) for p in problems_of(err, index)]


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput([Problem("body", "is not valid JSON")]) from None


def parse_activities(items: list[Any]) -> tuple[list[ActivityIn], list[Problem]]:
    """Check every item; the converted activities and every problem found (by index)."""
    good: list[ActivityIn] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem("body", "each activity must be a JSON object", i))
            continue
        nul = _nul_fields(item, "", [])
        try:
            activity = _ACTIVITY.validate_python(item).to_domain()
        except ValidationError as e:
            found = _problems(e, i, "an activity")
            named = {p.field for p in found}
            problems += found + [Problem(f, NUL, i) for f in nul if f not in named]
            continue
        if nul:
            problems += [Problem(f, NUL, i) for f in nul]
        else:
            good.append(activity)
    return good, problems


_ACTIVITY_DOC = batch_doc(
    ActivityWire.model_json_schema(),
    "activities",
    {
        "200": "Every activity was already stored with the same content; nothing was sent again.",
        "202": "Stored: `accepted` new activities, `duplicates` already known, `warned`: those opened for a detractor.",
        "409": "A known (dealer_id, type, reference) came with different content; nothing was stored.",
    },
)


@router.post("/api/v1/activities", status_code=202, openapi_extra=_ACTIVITY_DOC, summary="Report activities opened in the dealer system")
async def post_activities(request: Request, who: Principal = scoped(Scope.INTAKE)) -> JSONResponse:
    st = state(request)
    _, items = await read_batch(request, who, "activities", "activity")
    parsed, problems = parse_activities(items)
    if problems:
        await refuse(request, items, problems)
    result = await activities.record(st.cx, parsed)
    body = {
        "accepted": len(result.accepted),
        "duplicates": len(result.duplicates),
        "warned": [{"dealer_id": a.dealer, "customer_id": a.customer_id, "type": a.type.value, "reference": a.reference} for a in result.warned],
    }
    return JSONResponse(body, status_code=202 if result.accepted else 200)


_MESSAGE_DOC = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": MessageWire.model_json_schema()}}},
    "responses": {
        "200": {
            "description": "The message to write back: `subject` (≤ 32 characters) and `body` (≤ 1,024), `changed` "
            "(differs from what was sent), `error` (a limit the dealer's own text leaves no room under, or null)."
        },
        "403": {"description": "The key lacks the intake scope or is not allowed for this dealer."},
        "404": {"description": "No such dealer, or no such customer at it."},
        "422": {"description": "`errors`: one entry per wrong field."},
    },
}


@router.post(
    "/api/v1/dealers/{dealer_id}/customers/{customer_id}/message",
    openapi_extra=_MESSAGE_DOC,
    summary="The customer's message for the dealer system, with cxbot's detractor part",
)
async def post_message(request: Request, dealer_id: str, customer_id: str, who: Principal = scoped(Scope.INTAKE)) -> dict[str, Any]:
    st = state(request)
    who.require_dealer(dealer_id)
    data = _json(await read_body(request, st.limits.max_body_bytes))
    if not isinstance(data, dict):
        raise InvalidInput([Problem("body", 'must be an object like {"subject": "…", "body": "…"}')])
    try:
        message = _MESSAGE.validate_python(data)
    except ValidationError as e:
        raise InvalidInput(_problems(e, None, "a message")) from None
    nul = _nul_fields(data, "", [])
    if nul:
        raise InvalidInput([Problem(f, NUL) for f in nul])
    result = await customer_messages.exchange(st.cx, who.actor, dealer_id, customer_id, message.subject or "", message.body or "")
    return {"subject": result.subject, "body": result.body, "changed": result.changed, "error": result.error}
