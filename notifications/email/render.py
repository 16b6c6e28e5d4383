"""Pure mail renderers: an alert, a confirmation, an answer — subject, plain text and HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from bot.domain.views import AlertView
from notifications.email.texts import texts

ENV = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=False,
    keep_trailing_newline=True,
)
DATE = {"en": "%d %b %Y, %H:%M", "da": "%d.%m.%Y kl. %H:%M", "de": "%d.%m.%Y, %H:%M Uhr"}


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


def local_time(at: datetime, zone: str, lang: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)).strftime(DATE.get(lang, DATE['en']))} ({zone})"


def _lang(lang: str | None) -> str:
    code = (lang or "en").lower()[:2]
    return code if code in DATE else "en"


def subject_of(v: AlertView, lang: str, flag: str | None = None) -> str:
    """`[cx HA-12] Hot Alert – Autohuset Vest – NPS 3`: the tag lets replies find the alert. An
    escalation or a reminder says so first: `[cx HA-12] ESCALATED (level 1) – Hot Alert – …`."""
    t = texts(lang)
    parts = [f"[cx {v.alert.id}] {flag + ' – ' if flag else ''}{t['kinds'][v.alert.kind.value]}", v.dealer_name]
    if v.nps is not None:
        parts.append(f"NPS {v.nps}")
    return " – ".join(parts).replace("\n", " ")


def alert_mail(v: AlertView, lang: str | None, escalation: int | None = None, reminder: bool = False) -> Mail:
    """The alert; as an escalation (to the level's recipients) or a reminder when asked."""
    code = _lang(lang)
    t = texts(code)
    flag = intro = None
    if escalation:
        flag, intro = t["escalated_tag"].format(level=escalation), t["escalated_intro"].format(level=escalation)
    elif reminder:
        flag, intro = t["reminder_tag"], t["reminder_intro"]
    subject = subject_of(v, code, flag)
    how_html = Markup(escape(t["how"])).format(resolved=Markup("<b>{}</b>").format(t["words"][0]), ongoing=Markup("<b>{}</b>").format(t["words"][1]))
    context = {
        "v": v,
        "t": t,
        "lang": code,
        "subject": subject,
        "intro": intro,
        "how_html": how_html,
        "kind": t["kinds"][v.alert.kind.value],
        "status": t["statuses"][v.alert.status.value],
        "survey": t["surveys"].get(v.survey or "", v.survey) if v.survey else None,
        "due": local_time(v.alert.due_at, v.dealer_time_zone, code) if v.alert.due_at else None,
        "received": f"{t['via'].get(v.complaint.received_via, '')}, {local_time(v.complaint.received_at, v.dealer_time_zone, code)}" if v.complaint else None,
    }
    return Mail(subject, ENV.get_template("alert.txt.j2").render(context), ENV.get_template("alert.html.j2").render(context))


def _note_mail(v: AlertView, lang: str | None, subject_tail: str, body: str, note: str | None) -> Mail:
    code = _lang(lang)
    subject = f"Re: [cx {v.alert.id}] {subject_tail}"
    context = {"v": v, "lang": code, "subject": subject, "body": body, "note": note}
    return Mail(subject, ENV.get_template("note.txt.j2").render(context), ENV.get_template("note.html.j2").render(context))


def confirmation_mail(v: AlertView, lang: str | None, note: str) -> Mail:
    """After a reply changed the status: what it is now, and the note as saved."""
    t = texts(_lang(lang))
    status = t["statuses"][v.alert.status.value]
    return _note_mail(v, lang, t["confirm_subject"].format(status=status), t["confirm_body"].format(alert=v.alert.id, status=status), note)


def comment_mail(v: AlertView, lang: str | None, note: str) -> Mail:
    t = texts(_lang(lang))
    status = t["statuses"][v.alert.status.value]
    return _note_mail(v, lang, t["comment_subject"], t["comment_body"].format(alert=v.alert.id, status=status), note)


def refusal_mail(v: AlertView, lang: str | None, reason: str, code: str | None = None) -> Mail:
    """Why a reply changed nothing (known senders only; strangers get no answer). A known reason
    (`code`) is said in the mail's language; any other as the rules gave it."""
    t = texts(_lang(lang))
    reason = str(t.get(code, reason)) if code else reason
    return _note_mail(v, lang, t["refused_subject"], t["refused_body"].format(reason=reason), None)


def digest_mail(f: dict[str, object], lang: str | None) -> Mail:
    """The weekly summary for a dealer's managers."""
    code = _lang(lang)
    t = texts(code)
    subject = t["digest_subject"].format(dealer=f["dealer_name"], week=f["week"])
    pct = "–" if f.get("on_time_pct") is None else f"{float(f['on_time_pct']):.0f} %"  # type: ignore[arg-type]
    place = f"{f['rank']} / {f['ranked']}" if f.get("rank") else t["digest_not_ranked"]
    context = {"f": f, "t": t, "lang": code, "subject": subject, "pct": pct, "place": place}
    return Mail(subject, ENV.get_template("digest.txt.j2").render(context), ENV.get_template("digest.html.j2").render(context))
