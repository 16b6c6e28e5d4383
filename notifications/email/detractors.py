"""Pure mail renderers for detractor customers (seed 004): the warning that an activity was opened for
one (ID559), and the daily digest of messages changed in the dealer system (ID612)."""

from __future__ import annotations

from typing import Any

from bot.domain.detractors import ActivityWarning, Change, DetractorDigest, DigestEntry
from notifications.email.render import ENV, Mail, _lang, local_time
from notifications.email.texts import texts


def _one_line(text: str) -> str:
    return " ".join(text.split())


def activity_mail(w: ActivityWarning, lang: str | None) -> Mail:
    """Who the customer is, their last score and comment, what was opened: a perfect experience is due."""
    code = _lang(lang)
    t = texts(code)
    activity = t["activity_types"][w.type.value]
    subject = _one_line(t["activity_subject"].format(activity=activity, reference=w.reference, customer=w.customer_name))
    context = {
        "w": w,
        "t": t,
        "lang": code,
        "subject": subject,
        "activity": activity,
        "intro": t["activity_intro"].format(activity=activity, reference=w.reference),
        "opened": local_time(w.opened_at, w.dealer_time_zone, code),
        "answered": local_time(w.answered_at, w.dealer_time_zone, code) if w.answered_at else None,
        "survey": t["surveys"].get(w.survey or "", w.survey) if w.survey else None,
    }
    return Mail(subject, ENV.get_template("activity.txt.j2").render(context), ENV.get_template("activity.html.j2").render(context))


def _shown(text: str | None, t: dict[str, Any]) -> str:
    """A message part as the dealer system shows it (line breaks as they are, whatever their kind)."""
    if text is None:
        return str(t["ddigest_not_read"])
    return text.replace("\r\n", "\n").replace("\r", "\n") or str(t["ddigest_empty"])


def _row(e: DigestEntry, t: dict[str, Any]) -> dict[str, Any]:
    old_subject, old_body = e.old if e.old is not None else (None, None)
    # Never read and cleared: nothing of cxbot's is known to be there, so nothing is known to change.
    unknown = e.old is None and e.change is Change.CLEARED
    return {
        "e": e,
        "old_subject": _shown(old_subject, t),
        "new_subject": _shown(None if unknown else e.new.subject, t),
        "old_body": _shown(old_body, t),
        "new_body": _shown(None if unknown else e.new.body, t),
    }


def digest_mail(d: DetractorDigest, lang: str | None) -> Mail:
    """Customers flagged and cleared since the last run, and messages still too long: each with the
    message before and after and the error flag."""
    code = _lang(lang)
    t = texts(code)
    subject = _one_line(t["ddigest_subject"].format(dealer=d.dealer_name, day=d.day.isoformat()))
    sections = [(t["ddigest_sections"][c.value], [_row(e, t) for e in d.entries if e.change is c]) for c in Change]
    context = {"d": d, "t": t, "lang": code, "subject": subject, "sections": [s for s in sections if s[1]]}
    return Mail(subject, ENV.get_template("detractor_digest.txt.j2").render(context), ENV.get_template("detractor_digest.html.j2").render(context))
