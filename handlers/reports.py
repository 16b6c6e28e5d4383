"""KPI figures and the ranking list as JSON, terminal tables, CSV and Excel files: shared by the
command line and the HTTP API."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from bot.domain.kpi import AlertFigures, DealerKpi, Ranking, RankColumn, RankedRow
from bot.domain.values import DealerType

TYPE_LABEL = {DealerType.DEALER: "Dealer", DealerType.SERVICE_PARTNER: "Service partner"}


def _iso(v: datetime) -> str:
    return v.isoformat().replace("+00:00", "Z")


def figures_json(f: AlertFigures) -> dict[str, Any]:
    return {
        "due": f.due,
        "on_time": f.on_time,
        "late": f.late,
        "pending": f.pending,
        "on_time_pct": f.on_time_pct,
        "escalated": f.escalated,
        "handled": f.handled,
        "avg_handling_hours": f.avg_handling_hours,
        "open": f.open,
        "overdue": f.overdue,
    }


def kpi_json(k: DealerKpi) -> dict[str, Any]:
    w = k.window
    return {
        "dealer_id": k.code,
        "dealer_name": k.name,
        "brand": k.brand,
        "region": k.region,
        "type": k.type.value,
        "period": {
            "label": w.label,
            "first_day": w.first_day.isoformat(),
            "last_day": w.last_day.isoformat(),
            "time_zone": w.time_zone,
            "start": _iso(w.start),
            "end": _iso(w.end),
        },
        "alerts": figures_json(k.total),
        "kinds": {kind.value: figures_json(f) for kind, f in k.kinds.items()},
        "nps": {
            "nps": k.nps.nps,
            "average": k.nps.average,
            "answers": k.nps.answers,
            "promoters": k.nps.promoters,
            "detractors": k.nps.detractors,
        },
    }


def number(v: float | int | None, unit: str = "count") -> str:
    """A figure for people: 75.0%, 5.2 h, 12; a dash when there is none."""
    if v is None:
        return "–"
    if unit == "pct":
        return f"{v:.1f}%"
    if unit == "hours":
        return f"{v:.1f} h"
    if unit == "score":
        return f"{v:.1f}"
    return str(v)


# ---- KPI as a table -------------------------------------------------------------------------

_KPI_HEAD = (
    f"  {'KIND':<18} {'DUE':>5} {'ON TIME':>7} {'LATE':>5} {'PENDING':>7} {'ON TIME %':>9}"
    f" {'HANDLED':>7} {'AVG H':>6} {'OPEN':>5} {'OVERDUE':>7} {'ESCALATED':>9}"
)


def _kpi_line(name: str, f: AlertFigures) -> str:
    pct = "–" if f.on_time_pct is None else f"{f.on_time_pct:.1f}"
    hours = "–" if f.avg_handling_hours is None else f"{f.avg_handling_hours:.1f}"
    return (
        f"  {name:<18} {f.due:>5} {f.on_time:>7} {f.late:>5} {f.pending:>7} {pct:>9}"
        f" {f.handled:>7} {hours:>6} {f.open:>5} {f.overdue:>7} {f.escalated:>9}"
    )


def kpi_table(k: DealerKpi) -> list[str]:
    w = k.window
    lines = [f"{k.code} {k.name} — {w.label} ({w.first_day} – {w.last_day}, {w.time_zone})", _KPI_HEAD]
    lines += [_kpi_line(kind.title, f) for kind, f in k.kinds.items()]
    lines.append(_kpi_line("all kinds", k.total))
    n = k.nps
    answers = f"{n.answers} answer{'' if n.answers == 1 else 's'}"
    lines.append(f"  NPS {number(n.nps, 'score')} (average answer {number(n.average, 'score')}, {answers})")
    return lines


# ---- the ranking ----------------------------------------------------------------------------


def ranking_title(r: Ranking) -> str:
    f = r.filters
    parts = [
        f"type {TYPE_LABEL[f.type].lower()}" if f.type else "",
        f"region {f.region}" if f.region else "",
        f"brand {f.brand}" if f.brand else "",
        f"{f.kind.title}s" if f.kind else "",
        f"{f.results.survey.value.replace('_', '-')} survey" if f.results.survey and f.results.segment is None else "",
        f"service segment {f.results.segment}" if f.results.segment else "",
    ]
    where = ", ".join(p for p in parts if p)
    return f"Ranking by {r.column.label} — {r.period}{' — ' + where if where else ''} · {r.ranked} of {r.dealers} dealers ranked"


def _extra(r: Ranking) -> RankColumn | None:
    """The swappable last column: the ranked figure, unless it is on-time % (already shown)."""
    return None if r.column.name == "on_time_pct" else r.column


def ranking_header(r: Ranking) -> list[str]:
    extra = _extra(r)
    return ["Rank", "Dealer code", "Dealer name", "Region", "Type", "Alerts due", "On time %"] + ([extra.label] if extra else [])


def _cells(r: Ranking, row: RankedRow) -> list[Any]:
    k = row.kpi
    cells: list[Any] = [row.rank, k.code, k.name, k.region, TYPE_LABEL[k.type], k.total.due, k.total.on_time_pct]
    if _extra(r):
        cells.append(row.value)
    return cells


def ranking_table(r: Ranking) -> str:
    extra = _extra(r)
    head = f"{'RANK':>4}  {'CODE':<10} {'NAME':<28} {'REGION':<14} {'TYPE':<16} {'DUE':>5} {'ON TIME %':>9}"
    if extra:
        head += f"  {extra.label.upper()}"
    lines = [ranking_title(r), head]
    for row in r.rows:
        k = row.kpi
        pct = "–" if k.total.on_time_pct is None else f"{k.total.on_time_pct:.1f}"
        line = (
            f"{row.rank or '–':>4}  {k.code:<10} {k.name[:28]:<28} {(k.region or '–')[:14]:<14}"
            f" {TYPE_LABEL[k.type]:<16} {k.total.due:>5} {pct:>9}"
        )
        if extra:
            line += f"  {number(row.value, extra.unit)}"
        lines.append(line)
    if not r.rows:
        lines.append("no dealers match")
    return "\n".join(lines) + "\n"


def ranking_csv(r: Ranking) -> str:
    """One header row, then one row per dealer; plain numbers (75.0, not 75.0%), empty when a
    dealer has no value."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(ranking_header(r))
    for row in r.rows:
        w.writerow(["" if c is None else c for c in _cells(r, row)])
    return out.getvalue()


_FORMAT = {"pct": "0.0%", "hours": "0.0", "count": "0", "score": "0.0"}


def ranking_xlsx(r: Ranking) -> bytes:
    """An Excel workbook: the ranking (bold header row, fitted columns, numbers as numbers,
    percentages as percentages, a frozen header and filters) and a sheet saying what it shows."""
    from openpyxl import Workbook  # imported here: only the reports need it
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Ranking"
    header = ranking_header(r)
    ws.append(header)
    extra = _extra(r)
    units = ["count", None, None, None, None, "count", "pct"] + ([extra.unit] if extra else [])
    for row in r.rows:
        cells = _cells(r, row)
        ws.append([(round(c / 100, 4) if c is not None and u == "pct" else c) for c, u in zip(cells, units)])
    bold = Font(bold=True)
    fill = PatternFill("solid", start_color="DDE4EE")
    for cell in ws[1]:
        cell.font = bold
        cell.fill = fill
        cell.alignment = Alignment(vertical="center", wrap_text=False)
    for i, unit in enumerate(units, 1):
        if unit is None:
            continue
        for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
            cell.number_format = _FORMAT[unit]
    for i, name in enumerate(header, 1):
        values = [name] + [str(c) for c in (_cells(r, row)[i - 1] for row in r.rows) if c is not None]
        ws.column_dimensions[get_column_letter(i)].width = min(max(len(v) for v in values) + 3, 45)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions

    about = wb.create_sheet("About")
    f = r.filters
    facts = [
        ("Ranking by", f"{r.column.label} ({'higher' if r.column.best_high else 'lower'} is better; equal values by dealer code)"),
        ("Period", f"{r.period} (each dealer's own time zone)"),
        ("Dealers", f"{r.ranked} of {r.dealers} matching dealers have a value"),
        ("Type", TYPE_LABEL[f.type] if f.type else "all"),
        ("Region", f.region or "all"),
        ("Brand", f.brand or "all"),
        ("Alert kind", f.kind.title if f.kind else "all"),
        ("Survey", f.results.survey.value if f.results.survey else "all"),
        ("Segment", str(f.results.segment) if f.results.segment else "all"),
        ("Alerts due", "alerts due in the period whose outcome is known: handled, or past due"),
        ("On time %", "of those, handled at or before their due time"),
    ]
    for name, text in facts:
        about.append([name, text])
    for (cell,) in about.iter_rows(min_col=1, max_col=1):
        cell.font = bold
    about.column_dimensions["A"].width = 14
    about.column_dimensions["B"].width = 80

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def ranking_filename(r: Ranking, ext: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in r.period.replace("..", "_to_"))
    return f"ranking-{r.column.name.replace('_', '-')}-{safe}.{ext}"
