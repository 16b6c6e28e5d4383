"""mail

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('addresses',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('verp_tag', sa.String(length=32), nullable=False),
    sa.Column('bounces', sa.Integer(), nullable=False),
    sa.Column('first_bounce_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_bounce_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('last_diagnostic', sa.Text(), nullable=True),
    sa.Column('verified_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('reported_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('email', name=op.f('pk_addresses')),
    sa.UniqueConstraint('verp_tag', name=op.f('uq_addresses_verp_tag'))
    )
    op.create_table('leases',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('until', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('mail_messages',
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('alert_id', sa.String(length=16), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('sent_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_mail_messages'))
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mail_messages_alert', ['alert_id', 'recipient'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_messages_alert')

    op.drop_table('mail_messages')
    op.drop_table('leases')
    op.drop_table('addresses')
