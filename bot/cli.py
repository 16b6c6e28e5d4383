"""The `cxbot` command line."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import getpass
import json
import os
import sys
from contextlib import aclosing
from datetime import datetime, time
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import click

from bot import app
from bot import demo as sample
from bot.console import alert_line, when
from bot.domain.errors import InvalidInput, Problem, Refused
from bot.domain.invitations import DATE_FIELDS, InvitationFilter, InvitationRow, InvitationStatus
from bot.domain.kpi import COLUMN_FORMS, DEFAULT_COLUMN, PERIOD_FORMS, RankingFilter, ResultFilter
from bot.domain.values import Actor, Channel, DealerType, Kind, Scope, Status, Survey
from bot.logs import configure
from bot.jobs import DAYS
from bot.services import Context, alerts, dealers, digest, escalation, intake, keys, kpi, mail, outbox
from bot.services import detractor_digest
from bot.services import lost_sales
from bot.domain.kpi import zone as zone_of
from bot.services import erasure
from bot.domain.reviews import ReviewView
from bot.services import reviews as review_service
from bot.domain.complaints import VIA_FORMS, parse_complaint
from bot.services import complaints
from bot.services import invitations
from bot.services import customers as customer_service
from bot.settings import Settings, SettingsError, load_settings
from handlers.invitation_list import TABLE_HEAD as INVITATION_HEAD, counts_line, csv_lines as invitations_csv, invitation_json, table_line as invitation_line
from handlers.csvfile import INVITATIONS, RESPONSES, Shape, count_rows, read_rows
from handlers.complaint_record import record_csv, record_json, record_text
from handlers.dealer_file import read_dealer_file
from handlers.http.common import alert_json
from handlers.reports import kpi_json, kpi_table, ranking_csv, ranking_table, ranking_xlsx
from handlers.wire import parse_invitations, parse_responses
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


@contextlib.asynccontextmanager
async def opened(s: Settings | None = None) -> AsyncIterator[Context]:
    """The migrated database for one command, closed when it is done."""
    cx = await app.open_context(s or settings())
    try:
        yield cx
    finally:
        await cx.db.close()


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
    async with opened() as cx:
        click.echo(f"database {cx.db.display_url} is at revision {await migrate.current(cx.db)} (newest)")


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
    async with opened() as cx:
        report = await dealers.load(cx, directory)
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
    async with opened() as cx:
        rows = await dealers.visible(cx, operator())
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
    async with opened() as cx:
        info, key = await keys.create(cx, name or f"{scope} key", Scope(scope), list(dealer_codes) or None)
    click.echo(key)
    where = ", ".join(info.dealers) if info.dealers else "every dealer"
    click.echo(f"key {info.id} ({info.scope}, {where}): store it now, it is not shown again", err=True)


@keys_group.command("list")
@run
async def keys_list() -> None:
    """Stored keys (never the keys themselves)."""
    async with opened() as cx:
        rows = await keys.all_keys(cx)
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
    async with opened() as cx:
        await keys.revoke(cx, key_id)
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
    async with opened() as cx:
        now = cx.clock.now()
        f = AlertFilter(
            status=Status(status) if status else None,
            kind=Kind(kind) if kind else None,
            dealers=frozenset([dealer_code]) if dealer_code else None,
            overdue_at=now if overdue else None,
        )
        page = await alerts.find(cx, operator(), f, limit)
    for a in page.items:
        click.echo(json.dumps(alert_json(a, now)) if as_json else alert_line(a, now))
    if not page.items and not as_json:
        click.echo("no alerts match")


@alerts_group.command("show")
@click.argument("alert_id")
@run
async def alerts_show(alert_id: str) -> None:
    """One alert with its full history."""
    async with opened() as cx:
        d = await alerts.detail(cx, alert_id, operator())
        now = cx.clock.now()
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
    async with opened() as cx:
        change = await alerts.change_status(cx, alert_id, operator(), Status(status), note)
    click.echo(f"{change.after.id}: {change.before.status} → {change.after.status}")


# ---- scheduler ------------------------------------------------------------------------------


@main.command()
@run
async def sweep() -> None:
    """Escalate and remind now, as `serve` does every CXBOT_SCHEDULE_SWEEP_SECONDS (safe next to a
    running server: each alert is claimed once). The notifications go out from `serve`."""
    async with opened() as cx:
        result = await escalation.sweep(cx)
    click.echo(f"{result.escalated} escalations, {result.reminded} reminders")


@main.command("digest")
@run
async def digest_command() -> None:
    """Queue the weekly digests that are due now and not yet sent (what `serve` checks every few
    minutes: each dealer's own CXBOT_SCHEDULE_DIGEST_DAY and _TIME in its time zone). Each dealer
    gets one per week, however often this runs. The mails and Slack lines go out from `serve`."""
    s = settings()
    hour, minute = (int(x) for x in s.schedule.digest_time.split(":"))
    async with opened(s) as cx:
        sent = await digest.weekly(cx, "cli", DAYS.index(s.schedule.digest_day), time(hour, minute))
    click.echo(f"{sent} weekly digests queued")


# ---- lost sales -----------------------------------------------------------------------------


@main.group("lost-sales")
def lost_sales_group() -> None:
    """The lost-sales cycle (seed 001): test-drive prospects who did not buy."""


@lost_sales_group.command("select")
@click.option("--dealer", "dealer_codes", multiple=True, help="Only this dealer (repeat for more). Default: every dealer.")
@click.option("--date", "run_date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Run as on this day (YYYY-MM-DD). Default: today.")
@run
async def lost_sales_select(dealer_codes: tuple[str, ...], run_date: datetime | None) -> None:
    """Select the prospects now, whatever the day (`serve` runs it monthly: CXBOT_LOST_SALES_DAY and
    _TIME on each dealer's clock): private, with email permission, test drive requested in
    [date − CXBOT_LOST_SALES_WINDOW_FROM_DAYS, date − _TO_DAYS), no order or purchase since, not
    invited before. Each becomes a lost-sales invitation in the communication list; a lead is never
    invited twice, however often this runs."""
    async with opened() as cx:
        async with cx.db.read() as tx:
            codes = list(dealer_codes) or [d.code for d in await tx.dealers.all()]
        results = []
        for code in codes:
            day = run_date.date() if run_date else cx.clock.now().astimezone(zone_of(await _dealer_zone(cx, code))).date()
            results.append(await lost_sales.select(cx, code, day))
    for r in results:
        if not r.invitations:
            click.echo(f"{r.dealer}: 0 invited (run day {r.run_day})")
        else:  # like every command's mail, sent by `serve`
            click.echo(f"{r.dealer}: {len(r.invitations)} invited, {r.mailed} invitation mail{'' if r.mailed == 1 else 's'} queued (run day {r.run_day})")


async def _dealer_zone(cx: Context, code: str) -> str:
    async with cx.db.read() as tx:
        d = await tx.dealers.get(code)
    return d.time_zone if d is not None else "UTC"


# ---- detractors -----------------------------------------------------------------------------


@main.group("detractors")
def detractors_group() -> None:
    """Detractor customers in the dealer system (seed 004)."""


@detractors_group.command("digest")
@click.option("--dealer", "dealer_codes", multiple=True, help="Only this dealer (repeat for more). Default: every dealer.")
@run
async def detractors_digest(dealer_codes: tuple[str, ...]) -> None:
    """Run the daily detractor digest now, whatever the time (`serve` runs it at each dealer's
    CXBOT_SCHEDULE_DETRACTOR_DIGEST_TIME): the DETRACTOR route's addresses get the customers flagged
    and cleared since the last run and the messages still too long. The mails go out from `serve`."""
    s = settings()
    async with opened(s) as cx:
        # Only what `serve` would send: without CXBOT_SMTP_HOST nobody is told, and nothing is marked as told.
        cx = dataclasses.replace(cx, channels=frozenset({"mail"}) if s.smtp.host else frozenset())
        runs = await detractor_digest.run_now(cx, list(dealer_codes) or None)
    for r in runs:
        if not r.recipients:
            why = "no addresses on its detractor route" if s.smtp.host else "mail is off (no CXBOT_SMTP_HOST)"
            click.echo(f"{r.dealer}: {why}; nothing sent")
        elif not r.mailed:
            click.echo(f"{r.dealer}: nothing changed; no mail")
        else:
            click.echo(f"{r.dealer}: {len(r.flagged)} flagged, {len(r.cleared)} cleared, {len(r.too_long)} too long; mail queued to {', '.join(r.recipients)}")


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
    async with opened() as cx:
        rows, counts = await outbox.items(cx, status, limit)
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
    async with opened() as cx:
        n = await outbox.retry(cx, None if all_failed else list(ids))
    click.echo(f"{n} queued again; a running `cxbot serve` sends them within a few seconds")


# ---- addresses ------------------------------------------------------------------------------


@main.group("addresses")
def addresses_group() -> None:
    """Bounce records of email addresses (staff and customers)."""


@addresses_group.command("list")
@run
async def addresses_list() -> None:
    """Addresses that bounced: how often, when, and whether mail still goes there."""
    async with opened() as cx:
        rows = await mail.address_states(cx)
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
    async with opened() as cx:
        found = await mail.verify_address(cx, email)
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
    async with opened() as cx:
        found = await kpi.kpi(cx, operator(), dealer_code, period, Kind(kind) if kind else None, Survey(survey) if survey else None, segment)
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
    async with opened() as cx:
        r = await kpi.ranking(cx, operator(), column, period, filters)
    if fmt == "xlsx":
        assert output is not None
        output.write_bytes(ranking_xlsx(r))
    elif output is not None:
        output.write_text(ranking_csv(r) if fmt == "csv" else ranking_table(r), encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
    else:
        click.echo(ranking_csv(r) if fmt == "csv" else ranking_table(r), nl=False)
    if output is not None:
        click.echo(f"{r.ranked} of {r.dealers} dealers ranked by {r.column.label}, {r.period}: written to {output}", err=True)


# ---- reviews --------------------------------------------------------------------------------


@main.group("reviews")
def reviews_group() -> None:
    """Public reviews (CXBOT_REVIEWS_BRANDS): held for the dealer's reply, then published."""


def _review_json(v: ReviewView) -> dict[str, Any]:
    """Staff's view of a review: also who replied or approved it."""
    at = lambda t: t.isoformat() if t else None  # noqa: E731
    return {
        "id": v.ref, "dealer_id": v.dealer, "state": v.state, "survey": v.survey.value, "nps": v.nps, "scores": dict(v.scores),
        "comment": v.comment, "author": v.author, "received_at": at(v.created_at), "publish_at": at(v.publish_at),
        "published_at": at(v.published_at), "published_by": v.published_by, "reply": v.reply, "replied_at": at(v.replied_at),
        "replied_by": v.replied_by,
    }


@reviews_group.command("list")
@click.option("--dealer", "dealer_code", help="Only this dealer.")
@click.option("--state", type=click.Choice(["held", "published", "withdrawn"]), help="Only reviews in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@run
async def reviews_list(dealer_code: str | None, state: str | None, limit: int, as_json: bool) -> None:
    """Reviews, newest first: held ones with the time they are published, published ones with the reply."""
    async with opened() as cx:
        found = await review_service.find(cx, operator(), dealer_code, state, limit)
    for v in found:
        if as_json:
            click.echo(json.dumps(_review_json(v), ensure_ascii=False))
            continue
        nps = f"NPS {v.nps}" if v.nps is not None else "no NPS"
        status = f"published {when(v.published_at)}" if v.state == "published" else (f"held until {when(v.publish_at)}" if v.state == "held" else "withdrawn")
        click.echo(f"{v.ref:<8} {v.dealer:<10} {v.survey.value:<8} {nps:<7} {status:<37} {v.author or 'Anonymous'}")
        if v.comment:
            click.echo(f"      “{v.comment.strip()[:300]}”")
        if v.reply:
            click.echo(f"      reply: {v.reply[:300]}")
    if not found and not as_json:
        click.echo("no reviews match")


@reviews_group.command("reply")
@click.argument("review_id")
# Not required by click: a missing reply gets the same refusal, and exit code, as an empty one.
@click.option("--text", default=None, help="Required. The public reply, shown on the dealer's website beside the customer's comment.")
@run
async def reviews_reply(review_id: str, text: str | None) -> None:
    """Reply publicly to a review; a held review is published with the reply at once."""
    async with opened() as cx:
        v = await review_service.reply(cx, review_id, operator(), text)
    click.echo(f"{v.ref}: replied; published {when(v.published_at)}")


@reviews_group.command("approve")
@click.argument("review_id")
@run
async def reviews_approve(review_id: str) -> None:
    """Publish a held review now, without a reply."""
    async with opened() as cx:
        v = await review_service.approve(cx, review_id, operator())
    click.echo(f"{v.ref}: published {when(v.published_at)}")


@reviews_group.command("publish-due")
@run
async def reviews_publish_due() -> None:
    """Publish the reviews whose hold period is over, as `serve` does every
    CXBOT_SCHEDULE_SWEEP_SECONDS (safe next to a running server: each is claimed once)."""
    async with opened() as cx:
        n = await review_service.publish_due(cx)
    click.echo(f"{n} reviews published")


# ---- import ---------------------------------------------------------------------------------


@main.group("import")
def import_group() -> None:
    """Bulk imports."""


async def _import_csv(
    file: Path, batch: int, shape: Shape, parse: Callable[[list[Any]], tuple[list[Any], list[Problem]]],
    store: Callable[[list[Any]], Awaitable[list[Problem]]],
) -> list[Problem]:
    """Read FILE a batch at a time with a progress bar; `store` keeps a batch's valid items and
    returns the ones it rejected (indexed into what it was given). Every rejected row, with its
    line number, is returned; it changed nothing."""
    total = count_rows(file)
    rejected: list[Problem] = []

    async def flush(rows: list[tuple[int, dict[str, Any]]]) -> None:
        good, problems = parse([item for _, item in rows])
        lines = [line for line, _ in rows]
        bad = {p.index for p in problems}
        rejected.extend(Problem(p.field, p.message, lines[p.index or 0]) for p in problems)
        keep = [i for i in range(len(rows)) if i not in bad]
        refused = await store(good)
        rejected.extend(Problem(p.field, p.message, lines[keep[p.index or 0]]) for p in refused)

    with file.open(encoding="utf-8-sig", newline="") as f, click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
        pending: list[tuple[int, dict[str, Any]]] = []
        for line, item in read_rows(f, shape):
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
    return rejected


def _import_report(rejected: list[Problem], summary: str) -> None:
    for p in sorted(rejected, key=lambda p: p.index or 0):
        click.echo(f"line {p.index}: {p.field}: {p.message}")
    click.echo(summary.format(rejected=len({p.index for p in rejected})))
    if rejected:
        sys.exit(1)


@import_group.command("responses")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 1000), help="Rows per transaction.")
@run
async def import_responses(file: Path, batch: int) -> None:
    """Import survey responses from a CSV file. Each rejected row is reported with its line
    number and reason and changes nothing; the other rows are stored."""
    accepted = duplicates = alerts_raised = 0
    async with opened() as cx:

        async def store(good: list[Any]) -> list[Problem]:
            nonlocal accepted, duplicates, alerts_raised
            result = await intake.ingest(cx, good, partial=True)
            accepted += len(result.accepted)
            duplicates += len(result.duplicates)
            alerts_raised += len(result.alerts)
            return result.rejected

        rejected = await _import_csv(file, batch, RESPONSES, parse_responses, store)
    _import_report(rejected, f"{accepted} stored, {duplicates} already known, {{rejected}} rejected, {alerts_raised} alerts raised")


@import_group.command("invitations")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 1000), help="Rows per transaction.")
@run
async def import_invitations(file: Path, batch: int) -> None:
    """Import survey invitations and status reports from a CSV file (columns as the API's fields:
    id, survey, dealer_id, customer.id, customer.name, customer.email, purchase_date or
    service_date, language, questionnaire, status, status_at, sent_at). A known invitation moves
    only forward. Each rejected row is reported with its line number and reason and changes
    nothing; the other rows are stored."""
    who = operator()
    accepted = updated = duplicates = 0
    async with opened() as cx:

        async def store(good: list[Any]) -> list[Problem]:
            nonlocal accepted, updated, duplicates
            result = await invitations.record(cx, who, good, partial=True)
            accepted += len(result.accepted)
            updated += len(result.updated)
            duplicates += len(result.duplicates)
            return result.rejected

        rejected = await _import_csv(file, batch, INVITATIONS, parse_invitations, store)
    _import_report(rejected, f"{accepted} stored, {updated} moved forward, {duplicates} unchanged, {{rejected}} rejected")


# ---- invitations ----------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@main.group("invitations")
def invitations_group() -> None:
    """Survey invitations and their statuses (the communication list)."""


@invitations_group.command("list")
@click.option("--dealer", "dealer_code", help="Only this dealer.")
@click.option("--status", type=click.Choice([s.value for s in InvitationStatus]), help="Only invitations in this status.")
@click.option("--survey", type=click.Choice([s.value for s in Survey]), help="Only this survey.")
@click.option("-q", "--search", "q", help="Part of the customer's name, email or id, in any case.")
@click.option("--date-field", type=click.Choice(list(DATE_FIELDS)), default="purchase", show_default=True, help="What --from and --to are days of: the purchase or service date, or the day the message was sent (in the dealer's time zone).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="First day, inclusive (2026-10-01).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="Last day, inclusive.")
@click.option("--limit", type=click.IntRange(1, None), help="At most this many rows. Default: 50 in a table, every one in csv or json.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True, help="json: one object per line.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file. Default: standard output.")
@run
async def invitations_list(
    dealer_code: str | None, status: str | None, survey: str | None, q: str | None, date_field: str, date_from: datetime | None,
    date_to: datetime | None, limit: int | None, fmt: str, output: Path | None,
) -> None:
    """Invitations newest first, with the number in each status; anonymous customers show as
    "Anonymous" with no name, email or date."""
    f = InvitationFilter(
        frozenset([dealer_code]) if dealer_code else None, q, date_field, date_from.date() if date_from else None,
        date_to.date() if date_to else None, InvitationStatus(status) if status else None, Survey(survey) if survey else None,
    )
    cx = await app.open_context(settings())
    # The BOM makes Excel read a CSV as UTF-8.
    out = output.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") if output else None
    write: Callable[[str], Any] = out.write if out else (lambda text: click.echo(text, nl=False))
    n = 0
    try:
        if fmt == "table":
            page = await invitations.find(cx, operator(), f, min(limit or 50, invitations.MAX_PAGE))
            n = len(page.items)
            write(f"{_count(page.total, 'invitation')} ({counts_line(page.counts)})\n{INVITATION_HEAD}\n")
            write("".join(invitation_line(r) + "\n" for r in page.items))
            if page.next_cursor:
                write(f"…and {page.total - n} more: raise --limit, or use --format csv for every one\n")
        else:
            # Written as read, a batch at a time: a list of a million invitations needs no memory.
            batch: list[InvitationRow] = []

            def flush() -> None:
                write(invitations_csv(batch, header=n == len(batch)) if fmt == "csv" else "".join(json.dumps(invitation_json(r), ensure_ascii=False) + "\n" for r in batch))
                batch.clear()

            async with aclosing(invitations.each(cx, operator(), f)) as rows:
                async for r in rows:
                    batch.append(r)
                    n += 1
                    if len(batch) == 500:
                        flush()
                    if limit is not None and n >= limit:
                        break
            if batch or (fmt == "csv" and n == 0):
                flush()
    finally:
        await cx.db.close()
        if out is not None:
            out.close()
    if output is not None:
        click.echo(f"{_count(n, 'invitation')} written to {output}", err=True)


# ---- customers ------------------------------------------------------------------------------


@main.group("customers")
def customers_group() -> None:
    """Customers' personal data."""


@customers_group.command("forget")
@click.argument("dealer_id")
@click.argument("customer_id")
@click.option("--yes", is_flag=True, help="Erase without asking (required when standard input is not a terminal).")
@run
async def customers_forget(dealer_id: str, customer_id: str, yes: bool) -> None:
    """Erase a customer's personal data for good (GDPR): name, contact details, addresses, phones,
    purchase and service dates, their comments and every note on their alerts. Scores, alert
    states and times stay for the KPIs; the alert history records that an erasure happened, when
    and by whom. Slack cards already posted are updated to show "Anonymous"."""
    who = operator()
    async with opened() as cx:
        p = await erasure.preview(cx, who, dealer_id, customer_id)
        if not yes:
            if not sys.stdin.isatty():
                # A script must say so: a prompt nobody answers would hang it, a default would guess.
                raise Failed("standard input is not a terminal, so nobody can confirm: add --yes to erase (it cannot be undone)")
            earlier = f", already erased {when(p.erased_at)} by {p.erased_by}" if p.erased_at else ""
            click.echo(f"customer {customer_id} at {dealer_id}: {p.name}, {p.responses} responses, {p.alerts} alerts{earlier}")
            if not click.confirm("Erase this customer's personal data for good? This cannot be undone", default=False):
                raise Failed("nothing erased")
        result = await erasure.forget(cx, who, dealer_id, customer_id)
    click.echo(f"erased the personal data of customer {customer_id} at {dealer_id} ({who.label}, {when(result.at)}):")
    for label, n in result.cleared.items():
        if n:
            click.echo(f"  {label:<40} {n}")
    if not any(result.cleared.values()):
        click.echo("  nothing was left to clear")
    click.echo("kept: scores, alert states and times")
    if result.alerts:
        click.echo(f"history of {', '.join(result.alerts)} records the erasure")
    if result.slack_updates:
        click.echo(f'{result.slack_updates} Slack messages queued to show "Anonymous" (a running `cxbot serve` sends them)')



def _method_option(method: str, word: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(f"--{method}-ok/--no-{method}", f"method_{method}", default=None, help=f"{word} contact on or off.")


@customers_group.command("set")
@click.argument("dealer_id")
@click.argument("customer_id")
@click.option("--preferred", help="Preferred method of contact: email, phone, sms or letter (\"\" clears it).")
@click.option("--best-time", help='Best time of day to reach the customer ("after 17:00"; "" clears it).')
@_method_option("email", "Email (--no-email: the customer opted out of email)")
@_method_option("phone", "Phone")
@_method_option("sms", "SMS")
@_method_option("letter", "Letter")
@click.option("--contact-name", help="The customer's contact person.")
@click.option("--salesperson", help="The responsible salesperson's email.")
@click.option("--advisor", help="The responsible service advisor's email.")
@run
async def customers_set(dealer_id: str, customer_id: str, preferred: str | None, best_time: str | None, contact_name: str | None,
                        salesperson: str | None, advisor: str | None, **methods: bool | None) -> None:
    """Set a customer's contact preferences (seed 003); options not given stay as they are."""
    change = customer_service.CardChange(
        preferred_contact=preferred, best_time=best_time, salesperson_email=salesperson, advisor_email=advisor, contact_name=contact_name,
        methods=tuple((k.removeprefix("method_"), v) for k, v in methods.items() if v is not None),
    )
    async with opened() as cx:
        await customer_service.set_card(cx, operator(), dealer_id, customer_id, change)
    click.echo(f"customer {customer_id} at {dealer_id} updated")


@customers_group.command("verify")
@click.argument("dealer_id")
@click.argument("customer_id")
@run
async def customers_verify(dealer_id: str, customer_id: str) -> None:
    """The customer's contact details were checked: "last verified" becomes now and the bounce
    flag and count of their address are cleared, so mail goes there again."""
    async with opened() as cx:
        cleared = await customer_service.verify(cx, operator(), dealer_id, customer_id)
    click.echo(f"customer {customer_id} at {dealer_id} verified" + (f"; bounce record of {cleared} cleared" if cleared else ""))


# ---- complaints -----------------------------------------------------------------------------

# The option each field of a complaint is given with: a problem is named by it.
_COMPLAINT_OPTIONS = {
    "dealer_id": "--dealer", "customer.id": "--customer", "customer.name": "--name", "customer.email": "--email",
    "customer.phone": "--phone", "received_via": "--channel", "received_at": "--received-at",
    "description": "--description", "registered_by": "--registered-by",
}


@main.group("complaints")
def complaints_group() -> None:
    """External complaints (by phone, email, letter or in person) and their handling records."""


@complaints_group.command("add")
# Not required by click: every missing or wrong field is named at once, as by the API.
@click.option("--dealer", "dealer_code", help="Required. The dealer the complaint is for.")
@click.option("--customer", "customer_id", help="Required. The customer's id in the dealer system.")
@click.option("--name", help="The customer's name.")
@click.option("--email", help="The customer's email address.")
@click.option("--phone", help="The customer's phone number.")
@click.option("--channel", "--received-via", "received_via", help=f"Required. How it came in: {VIA_FORMS}.")
@click.option("--received-at", help="When it came in, ISO 8601 with a UTC offset (2026-11-02T09:30:00+01:00). Default: now.")
@click.option("--description", help="The complaint as received (or use --description-file).")
@click.option("--description-file", type=click.File("r", encoding="utf-8"), help="Read the description from this file, '-' for standard input: a pasted mail, say.")
@click.option("--registered-by", help="The address of the person who took the complaint (granted to the dealer).")
@click.option("--json", "as_json", is_flag=True, help="Print the new alert as JSON.")
@run
async def complaints_add(
    dealer_code: str | None, customer_id: str | None, name: str | None, email: str | None, phone: str | None, received_via: str | None,
    received_at: str | None, description: str | None, description_file: Any, registered_by: str | None, as_json: bool,
) -> None:
    """Register an external complaint. It is handled like a Hot Alert (due in 48 hours, escalated
    when not handled) and the description is the first note of its history. The card and mails
    go out from `cxbot serve`."""
    if description is not None and description_file is not None:
        raise click.UsageError("give --description or --description-file, not both")
    text = description_file.read() if description_file is not None else description
    at = None
    if received_at:
        try:
            at = datetime.fromisoformat(received_at.strip())
        except ValueError:
            raise InvalidInput([Problem("--received-at", "must be an ISO 8601 time with a UTC offset, e.g. 2026-11-02T09:30:00+01:00")]) from None
    async with opened() as cx:
        try:
            c = parse_complaint(
                dealer=dealer_code, customer_id=customer_id, customer_name=name, customer_email=email, customer_phone=phone,
                received_via=received_via, received_at=at, description=text, registered_by=registered_by, now=cx.clock.now(),
            )
            alert = await complaints.register(cx, operator(), c)
        except InvalidInput as e:
            raise InvalidInput([Problem(_COMPLAINT_OPTIONS.get(p.field, p.field), p.message) for p in e.problems]) from None
    if as_json:
        click.echo(json.dumps(alert_json(alert, cx.clock.now())))
    else:
        click.echo(f"{alert.id} registered for {alert.dealer}, due {when(alert.due_at)}")


@complaints_group.command("export")
@click.argument("alert_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file. Default: standard output.")
@run
async def complaints_export(alert_id: str, fmt: str, output: Path | None) -> None:
    """A complaint's complete handling record (ISO documentation): how it came in, where it
    stands, and every history entry — time, who, event, old → new status, note."""
    async with opened() as cx:
        rec = await complaints.record(cx, operator(), alert_id)
    now = cx.clock.now()
    if fmt == "json":
        content = json.dumps(record_json(rec, now), ensure_ascii=False, indent=2) + "\n"
    else:
        content = record_csv(rec) if fmt == "csv" else record_text(rec, now)
    if output is None:
        click.echo(content, nl=False)
        return
    # The BOM makes Excel read a CSV as UTF-8.
    output.write_text(content, encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
    click.echo(f"{rec.alert.id}: handling record ({len(rec.steps)} history entries) written to {output}", err=True)


# ---- demo -----------------------------------------------------------------------------------


@main.command()
@run
async def demo() -> None:
    """Load the example dealers, feed sample responses and show the alerts they raise."""
    s = settings()
    async with opened(s) as cx:
        # Messages only for the channels this machine has set up, as `serve` decides: on a fresh
        # machine nothing waits in the outbox for a server that could only mark it failed.
        cx = dataclasses.replace(cx, channels=app.configured_channels(s))
        await sample.run(cx, s, click.echo)
