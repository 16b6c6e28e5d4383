"""The `/cx` slash command. Every answer is ephemeral and given in the acknowledgement itself
(database look-ups only, well within Slack's 3 seconds)."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from slack_bolt.async_app import AsyncApp

from bot.domain.errors import InvalidInput, NotFound, Refused, UnknownAlert
from bot.domain.kpi import PERIOD_FORMS, RANK_COLUMNS, parse_period
from bot.domain.values import Actor, Status
from bot.domain.invitations import InvitationFilter, InvitationStatus
from bot.services import Context, alerts, invitations, kpi, lookups
from handlers.slack import complaints as complaint_form
from handlers.slack.answers import refusal
from notifications.slack import blocks, reports
from notifications.slack.escape import escape_mrkdwn
from notifications.slack.invitations import invitations_text
from storage.repositories.alerts import AlertFilter

USAGE = {
    "resolve": "`/cx resolve ALERT-ID what was done…` (e.g. `/cx resolve HA-12 Called her, new date Friday`)",
    "ongoing": "`/cx ongoing ALERT-ID what was done…` (e.g. `/cx ongoing HA-12 Left a voicemail`)",
    "alert": "`/cx alert ALERT-ID` (e.g. `/cx alert HA-12`)",
    "alerts": "`/cx alerts [open|overdue|escalated]`",
    "customer": "`/cx customer NAME | EMAIL | CUSTOMER-ID`",
    "kpi": "`/cx kpi [DEALER] [PERIOD]` (e.g. `/cx kpi DK-1001 2026-10`)",
    "ranking": "`/cx ranking [COLUMN] [PERIOD]` (e.g. `/cx ranking nps month`)",
    "invitations": "`/cx invitations [not_sent|sent|failed|clicked|submitted] [NAME | EMAIL | CUSTOMER-ID]`",
}
LIST_LIMIT = 20


class CommandHandlers:
    def __init__(self, cx: Context) -> None:
        self.cx = cx
        self.routes: dict[str, Callable[[Actor, list[str]], Awaitable[str]]] = {
            "resolve": self._resolve,
            "resolved": self._resolve,
            "ongoing": self._ongoing,
            "alert": self._alert,
            "alerts": self._alerts,
            "customer": self._customer,
            "kpi": self._kpi,
            "ranking": self._ranking,
            "invitations": self._invitations,
            "help": self._help,
        }

    async def on_command(self, ack: Any, command: dict[str, Any], client: Any = None) -> None:
        words = (command.get("text") or "").split()
        actor = Actor.slack(command.get("team_id", ""), command.get("user_id", ""))
        name = words[0].lower() if words else "help"
        if name == "complaint":  # answers with a form, not a text
            await complaint_form.open_form(self.cx, ack, command, client, words[1:])
            return
        handler = self.routes.get(name)
        if handler is None:
            text = f"I don't know `/cx {escape_mrkdwn(name)}`.\n\n{blocks.HELP}"
        else:
            changing = name in ("resolve", "resolved", "ongoing")
            try:
                text = await handler(actor, words[1:])
            except InvalidInput as why:
                text = f"{escape_mrkdwn(why.message)}\nUsage: {USAGE.get(name, '`/cx help`')}"
            except Refused as why:
                text = refusal(why, changing)
                if isinstance(why, UnknownAlert) and name in USAGE:
                    text += f"\nUsage: {USAGE[name]}"
        await ack(text=text, response_type="ephemeral")

    async def _set(self, actor: Actor, args: list[str], to: Status, usage: str) -> str:
        if len(args) < 2:
            return f"Give the alert id and a note. Usage: {usage}"
        change = await alerts.change_status(self.cx, args[0], actor, to, " ".join(args[1:]))
        return f"*{change.after.id}* is now *{blocks.STATUS_WORD[change.after.status]}*. The note is in the alert's thread."

    async def _resolve(self, actor: Actor, args: list[str]) -> str:
        return await self._set(actor, args, Status.RESOLVED, USAGE["resolve"])

    async def _ongoing(self, actor: Actor, args: list[str]) -> str:
        return await self._set(actor, args, Status.ONGOING, USAGE["ongoing"])

    async def _alert(self, actor: Actor, args: list[str]) -> str:
        if len(args) != 1:
            return f"Usage: {USAGE['alert']}"
        d = await alerts.detail(self.cx, args[0], actor)
        view = await alerts.view(self.cx, args[0], actor)
        return blocks.alert_text(view, d.history, self.cx.clock.now())

    async def _alerts(self, actor: Actor, args: list[str]) -> str:
        which = args[0].lower() if args else "open"
        now = self.cx.clock.now()
        filters = {
            "open": AlertFilter(open_only=True),
            "overdue": AlertFilter(overdue_at=now),
            "escalated": AlertFilter(escalated=True, open_only=True),
        }
        if which not in filters or len(args) > 1:
            return f"Usage: {USAGE['alerts']}"
        page = await alerts.find(self.cx, actor, filters[which], LIST_LIMIT)
        if not page.items:
            return f"No {which} alerts for your dealers."
        more = "\n…and more: use the API or `cxbot alerts list` for the full list." if page.next_cursor else ""
        return f"*{which.capitalize()} alerts* ({len(page.items)}{'+' if page.next_cursor else ''}):\n" + "\n".join(
            blocks.alert_summary_line(a, now) for a in page.items
        ) + more

    async def _customer(self, actor: Actor, args: list[str]) -> str:
        if not args:
            return f"Usage: {USAGE['customer']}"
        found = await lookups.find_customers(self.cx, actor, " ".join(args))
        if not found:
            return f"No customer of your dealers matches “{escape_mrkdwn(' '.join(args))}”."
        return "\n\n".join("\n".join(escape_mrkdwn(line) for line in blocks.customer_lines(c)) for c in found)

    async def _kpi(self, actor: Actor, args: list[str]) -> str:
        """Only the user's own dealers: the service refuses any other."""
        if len(args) > 2:
            return f"Usage: {USAGE['kpi']}"
        dealer, period = (args[0], args[1]) if len(args) == 2 else (None, None)
        if len(args) == 1:
            if _periodish(args[0]):
                period = args[0]
            else:
                dealer = args[0]
        try:
            found = await kpi.kpi(self.cx, actor, dealer, period)
        except InvalidInput as why:  # a bad period: one line naming the accepted forms
            return escape_mrkdwn(why.problems[0].message)
        except NotFound as why:
            hint = f" Periods: {PERIOD_FORMS}." if len(args) == 1 else ""
            return escape_mrkdwn(why.message) + hint
        return reports.kpi_text(found, "the API")

    async def _ranking(self, actor: Actor, args: list[str]) -> str:
        """Every dealer is ranked, but the user sees only the rows of their own dealers."""
        if len(args) > 2:
            return f"Usage: {USAGE['ranking']}"
        column = period = None
        for word in args:
            if word.lower().replace("-", "_") in RANK_COLUMNS and column is None:
                column = word
            elif _periodish(word) and period is None:
                period = word  # a bad one is refused below with the accepted forms
            else:
                columns = ", ".join(f"`{c}`" for c in RANK_COLUMNS)
                return f"{escape_mrkdwn(repr(word))} is not a ranking column; use one of {columns}, and optionally a period: {PERIOD_FORMS}."
        try:
            r = await kpi.ranking(self.cx, actor, column, period)
        except InvalidInput as why:
            return escape_mrkdwn(why.problems[0].message)
        return reports.ranking_text(r)

    async def _invitations(self, actor: Actor, args: list[str]) -> str:
        """The communication list of the user's dealers: an optional status, then free text."""
        words = list(args)
        status = None
        if len(words) >= 2 and words[0].lower() == "not" and words[1].lower() == "sent":
            words[:2] = ["not_sent"]
        if words and words[0].lower().replace("-", "_") in {s.value for s in InvitationStatus}:
            status = InvitationStatus(words.pop(0).lower().replace("-", "_"))
        text = " ".join(words) or None
        page = await invitations.find(self.cx, actor, InvitationFilter(q=text, status=status), LIST_LIMIT)
        return invitations_text(page.items, page.total, page.counts, status, text)

    async def _help(self, actor: Actor, args: list[str]) -> str:
        return blocks.HELP


def _periodish(word: str) -> bool:
    """A word meant as a period: one that parses, or starts with a digit (refused with the forms)."""
    try:
        parse_period(word)
    except ValueError:
        return word[:1].isdigit()
    return True


def register(app: AsyncApp, cx: Context, command: str = "/cx") -> None:
    h = CommandHandlers(cx)
    app.command(command)(h.on_command)
