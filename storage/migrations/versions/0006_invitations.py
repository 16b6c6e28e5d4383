"""survey invitations and their statuses (the communication list)

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invitations',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('survey', sa.Enum('sales', 'service', 'lost_sales', name='survey', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('questionnaire', sa.String(length=200), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('purchase_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('not_sent', 'sent', 'failed', 'clicked', 'submitted', name='invitation_status', native_enum=False, create_constraint=False, length=32), nullable=False),
    sa.Column('status_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('failed_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('clicked_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code', 'customer_id'], ['customers.dealer_code', 'customers.customer_id'], name=op.f('fk_invitations_dealer_code_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index('ix_invitations_dealer_created', ['dealer_code', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_invitations_dealer_status_created', ['dealer_code', 'status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_invitations_dealer_purchase', ['dealer_code', 'purchase_date'], unique=False)
        batch_op.create_index('ix_invitations_dealer_sent', ['dealer_code', 'sent_at'], unique=False)
        batch_op.create_index('ix_invitations_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_invitations_customer', ['dealer_code', 'customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_customer')
        batch_op.drop_index('ix_invitations_created')
        batch_op.drop_index('ix_invitations_dealer_sent')
        batch_op.drop_index('ix_invitations_dealer_purchase')
        batch_op.drop_index('ix_invitations_dealer_status_created')
        batch_op.drop_index('ix_invitations_dealer_created')

    op.drop_table('invitations')
