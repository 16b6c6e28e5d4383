"""Read models for messages: an alert with everything its Slack card or mail shows."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import and_, exists, select

from bot.domain.complaints import ReceivedVia
from bot.domain.values import ANONYMOUS, Channel, HistoryEntry, HistoryEvent, Kind, Status
from bot.domain.views import AlertView, ComplaintDetails
from storage.models import AlertRow, ComplaintRow, Customer, Dealer, HistoryRow, Person, Response
from storage.repositories.alerts import to_alert
from storage.repositories.base import InValues, Repo, chunks

A = AlertRow.__table__
D = Dealer.__table__
C = Customer.__table__
R = Response.__table__
H = HistoryRow.__table__
P = Person.__table__
CP = ComplaintRow.__table__
SAME_RESPONSE = A.alias("same_response")

# One statement per chunk of alerts: the alert joined with its dealer, customer and response (or
# complaint), one row per history entry the message shows (why it was raised, the last status
# change, who made it), and whether the same response also raised a detractor. Labels keep joined
# names apart.
VIEW = (
    select(
        A,
        D.c.name.label("d_name"),
        D.c.time_zone.label("d_time_zone"),
        D.c.language.label("d_language"),
        C.c.name.label("c_name"),
        C.c.anonymized.label("c_anonymized"),
        C.c.detractor.label("c_detractor"),
        C.c.email.label("c_email"),
        C.c.phone_mobile.label("c_mobile"),
        C.c.phone_work.label("c_work"),
        C.c.phone_home.label("c_home"),
        R.c.id.label("r_id"),
        R.c.survey.label("r_survey"),
        R.c.nps.label("r_nps"),
        R.c.scores.label("r_scores"),
        R.c.comment.label("r_comment"),
        R.c.segment.label("r_segment"),
        R.c.submitted_at.label("r_submitted_at"),
        R.c.purchase_date.label("r_purchase_date"),
        R.c.service_date.label("r_service_date"),
        R.c.contact_name.label("r_contact_name"),
        R.c.contact_email.label("r_contact_email"),
        R.c.contact_phone.label("r_contact_phone"),
        H.c.id.label("h_id"),
        H.c.at.label("h_at"),
        H.c.channel.label("h_channel"),
        H.c.actor.label("h_actor"),
        H.c.person_id.label("h_person_id"),
        H.c.event.label("h_event"),
        H.c.old_status.label("h_old_status"),
        H.c.new_status.label("h_new_status"),
        H.c.note.label("h_note"),
        P.c.name.label("p_name"),
        CP.c.alert_id.label("cp_alert_id"),
        CP.c.customer_name.label("cp_customer_name"),
        CP.c.customer_email.label("cp_customer_email"),
        CP.c.customer_phone.label("cp_customer_phone"),
        CP.c.received_via.label("cp_received_via"),
        CP.c.received_at.label("cp_received_at"),
        CP.c.description.label("cp_description"),
        CP.c.registered_by.label("cp_registered_by"),
        CP.c.registered_at.label("cp_registered_at"),
        exists()
        .where(SAME_RESPONSE.c.response_id == A.c.response_id, SAME_RESPONSE.c.kind == Kind.DETRACTOR)
        .label("with_detractor"),
    )
    .select_from(
        A.outerjoin(D, D.c.code == A.c.dealer_code)
        .outerjoin(C, and_(C.c.dealer_code == A.c.dealer_code, C.c.customer_id == A.c.customer_id))
        .outerjoin(R, R.c.id == A.c.response_id)
        .outerjoin(H, and_(H.c.alert_id == A.c.id, H.c.event.in_([HistoryEvent.CREATED, HistoryEvent.STATUS])))
        .outerjoin(P, P.c.id == H.c.person_id)
        .outerjoin(CP, CP.c.alert_id == A.c.id)
    )
    .where(InValues(A.c.id, "ids"))
    .order_by(H.c.id)
)  # built once: SQLAlchemy then finds its compiled form without walking this select each time


class ViewsRepo(Repo):
    async def alert_view(self, alert_id: str) -> AlertView | None:
        return (await self.alert_views([alert_id])).get(alert_id)

    async def alert_views(self, alert_ids: Sequence[str]) -> dict[str, AlertView]:
        """What each alert's message shows, by alert id (ids that do not exist are left out)."""
        found: dict[str, tuple[Any, list[Any]]] = {}
        for part in chunks(sorted(set(alert_ids))):
            for row in await self.conn.execute(VIEW, {"ids": part}):
                entry = found.setdefault(row.id, (row, []))
                if row.h_id is not None:
                    entry[1].append(row)
        return {alert_id: _view(row, history) for alert_id, (row, history) in found.items()}


def _entry(h: Any) -> HistoryEntry:
    return HistoryEntry(
        h.id,  # the alert's: the history's own columns are the labelled ones
        h.h_at,
        Channel(h.h_channel),
        h.h_actor,
        HistoryEvent(h.h_event),
        Status(h.h_old_status) if h.h_old_status else None,
        Status(h.h_new_status) if h.h_new_status else None,
        h.h_note,
        h.h_person_id,
    )


def _view(row: Any, history: list[Any]) -> AlertView:
    alert = to_alert(row)
    created = next((h for h in history if h.h_event == HistoryEvent.CREATED), None)
    last_row = next((h for h in reversed(history) if h.h_event == HistoryEvent.STATUS), None)
    last = _entry(last_row) if last_row is not None else None
    by = None
    if last is not None and last_row is not None:
        if last.channel is Channel.SLACK:
            by = f"<@{last.actor.rsplit('/', 1)[-1]}>"
        elif last.person_id is not None:
            by = last_row.p_name
        by = by or last.actor
    has_customer = row.c_anonymized is not None  # a NOT NULL column: None only when no customer joined
    anonymized = bool(row.c_anonymized) if has_customer else False
    has_response = row.r_id is not None
    complaint = _complaint(row, created)
    name = ANONYMOUS if anonymized else ((row.c_name if has_customer else None) or alert.customer_id or "-")
    if complaint is not None and complaint.customer_name:
        name = complaint.customer_name  # as staff took it down; erasure clears it
    return AlertView(
        alert=alert,
        dealer_name=row.d_name if row.d_name is not None else alert.dealer,
        dealer_time_zone=row.d_time_zone if row.d_name is not None else "UTC",
        dealer_language=row.d_language if row.d_name is not None else "en",
        customer_name=name,
        anonymized=anonymized,
        detractor=bool(row.c_detractor) if has_customer else False,
        survey=row.r_survey if has_response else None,
        nps=row.r_nps if has_response else None,
        scores=dict(row.r_scores or {}) if has_response else {},
        comment=row.r_comment if has_response else None,
        segment=row.r_segment if has_response else None,
        submitted_at=row.r_submitted_at if has_response else None,
        visit_date=(row.r_purchase_date or row.r_service_date) if has_response else None,
        reason=created.h_note if created is not None else None,
        last_change=last,
        last_change_by=by,
        with_detractor=alert.kind is Kind.HOT_ALERT and bool(alert.response_id) and bool(row.with_detractor),
        customer_email=None if anonymized or not has_customer else row.c_email,
        customer_phones={}
        if anonymized or not has_customer
        else {k: v for k, v in (("mobile", row.c_mobile), ("work", row.c_work), ("home", row.c_home)) if v},
        contact_name=row.r_contact_name if has_response else None,
        contact_email=row.r_contact_email if has_response else None,
        contact_phone=row.r_contact_phone if has_response else None,
        complaint=complaint,
    )


def _complaint(row: Any, created: Any) -> ComplaintDetails | None:
    if row.cp_alert_id is None:
        return None
    mention = None
    if created is not None and created.h_channel == Channel.SLACK:
        mention = f"<@{created.h_actor.rsplit('/', 1)[-1]}>"  # Slack shows the person as their workspace knows them
    return ComplaintDetails(
        customer_id=row.customer_id,
        received_via=ReceivedVia(row.cp_received_via).value,
        received_at=row.cp_received_at,
        description=row.cp_description,
        registered_by=row.cp_registered_by,
        registered_at=row.cp_registered_at,
        customer_name=row.cp_customer_name,
        customer_email=row.cp_customer_email,
        customer_phone=row.cp_customer_phone,
        registered_in_slack=mention,
    )
