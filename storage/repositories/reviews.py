"""Public reviews: held for the dealer's reply, published, and where their Slack message is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, func, literal, or_, select, update

from bot.domain.reviews import ReviewView, public_name
from bot.domain.values import CustomerKind, Survey
from storage.models import Customer, Dealer, Response, ReviewRow
from storage.repositories.base import Repo, chunks

V = ReviewRow.__table__
R = Response.__table__
C = Customer.__table__
D = Dealer.__table__

# Score and comment come from the response, the name from the response's contact or the customer:
# anonymizing or erasing those reaches every review at once.
VIEW = (
    select(
        V,
        D.c.name.label("d_name"),
        R.c.survey.label("r_survey"),
        R.c.nps.label("r_nps"),
        R.c.scores.label("r_scores"),
        R.c.comment.label("r_comment"),
        R.c.submitted_at.label("r_submitted_at"),
        R.c.anonymous.label("r_anonymous"),
        R.c.contact_name.label("r_contact_name"),
        C.c.name.label("c_name"),
        C.c.kind.label("c_kind"),
        C.c.anonymized.label("c_anonymized"),
    )
    .join(R, R.c.id == V.c.response_id)
    .join(D, D.c.code == V.c.dealer_code)
    .outerjoin(C, and_(C.c.dealer_code == V.c.dealer_code, C.c.customer_id == V.c.customer_id))
)


@dataclass(frozen=True)
class ReviewTarget:
    """A dealer's brand and its reviews channel, read when answers arrive."""

    code: str
    brand: str | None
    team: str | None
    channel: str | None


@dataclass(frozen=True)
class Receipt:
    team: str | None
    channel: str
    ts: str


def _author(r: Any) -> str | None:
    if r.r_anonymous or r.c_anonymized:
        return None
    if r.r_contact_name:
        return public_name(r.r_contact_name)
    if r.c_kind == CustomerKind.COMPANY:
        return None  # a company's own name says nothing about who wrote this
    return public_name(r.c_name)


def to_view(r: Any) -> ReviewView:
    return ReviewView(
        id=r.id,
        dealer=r.dealer_code,
        dealer_name=r.d_name,
        survey=Survey(r.r_survey),
        nps=r.r_nps,
        scores=dict(r.r_scores or {}),
        comment=r.r_comment,
        author=_author(r),
        submitted_at=r.r_submitted_at,
        created_at=r.created_at,
        publish_at=r.publish_at,
        published_at=r.published_at,
        published_by=r.published_by,
        reply=r.reply,
        replied_at=r.replied_at,
        replied_by=r.replied_by,
        withdrawn_at=r.withdrawn_at,
    )


class ReviewsRepo(Repo):
    async def targets(self, codes: Sequence[str]) -> dict[str, ReviewTarget]:
        q = select(D.c.code, D.c.brand, D.c.reviews_team, D.c.reviews_channel).where(D.c.code.in_(sorted(set(codes))))
        return {r.code: ReviewTarget(r.code, r.brand, r.reviews_team, r.reviews_channel) for r in await self.conn.execute(q)}

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """One statement for a batch; returns each new review's id by its response id."""
        if not rows:
            return {}
        stmt = V.insert().returning(V.c.id, V.c.response_id)  # matched by response id: any order will do
        return {r.response_id: r.id for r in await self.conn.execute(stmt, list(rows))}

    async def views(self, ids: Sequence[int]) -> dict[int, ReviewView]:
        out: dict[int, ReviewView] = {}
        for part in chunks(sorted(set(ids))):
            out.update({r.id: to_view(r) for r in await self.conn.execute(VIEW.where(V.c.id.in_(part)))})
        return out

    async def view(self, review_id: int, lock: bool = False) -> ReviewView | None:
        q = VIEW.where(V.c.id == review_id)
        if lock and self.locks_rows:
            q = q.with_for_update(of=V)  # two people answering at once take turns
        row = (await self.conn.execute(q)).first()
        return to_view(row) if row is not None else None

    async def set_reply(self, review_id: int, reply: str, by: str, now: datetime) -> None:
        """Store the reply; a held review is published with it at once."""
        await self.conn.execute(update(V).where(V.c.id == review_id).values(reply=reply, replied_at=now, replied_by=by, updated_at=now))
        await self.publish(review_id, by, now)

    async def publish(self, review_id: int, by: str, now: datetime) -> None:
        await self.conn.execute(
            update(V)
            .where(V.c.id == review_id, V.c.published_at.is_(None), V.c.withdrawn_at.is_(None))
            .values(published_at=now, published_by=by, updated_at=now)
        )

    async def claim_due(self, now: datetime, limit: int) -> list[int]:
        """Publish up to `limit` held reviews whose hold period is over, in one statement (as the
        escalation sweep claims alerts: SKIP LOCKED on PostgreSQL, the write lock on SQLite), so
        replicas never publish one twice."""
        held = V.c.published_at.is_(None) & V.c.withdrawn_at.is_(None)
        due = select(V.c.id).where(held, V.c.publish_at <= now).order_by(V.c.publish_at).limit(limit)
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        stmt = (
            update(V)
            .where(V.c.id.in_(due.scalar_subquery()), held)
            .values(published_at=now, published_by="system", updated_at=now)
            .returning(V.c.id)
        )
        return sorted(await self.conn.scalars(stmt))

    async def receipts(self, ids: Sequence[int]) -> dict[int, Receipt]:
        out: dict[int, Receipt] = {}
        for part in chunks(sorted(set(ids))):
            q = select(V.c.id, V.c.slack_team, V.c.slack_channel, V.c.slack_ts).where(V.c.id.in_(part), V.c.slack_ts.is_not(None))
            out.update({r.id: Receipt(r.slack_team, r.slack_channel, r.slack_ts) for r in await self.conn.execute(q)})
        return out

    async def record_posts(self, posts: Sequence[tuple[int, str | None, str, str]], now: datetime) -> None:
        """(review id, team, channel, ts) of posted messages; one recorded before is kept."""
        for review_id, team, channel, ts in posts:
            await self.conn.execute(
                update(V)
                .where(V.c.id == review_id, V.c.slack_ts.is_(None))
                .values(slack_team=team, slack_channel=channel, slack_ts=ts)
            )

    async def published_page(self, dealer: str, limit: int, after: tuple[datetime, int] | None) -> list[ReviewView]:
        """A dealer's public reviews, newest publication first; `after` is the last one of the
        page before."""
        q = VIEW.where(V.c.dealer_code == dealer, V.c.published_at.is_not(None), V.c.withdrawn_at.is_(None))
        if after is not None:
            at, id_ = after
            q = q.where(or_(V.c.published_at < at, and_(V.c.published_at == at, V.c.id < id_)))
        q = q.order_by(V.c.published_at.desc(), V.c.id.desc()).limit(limit)
        return [to_view(r) for r in await self.conn.execute(q)]

    async def published_summary(self, dealer: str) -> dict[str, tuple[int, float | None]]:
        """Per survey: how many reviews are public and their average NPS answer."""
        q = (
            select(R.c.survey, func.count(), func.avg(R.c.nps))
            .select_from(V.join(R, R.c.id == V.c.response_id))
            .where(V.c.dealer_code == dealer, V.c.published_at.is_not(None), V.c.withdrawn_at.is_(None))
            .group_by(R.c.survey)
        )
        return {str(s): (int(n), float(avg) if avg is not None else None) for s, n, avg in await self.conn.execute(q)}

    async def find(self, dealers: frozenset[str] | None, state: str | None, limit: int) -> list[ReviewView]:
        """Newest first: every review, or the held / published / withdrawn ones."""
        q = VIEW
        if dealers is not None:
            q = q.where(V.c.dealer_code.in_(sorted(dealers)))
        if state == "held":
            q = q.where(V.c.published_at.is_(None), V.c.withdrawn_at.is_(None))
        elif state == "published":
            q = q.where(V.c.published_at.is_not(None), V.c.withdrawn_at.is_(None))
        elif state == "withdrawn":
            q = q.where(V.c.withdrawn_at.is_not(None))
        q = q.order_by(V.c.created_at.desc(), V.c.id.desc()).limit(limit)
        return [to_view(r) for r in await self.conn.execute(q)]

    async def forget_customer(self, dealer: str, customer_id: str, now: datetime) -> list[int]:
        """Erasure: the customer's reviews are withdrawn for good and the dealer's replies (which
        may name them) removed. Returns the ids, so their Slack messages can be refreshed."""
        stmt = (
            update(V)
            .where(V.c.dealer_code == dealer, V.c.customer_id == customer_id)
            .values(reply=None, withdrawn_at=func.coalesce(V.c.withdrawn_at, literal(now, V.c.withdrawn_at.type)), updated_at=now)
            .returning(V.c.id)
        )
        return sorted(await self.conn.scalars(stmt))
