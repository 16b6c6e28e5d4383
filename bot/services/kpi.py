"""The on-time KPI and the ranking list, for the dealers an actor may see."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Sequence

from bot.domain.errors import InvalidInput, NotFound, Problem
from bot.domain.kpi import (
    AlertFigures,
    DealerKpi,
    NpsFigures,
    Period,
    Ranking,
    RankingFilter,
    ResultFilter,
    Window,
    parse_period,
    rank,
    rank_column,
    total,
)
from bot.domain.values import Actor, DealerType, Kind, Survey
from bot.services import Context, access
from storage.database import Tx


def period_of(text: str | None) -> Period:
    try:
        return parse_period(text)
    except ValueError as e:
        raise InvalidInput([Problem("period", str(e))]) from None


def results_of(survey: Survey | None, segment: int | None) -> ResultFilter:
    """A segment is the car's segment in service results, so it implies the service survey."""
    if segment is not None:
        if segment not in (1, 2, 3):
            raise InvalidInput([Problem("segment", f"{segment} is not a segment; use 1, 2 or 3")])
        if survey not in (None, Survey.SERVICE):
            raise InvalidInput([Problem("segment", "segments are only known for service results; use survey=service or none")])
        survey = Survey.SERVICE
    return ResultFilter(survey, segment)


async def _figures(
    tx: Tx, dealers: Sequence[Any], period: Period, now: datetime, kind: Kind | None, results: ResultFilter
) -> list[DealerKpi]:
    """Every figure of `dealers` (rows with code, name, time_zone …): one set of aggregate
    queries per distinct time zone, since each dealer's period starts at its own midnight."""
    by_zone: dict[str, list[str]] = {}
    for d in dealers:
        by_zone.setdefault(d.time_zone, []).append(d.code)
    parts: dict[tuple[str, Kind], AlertFigures] = {}

    def add(found: dict[tuple[str, Kind], AlertFigures]) -> None:
        for key, f in found.items():
            parts[key] = parts.get(key, AlertFigures()) + f

    windows: dict[str, Window] = {}
    nps: dict[str, NpsFigures] = {}
    for tz, codes in by_zone.items():
        w = period.window(tz, now)
        windows[tz] = w
        add(await tx.kpi.due_outcomes(codes, w.start, w.end, now, kind, results))
        add(await tx.kpi.first_handlings(codes, w.start, w.end, kind, results))
        nps.update(await tx.kpi.nps(codes, w.start, w.end, results))
    add(await tx.kpi.open_now([d.code for d in dealers], now, kind, results))

    out: list[DealerKpi] = []
    for d in dealers:
        kinds = {k: parts[(d.code, k)] for k in Kind if (d.code, k) in parts}
        out.append(
            DealerKpi(
                code=d.code,
                name=d.name,
                brand=d.brand,
                region=d.region,
                type=DealerType(d.type),
                window=windows[d.time_zone],
                total=total(kinds.values()),
                kinds=kinds,
                nps=nps.get(d.code, NpsFigures()),
            )
        )
    return out


async def kpi(
    cx: Context,
    actor: Actor,
    dealer: str | None,
    period: str | None,
    kind: Kind | None = None,
    survey: Survey | None = None,
    segment: int | None = None,
) -> list[DealerKpi]:
    """The KPI figures of one dealer, or of every dealer the actor may see, for a period in each
    dealer's time zone. A dealer the actor may not see is unknown to them (never confirmed)."""
    p = period_of(period)
    results = results_of(survey, segment)
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        if dealer is not None:
            # As typed or upper-cased (dk-1001): codes are usually written in capitals.
            codes = [c for c in {dealer.strip(), dealer.strip().upper()} if actor.may_see(c)]
            rows = (await tx.kpi.dealers_matching(codes))[:1] if codes else []
            if not rows:
                raise NotFound(f"No dealer {dealer.strip()!r} that you may see.")
        else:
            rows = await tx.kpi.dealers_matching(None if actor.dealers is None else sorted(actor.dealers))
        return await _figures(tx, rows, p, cx.clock.now(), kind, results)


async def ranking(
    cx: Context,
    actor: Actor,
    column: str | None,
    period: str | None,
    filters: RankingFilter = RankingFilter(),
) -> Ranking:
    """Every dealer matching the filters ranked by `column` (best first, ties by dealer code).
    The ranking is always over all of them, so a dealer's place is the same for everyone; the
    rows returned are those the actor may see, each with that place."""
    problems: list[Problem] = []
    try:
        col = rank_column(column)
    except ValueError as e:
        problems.append(Problem("column", str(e)))
    try:
        p = parse_period(period)
    except ValueError as e:
        problems.append(Problem("period", str(e)))
    if problems:
        raise InvalidInput(problems)
    results = results_of(filters.results.survey, filters.results.segment)
    now = cx.clock.now()
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        rows = await tx.kpi.dealers_matching(None, filters.type, filters.region, filters.brand)
        figures = await _figures(tx, rows, p, now, filters.kind, results)
    ranked = rank(figures, col)
    labels = Counter(k.window.label for k in figures)
    label = labels.most_common(1)[0][0] if labels else p.label(now.date())
    return Ranking(
        column=col,
        period=label,
        filters=RankingFilter(filters.type, filters.region, filters.brand, filters.kind, results),
        rows=[r for r in ranked if actor.may_see(r.kpi.code)],
        ranked=sum(1 for r in ranked if r.rank is not None),
        dealers=len(ranked),
    )
