"""initial schema

Revision ID: 0001
Revises: 
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.models
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.Enum('intake', 'read', 'admin', name='scope', native_enum=False, length=32), nullable=False),
    sa.Column('dealers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash'))
    )
    op.create_table('counters',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('dealers',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('brand', sa.String(length=100), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('type', sa.Enum('dealer', 'service_partner', name='dealer_type', native_enum=False, length=32), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_dealers'))
    )
    op.create_table('people',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people')),
    sa.UniqueConstraint('email', name=op.f('uq_people_email'))
    )
    op.create_table('customers',
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.Enum('person', 'company', name='customer_kind', native_enum=False, length=32), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('customer_number', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone_home', sa.String(length=50), nullable=True),
    sa.Column('phone_work', sa.String(length=50), nullable=True),
    sa.Column('phone_mobile', sa.String(length=50), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('salesperson_email', sa.String(length=320), nullable=True),
    sa.Column('contact_permissions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('preferred_contact', sa.String(length=16), nullable=True),
    sa.Column('best_time', sa.String(length=100), nullable=True),
    sa.Column('last_verified_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('anonymized', sa.Boolean(), nullable=False),
    sa.Column('latest_response_id', sa.String(length=100), nullable=True),
    sa.Column('latest_submitted_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('latest_nps', sa.Integer(), nullable=True),
    sa.Column('detractor', sa.Boolean(), nullable=False),
    sa.Column('detractor_response_id', sa.String(length=100), nullable=True),
    sa.Column('detractor_since', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_customers_dealer_code_dealers')),
    sa.PrimaryKeyConstraint('dealer_code', 'customer_id', name=op.f('pk_customers'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index('ix_customers_dealer_email', ['dealer_code', 'email'], unique=False)

    op.create_table('escalation_targets',
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('hot_alert', 'sales_opportunity', 'detractor', 'complaint', name='kind', native_enum=False, length=32), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('slack_team', sa.String(length=32), nullable=True),
    sa.Column('slack_channel', sa.String(length=64), nullable=True),
    sa.Column('emails', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('role', sa.Enum('staff', 'manager', 'regional', 'admin', name='role', native_enum=False, length=32), nullable=True),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_escalation_targets_dealer_code_dealers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dealer_code', 'kind', 'level', name=op.f('pk_escalation_targets'))
    )
    op.create_table('grants',
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('role', sa.Enum('staff', 'manager', 'regional', 'admin', name='role', native_enum=False, length=32), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_grants_dealer_code_dealers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_grants_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('person_id', 'dealer_code', name=op.f('pk_grants'))
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grants_dealer_code'), ['dealer_code'], unique=False)

    op.create_table('routes',
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('hot_alert', 'sales_opportunity', 'detractor', 'complaint', name='kind', native_enum=False, length=32), nullable=False),
    sa.Column('slack_team', sa.String(length=32), nullable=True),
    sa.Column('slack_channel', sa.String(length=64), nullable=True),
    sa.Column('emails', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_routes_dealer_code_dealers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dealer_code', 'kind', name=op.f('pk_routes'))
    )
    op.create_table('slack_identities',
    sa.Column('team_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_slack_identities_person_id_people'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_slack_identities'))
    )
    with op.batch_alter_table('slack_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slack_identities_person_id'), ['person_id'], unique=False)

    op.create_table('responses',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('survey', sa.Enum('sales', 'service', 'lost_sales', name='survey', native_enum=False, length=32), nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_email', sa.String(length=320), nullable=True),
    sa.Column('contact_phone', sa.String(length=50), nullable=True),
    sa.Column('submitted_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('received_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('purchase_date', sa.Date(), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=True),
    sa.Column('segment', sa.Integer(), nullable=True),
    sa.Column('nps', sa.Integer(), nullable=True),
    sa.Column('scores', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('publish_consent', sa.Boolean(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code', 'customer_id'], ['customers.dealer_code', 'customers.customer_id'], name=op.f('fk_responses_dealer_code_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index('ix_responses_customer_submitted', ['dealer_code', 'customer_id', 'submitted_at'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.Enum('hot_alert', 'sales_opportunity', 'detractor', 'complaint', name='kind', native_enum=False, length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('dealer_code', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=True),
    sa.Column('response_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.Enum('new', 'ongoing', 'resolved', name='status', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('due_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('handled_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('escalated_at', storage.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_code'], ['dealers.code'], name=op.f('fk_alerts_dealer_code_dealers')),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_alerts_response_id_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_created', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_alerts_customer_kind', ['dealer_code', 'customer_id', 'kind', 'status'], unique=False)
        batch_op.create_index('ix_alerts_dealer_status_created', ['dealer_code', 'status', 'created_at'], unique=False)
        batch_op.create_index('ix_alerts_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_alerts_unhandled_due', ['due_at'], unique=False, postgresql_where=sa.text('handled_at IS NULL'), sqlite_where=sa.text('handled_at IS NULL'))

    op.create_table('alert_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.String(length=16), nullable=False),
    sa.Column('at', storage.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.Enum('slack', 'email', 'api', 'cli', 'system', name='channel', native_enum=False, length=32), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('event', sa.Enum('status', 'comment', 'created', name='history_event', native_enum=False, length=32), nullable=False),
    sa.Column('old_status', sa.Enum('new', 'ongoing', 'resolved', name='status', native_enum=False, length=32), nullable=True),
    sa.Column('new_status', sa.Enum('new', 'ongoing', 'resolved', name='status', native_enum=False, length=32), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_history_alert_id_alerts')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_alert_history_person_id_people'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_history'))
    )
    with op.batch_alter_table('alert_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_history_alert_id'), ['alert_id'], unique=False)

    counters = sa.table('counters', sa.column('name', sa.String), sa.column('value', sa.Integer))
    op.bulk_insert(counters, [{'name': p, 'value': 0} for p in ('HA', 'SO', 'DT', 'CO')])



def downgrade() -> None:
    with op.batch_alter_table('alert_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_history_alert_id'))

    op.drop_table('alert_history')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_unhandled_due', postgresql_where=sa.text('handled_at IS NULL'), sqlite_where=sa.text('handled_at IS NULL'))
        batch_op.drop_index('ix_alerts_status_created')
        batch_op.drop_index('ix_alerts_dealer_status_created')
        batch_op.drop_index('ix_alerts_customer_kind')
        batch_op.drop_index('ix_alerts_created')

    op.drop_table('alerts')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index('ix_responses_customer_submitted')

    op.drop_table('responses')
    with op.batch_alter_table('slack_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slack_identities_person_id'))

    op.drop_table('slack_identities')
    op.drop_table('routes')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grants_dealer_code'))

    op.drop_table('grants')
    op.drop_table('escalation_targets')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index('ix_customers_dealer_email')

    op.drop_table('customers')
    op.drop_table('people')
    op.drop_table('dealers')
    op.drop_table('counters')
    op.drop_table('api_keys')
