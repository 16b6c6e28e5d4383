"""The lost-sales survey behind an invitation's personal link (seed 001): opening it, and the
answer, which goes through the same intake as every response (and may raise a Sales Opportunity)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import structlog

from bot.domain.errors import Conflict
from bot.domain.invitations import InvitationStatus
from bot.domain.lost_sales import LinkedInvitation, LostSalesAnswer
from bot.domain.tokens import read_survey_token
from bot.domain.values import CustomerIn, Survey, SurveyResponse
from bot.services import Context, intake

log = structlog.get_logger()


class LinkProblem(StrEnum):
    INVALID = "invalid"  # altered, never made by cxbot, or the invitation is gone
    EXPIRED = "expired"
    USED = "used"  # answered already


@dataclass(frozen=True)
class LinkState:
    invitation: LinkedInvitation | None
    problem: LinkProblem | None = None
    alerts: tuple[str, ...] = ()  # what the answer raised


async def check(cx: Context, token: str) -> LinkState:
    """What the link leads to; reads only."""
    read = read_survey_token(cx.mail_secret, token) if cx.mail_secret else None
    if read is None:
        return LinkState(None, LinkProblem.INVALID)
    invitation_id, expires = read
    async with cx.db.read() as tx:
        inv = await tx.invitations.linked(invitation_id)
    if inv is None or inv.anonymized:
        return LinkState(None, LinkProblem.INVALID)
    if inv.status == InvitationStatus.SUBMITTED:
        return LinkState(inv, LinkProblem.USED)
    if cx.clock.now() >= expires:
        return LinkState(inv, LinkProblem.EXPIRED)
    return LinkState(inv)


async def open_link(cx: Context, token: str) -> LinkState:
    """The page is shown: the invitation becomes clicked (seed 000: opened, not submitted)."""
    found = await check(cx, token)
    if found.problem is None and found.invitation is not None:
        async with cx.db.transaction() as tx:
            await tx.invitations.mark_clicked(found.invitation.id, cx.clock.now())
    return found


async def answer(cx: Context, found: LinkState, given: LostSalesAnswer) -> LinkState:
    """Store the answer to a link `check` found usable, as a lost-sales survey response of the
    invitation's customer. The response id is the invitation id, so the answer is stored once even
    if the form is sent twice."""
    inv = found.invitation
    if found.problem is not None or inv is None:
        return found
    response = SurveyResponse(
        id=inv.id,
        survey=Survey.LOST_SALES,
        dealer=inv.dealer,
        submitted_at=cx.clock.now(),
        customer=CustomerIn(id=inv.customer_id),
        comment=given.comment or None,
        answers=given.answers(),
        test_drive_requested_at=inv.requested_at,
        test_drive_source=inv.source,
        invitation_id=inv.id,
    )
    try:
        result = await intake.ingest(cx, [response])
    except Conflict:  # a different answer sent at the same moment was stored first
        return LinkState(inv, LinkProblem.USED)
    if not result.accepted:  # the same form sent twice at once: the other one was stored
        return LinkState(inv, LinkProblem.USED)
    log.info("lost_sales_answered", invitation=inv.id, dealer=inv.dealer, alerts=len(result.alerts))
    return LinkState(inv, None, tuple(a.id for a in result.alerts))
