"""What every HTTP handler shares: the app's state, key checks, JSON shapes of domain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope as AsgiScope, Send

from bot.domain.errors import CxError
from bot.domain.values import Alert, HistoryEntry, Scope
from bot.services import Context
from bot.services.keys import KeyRing, Principal


@dataclass(frozen=True)
class HttpLimits:
    max_body_bytes: int = 4 * 1024 * 1024
    max_batch: int = 1000


@dataclass(frozen=True)
class ApiState:
    cx: Context
    keys: KeyRing
    limits: HttpLimits


class Unauthorized(CxError):
    pass


class TooLarge(CxError):
    pass


NUL_MESSAGE = "must not contain the NUL character"


class RefuseNul:
    """PostgreSQL can neither store nor compare text holding a NUL character, so a path or query
    with one is refused at the door (422) instead of failing deep inside a query (500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = "path" if "\x00" in scope["path"] else "query" if b"%00" in scope["query_string"] else None
            if where:
                answer = JSONResponse({"errors": [{"index": None, "field": where, "message": NUL_MESSAGE}]}, status_code=422)
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)


def state(request: Request) -> ApiState:
    st: ApiState = request.app.state.api
    return st


_bearer = HTTPBearer(auto_error=False, description="An API key: CXBOT_API_KEYS or one made with `cxbot keys create`.")


async def principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if creds is None or not creds.credentials:
        raise Unauthorized("missing API key: send Authorization: Bearer <key>")
    st = state(request)
    found = await st.keys.authenticate(st.cx, creds.credentials)
    if found is None:
        raise Unauthorized("unknown or revoked API key")
    return found


def scoped(scope: Scope) -> Any:
    async def check(p: Principal = Depends(principal)) -> Principal:
        p.require(scope)
        return p

    return Depends(check)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused past `limit` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is {int(declared)} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def iso(v: datetime | None) -> str | None:
    return v.isoformat().replace("+00:00", "Z") if v else None


def alert_json(a: Alert, now: datetime) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind.value,
        "status": a.status.value,
        "dealer_id": a.dealer,
        "customer_id": a.customer_id,
        "response_id": a.response_id,
        "created_at": iso(a.created_at),
        "due_at": iso(a.due_at),
        "handled_at": iso(a.handled_at),
        "resolved_at": iso(a.resolved_at),
        "overdue": a.overdue(now),
        "on_time": a.on_time,
        "escalation_level": a.escalation_level,
        "escalated_at": iso(a.escalated_at),
    }


def history_json(e: HistoryEntry) -> dict[str, Any]:
    return {
        "at": iso(e.at),
        "event": e.event.value,
        "channel": e.channel.value,
        "actor": e.actor,
        "old_status": e.old_status.value if e.old_status else None,
        "new_status": e.new_status.value if e.new_status else None,
        "note": e.note,
    }


def batch_doc(item_schema: dict[str, Any], key: str, answers: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI description of a POST that takes one object or {key: [...]} (all or nothing),
    with the answers every such endpoint shares."""
    shared = {
        "401": "Missing or unknown key.",
        "403": "The key is not allowed for a dealer in the request.",
        "413": "The body is over the size limit.",
        "422": "`errors`: one entry per wrong field (`index`, `field`, `message`); nothing was stored.",
    }
    batch = {"type": "object", "properties": {key: {"type": "array", "items": item_schema, "maxItems": 1000}}, "required": [key]}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [item_schema, batch]}}}},
        "responses": {code: {"description": text} for code, text in sorted({**shared, **answers}.items())},
    }
