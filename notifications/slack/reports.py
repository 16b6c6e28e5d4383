"""KPI figures and the ranking list as Slack mrkdwn text (for `/cx kpi`, `/cx ranking` and
digests). Dealer names and regions are escaped."""

from __future__ import annotations

from bot.domain.kpi import DealerKpi, Ranking
from notifications.slack.escape import escape_mrkdwn

MAX_DEALERS = 10
MAX_ROWS = 25


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}%"


def _num(v: float | int | None, unit: str) -> str:
    if v is None:
        return "–"
    if unit == "pct":
        return f"{v:.1f}%"
    if unit == "hours":
        return f"{v:.1f} h"
    if unit == "score":
        return f"{v:.1f}"
    return str(v)


def kpi_lines(k: DealerKpi) -> list[str]:
    w, f, n = k.window, k.total, k.nps
    lines = [
        f"*{escape_mrkdwn(k.name)}* ({k.code}) — {w.label} ({w.first_day:%d %b} – {w.last_day:%d %b %Y}, {w.time_zone})",
        f"On time: *{_pct(f.on_time_pct)}* ({f.on_time} of {f.due} due; {f.late} late, {f.pending} not yet due)",
        f"First handling: {_num(f.avg_handling_hours, 'hours')} on average ({f.handled} handled)",
        f"Open now: {f.open} ({f.overdue} overdue) · Escalated: {f.escalated}",
        f"NPS: {_num(n.nps, 'score')} (average answer {_num(n.average, 'score')}, {n.answers} answer{'' if n.answers == 1 else 's'})",
    ]
    per_kind = [f"{kind.title} {x.on_time}/{x.due}" for kind, x in k.kinds.items() if x.due]
    if per_kind:
        lines.append("On time by kind: " + " · ".join(per_kind))
    return lines


def kpi_text(kpis: list[DealerKpi], more_hint: str = "`cxbot report kpi` or the API") -> str:
    if not kpis:
        return "You are not granted to any dealer yet: ask your CX team to add you."
    shown = kpis[:MAX_DEALERS]
    text = "\n\n".join("\n".join(kpi_lines(k)) for k in shown)
    if len(kpis) > len(shown):
        text += f"\n\n…and {len(kpis) - len(shown)} more dealers: name one (`/cx kpi DEALER`) or use {more_hint}."
    return text


def ranking_text(r: Ranking) -> str:
    col = r.column
    head = f"*Ranking by {col.label}* — {r.period} · places among all {r.ranked} ranked dealers"
    if not r.rows:
        return head + "\nNone of your dealers is in it."
    lines = [head]
    for row in r.rows[:MAX_ROWS]:
        k = row.kpi
        place = f"{row.rank}." if row.rank is not None else "–"
        figure = f"on time {_pct(k.total.on_time_pct)} of {k.total.due} due"
        if col.name != "on_time_pct":
            figure += f" · {col.label}: {_num(row.value, col.unit)}"
        lines.append(f"{place} *{escape_mrkdwn(k.name)}* ({k.code}) — {figure}")
    if len(r.rows) > MAX_ROWS:
        lines.append(f"…and {len(r.rows) - MAX_ROWS} more: download the report (`cxbot report ranking`, `/api/v1/reports/ranking.csv`).")
    return "\n".join(lines)
