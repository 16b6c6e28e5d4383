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
    pass
    # -- complaints --
    pass
    # -- reviews --
    pass
    # -- erasure --
    pass


def downgrade() -> None:
    # -- erasure --
    pass
    # -- reviews --
    pass
    # -- complaints --
    pass
    # -- activities and dealer-system messages --
    pass
