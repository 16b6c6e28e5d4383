"""test-drive leads for the lost-sales cycle

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leads',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('requested_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('email_permission', sa.Boolean(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('invitation_id', sa.String(length=100), nullable=True),
    sa.Column('invited_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code', 'customer_id'], ['customers.dealer_code', 'customers.customer_id'], name=op.f('fk_leads_dealer_code_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leads'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.create_index('ix_leads_dealer_requested', ['dealer_code', 'requested_at'], unique=False)
        batch_op.create_index('ix_leads_dealer_invited', ['dealer_code', 'invited_at'], unique=False)
        batch_op.create_index('ix_leads_customer', ['dealer_code', 'customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_index('ix_leads_customer')
        batch_op.drop_index('ix_leads_dealer_invited')
        batch_op.drop_index('ix_leads_dealer_requested')

    op.drop_table('leads')
