"""The public reviews feed for dealers' own websites: no key, only published reviews."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from bot.domain.reviews import ReviewView
from bot.services import reviews
from handlers.http.common import iso, state

router = APIRouter()

# Websites fetch this from the browser (any origin) and may cache it for a while: a new review
# appears within minutes, which is soon enough for a reviews widget.
PUBLIC_HEADERS = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}


def review_json(v: ReviewView) -> dict[str, Any]:
    """Only what a website shows: never response or customer ids, full names or staff."""
    return {
        "id": v.id,
        "survey": v.survey.value,
        "nps": v.nps,
        "scores": dict(v.scores),
        "comment": v.comment,
        "author": v.author,
        "submitted_on": v.submitted_at.date().isoformat(),
        "published_at": iso(v.published_at),
        "reply": {"text": v.reply, "replied_at": iso(v.replied_at)} if v.reply else None,
    }


@router.get(
    "/api/v1/reviews",
    tags=["reviews"],
    summary="A dealer's published reviews, for its website (no key needed)",
    description="Newest first. Only reviews the customer allowed to be published and that the dealer's hold period or reply "
    "has released; anonymous customers have no author. `summary` (first page only) counts the reviews per survey.",
)
async def public_reviews(
    request: Request,
    dealer_id: Annotated[str, Query(min_length=1, max_length=32)],
    limit: Annotated[int, Query(ge=1, le=reviews.MAX_PAGE)] = 20,
    cursor: str | None = None,
) -> JSONResponse:
    page = await reviews.published(state(request).cx, dealer_id, limit, cursor)
    body = {
        "dealer_id": page.dealer,
        "dealer_name": page.dealer_name,
        "items": [review_json(v) for v in page.items],
        "next_cursor": page.next_cursor,
    }
    if cursor is None:
        body["summary"] = {s: {"reviews": n, "average_nps": round(avg, 1) if avg is not None else None} for s, (n, avg) in sorted(page.summary.items())}
    return JSONResponse(body, headers=PUBLIC_HEADERS)
