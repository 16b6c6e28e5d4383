"""SQLAlchemy 2 models. Natural keys where other systems name things (dealer code, response id,
alert id like HA-12), so bulk intake needs no RETURNING round trips."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.domain.complaints import ReceivedVia
from bot.domain.detractors import ActivityType
from bot.domain.invitations import InvitationStatus
from bot.domain.values import Channel, CustomerKind, DealerType, HistoryEvent, Kind, Role, Scope, Status, Survey


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # On SQLite, one step where SQLAlchemy takes three (this decorator, its impl, SQLite's DATETIME
    # text format) in each direction: intake binds about a dozen times per response. The text is
    # exactly SQLite DATETIME's own ("2026-11-02 08:00:00.000000"), so stored values compare alike.

    def bind_processor(self, dialect: Any) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        last: tuple[datetime | None, str | None] = (None, None)

        def process(value: datetime | None) -> str | None:
            nonlocal last
            if value is None:
                return None
            given, text = last  # one read: another thread may replace it meanwhile
            if value is given:  # a batch's rows mostly share one `now` per column: format it once
                return text
            if value.tzinfo is None:
                raise ValueError("naive datetime")
            u = value if value.tzinfo is UTC else value.astimezone(UTC)
            # isoformat(" ", "microseconds")[:26], at half its cost (it formats through C sprintf)
            text = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)
            last = (value, text)
            return text

        return process

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            stored = datetime.fromisoformat(value)
            return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored.astimezone(UTC)

        return process


Json = JSON().with_variant(JSONB(), "postgresql")


def _enum(cls: type, name: str) -> Enum:
    # Stored as plain strings with a CHECK-free VARCHAR: adding a value later needs no migration dance.
    return Enum(cls, name=name, native_enum=False, create_constraint=False, length=32, values_callable=lambda e: [m.value for m in e])


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Dealer(Base):
    __tablename__ = "dealers"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    brand: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    type: Mapped[DealerType] = mapped_column(_enum(DealerType, "dealer_type"), default=DealerType.DEALER)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Business hours ({"mon-fri": "08:00-17:00", …}) and public holidays ("2026-12-24", …): when set,
    # due times and escalations count only open hours. None: wall clock.
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(Json)
    holidays: Mapped[list[str] | None] = mapped_column(Json)
    # Where public reviews wait for the dealer's reply (None: the channel of its Hot Alert route).
    reviews_team: Mapped[str | None] = mapped_column(String(32))
    reviews_channel: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SlackIdentity(Base):
    """A person's Slack user in one workspace: Slack user ids are only unique per team."""

    __tablename__ = "slack_identities"
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)


class Grant(Base):
    __tablename__ = "grants"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))


class Route(Base):
    """Where a dealer's alerts of one kind go first."""

    __tablename__ = "routes"
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[Kind] = mapped_column(_enum(Kind, "kind"), primary_key=True)
    slack_team: Mapped[str | None] = mapped_column(String(32))
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    emails: Mapped[list[str]] = mapped_column(Json, default=list)


class EscalationTarget(Base):
    """Who an unhandled alert reaches at each escalation level: a channel, addresses, or a role
    of the dealer's grants (e.g. every manager of that dealer)."""

    __tablename__ = "escalation_targets"
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[Kind] = mapped_column(_enum(Kind, "kind"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    slack_team: Mapped[str | None] = mapped_column(String(32))
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    emails: Mapped[list[str]] = mapped_column(Json, default=list)
    role: Mapped[Role | None] = mapped_column(_enum(Role, "role"))


class Customer(Base):
    """Keyed by (dealer, customer id): dealer-system numbers repeat across dealers."""

    __tablename__ = "customers"
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[CustomerKind | None] = mapped_column(_enum(CustomerKind, "customer_kind"))  # None: not told
    name: Mapped[str | None] = mapped_column(String(200))
    customer_number: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    phone_home: Mapped[str | None] = mapped_column(String(50))
    phone_work: Mapped[str | None] = mapped_column(String(50))
    phone_mobile: Mapped[str | None] = mapped_column(String(50))
    language: Mapped[str | None] = mapped_column(String(8))
    salesperson_email: Mapped[str | None] = mapped_column(String(320))
    # Customer card (seed 003): the customer's contact person and their service advisor (staff email).
    contact_name: Mapped[str | None] = mapped_column(String(200))
    advisor_email: Mapped[str | None] = mapped_column(String(320))
    # contact permissions and preferences (seed 003): {"email": true, "phone": false, ...}
    contact_permissions: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    preferred_contact: Mapped[str | None] = mapped_column(String(16))
    best_time: Mapped[str | None] = mapped_column(String(100))
    last_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    anonymized: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last erasure (`cxbot customers forget`): when and by whom, never what was removed.
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    erased_by: Mapped[str | None] = mapped_column(String(200))
    # The newest answer with an NPS score, which the detractor flag follows.
    latest_response_id: Mapped[str | None] = mapped_column(String(100))
    latest_submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    latest_nps: Mapped[int | None] = mapped_column(Integer)
    detractor: Mapped[bool] = mapped_column(Boolean, default=False)
    detractor_response_id: Mapped[str | None] = mapped_column(String(100))
    detractor_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        Index("ix_customers_dealer_email", "dealer_code", "email"),
        # "a dealer's customers flagged as detractors" (the daily detractor digest)
        Index("ix_customers_dealer_detractor", "dealer_code", "detractor"),
    )


class Response(Base):
    __tablename__ = "responses"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    survey: Mapped[Survey] = mapped_column(_enum(Survey, "survey"))
    dealer_code: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(100))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(50))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    purchase_date: Mapped[date | None] = mapped_column(Date)
    service_date: Mapped[date | None] = mapped_column(Date)
    segment: Mapped[int | None] = mapped_column(Integer)
    nps: Mapped[int | None] = mapped_column(Integer)
    scores: Mapped[dict[str, int]] = mapped_column(Json, default=dict)
    answers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    publish_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        ForeignKeyConstraint(["dealer_code", "customer_id"], ["customers.dealer_code", "customers.customer_id"]),
        # "a customer's latest responses"
        Index("ix_responses_customer_submitted", "dealer_code", "customer_id", "submitted_at"),
        # KPI: a dealer's answers in a period (NPS)
        Index("ix_responses_dealer_submitted", "dealer_code", "submitted_at"),
    )


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # HA-12
    kind: Mapped[Kind] = mapped_column(_enum(Kind, "kind"))
    number: Mapped[int] = mapped_column(Integer)
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code"))
    customer_id: Mapped[str | None] = mapped_column(String(100))
    response_id: Mapped[str | None] = mapped_column(ForeignKey("responses.id"))
    status: Mapped[Status] = mapped_column(_enum(Status, "status"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # When the sweep next has work on this alert; both are only looked at while it is unhandled.
    next_escalation_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    remind_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        # "open alerts past due": only unhandled alerts are in this index, so it stays small.
        Index(
            "ix_alerts_unhandled_due",
            "due_at",
            postgresql_where=handled_at.is_(None),
            sqlite_where=handled_at.is_(None),
        ),
        # "alerts of a dealer by status", newest first
        Index("ix_alerts_dealer_status_created", "dealer_code", "status", "created_at"),
        Index("ix_alerts_customer_kind", "dealer_code", "customer_id", "kind", "status"),
        Index("ix_alerts_created", "created_at", "id"),
        # KPI: a dealer's alerts due in a period, and first handled in a period
        Index("ix_alerts_dealer_due", "dealer_code", "due_at"),
        Index("ix_alerts_dealer_handled", "dealer_code", "handled_at"),
        # "the alerts one response raised": a card shows a detractor raised with its Hot Alert
        Index("ix_alerts_response", "response_id"),
        # The sweep's questions: partial, so only unhandled alerts with work ahead are in them and a
        # sweep costs what is due, not what exists.
        Index(
            "ix_alerts_next_escalation",
            "next_escalation_at",
            postgresql_where=text("next_escalation_at IS NOT NULL AND handled_at IS NULL"),
            sqlite_where=text("next_escalation_at IS NOT NULL AND handled_at IS NULL"),
        ),
        Index(
            "ix_alerts_remind",
            "remind_at",
            postgresql_where=text("remind_at IS NOT NULL AND handled_at IS NULL"),
            sqlite_where=text("remind_at IS NOT NULL AND handled_at IS NULL"),
        ),
        Index("ix_alerts_status_created", "status", "created_at"),
    )


class HistoryRow(Base):
    """Append-only audit trail of every alert (ISO documentation of complaint handling)."""

    __tablename__ = "alert_history"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "channel"))
    actor: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    event: Mapped[HistoryEvent] = mapped_column(_enum(HistoryEvent, "history_event"))
    old_status: Mapped[Status | None] = mapped_column(_enum(Status, "status"))
    new_status: Mapped[Status | None] = mapped_column(_enum(Status, "status"))
    note: Mapped[str] = mapped_column(Text)


class ComplaintRow(Base):
    """An external complaint (seed 002): the alert it is handled as (CO-n) carries status, due time
    and history; this row keeps how it came in. Customer name, contact and the description are
    personal data (erasure clears them)."""

    __tablename__ = "complaints"
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code"))
    customer_id: Mapped[str] = mapped_column(String(100))
    customer_name: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    customer_phone: Mapped[str | None] = mapped_column(String(50))
    received_via: Mapped[ReceivedVia] = mapped_column(_enum(ReceivedVia, "received_via"))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    description: Mapped[str] = mapped_column(Text)
    # Who took the complaint, by name as it was then (the person may be removed later).
    registered_by: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())

    # "a customer's complaints" (erasure, the customer card)
    __table_args__ = (Index("ix_complaints_customer", "dealer_code", "customer_id"),)


class ApiKey(Base):
    """Scoped API keys; only the SHA-256 of the key is stored (keys are 256-bit random)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[Scope] = mapped_column(_enum(Scope, "scope"))
    dealers: Mapped[list[str] | None] = mapped_column(Json)  # None = every dealer
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Counter(Base):
    """Per-kind numbers for human alert ids (HA-1, HA-2 …)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class OutboxRow(Base):
    """An outbound notification, written in the transaction that decided it. Rows of one lane
    (a Slack channel, a mail recipient) are delivered in id order."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    lane: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    alert_id: Mapped[str | None] = mapped_column(String(16))
    team_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_outbox_pending_due", "next_attempt_at", postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
        Index("ix_outbox_pending_lane", "lane", "id", postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
        Index("ix_outbox_status_created", "status", "created_at"),
    )


class OutboxLane(Base):
    """A lease on one lane: whoever holds it delivers that lane's rows, in order."""

    __tablename__ = "outbox_lanes"
    lane: Mapped[str] = mapped_column(String(200), primary_key=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(64))


class SlackMessage(Base):
    """Receipts of messages cxbot posted about an alert (the card, escalation posts)."""

    __tablename__ = "slack_messages"
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)  # "card", "escalation-1" …
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime())

    # Channel ids are unique across workspaces, so a thread is known by (channel, ts).
    __table_args__ = (Index("ix_slack_messages_thread", "channel_id", "ts", unique=True),)


class SlackWorkspace(Base):
    """Workspaces cxbot was installed into, and when it was removed from them."""

    __tablename__ = "slack_workspaces"
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    installed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    uninstalled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ProcessedEvent(Base):
    """Ids of Slack events and submissions already applied, so a retry never applies twice."""

    __tablename__ = "processed_events"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class MailMessage(Base):
    """Every mail cxbot sent: its Message-ID (so replies can be matched by In-Reply-To), the alert
    it is about and the address it went to (the reply tag is checked against these)."""

    __tablename__ = "mail_messages"
    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    alert_id: Mapped[str | None] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(320))
    purpose: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (Index("ix_mail_messages_alert", "alert_id", "recipient"),)


class Address(Base):
    """One bounce record per email address, staff or customer (seed 003): flagged for a while
    after a bounce; after the limit nothing more is sent until it is verified again."""

    __tablename__ = "addresses"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # lower-cased
    verp_tag: Mapped[str] = mapped_column(String(32), unique=True)
    bounces: Mapped[int] = mapped_column(Integer, default=0)
    first_bounce_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_bounce_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_status: Mapped[str | None] = mapped_column(String(32))
    last_diagnostic: Mapped[str | None] = mapped_column(Text)
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Activity(Base):
    """A service call, workshop booking, sales order or purchase the dealer system opened for a customer
    (seed 004, ID559). Known by (dealer, type, reference), so a resend is recognised; orders and purchases
    also rule a lost-sales prospect out."""

    __tablename__ = "activities"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code"))
    customer_id: Mapped[str] = mapped_column(String(100))  # the dealer system's number; may be unknown to cxbot
    type: Mapped[ActivityType] = mapped_column(_enum(ActivityType, "activity_type"))
    reference: Mapped[str] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    assignee_email: Mapped[str | None] = mapped_column(String(320))  # staff, lower-cased
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The detractor answer a warning was sent about; None: the customer was not flagged.
    warned_response_id: Mapped[str | None] = mapped_column(ForeignKey("responses.id"))

    __table_args__ = (
        Index("ix_activities_dealer_type_reference", "dealer_code", "type", "reference", unique=True),
        # "orders or purchases of this customer since the test-drive request" (lost sales)
        Index("ix_activities_customer_type_opened", "dealer_code", "customer_id", "type", "opened_at"),
        Index("ix_activities_dealer_opened", "dealer_code", "opened_at"),
        Index("ix_activities_assignee_opened", "assignee_email", "opened_at"),
    )


class CustomerMessage(Base):
    """The customer's message in the dealer system (seed 004, ID612): what the dealer system last sent and
    what cxbot returned, and whether the last daily digest reported the customer as flagged. The texts
    hold the dealer's notes and the customer's comment: erasure clears them."""

    __tablename__ = "customer_messages"
    dealer_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    seen_subject: Mapped[str | None] = mapped_column(Text)
    seen_body: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    returned_subject: Mapped[str | None] = mapped_column(Text)
    returned_body: Mapped[str | None] = mapped_column(Text)
    returned_error: Mapped[str | None] = mapped_column(Text)  # a limit exceeded or a damaged marker
    reported_flag: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["dealer_code", "customer_id"], ["customers.dealer_code", "customers.customer_id"]),
        # "customers the last digest reported as flagged"
        Index("ix_customer_messages_dealer_reported", "dealer_code", "reported_flag"),
    )


class JobRun(Base):
    """One row per scheduled job and due time (`digest:DK-1001:2026-W48`): whoever inserts it runs
    the job, so every replica may try and each run happens once."""

    __tablename__ = "job_runs"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Lease(Base):
    """A named lease (one replica reads a mailbox at a time, say): held until `until`."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReviewRow(Base):
    """A survey answer the customer allowed to be published (seed 002, "CarAdvisor"): held for the
    dealer's reply, then public on the dealer's website. Score, comment and name are read from the
    response and customer, so anonymizing or erasing those reaches the review too."""

    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id"), unique=True)
    dealer_code: Mapped[str] = mapped_column(ForeignKey("dealers.code"))
    customer_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    publish_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the hold period ends
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    published_by: Mapped[str | None] = mapped_column(String(200))  # actor label; "system" after the hold
    reply: Mapped[str | None] = mapped_column(Text)  # the dealer's public reply (may name the customer)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    replied_by: Mapped[str | None] = mapped_column(String(200))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime())  # never (again) public
    # The review's Slack message, updated in place as it is replied to and published.
    slack_team: Mapped[str | None] = mapped_column(String(32))
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        # "a dealer's published reviews, newest first" (the public API pages through this)
        Index("ix_reviews_dealer_published", "dealer_code", "published_at", "id"),
        # "held reviews whose hold period is over": only held ones are in it
        Index(
            "ix_reviews_held",
            "publish_at",
            postgresql_where=text("published_at IS NULL AND withdrawn_at IS NULL"),
            sqlite_where=text("published_at IS NULL AND withdrawn_at IS NULL"),
        ),
        Index("ix_reviews_customer", "dealer_code", "customer_id"),
    )


class InvitationRow(Base):
    """A survey invitation (seed 000) and the time it reached each status. The customer's name and
    email are read from the customer record (so anonymizing or erasing it reaches the list); the
    purchase or service date is personal data kept here (cleared by an anonymous answer)."""

    __tablename__ = "invitations"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    dealer_code: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(100))
    survey: Mapped[Survey] = mapped_column(_enum(Survey, "survey"))
    questionnaire: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    purchase_date: Mapped[date | None] = mapped_column(Date)  # purchase (sales) or service date
    status: Mapped[InvitationStatus] = mapped_column(_enum(InvitationStatus, "invitation_status"))
    status_at: Mapped[datetime] = mapped_column(UtcDateTime())  # when it reached `status`
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())  # recorded (the not_sent time)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    clicked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Invitations cxbot mails itself (lost sales): the end of the link's validity, set when the
    # first mail goes out, and when the one reminder was queued.
    link_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["dealer_code", "customer_id"], ["customers.dealer_code", "customers.customer_id"]),
        # The reminder sweep: lost-sales invitations not reminded yet, by when they were sent. Partial,
        # and not led by `survey`, so the selection's "invited before?" keeps ix_invitations_customer.
        Index(
            "ix_invitations_reminder", "sent_at",
            postgresql_where=text("survey = 'lost_sales' AND reminded_at IS NULL"),
            sqlite_where=text("survey = 'lost_sales' AND reminded_at IS NULL"),
        ),
        # The communication list, newest first: a dealer's, by status, by date or sent day.
        Index("ix_invitations_dealer_created", "dealer_code", "created_at", "id"),
        Index("ix_invitations_dealer_status_created", "dealer_code", "status", "created_at", "id"),
        Index("ix_invitations_dealer_purchase", "dealer_code", "purchase_date"),
        Index("ix_invitations_dealer_sent", "dealer_code", "sent_at"),
        Index("ix_invitations_created", "created_at", "id"),  # every dealer's (an importer's view)
        Index("ix_invitations_customer", "dealer_code", "customer_id"),  # anonymizing clears a customer's dates
    )


class Lead(Base):
    """A test-drive request from the brand's website (seed 001): a lost-sales prospect until an order
    or purchase rules them out. The customer's name and email live in the customer record; the
    request time is personal data (erasure deletes the customer's leads)."""

    __tablename__ = "leads"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    dealer_code: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    source: Mapped[str | None] = mapped_column(String(100))
    private: Mapped[bool] = mapped_column(Boolean)  # False: a business customer
    email_permission: Mapped[bool] = mapped_column(Boolean)
    content_hash: Mapped[str] = mapped_column(String(64))  # a resend with other content is a conflict
    # The lost-sales invitation this lead got; set once, in the same statement that claims it.
    invitation_id: Mapped[str | None] = mapped_column(String(100))
    invited_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    __table_args__ = (
        ForeignKeyConstraint(["dealer_code", "customer_id"], ["customers.dealer_code", "customers.customer_id"]),
        # The monthly selection: a dealer's requests in a window, not invited yet.
        Index("ix_leads_dealer_requested", "dealer_code", "requested_at"),
        Index("ix_leads_dealer_invited", "dealer_code", "invited_at"),
        Index("ix_leads_customer", "dealer_code", "customer_id"),
    )


# slack_sdk's own tables for OAuth installations and states, in cxbot's schema and migrations.
SLACK_INSTALLATIONS = AsyncSQLAlchemyInstallationStore.build_installations_table(Base.metadata, "slack_installations")
SLACK_BOTS = AsyncSQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
SLACK_OAUTH_STATES = AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(Base.metadata, "slack_oauth_states")
