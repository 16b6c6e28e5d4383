"""The `cxbot` command line."""

from __future__ import annotations

import asyncio
import functools
import getpass
import json
import os
import sys
from datetime import time
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

import click

from bot import app
from bot import demo as sample
from bot.console import alert_line, when
from bot.domain.errors import InvalidInput, Problem, Refused
from bot.domain.kpi import COLUMN_FORMS, DEFAULT_COLUMN, PERIOD_FORMS, RankingFilter, ResultFilter
from bot.domain.values import Actor, Channel, DealerType, Kind, Scope, Status, Survey
from bot.logs import configure
from bot.jobs import DAYS
from bot.services import Context, alerts, dealers, digest, escalation, intake, keys, kpi, mail, outbox
from bot.settings import Settings, SettingsError, load_settings
from handlers.csvfile import count_rows, read_rows
from handlers.dealer_file import read_dealer_file
from handlers.http.common import alert_json
from handlers.reports import kpi_json, kpi_table, ranking_csv, ranking_table, ranking_xlsx
from handlers.wire import parse_responses
from storage import migrate
from storage.database import DatabaseUnavailable
from storage.repositories.alerts import AlertFilter

T = TypeVar("T")


class Failed(Exception):
    """Stop the command with this message and exit code 1."""


def _fail(message: str, code: int) -> None:
    click.echo(f"cxbot: {message}", err=True)
    sys.exit(code)


def run(fn: Callable[..., Awaitable[T]]) -> Callable[..., T | None]:
    """Run an async command; refusals and operator errors become one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            return asyncio.run(fn(*args, **kwargs))
        except SettingsError as e:
            _fail(str(e), 2)
        except DatabaseUnavailable as e:
            _fail(str(e), 1)
        except InvalidInput as e:
            for p in e.problems:
                where = f"line {p.index}: " if p.index is not None else ""
                click.echo(f"cxbot: {where}{p.field}: {p.message}", err=True)
            sys.exit(1)
        except (Refused, Failed) as e:
            _fail(str(e), 1)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        return None

    return wrapper


def settings(server: bool = False) -> Settings:
    try:
        s = load_settings()
    except SettingsError as e:
        _fail(str(e), 2)
        raise
    # One-off commands print their own results; their logs only matter when something is wrong.
    quiet = not server and "CXBOT_LOG_LEVEL" not in os.environ
    configure("warning" if quiet else s.core.log_level, s.core.log_format)
    return s


def operator() -> Actor:
    return Actor(Channel.CLI, getpass.getuser())


async def context() -> Context:
    return await app.open_context(settings())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cxbot")
def main() -> None:
    """cxbot: survey signals to dealer action. Settings come from CXBOT_* environment variables
    and the TOML file named by CXBOT_CONFIG (see the README)."""


@main.command()
@run
async def serve() -> None:
    """Run the server: intake API, Slack, mail and the scheduler."""
    try:
        await app.serve(settings(server=True))
    except asyncio.CancelledError:
        pass


# ---- db -------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@run
async def db_upgrade() -> None:
    """Migrate the database to the newest schema (also done by `serve`)."""
    cx = await context()
    click.echo(f"database {cx.db.display_url} is at revision {await migrate.current(cx.db)} (newest)")
    await cx.db.close()


# ---- dealers --------------------------------------------------------------------------------


@main.group("dealers")
def dealers_group() -> None:
    """Dealers, people, grants and routing."""


@dealers_group.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@run
async def dealers_load(file: Path) -> None:
    """Add or update dealers, people, grants and routing from FILE (TOML or CSV)."""
    directory = read_dealer_file(file)
    cx = await context()
    try:
        report = await dealers.load(cx, directory)
    finally:
        await cx.db.close()
    for line in report.added:
        click.echo(f"added    {line}")
    for line in report.changed:
        click.echo(f"changed  {line}")
    click.echo(f"{len(report.added)} added, {len(report.changed)} changed, {report.unchanged} unchanged")


@dealers_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@run
async def dealers_list(as_json: bool) -> None:
    """The dealers cxbot knows."""
    cx = await context()
    try:
        rows = await dealers.visible(cx, operator())
    finally:
        await cx.db.close()
    if as_json:
        for d in rows:
            click.echo(json.dumps(d.__dict__, ensure_ascii=False))
        return
    if not rows:
        click.echo("no dealers yet: load some with `cxbot dealers load examples/dealers.toml`")
        return
    click.echo(f"{'CODE':<12} {'NAME':<28} {'BRAND':<10} {'REGION':<14} {'TYPE':<16} {'TIME ZONE':<20} LANG PEOPLE")
    for d in rows:
        click.echo(f"{d.code:<12} {d.name[:28]:<28} {(d.brand or '-')[:10]:<10} {(d.region or '-')[:14]:<14} {d.type:<16} {d.time_zone:<20} {d.language:<4} {d.people}")


# ---- keys -----------------------------------------------------------------------------------


@main.group("keys")
def keys_group() -> None:
    """API keys for the intake and read API."""


@keys_group.command("create")
@click.option("--scope", type=click.Choice([s.value for s in Scope]), required=True, help="intake: post responses; read: look up; admin: everything.")
@click.option("--dealer", "dealer_codes", multiple=True, help="Limit the key to this dealer (repeat for more). Default: every dealer.")
@click.option("--name", default=None, help="What the key is for, e.g. 'survey platform'.")
@run
async def keys_create(scope: str, dealer_codes: tuple[str, ...], name: str | None) -> None:
    """Make a key and print it once; only its hash is stored."""
    cx = await context()
    try:
        info, key = await keys.create(cx, name or f"{scope} key", Scope(scope), list(dealer_codes) or None)
    finally:
        await cx.db.close()
    click.echo(key)
    where = ", ".join(info.dealers) if info.dealers else "every dealer"
    click.echo(f"key {info.id} ({info.scope}, {where}): store it now, it is not shown again", err=True)


@keys_group.command("list")
@run
async def keys_list() -> None:
    """Stored keys (never the keys themselves)."""
    cx = await context()
    try:
        rows = await keys.all_keys(cx)
    finally:
        await cx.db.close()
    if not rows:
        click.echo("no stored keys")
    for k in rows:
        state = f"revoked {when(k.revoked_at)}" if k.revoked_at else "active"
        click.echo(f"{k.id:>4}  {k.scope:<7} {','.join(k.dealers) if k.dealers else 'all dealers':<24} {state:<26} {k.name}")


@keys_group.command("revoke")
@click.argument("key_id", type=int)
@run
async def keys_revoke(key_id: int) -> None:
    """Revoke a key at once."""
    cx = await context()
    try:
        await keys.revoke(cx, key_id)
    finally:
        await cx.db.close()
    click.echo(f"key {key_id} revoked")


# ---- alerts ---------------------------------------------------------------------------------


@main.group("alerts")
def alerts_group() -> None:
    """Look at alerts and set their status."""


@alerts_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in Status]))
@click.option("--kind", type=click.Choice([k.value for k in Kind]))
@click.option("--dealer", "dealer_code", help="Only this dealer.")
@click.option("--overdue", is_flag=True, help="Only unhandled alerts past their due time.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, alerts.MAX_PAGE))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@run
async def alerts_list(status: str | None, kind: str | None, dealer_code: str | None, overdue: bool, limit: int, as_json: bool) -> None:
    """Alerts, newest first."""
    cx = await context()
    try:
        now = cx.clock.now()
        f = AlertFilter(
            status=Status(status) if status else None,
            kind=Kind(kind) if kind else None,
            dealers=frozenset([dealer_code]) if dealer_code else None,
            overdue_at=now if overdue else None,
        )
        page = await alerts.find(cx, operator(), f, limit)
    finally:
        await cx.db.close()
    for a in page.items:
        click.echo(json.dumps(alert_json(a, now)) if as_json else alert_line(a, now))
    if not page.items and not as_json:
        click.echo("no alerts match")


@alerts_group.command("show")
@click.argument("alert_id")
@run
async def alerts_show(alert_id: str) -> None:
    """One alert with its full history."""
    cx = await context()
    try:
        d = await alerts.detail(cx, alert_id, operator())
        now = cx.clock.now()
    finally:
        await cx.db.close()
    a = d.alert
    click.echo(f"{a.id}  {a.kind.title} — {d.dealer_name} ({a.dealer})")
    click.echo(f"customer   {d.customer_name or a.customer_id or '-'}" + (f" ({a.customer_id})" if d.customer_name else ""))
    click.echo(f"response   {a.response_id or '-'}")
    click.echo(f"status     {a.status}" + ("  OVERDUE" if a.overdue(now) else ""))
    click.echo(f"created    {when(a.created_at)}")
    click.echo(f"due        {when(a.due_at)}")
    click.echo(f"handled    {when(a.handled_at)}" + ("" if a.on_time is None else ("  on time" if a.on_time else "  late")))
    if a.escalation_level:
        click.echo(f"escalated  level {a.escalation_level} at {when(a.escalated_at)}")
    click.echo("history")
    for e in d.history:
        move = f"{e.old_status or '-'} → {e.new_status}" if e.new_status else e.event.value
        click.echo(f"  {when(e.at)}  {e.channel:<6} {e.actor:<24} {move}")
        for line in e.note.splitlines():
            click.echo(f"      {line}")


@alerts_group.command("set")
@click.argument("alert_id")
@click.argument("status", type=click.Choice([Status.ONGOING.value, Status.RESOLVED.value]))
# Not required by click: a missing note gets the same refusal, and exit code, as an empty one.
@click.option("--note", default=None, help="Required. What was done: who contacted the customer, what was agreed, what happens next.")
@run
async def alerts_set(alert_id: str, status: str, note: str | None) -> None:
    """Set an alert ongoing or resolved, with a note."""
    cx = await context()
    try:
        change = await alerts.change_status(cx, alert_id, operator(), Status(status), note)
    finally:
        await cx.db.close()
    click.echo(f"{change.after.id}: {change.before.status} → {change.after.status}")


# ---- scheduler ------------------------------------------------------------------------------


@main.command()
@run
async def sweep() -> None:
    """Escalate and remind now, as `serve` does every CXBOT_SCHEDULE_SWEEP_SECONDS (safe next to a
    running server: each alert is claimed once). The notifications go out from `serve`."""
    cx = await context()
    try:
        result = await escalation.sweep(cx)
    finally:
        await cx.db.close()
    click.echo(f"{result.escalated} escalations, {result.reminded} reminders")


@main.command("digest")
@run
async def digest_command() -> None:
    """Queue the weekly digests that are due now and not yet sent (what `serve` checks every few
    minutes: each dealer's own CXBOT_SCHEDULE_DIGEST_DAY and _TIME in its time zone). Each dealer
    gets one per week, however often this runs. The mails and Slack lines go out from `serve`."""
    s = settings()
    hour, minute = (int(x) for x in s.schedule.digest_time.split(":"))
    cx = await app.open_context(s)
    try:
        sent = await digest.weekly(cx, "cli", DAYS.index(s.schedule.digest_day), time(hour, minute))
    finally:
        await cx.db.close()
    click.echo(f"{sent} weekly digests queued")


# ---- outbox ---------------------------------------------------------------------------------


@main.group("outbox")
def outbox_group() -> None:
    """Notifications waiting to be sent, sent, or failed."""


@outbox_group.command("list")
@click.option("--status", type=click.Choice(["pending", "failed", "done"]), help="Only rows in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@run
async def outbox_list(status: str | None, limit: int) -> None:
    """Newest first, with the reason of each failure."""
    cx = await context()
    try:
        rows, counts = await outbox.items(cx, status, limit)
    finally:
        await cx.db.close()
    click.echo(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "the outbox is empty")
    for r in rows:
        where = r.lane.split(":", 1)[-1]
        line = f"{r.id:>7}  {r.status:<7} {r.action:<13} {r.alert_id or '-':<8} {where:<28} tries {r.attempts:<2} {when(r.created_at)}"
        click.echo(line + (f"\n         {r.last_error}" if r.last_error and r.status != "done" else ""))


@outbox_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Every failed row.")
@run
async def outbox_retry(ids: tuple[int, ...], all_failed: bool) -> None:
    """Send failed rows again (e.g. after inviting the bot to the channel)."""
    if not ids and not all_failed:
        raise Failed("give the ids to send again, or --all-failed")
    cx = await context()
    try:
        n = await outbox.retry(cx, None if all_failed else list(ids))
    finally:
        await cx.db.close()
    click.echo(f"{n} queued again; a running `cxbot serve` sends them within a few seconds")


# ---- addresses ------------------------------------------------------------------------------


@main.group("addresses")
def addresses_group() -> None:
    """Bounce records of email addresses (staff and customers)."""


@addresses_group.command("list")
@run
async def addresses_list() -> None:
    """Addresses that bounced: how often, when, and whether mail still goes there."""
    cx = await context()
    try:
        rows = await mail.address_states(cx)
    finally:
        await cx.db.close()
    if not rows:
        click.echo("no address has bounced")
    for r in rows:
        state = "SUPPRESSED" if r.suppressed else ("flagged" if r.flagged else "ok")
        click.echo(f"{r.email:<40} {state:<10} bounces {r.bounces}  last {when(r.last_bounce_at)}  {r.last_status or ''}")


@addresses_group.command("verify")
@click.argument("email")
@run
async def addresses_verify(email: str) -> None:
    """The address was checked: clear its bounce flag and count, so mail goes there again."""
    cx = await context()
    try:
        found = await mail.verify_address(cx, email)
    finally:
        await cx.db.close()
    if not found:
        raise Failed(f"cxbot has never sent mail to {email}")
    click.echo(f"{email.lower()} verified: mail goes there again")


# ---- report ---------------------------------------------------------------------------------


@main.group("report")
def report_group() -> None:
    """The on-time KPI and the dealer ranking list."""


_PERIOD_HELP = f"{PERIOD_FORMS}, in each dealer's time zone. Default: month."


@report_group.command("kpi")
@click.option("--dealer", "dealer_code", help="Only this dealer. Default: every dealer.")
@click.option("--period", default=None, help=_PERIOD_HELP)
@click.option("--kind", type=click.Choice([k.value for k in Kind]), help="Only this alert kind.")
@click.option("--survey", type=click.Choice([s.value for s in Survey]), help="Only results of this survey.")
@click.option("--segment", type=click.IntRange(1, 3), help="Only service results for cars of this segment.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dealer and line.")
@run
async def report_kpi(dealer_code: str | None, period: str | None, kind: str | None, survey: str | None, segment: int | None, as_json: bool) -> None:
    """Alerts handled on time, time to first handling, open and escalated alerts, NPS."""
    cx = await context()
    try:
        found = await kpi.kpi(cx, operator(), dealer_code, period, Kind(kind) if kind else None, Survey(survey) if survey else None, segment)
    finally:
        await cx.db.close()
    if as_json:
        for k in found:
            click.echo(json.dumps(kpi_json(k), ensure_ascii=False))
        return
    if not found:
        click.echo("no dealers yet: load some with `cxbot dealers load examples/dealers.toml`")
    for i, k in enumerate(found):
        click.echo(("\n" if i else "") + "\n".join(kpi_table(k)))


@report_group.command("ranking")
@click.option("--column", default=DEFAULT_COLUMN, show_default=True, help=f"Rank by: {COLUMN_FORMS}.")
@click.option("--period", default=None, help=_PERIOD_HELP)
@click.option("--type", "dealer_type", type=click.Choice([t.value for t in DealerType]), help="Only dealers or only service partners.")
@click.option("--region", help="Only dealers of this region.")
@click.option("--brand", help="Only dealers of this brand.")
@click.option("--kind", type=click.Choice([k.value for k in Kind]), help="Only this alert kind.")
@click.option("--survey", type=click.Choice([s.value for s in Survey]), help="Only results of this survey.")
@click.option("--segment", type=click.IntRange(1, 3), help="Only service results for cars of this segment.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "xlsx"]), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (needed for xlsx). Default: standard output.")
@run
async def report_ranking(
    column: str, period: str | None, dealer_type: str | None, region: str | None, brand: str | None, kind: str | None,
    survey: str | None, segment: int | None, fmt: str, output: Path | None,
) -> None:
    """Dealers ranked by a KPI, best first; the last column is the ranked figure."""
    if fmt == "xlsx" and output is None:
        raise click.UsageError("--format xlsx needs --output FILE.xlsx")
    filters = RankingFilter(
        DealerType(dealer_type) if dealer_type else None, region, brand, Kind(kind) if kind else None,
        ResultFilter(Survey(survey) if survey else None, segment),
    )
    cx = await context()
    try:
        r = await kpi.ranking(cx, operator(), column, period, filters)
    finally:
        await cx.db.close()
    if fmt == "xlsx":
        assert output is not None
        output.write_bytes(ranking_xlsx(r))
    elif output is not None:
        output.write_text(ranking_csv(r) if fmt == "csv" else ranking_table(r), encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
    else:
        click.echo(ranking_csv(r) if fmt == "csv" else ranking_table(r), nl=False)
    if output is not None:
        click.echo(f"{r.ranked} of {r.dealers} dealers ranked by {r.column.label}, {r.period}: written to {output}", err=True)


# ---- import ---------------------------------------------------------------------------------


@main.group("import")
def import_group() -> None:
    """Bulk imports."""


@import_group.command("responses")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 1000), help="Rows per transaction.")
@run
async def import_responses(file: Path, batch: int) -> None:
    """Import survey responses from a CSV file. Each rejected row is reported with its line
    number and reason and changes nothing; the other rows are stored."""
    cx = await context()
    total = count_rows(file)
    accepted = duplicates = alerts_raised = 0
    rejected: list[Problem] = []

    async def flush(rows: list[tuple[int, dict[str, Any]]]) -> None:
        nonlocal accepted, duplicates, alerts_raised
        good, problems = parse_responses([item for _, item in rows])
        lines = [line for line, _ in rows]
        bad = {p.index for p in problems}
        rejected.extend(Problem(p.field, p.message, lines[p.index or 0]) for p in problems)
        keep = [i for i in range(len(rows)) if i not in bad]
        result = await intake.ingest(cx, good, partial=True)
        rejected.extend(Problem(p.field, p.message, lines[keep[p.index or 0]]) for p in result.rejected)
        accepted += len(result.accepted)
        duplicates += len(result.duplicates)
        alerts_raised += len(result.alerts)

    try:
        with file.open(encoding="utf-8-sig", newline="") as f, click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            pending: list[tuple[int, dict[str, Any]]] = []
            for line, item in read_rows(f):
                if isinstance(item, Problem):
                    rejected.append(item)
                else:
                    pending.append((line, item))
                if len(pending) >= batch:
                    await flush(pending)
                    bar.update(len(pending))
                    pending = []
            if pending:
                await flush(pending)
                bar.update(len(pending))
            bar.update(total - bar.pos)
    finally:
        await cx.db.close()
    for p in sorted(rejected, key=lambda p: p.index or 0):
        click.echo(f"line {p.index}: {p.field}: {p.message}")
    bad_lines = len({p.index for p in rejected})
    click.echo(f"{accepted} stored, {duplicates} already known, {bad_lines} rejected, {alerts_raised} alerts raised")
    if rejected:
        sys.exit(1)


# ---- demo -----------------------------------------------------------------------------------


@main.command()
@run
async def demo() -> None:
    """Load the example dealers, feed sample responses and show the alerts they raise."""
    s = settings()
    cx = await app.open_context(s)
    try:
        await sample.run(cx, s, click.echo)
    finally:
        await cx.db.close()
