"""Survey invitations: recording them, moving their status, and the communication list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import and_, bindparam, exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.invitations import TIME_COLUMN, InvitationFilter, InvitationRow, InvitationStatus
from bot.domain.lost_sales import INVITATION_PREFIX, LinkedInvitation
from bot.domain.values import ANONYMOUS, Survey
from storage.models import Customer, Dealer, InvitationRow as Model, Lead
from storage.repositories.base import Repo, chunks, keys_in
from storage.repositories.responses import StoredMeanwhile

T = Model.__table__
C = Customer.__table__
D = Dealer.__table__
LD = Lead.__table__
TIMES = tuple(TIME_COLUMN.values())
S = InvitationStatus


@dataclass(frozen=True)
class Stored:
    """What a status report is checked against."""

    id: str
    dealer: str
    customer_id: str
    survey: Survey
    status: InvitationStatus


@dataclass(frozen=True)
class Move:
    """A status moved forward: the new status and when, and the status times it makes known
    (column → time: the new status's own, a sent time reported with it)."""

    id: str
    status: InvitationStatus
    at: datetime
    times: Mapping[str, datetime]


@dataclass(frozen=True)
class SentWindow:
    """Sent between `start` and `end` (UTC, end exclusive) for these dealers: the filter's days
    read on the clock of the dealers' time zone."""

    dealers: tuple[str, ...]
    start: datetime | None
    end: datetime | None


def _fold(dialect: str, col: Any) -> Any:
    # SQLite's own lower() folds ASCII only ("Ø" stays "Ø"); storage/database.py gives every
    # SQLite connection cx_fold (Python's str.lower). PostgreSQL's lower() follows its UTF-8 locale.
    return func.cx_fold(col) if dialect == "sqlite" else func.lower(col)


class InvitationsRepo(Repo):
    async def stored(self, ids: Sequence[str]) -> dict[str, Stored]:
        """The invitations already recorded among `ids`; on PostgreSQL locked in id order, so two
        reports about the same invitation take turns."""
        out: dict[str, Stored] = {}
        for part in chunks(sorted(set(ids)), 900):
            q = select(T.c.id, T.c.dealer_code, T.c.customer_id, T.c.survey, T.c.status).where(T.c.id.in_(part)).order_by(T.c.id)
            if self.locks_rows:
                q = q.with_for_update()
            for r in await self.conn.execute(q):
                out[r.id] = Stored(r.id, r.dealer_code, r.customer_id, Survey(r.survey), InvitationStatus(r.status))
        return out

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        try:
            await self.conn.execute(T.insert(), sorted(rows, key=lambda r: r["id"]))
        except IntegrityError as e:  # the ids were checked in this transaction: only a race gets here
            raise StoredMeanwhile(str(e.orig)) from e

    async def move_many(self, moves: Sequence[Move], now: datetime) -> None:
        """One statement for every move: each row sets its new status and the status times it
        makes known; a time already stored stays."""
        if not moves:
            return
        values: dict[str, Any] = {
            "status": bindparam("v_status"),
            "status_at": bindparam("v_at"),
            "updated_at": now,
        }
        for col in TIMES:  # a time once known stays
            values[col] = func.coalesce(T.c[col], bindparam(f"v_{col}", type_=T.c[col].type))
        stmt = update(T).where(T.c.id == bindparam("k_id")).values(values)
        params = []
        for m in sorted(moves, key=lambda m: m.id):
            params.append({"k_id": m.id, "v_status": m.status, "v_at": m.at, **{f"v_{c}": m.times.get(c) for c in TIMES}})
        await self.conn.execute(stmt, params)

    async def mark_submitted(self, submitted: Sequence[tuple[str, str, datetime]], now: datetime) -> None:
        """(invitation id, dealer, when) of answers carrying an invitation id: each of that dealer's
        invitations becomes submitted unless it already is. Unknown ids change nothing."""
        if not submitted:
            return
        at = bindparam("v_at", type_=T.c.status_at.type)
        stmt = (
            update(T)
            .where(T.c.id == bindparam("k_id"), T.c.dealer_code == bindparam("k_dealer"), T.c.status != InvitationStatus.SUBMITTED)
            .values(status=InvitationStatus.SUBMITTED, status_at=at, submitted_at=at, updated_at=now)
        )
        await self.conn.execute(stmt, [{"k_id": i, "k_dealer": d, "v_at": at} for i, d, at in sorted(submitted)])

    async def forget_dates(self, keys: Sequence[tuple[str, str]]) -> None:
        """Seed 000: an anonymous answer deletes the customer's purchase or service dates for good."""
        for part in chunks(sorted(keys)):
            await self.conn.execute(
                update(T).where(keys_in((T.c.dealer_code, T.c.customer_id), part), T.c.purchase_date.is_not(None)).values(purchase_date=None)
            )

    async def get(self, id_: str) -> InvitationRow | None:
        q = self._select().where(T.c.id == id_)
        row = (await self.conn.execute(q)).first()
        return _row(row) if row else None

    # ---- invitations cxbot mails itself (lost sales) ------------------------------------------

    async def linked(self, id_: str) -> LinkedInvitation | None:
        q = (
            select(
                T.c.id, T.c.dealer_code, D.c.name.label("d_name"), D.c.language.label("d_lang"), D.c.time_zone, T.c.customer_id, C.c.name, C.c.email,
                C.c.anonymized, T.c.language, T.c.status, T.c.sent_at, T.c.link_expires_at, LD.c.requested_at, LD.c.source,
            )
            .select_from(
                T.join(D, D.c.code == T.c.dealer_code)
                .outerjoin(C, and_(C.c.dealer_code == T.c.dealer_code, C.c.customer_id == T.c.customer_id))
                .outerjoin(LD, and_(LD.c.id == id_.removeprefix(INVITATION_PREFIX), LD.c.invitation_id == T.c.id))
            )
            .where(T.c.id == id_)
        )
        r = (await self.conn.execute(q)).first()
        if r is None:
            return None
        return LinkedInvitation(
            r.id, r.dealer_code, r.d_name, r.d_lang, r.time_zone, r.customer_id, r.name, r.email, bool(r.anonymized), r.language,
            str(r.status), r.sent_at, r.link_expires_at, r.requested_at, r.source,
        )

    async def mark_sent(self, id_: str, at: datetime, expires: datetime) -> None:
        """The invitation mail went out: sent (unless a later status came first) and the link's end."""
        await self.conn.execute(
            update(T).where(T.c.id == id_, T.c.status == S.NOT_SENT).values(status=S.SENT, status_at=at, sent_at=at, updated_at=at)
        )
        await self.conn.execute(update(T).where(T.c.id == id_, T.c.link_expires_at.is_(None)).values(link_expires_at=expires))

    async def mark_clicked(self, id_: str, at: datetime) -> None:
        """The link was opened: clicked, if nothing further along (failed, submitted) came first."""
        await self.conn.execute(
            update(T)
            .where(T.c.id == id_, T.c.status.in_([S.NOT_SENT, S.SENT]))
            .values(status=S.CLICKED, status_at=at, clicked_at=func.coalesce(T.c.clicked_at, at), updated_at=at)
        )

    async def claim_reminders(self, sent_before: datetime, now: datetime, limit: int) -> list[tuple[str, str, str]]:
        """(id, dealer, customer id) of lost-sales invitations sent before `sent_before`, not
        answered, link still valid and not reminded yet, now marked reminded; the outer WHERE is
        re-checked on rows another replica claimed meanwhile, so each is reminded once."""
        open_ = and_(
            T.c.survey == Survey.LOST_SALES, T.c.reminded_at.is_(None), T.c.status.in_([S.SENT, S.CLICKED]),
            T.c.sent_at < sent_before, T.c.link_expires_at > now,
        )
        ids = select(T.c.id).where(open_).order_by(T.c.sent_at, T.c.id).limit(limit).scalar_subquery()
        stmt = update(T).where(T.c.id.in_(ids), open_).values(reminded_at=now, updated_at=now).returning(T.c.id, T.c.dealer_code, T.c.customer_id)
        return sorted((r.id, r.dealer_code, r.customer_id) for r in await self.conn.execute(stmt))

    async def fail_sent_to(self, address: str, since: datetime, now: datetime) -> list[str]:
        """A bounce: the lost-sales invitations mailed (since `since`) to customers at `address`,
        and neither opened nor answered, become failed."""
        at_address = exists().where(
            C.c.dealer_code == T.c.dealer_code, C.c.customer_id == T.c.customer_id, _fold(self.dialect, C.c.email) == address.lower()
        )
        stmt = (
            update(T)
            .where(T.c.survey == Survey.LOST_SALES, T.c.status == S.SENT, T.c.sent_at >= since, at_address)
            .values(status=S.FAILED, status_at=now, failed_at=now, updated_at=now)
            .returning(T.c.id)
        )
        return sorted(r.id for r in await self.conn.execute(stmt))

    # ---- the communication list ---------------------------------------------------------------

    def _select(self) -> Any:
        return select(T, C.c.name.label("c_name"), C.c.email.label("c_email"), C.c.anonymized.label("c_anonymized")).select_from(
            T.outerjoin(C, and_(C.c.dealer_code == T.c.dealer_code, C.c.customer_id == T.c.customer_id))
        )

    def _where(self, q: Any, f: InvitationFilter, sent: Sequence[SentWindow] | None, *, with_status: bool = True) -> Any:
        if f.dealers is not None:
            q = q.where(T.c.dealer_code.in_(sorted(f.dealers)))
        if f.survey is not None:
            q = q.where(T.c.survey == f.survey)
        if with_status and f.status is not None:
            q = q.where(T.c.status == f.status)
        if f.date_field == "purchase":
            if f.date_from is not None:
                q = q.where(T.c.purchase_date >= f.date_from)
            if f.date_to is not None:
                q = q.where(T.c.purchase_date <= f.date_to)
        elif sent is not None:
            parts = []
            for w in sent:
                cond = [T.c.dealer_code.in_(w.dealers), T.c.sent_at.is_not(None)]
                if w.start is not None:
                    cond.append(T.c.sent_at >= w.start)
                if w.end is not None:
                    cond.append(T.c.sent_at < w.end)
                parts.append(and_(*cond))
            q = q.where(or_(*parts) if parts else literal(False))
        if f.q:
            needle = f.q.strip().lower()
            q = q.where(
                or_(
                    _fold(self.dialect, C.c.name).contains(needle, autoescape=True),
                    _fold(self.dialect, C.c.email).contains(needle, autoescape=True),
                    _fold(self.dialect, T.c.customer_id).contains(needle, autoescape=True),
                )
            )
        return q

    async def find(
        self, f: InvitationFilter, limit: int, after: tuple[datetime, str] | None = None, sent: Sequence[SentWindow] | None = None
    ) -> list[InvitationRow]:
        """Newest first; `after` is the (created_at, id) of the last item of the previous page."""
        q = self._where(self._select(), f, sent)
        if after is not None:
            at, last = after
            q = q.where(or_(T.c.created_at < at, and_(T.c.created_at == at, T.c.id < last)))
        q = q.order_by(T.c.created_at.desc(), T.c.id.desc()).limit(limit)
        return [_row(r) for r in await self.conn.execute(q)]

    async def counts(self, f: InvitationFilter, sent: Sequence[SentWindow] | None = None) -> dict[InvitationStatus, int]:
        """How many invitations match every filter but the status, per status."""
        base = select(T.c.status, func.count().label("n"))
        if f.q:  # only free text needs the customer's name and email
            base = base.select_from(T.outerjoin(C, and_(C.c.dealer_code == T.c.dealer_code, C.c.customer_id == T.c.customer_id)))
        q = self._where(base, f, sent, with_status=False).group_by(T.c.status)
        found = {InvitationStatus(r.status): r.n for r in await self.conn.execute(q)}
        return {s: found.get(s, 0) for s in InvitationStatus}


def _row(r: Any) -> InvitationRow:
    anonymous = bool(r.c_anonymized)
    purchase: date | None = r.purchase_date
    return InvitationRow(
        id=r.id,
        dealer=r.dealer_code,
        survey=Survey(r.survey),
        customer_id=r.customer_id,
        name=ANONYMOUS if anonymous else r.c_name,
        email=None if anonymous else r.c_email,
        anonymous=anonymous,
        purchase_date=None if anonymous else purchase,
        language=r.language,
        questionnaire=r.questionnaire,
        status=InvitationStatus(r.status),
        status_at=r.status_at,
        recorded_at=r.created_at,
        sent_at=r.sent_at,
        failed_at=r.failed_at,
        clicked_at=r.clicked_at,
        submitted_at=r.submitted_at,
    )
