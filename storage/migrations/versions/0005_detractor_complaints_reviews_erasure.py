"""Detractor activities and dealer-system messages, external complaints, public reviews, erasure.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # -- activities and dealer-system messages --
    from storage.models import UtcDateTime as ActivityTime  # local, as in the other sections

    op.create_table('activities',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.Enum('service_call', 'workshop_booking', 'sales_order', 'purchase', name='activity_type', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('opened_at', ActivityTime(timezone=True), nullable=False),
    sa.Column('assignee_email', sa.String(length=320), nullable=True),
    sa.Column('received_at', ActivityTime(timezone=True), nullable=False),
    sa.Column('warned_response_id', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_activities_dealer_code_dealers')),
    sa.ForeignKeyConstraint(['warned_response_id'], ['responses.id'], name=op.f('fk_activities_warned_response_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index('ix_activities_dealer_type_reference', ['dealer_code', 'type', 'reference'], unique=True)
        batch_op.create_index('ix_activities_customer_type_opened', ['dealer_code', 'customer_id', 'type', 'opened_at'], unique=False)
        batch_op.create_index('ix_activities_dealer_opened', ['dealer_code', 'opened_at'], unique=False)
        batch_op.create_index('ix_activities_assignee_opened', ['assignee_email', 'opened_at'], unique=False)
    op.create_table('customer_messages',
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('seen_subject', sa.Text(), nullable=True),
    sa.Column('seen_body', sa.Text(), nullable=True),
    sa.Column('seen_at', ActivityTime(timezone=True), nullable=True),
    sa.Column('returned_subject', sa.Text(), nullable=True),
    sa.Column('returned_body', sa.Text(), nullable=True),
    sa.Column('returned_error', sa.Text(), nullable=True),
    sa.Column('reported_flag', sa.Boolean(), nullable=False),
    sa.Column('reported_at', ActivityTime(timezone=True), nullable=True),
    sa.Column('updated_at', ActivityTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code', 'customer_id'], ['customers.dealer_code', 'customers.customer_id'], name=op.f('fk_customer_messages_dealer_code_customer_id_customers')),
    sa.PrimaryKeyConstraint('dealer_code', 'customer_id', name=op.f('pk_customer_messages'))
    )
    with op.batch_alter_table('customer_messages', schema=None) as batch_op:
        batch_op.create_index('ix_customer_messages_dealer_reported', ['dealer_code', 'reported_flag'], unique=False)
    # CREATE INDEX needs no batch mode (no table copy on SQLite).
    op.create_index('ix_customers_dealer_detractor', 'customers', ['dealer_code', 'detractor'], unique=False)
    # -- complaints --
    from storage.models import UtcDateTime as ComplaintTime  # local, as in the other sections

    op.create_table('complaints',
    sa.Column('alert_id', sa.String(length=16), nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('customer_name', sa.String(length=200), nullable=True),
    sa.Column('customer_email', sa.String(length=320), nullable=True),
    sa.Column('customer_phone', sa.String(length=50), nullable=True),
    sa.Column('received_via', sa.Enum('phone', 'email', 'in_person', 'letter', 'other', name='received_via', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('received_at', ComplaintTime(timezone=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('registered_by', sa.String(length=200), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('registered_at', ComplaintTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_complaints_alert_id_alerts')),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_complaints_dealer_code_dealers')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_complaints_person_id_people'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('alert_id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_customer', ['dealer_code', 'customer_id'], unique=False)
    # -- reviews --
    from storage.models import UtcDateTime as ReviewTime  # local, as in the erasure section

    with op.batch_alter_table('dealers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reviews_team', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('reviews_channel', sa.String(length=64), nullable=True))
    op.create_table('reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('response_id', sa.String(length=100), nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', ReviewTime(timezone=True), nullable=False),
    sa.Column('publish_at', ReviewTime(timezone=True), nullable=False),
    sa.Column('published_at', ReviewTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.String(length=200), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_at', ReviewTime(timezone=True), nullable=True),
    sa.Column('replied_by', sa.String(length=200), nullable=True),
    sa.Column('withdrawn_at', ReviewTime(timezone=True), nullable=True),
    sa.Column('slack_team', sa.String(length=32), nullable=True),
    sa.Column('slack_channel', sa.String(length=64), nullable=True),
    sa.Column('slack_ts', sa.String(length=32), nullable=True),
    sa.Column('updated_at', ReviewTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_reviews_dealer_code_dealers')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_reviews_response_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('response_id', name=op.f('uq_reviews_response_id'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index('ix_reviews_customer', ['dealer_code', 'customer_id'], unique=False)
        batch_op.create_index('ix_reviews_dealer_published', ['dealer_code', 'published_at', 'id'], unique=False)
        batch_op.create_index('ix_reviews_held', ['publish_at'], unique=False, postgresql_where=sa.text('published_at IS NULL AND withdrawn_at IS NULL'), sqlite_where=sa.text('published_at IS NULL AND withdrawn_at IS NULL'))
    # -- erasure --
    from storage.models import UtcDateTime  # local, so this section stands alone

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    # -- erasure --
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('erased_by')
        batch_op.drop_column('erased_at')
    # -- reviews --
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_reviews_held', postgresql_where=sa.text('published_at IS NULL AND withdrawn_at IS NULL'), sqlite_where=sa.text('published_at IS NULL AND withdrawn_at IS NULL'))
        batch_op.drop_index('ix_reviews_dealer_published')
        batch_op.drop_index('ix_reviews_customer')
    op.drop_table('reviews')
    with op.batch_alter_table('dealers', schema=None) as batch_op:
        batch_op.drop_column('reviews_channel')
        batch_op.drop_column('reviews_team')
    # -- complaints --
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_customer')
    op.drop_table('complaints')
    # -- activities and dealer-system messages --
    op.drop_index('ix_customers_dealer_detractor', table_name='customers')
    with op.batch_alter_table('customer_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_messages_dealer_reported')
    op.drop_table('customer_messages')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_assignee_opened')
        batch_op.drop_index('ix_activities_dealer_opened')
        batch_op.drop_index('ix_activities_customer_type_opened')
        batch_op.drop_index('ix_activities_dealer_type_reference')
    op.drop_table('activities')
