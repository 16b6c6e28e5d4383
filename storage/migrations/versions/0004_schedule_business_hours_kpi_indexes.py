"""schedule, business hours, KPI indexes

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('job_runs',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('started_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_escalation_at', storage.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('remind_at', storage.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_alerts_dealer_due', ['dealer_code', 'due_at'], unique=False)
        batch_op.create_index('ix_alerts_dealer_handled', ['dealer_code', 'handled_at'], unique=False)
        batch_op.create_index('ix_alerts_next_escalation', ['next_escalation_at'], unique=False, postgresql_where=sa.text('next_escalation_at IS NOT NULL AND handled_at IS NULL'), sqlite_where=sa.text('next_escalation_at IS NOT NULL AND handled_at IS NULL'))
        batch_op.create_index('ix_alerts_remind', ['remind_at'], unique=False, postgresql_where=sa.text('remind_at IS NOT NULL AND handled_at IS NULL'), sqlite_where=sa.text('remind_at IS NOT NULL AND handled_at IS NULL'))
        batch_op.create_index('ix_alerts_response', ['response_id'], unique=False)

    with op.batch_alter_table('dealers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opening_hours', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('holidays', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))

    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_dealer_submitted', ['dealer_code', 'submitted_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_dealer_submitted')

    with op.batch_alter_table('dealers', schema=None) as batch_op:
        batch_op.drop_column('holidays')
        batch_op.drop_column('opening_hours')

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_response')
        batch_op.drop_index('ix_alerts_remind', postgresql_where=sa.text('remind_at IS NOT NULL AND handled_at IS NULL'), sqlite_where=sa.text('remind_at IS NOT NULL AND handled_at IS NULL'))
        batch_op.drop_index('ix_alerts_next_escalation', postgresql_where=sa.text('next_escalation_at IS NOT NULL AND handled_at IS NULL'), sqlite_where=sa.text('next_escalation_at IS NOT NULL AND handled_at IS NULL'))
        batch_op.drop_index('ix_alerts_dealer_handled')
        batch_op.drop_index('ix_alerts_dealer_due')
        batch_op.drop_column('remind_at')
        batch_op.drop_column('next_escalation_at')

    op.drop_table('job_runs')
