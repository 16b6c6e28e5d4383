"""The questions behind the on-time KPI and the ranking list, answered with SQL aggregates per
dealer and alert kind (never by loading alerts). Indexes behind them: alerts by (dealer, due_at)
and (dealer, handled_at), open alerts by (dealer, status), responses by (dealer, submitted_at)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Select, case, extract, func, select

from bot.domain.kpi import AlertFigures, NpsFigures, ResultFilter
from bot.domain.values import DealerType, Kind, Status
from storage.models import AlertRow, Dealer, Response
from storage.repositories.base import Repo, chunks

A = AlertRow.__table__
D = Dealer.__table__
R = Response.__table__

Key = tuple[str, Kind]


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class KpiRepo(Repo):
    async def dealers_matching(
        self, codes: Sequence[str] | None, type_: DealerType | None = None, region: str | None = None, brand: str | None = None
    ) -> list[Any]:
        """Dealers (code, name, brand, region, type, time_zone, language) by code; `codes` None = every
        dealer. Region and brand match without regard to case."""
        q = select(D.c.code, D.c.name, D.c.brand, D.c.region, D.c.type, D.c.time_zone, D.c.language).order_by(D.c.code)
        if type_ is not None:
            q = q.where(D.c.type == type_)
        if region is not None:
            q = q.where(func.lower(D.c.region) == region.strip().lower())
        if brand is not None:
            q = q.where(func.lower(D.c.brand) == brand.strip().lower())
        if codes is None:
            return list(await self.conn.execute(q))
        out: list[Any] = []
        for part in chunks(sorted(set(codes))):
            out += list(await self.conn.execute(q.where(D.c.code.in_(part))))
        return sorted(out, key=lambda r: r.code)

    def _alerts(self, q: Select[Any], part: list[str], kind: Kind | None, results: ResultFilter) -> Select[Any]:
        q = q.where(A.c.dealer_code.in_(part))
        if kind is not None:
            q = q.where(A.c.kind == kind)
        if not results.empty:
            # Only alerts raised by answers of that survey / segment (complaints have none).
            q = q.join(R, R.c.id == A.c.response_id)
            if results.survey is not None:
                q = q.where(R.c.survey == results.survey)
            if results.segment is not None:
                q = q.where(R.c.segment == results.segment)
        return q.group_by(A.c.dealer_code, A.c.kind)

    async def due_outcomes(
        self,
        dealers: Sequence[str],
        start: datetime,
        end: datetime,
        now: datetime,
        kind: Kind | None = None,
        results: ResultFilter = ResultFilter(),
    ) -> dict[Key, AlertFigures]:
        """Alerts due in [start, end) per dealer and kind: how many have a known outcome, how many
        of those were handled on time, how many are still pending, how many were escalated."""
        known = A.c.handled_at.is_not(None) | (A.c.due_at < now)
        q = select(
            A.c.dealer_code,
            A.c.kind,
            _count(known),
            _count(A.c.handled_at.is_not(None) & (A.c.handled_at <= A.c.due_at)),
            _count(A.c.handled_at.is_(None) & (A.c.due_at >= now)),
            _count(A.c.escalation_level > 0),
        ).where(A.c.due_at >= start, A.c.due_at < end)
        out: dict[Key, AlertFigures] = {}
        for part in chunks(sorted(set(dealers))):
            for code, k, due, on_time, pending, escalated in await self.conn.execute(self._alerts(q, part, kind, results)):
                out[(code, Kind(k))] = AlertFigures(due=int(due), on_time=int(on_time), pending=int(pending), escalated=int(escalated))
        return out

    def _seconds(self, later: Any, earlier: Any) -> Any:
        if self.dialect == "sqlite":  # stored as ISO text; julianday reads it, in days
            return (func.julianday(later) - func.julianday(earlier)) * 86400.0
        return extract("epoch", later - earlier)

    async def first_handlings(
        self, dealers: Sequence[str], start: datetime, end: datetime, kind: Kind | None = None, results: ResultFilter = ResultFilter()
    ) -> dict[Key, AlertFigures]:
        """Alerts first handled in [start, end) per dealer and kind, and the summed time from
        creation to that handling."""
        q = select(
            A.c.dealer_code, A.c.kind, func.count(), func.coalesce(func.sum(self._seconds(A.c.handled_at, A.c.created_at)), 0)
        ).where(A.c.handled_at >= start, A.c.handled_at < end)
        out: dict[Key, AlertFigures] = {}
        for part in chunks(sorted(set(dealers))):
            for code, k, n, seconds in await self.conn.execute(self._alerts(q, part, kind, results)):
                out[(code, Kind(k))] = AlertFigures(handled=int(n), handling_seconds=float(seconds))
        return out

    async def open_now(
        self, dealers: Sequence[str], now: datetime, kind: Kind | None = None, results: ResultFilter = ResultFilter()
    ) -> dict[Key, AlertFigures]:
        """Open (new or ongoing) alerts per dealer and kind, and how many of them are overdue."""
        q = select(
            A.c.dealer_code, A.c.kind, func.count(), _count(A.c.handled_at.is_(None) & (A.c.due_at < now))
        ).where(A.c.status.in_([Status.NEW, Status.ONGOING]))
        out: dict[Key, AlertFigures] = {}
        for part in chunks(sorted(set(dealers))):
            for code, k, n, overdue in await self.conn.execute(self._alerts(q, part, kind, results)):
                out[(code, Kind(k))] = AlertFigures(open=int(n), overdue=int(overdue))
        return out

    async def nps(
        self, dealers: Sequence[str], start: datetime, end: datetime, results: ResultFilter = ResultFilter()
    ) -> dict[str, NpsFigures]:
        """NPS answers submitted in [start, end) per dealer: count, promoters, detractors, sum."""
        q = (
            select(R.c.dealer_code, func.count(R.c.nps), _count(R.c.nps >= 9), _count(R.c.nps <= 6), func.coalesce(func.sum(R.c.nps), 0))
            .where(R.c.submitted_at >= start, R.c.submitted_at < end, R.c.nps.is_not(None))
            .group_by(R.c.dealer_code)
        )
        if results.survey is not None:
            q = q.where(R.c.survey == results.survey)
        if results.segment is not None:
            q = q.where(R.c.segment == results.segment)
        out: dict[str, NpsFigures] = {}
        for part in chunks(sorted(set(dealers))):
            for code, n, promoters, detractors, total in await self.conn.execute(q.where(R.c.dealer_code.in_(part))):
                out[code] = NpsFigures(int(n), int(promoters), int(detractors), int(total))
        return out
