"""Read models for messages: an alert with everything its Slack card or mail shows."""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.values import ANONYMOUS, Channel, HistoryEvent, Kind
from bot.domain.views import AlertView
from storage.models import AlertRow, Customer, Dealer, HistoryRow, Person, Response
from storage.repositories.alerts import to_alert
from storage.repositories.base import Repo
from storage.repositories.history import HistoryRepo

A = AlertRow.__table__
D = Dealer.__table__
C = Customer.__table__
R = Response.__table__
H = HistoryRow.__table__
P = Person.__table__


class ViewsRepo(Repo):
    async def alert_view(self, alert_id: str) -> AlertView | None:
        row = (await self.conn.execute(select(A).where(A.c.id == alert_id))).first()
        if row is None:
            return None
        alert = to_alert(row)
        dealer = (await self.conn.execute(select(D).where(D.c.code == alert.dealer))).first()
        customer = None
        if alert.customer_id:
            q = select(C).where(C.c.dealer_code == alert.dealer, C.c.customer_id == alert.customer_id)
            customer = (await self.conn.execute(q)).first()
        response = (await self.conn.execute(select(R).where(R.c.id == alert.response_id))).first() if alert.response_id else None
        history = await HistoryRepo(self.conn, self.dialect).of(alert.id)
        created = next((e for e in history if e.event is HistoryEvent.CREATED), None)
        last = next((e for e in reversed(history) if e.event is HistoryEvent.STATUS), None)
        by = None
        if last is not None:
            if last.channel is Channel.SLACK:
                by = f"<@{last.actor.rsplit('/', 1)[-1]}>"
            elif last.person_id is not None:
                by = await self.conn.scalar(select(P.c.name).where(P.c.id == last.person_id))
            by = by or last.actor
        with_detractor = False
        if alert.kind is Kind.HOT_ALERT and alert.response_id:
            q = select(A.c.id).where(A.c.response_id == alert.response_id, A.c.kind == Kind.DETRACTOR)
            with_detractor = await self.conn.scalar(q) is not None
        anonymized = bool(customer.anonymized) if customer else False
        return AlertView(
            alert=alert,
            dealer_name=dealer.name if dealer else alert.dealer,
            dealer_time_zone=dealer.time_zone if dealer else "UTC",
            dealer_language=dealer.language if dealer else "en",
            customer_name=ANONYMOUS if anonymized else ((customer.name if customer else None) or alert.customer_id or "-"),
            anonymized=anonymized,
            detractor=bool(customer.detractor) if customer else False,
            survey=response.survey if response else None,
            nps=response.nps if response else None,
            scores=dict(response.scores or {}) if response else {},
            comment=response.comment if response else None,
            segment=response.segment if response else None,
            submitted_at=response.submitted_at if response else None,
            visit_date=(response.purchase_date or response.service_date) if response else None,
            reason=created.note if created else None,
            last_change=last,
            last_change_by=by,
            with_detractor=with_detractor,
            customer_email=None if anonymized or customer is None else customer.email,
            customer_phones={}
            if anonymized or customer is None
            else {k: v for k, v in (("mobile", customer.phone_mobile), ("work", customer.phone_work), ("home", customer.phone_home)) if v},
            contact_name=response.contact_name if response else None,
            contact_email=response.contact_email if response else None,
            contact_phone=response.contact_phone if response else None,
        )
