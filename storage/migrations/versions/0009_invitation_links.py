"""lost-sales invitation links and reminders

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None
WHERE = "survey = 'lost_sales' AND reminded_at IS NULL"


def upgrade() -> None:
    # Nullable columns and an index: plain ALTER TABLE on both databases (no batch copy of the table).
    op.add_column('invitations', sa.Column('link_expires_at', storage.models.UtcDateTime(timezone=True), nullable=True))
    op.add_column('invitations', sa.Column('reminded_at', storage.models.UtcDateTime(timezone=True), nullable=True))
    op.create_index('ix_invitations_reminder', 'invitations', ['sent_at'], unique=False, postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE))


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index('ix_invitations_reminder', postgresql_where=sa.text(WHERE), sqlite_where=sa.text(WHERE))
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('link_expires_at')
