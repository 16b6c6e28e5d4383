"""The communication list as a Slack answer (`/cx invitations`). Customer text is escaped."""

from __future__ import annotations

from bot.domain.invitations import InvitationRow, InvitationStatus
from notifications.slack.blocks import SURVEY
from notifications.slack.escape import clip, escape_mrkdwn


def invitation_line(r: InvitationRow) -> str:
    who = r.name or "(no name)"
    parts = [f"`{escape_mrkdwn(clip(r.id, 40))}` {r.dealer}", SURVEY.get(r.survey.value, r.survey.value), escape_mrkdwn(clip(who, 80))]
    if r.email:
        parts.append(escape_mrkdwn(clip(r.email, 80)))
    if r.purchase_date:
        parts.append(f"{r.purchase_date:%Y-%m-%d}")
    if r.language:
        parts.append(escape_mrkdwn(r.language))
    parts.append(f"*{r.status.label}* {r.status_at:%Y-%m-%d %H:%M} UTC" + (f" ({r.not_sent_reason})" if r.not_sent_reason else ""))
    return "• " + " · ".join(parts)


def invitations_text(rows: list[InvitationRow], total: int, counts: dict[InvitationStatus, int], status: InvitationStatus | None, text: str | None) -> str:
    """The user's dealers' invitations, newest first, with the number in each status."""
    what = f" *{status.label.lower()}*" if status else ""
    matching = f" matching “{escape_mrkdwn(clip(text, 100))}”" if text else ""
    if not rows:
        return f"No{what} invitations{matching} for your dealers."
    tally = " · ".join(f"{s.label.lower()} {counts.get(s, 0)}" for s in InvitationStatus)
    lines = [f"*Invitations*{what}{matching}: {total} ({tally})"] + [invitation_line(r) for r in rows]
    if total > len(rows):
        lines.append(f"…and {total - len(rows)} more: use `cxbot invitations list` or the API (GET /api/v1/invitations) for the full list.")
    return "\n".join(lines)
