"""Read endpoints (alerts, customers, dealers), the API status change, and the health check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.domain.kpi import RankingFilter, ResultFilter
from bot.domain.values import DealerType, Kind, Scope, Status, Survey
from bot.services import alerts, kpi, lookups
from bot.services import dealers as dealer_service
from bot.services.keys import Principal
from handlers.http.common import NUL_MESSAGE, alert_json, history_json, iso, scoped, state
from handlers.reports import kpi_json, ranking_csv, ranking_filename, ranking_xlsx
from storage.repositories.alerts import AlertFilter

router = APIRouter()


@router.get("/api/v1/alerts", tags=["alerts"], summary="List alerts, newest first")
async def list_alerts(
    request: Request,
    status: Status | None = None,
    kind: Kind | None = None,
    dealer_id: str | None = None,
    overdue: bool = False,
    escalated: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=alerts.MAX_PAGE)] = 50,
    cursor: str | None = None,
    who: Principal = scoped(Scope.READ),
) -> dict[str, Any]:
    cx = state(request).cx
    f = AlertFilter(
        status=status,
        kind=kind,
        dealers=frozenset([dealer_id]) if dealer_id else None,
        overdue_at=cx.clock.now() if overdue else None,
        escalated=escalated,
    )
    page = await alerts.find(cx, who.actor, f, limit, cursor)
    now = cx.clock.now()
    return {"items": [alert_json(a, now) for a in page.items], "next_cursor": page.next_cursor}


@router.get("/api/v1/alerts/{alert_id}", tags=["alerts"], summary="One alert with its full history")
async def get_alert(request: Request, alert_id: str, who: Principal = scoped(Scope.READ)) -> dict[str, Any]:
    cx = state(request).cx
    d = await alerts.detail(cx, alert_id, who.actor)
    return {
        **alert_json(d.alert, cx.clock.now()),
        "dealer_name": d.dealer_name,
        "customer_name": d.customer_name,
        "history": [history_json(e) for e in d.history],
    }


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Status = Field(description="ongoing or resolved")
    note: str = Field(description="What was done: who contacted the customer, what was agreed, what happens next.")

    @field_validator("note")
    @classmethod
    def _no_nul(cls, v: str) -> str:
        if "\x00" in v:  # PostgreSQL cannot store it
            raise ValueError(NUL_MESSAGE)
        return v


@router.post("/api/v1/alerts/{alert_id}/status", tags=["alerts"], summary="Set an alert ongoing or resolved, with a note")
async def set_status(request: Request, alert_id: str, body: StatusChange, who: Principal = scoped(Scope.ADMIN)) -> dict[str, Any]:
    cx = state(request).cx
    change = await alerts.change_status(cx, alert_id, who.actor, body.status, body.note)
    return alert_json(change.after, cx.clock.now())


@router.get("/api/v1/dealers", tags=["dealers"], summary="Dealers this key may see")
async def list_dealers(request: Request, who: Principal = scoped(Scope.READ)) -> dict[str, Any]:
    rows = await dealer_service.visible(state(request).cx, who.actor)
    return {"items": [d.__dict__ for d in rows]}


@router.get("/api/v1/dealers/{dealer_id}/customers/{customer_id}", tags=["customers"], summary="A customer's record")
async def get_customer(request: Request, dealer_id: str, customer_id: str, who: Principal = scoped(Scope.READ)) -> dict[str, Any]:
    cx = state(request).cx
    card = await lookups.customer(cx, who.actor, dealer_id, customer_id)
    now = cx.clock.now()
    return {
        "dealer_id": card.dealer,
        "customer_id": card.customer_id,
        "name": card.name,
        "anonymized": card.anonymized,
        "kind": card.kind,
        "customer_number": card.customer_number,
        "email": card.email,
        "email_bounced": card.email_bounced,
        "phones": card.phones,
        "language": card.language,
        "salesperson_email": card.salesperson_email,
        "advisor_email": card.advisor_email,
        "contact_name": card.contact_name,
        "contact_methods": card.methods,
        "preferred_contact": card.preferred_contact,
        "best_time": card.best_time,
        "last_verified_at": iso(card.last_verified_at) if card.last_verified_at else None,
        "email_suppressed": card.email_suppressed,
        "detractor": card.detractor,
        "detractor_response_id": card.detractor_response_id,
        "latest_responses": [
            {
                "id": r.id,
                "survey": r.survey,
                "submitted_at": iso(r.submitted_at),
                "nps": r.nps,
                "scores": r.scores,
                "comment": r.comment,
                "purchase_date": r.purchase_date.isoformat() if r.purchase_date else None,
                "service_date": r.service_date.isoformat() if r.service_date else None,
                "segment": r.segment,
            }
            for r in card.latest
        ],
        "open_alerts": [alert_json(a, now) for a in card.open_alerts],
    }


@router.get("/api/v1/kpi", tags=["kpi"], summary="On-time KPI, handling time, open and escalated alerts, NPS per dealer")
async def get_kpi(
    request: Request,
    dealer_id: str | None = None,
    period: Annotated[str | None, Query(description="week, month (default), 2026-W44, 2026-10 or 2026-10-01..2026-10-31")] = None,
    kind: Kind | None = None,
    survey: Survey | None = None,
    segment: int | None = None,
    who: Principal = scoped(Scope.READ),
) -> dict[str, Any]:
    found = await kpi.kpi(state(request).cx, who.actor, dealer_id, period, kind, survey, segment)
    return {"items": [kpi_json(k) for k in found]}


async def _ranking(
    request: Request,
    column: str | None = None,
    period: str | None = None,
    type: DealerType | None = None,
    region: str | None = None,
    brand: str | None = None,
    kind: Kind | None = None,
    survey: Survey | None = None,
    segment: int | None = None,
    who: Principal = scoped(Scope.READ),
) -> Any:
    """The ranking both downloads show, from the same query parameters."""
    filters = RankingFilter(type, region, brand, kind, ResultFilter(survey, segment))
    return await kpi.ranking(state(request).cx, who.actor, column, period, filters)


_RANKING_QUERY = "column (default on_time_pct), period (default month), type, region, brand, kind, survey, segment"


@router.get("/api/v1/reports/ranking.csv", tags=["kpi"], summary="The ranking list as a CSV download", description=_RANKING_QUERY, response_class=Response)
async def ranking_csv_report(r: Any = Depends(_ranking)) -> Response:
    return Response(
        ranking_csv(r).encode("utf-8-sig"),  # the BOM makes Excel read the names as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{ranking_filename(r, "csv")}"'},
    )


@router.get("/api/v1/reports/ranking.xlsx", tags=["kpi"], summary="The ranking list as an Excel download", description=_RANKING_QUERY, response_class=Response)
async def ranking_xlsx_report(r: Any = Depends(_ranking)) -> Response:
    return Response(
        ranking_xlsx(r),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{ranking_filename(r, "xlsx")}"'},
    )


@router.get("/healthz", tags=["health"], summary="Is the database reachable?")
async def healthz(request: Request) -> JSONResponse:
    try:
        await state(request).cx.db.ping()
    except Exception as e:  # any failure here means "not healthy", and the answer says which
        return JSONResponse({"status": "unavailable", "database": type(e).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
