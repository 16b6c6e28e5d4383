"""The HTTP application: routes, and one place that turns refusals into answers."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot.domain.errors import Conflict, InvalidInput, InvalidTransition, NotAllowed, NotFound, Problem, Refused, UnknownAlert
from bot.services import Context
from bot.services.keys import KeyRing
from handlers.http import complaints
from handlers.http import detractors
from handlers.http import intake, invitations, reads, reviews
from handlers.http import leads, survey_page
from handlers.http.common import ApiState, HttpLimits, RefuseNul, TooLarge, Unauthorized
from handlers.lead_wire import LeadWire
from handlers.wire import InvitationWire, ResponseWire

log = structlog.get_logger()

STATUS = {NotAllowed: 403, UnknownAlert: 404, NotFound: 404, Conflict: 409, InvalidTransition: 409}


def _errors(problems: list[Any]) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"index": p.index, "field": p.field, "message": p.message} for p in problems]}, status_code=422
    )


def create_api(cx: Context, keys: KeyRing, limits: HttpLimits, lifespan: Any = None) -> FastAPI:
    app = FastAPI(
        title="cxbot",
        summary="Survey signals to dealer action: intake, alerts, customers.",
        version="1.0",
        lifespan=lifespan,
    )
    app.state.api = ApiState(cx, keys, limits)
    app.include_router(intake.router)
    app.include_router(invitations.router)
    app.include_router(leads.router)  # test-drive requests (lost sales)
    app.include_router(reads.router)
    app.include_router(detractors.router)  # the dealer system: activities and customer messages
    app.include_router(complaints.router)
    app.include_router(reviews.router)  # public: no key
    app.include_router(survey_page.router)  # public: the link's signed token is the key
    app.add_middleware(RefuseNul)

    @app.exception_handler(Unauthorized)
    async def _unauthorized(_: Request, e: Unauthorized) -> JSONResponse:
        return JSONResponse({"error": str(e)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(TooLarge)
    async def _too_large(_: Request, e: TooLarge) -> JSONResponse:
        return JSONResponse({"error": str(e)}, status_code=413)

    @app.exception_handler(InvalidInput)
    async def _invalid(_: Request, e: InvalidInput) -> JSONResponse:
        return _errors(e.problems)

    @app.exception_handler(Refused)
    async def _refused(_: Request, e: Refused) -> JSONResponse:
        code = next((c for t, c in STATUS.items() if isinstance(e, t)), 422)
        body: dict[str, Any] = {"error": e.message}
        if isinstance(e, Conflict):
            body["ids"] = e.ids
        return JSONResponse(body, status_code=code)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = [
            Problem(".".join(str(p) for p in err["loc"] if p not in ("query", "body", "path")) or "body", str(err["msg"]).removeprefix("Value error, "))
            for err in e.errors()
        ]
        return _errors(problems)

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:
        log.exception("http_unhandled", path=request.url.path, method=request.method)
        return JSONResponse({"error": "internal error; it has been logged"}, status_code=500)

    _add_schema(app)
    return app


def _add_schema(app: FastAPI) -> None:
    """The intake body is read by hand (for the batch rules), so add its schema to the document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = build()
        comps = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in (ResponseWire, InvitationWire, LeadWire):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            comps.update(schema.pop("$defs", {}))
            comps[model.__name__] = schema
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
