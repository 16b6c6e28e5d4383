"""Public reviews (seed 002, "CarAdvisor"): answers whose customer allowed it are held for the
dealer's public reply, then published on the dealer's own website."""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import structlog

from bot.domain.errors import InvalidInput, NotFound, Problem
from bot.domain.outbound import Action, Outbound, to_slack
from bot.domain.reviews import ReviewView, UnknownReview, approvable, becomes_review, clean_reply, parse_ref, repliable, review_ref
from bot.domain.values import Actor, Kind, SurveyResponse
from bot.services import Context, access
from bot.services.alerts import AlreadyApplied
from storage.database import Tx
from storage.repositories.reviews import ReviewTarget

log = structlog.get_logger()
SLACK = "slack"
MAX_PAGE = 100


@dataclass(frozen=True)
class PublicReviews:
    dealer: str
    dealer_name: str
    items: list[ReviewView]
    summary: dict[str, tuple[int, float | None]]  # per survey: reviews and their average NPS
    next_cursor: str | None


async def hold_new(tx: Tx, cx: Context, fresh: Sequence[SurveyResponse], now: datetime) -> int:
    """In the intake's transaction: a review for each new answer with the customer's consent from a
    dealer of a brand that publishes reviews, held for the dealer's reply until the hold period
    ends, and its message for the dealer's reviews channel. One insert for the whole batch."""
    if not cx.reviews.brands:
        return 0
    candidates = [r for r in fresh if becomes_review(r.survey, r.publish_consent, r.nps, r.scores, r.comment)]
    if not candidates:
        return 0
    targets = await tx.reviews.targets([r.dealer for r in candidates])
    chosen = [r for r in candidates if r.dealer in targets and cx.reviews.covers(targets[r.dealer].brand)]
    if not chosen:
        return 0
    publish_at = now + cx.reviews.hold
    ids = await tx.reviews.insert_many(
        [
            {"response_id": r.id, "dealer_code": r.dealer, "customer_id": r.customer.id, "created_at": now, "publish_at": publish_at, "updated_at": now}
            for r in chosen
        ]
    )
    await tx.outbox.enqueue(await _messages(tx, cx.channels, [(ids[r.id], r.dealer) for r in chosen], targets), now)
    return len(chosen)


async def _places(tx: Tx, codes: Sequence[str], targets: dict[str, ReviewTarget] | None = None) -> dict[str, tuple[str | None, str]]:
    """Per dealer, the Slack channel its reviews go to: its reviews channel, else the channel its
    Hot Alerts go to (the people who look after unhappy customers answer the public too)."""
    targets = targets if targets is not None else await tx.reviews.targets(codes)
    out: dict[str, tuple[str | None, str]] = {}
    missing = []
    for code in set(codes):
        t = targets.get(code)
        if t is not None and t.channel:
            out[code] = (t.team, t.channel)
        else:
            missing.append(code)
    if missing:
        routes = await tx.dealers.routes_of(missing)
        for code in missing:
            route = routes.get((code, Kind.HOT_ALERT))
            if route is not None and route.slack_channel:
                out[code] = (route.slack_team, route.slack_channel)
    return out


async def _messages(tx: Tx, channels: frozenset[str], reviews: list[tuple[int, str]], targets: dict[str, ReviewTarget]) -> list[Outbound]:
    if SLACK not in channels:
        return []
    places = await _places(tx, [d for _, d in reviews], targets)
    removed = await tx.slack.removed_teams()
    out: list[Outbound] = []
    for review_id, dealer in reviews:
        place = places.get(dealer)
        if place is None:
            log.info("review_not_posted", review=review_ref(review_id), dealer=dealer, reason="the dealer has no Slack channel")
            continue
        msg = to_slack(Action.SLACK_REVIEW, place[0], place[1], None, review=review_id)
        if place[0] in removed:
            msg = dataclasses.replace(msg, undeliverable=f"cxbot was removed from Slack workspace {place[0]}")
        out.append(msg)
    return out


async def refreshes(tx: Tx, channels: frozenset[str], views: Sequence[ReviewView]) -> list[Outbound]:
    """Update each review's message in place: where it was posted, or (still waiting in the
    outbox) behind its post in the same channel."""
    if SLACK not in channels or not views:
        return []
    receipts = await tx.reviews.receipts([v.id for v in views])
    places = await _places(tx, [v.dealer for v in views if v.id not in receipts])
    out = []
    for v in views:
        place = (receipts[v.id].team, receipts[v.id].channel) if v.id in receipts else places.get(v.dealer)
        if place is not None:
            out.append(to_slack(Action.SLACK_REVIEW_REFRESH, place[0], place[1], None, review=v.id))
    return out


async def _visible(tx: Tx, review_id: int, actor: Actor, lock: bool = False) -> ReviewView:
    v = await tx.reviews.view(review_id, lock=lock)
    if v is None or not actor.may_see(v.dealer):
        raise UnknownReview(review_ref(review_id))  # never confirm that another dealer's review exists
    return v


async def view(cx: Context, ref: str | int, actor: Actor) -> ReviewView:
    """A review, for an actor granted to its dealer."""
    review_id = ref if isinstance(ref, int) else parse_ref(ref)
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        return await _visible(tx, review_id, actor)


async def reply(cx: Context, ref: str | int, actor: Actor, text: str | None, *, once: str | None = None) -> ReviewView:
    """The dealer's public reply, shown beside the customer's comment. Only people granted to the
    review's dealer may reply; a held review is published with the reply at once, a published one
    shows the new reply. `once` names the request, so a repeated submission changes nothing."""
    review_id = ref if isinstance(ref, int) else parse_ref(ref)
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        actor = await access.resolve(tx, actor)
        v = await _visible(tx, review_id, actor, lock=True)
        repliable(v)
        reply_text = clean_reply(text)
        if once is not None and not await tx.slack.first_time(once, now):
            raise AlreadyApplied(once)
        await tx.reviews.set_reply(review_id, reply_text, actor.label, now)
        after = await tx.reviews.view(review_id)
        assert after is not None
        await tx.outbox.enqueue(await refreshes(tx, cx.channels, [after]), now)
    log.info("review_replied", review=after.ref, dealer=after.dealer, by=actor.label)
    cx.wake()
    return after


async def approve(cx: Context, ref: str | int, actor: Actor, *, once: str | None = None) -> ReviewView:
    """Publish a held review now, without a reply (people granted to its dealer only)."""
    review_id = ref if isinstance(ref, int) else parse_ref(ref)
    now = cx.clock.now()
    async with cx.db.transaction() as tx:
        actor = await access.resolve(tx, actor)
        v = await _visible(tx, review_id, actor, lock=True)
        if once is not None and not await tx.slack.first_time(once, now):
            raise AlreadyApplied(once)
        approvable(v)
        await tx.reviews.publish(review_id, actor.label, now)
        after = await tx.reviews.view(review_id)
        assert after is not None
        await tx.outbox.enqueue(await refreshes(tx, cx.channels, [after]), now)
    log.info("review_approved", review=after.ref, dealer=after.dealer, by=actor.label)
    cx.wake()
    return after


async def publish_due(cx: Context, batch: int = 500) -> int:
    """Publish every held review whose hold period is over. Each batch claims its reviews in the
    statement that publishes them and queues their message updates in the same transaction, so
    replicas never publish one twice and reviews held while cxbot was down go out at start."""
    total = 0
    while True:
        now = cx.clock.now()
        async with cx.db.transaction() as tx:
            claimed = await tx.reviews.claim_due(now, batch)
            if not claimed:
                break
            views = list((await tx.reviews.views(claimed)).values())
            await tx.outbox.enqueue(await refreshes(tx, cx.channels, views), now)
        total += len(claimed)
        for v in views:
            log.info("review_published", review=v.ref, dealer=v.dealer, by="system")
    if total:
        cx.wake()
    return total


async def find(cx: Context, actor: Actor, dealer: str | None = None, state: str | None = None, limit: int = 50) -> list[ReviewView]:
    """Reviews the actor may see, newest first."""
    async with cx.db.read() as tx:
        actor = await access.resolve(tx, actor)
        dealers = actor.dealers
        if dealer is not None:
            dealers = frozenset({dealer}) & dealers if dealers is not None else frozenset({dealer})
        return await tx.reviews.find(dealers, state, limit)


def encode_cursor(v: ReviewView) -> str:
    assert v.published_at is not None
    return base64.urlsafe_b64encode(f"{v.published_at.isoformat()}|{v.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, id_ = raw.split("|", 1)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError(at)
        return when, int(id_)
    except ValueError:
        raise InvalidInput([Problem("cursor", "is not a cursor this server gave out")]) from None


async def published(cx: Context, dealer: str, limit: int = 20, cursor: str | None = None) -> PublicReviews:
    """What a dealer's website shows: only published reviews, only of dealers whose brand
    publishes reviews; newest first, a page at a time. No key is needed, so nothing else is
    in it (no customer ids, no full names, no staff)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput([Problem("limit", f"must be between 1 and {MAX_PAGE}")])
    after = decode_cursor(cursor) if cursor else None
    async with cx.db.read() as tx:
        target = (await tx.reviews.targets([dealer])).get(dealer)
        if target is None or not cx.reviews.covers(target.brand):
            raise NotFound(f"no public reviews for dealer {dealer!r}")
        d = await tx.dealers.get(dealer)
        items = await tx.reviews.published_page(dealer, limit + 1, after)
        summary = await tx.reviews.published_summary(dealer) if after is None else {}
    more = len(items) > limit
    items = items[:limit]
    return PublicReviews(dealer, d.name if d else dealer, items, summary, encode_cursor(items[-1]) if more and items else None)


async def forget_customer(tx: Tx, channels: frozenset[str], dealer: str, customer_id: str, now: datetime) -> list[Outbound]:
    """For erasure, in its transaction: withdraw the customer's reviews for good (the public API
    stops showing them), remove the dealer's replies, and update their Slack messages."""
    ids = await tx.reviews.forget_customer(dealer, customer_id, now)
    views = list((await tx.reviews.views(ids)).values())
    return await refreshes(tx, channels, views)

