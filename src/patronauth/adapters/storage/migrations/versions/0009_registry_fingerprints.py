"""A keyed fingerprint of the registry feed line each card was last imported from (P3)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identifiers") as batch:
        batch.add_column(sa.Column("registry_fingerprint", sa.String(length=160), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identifiers") as batch:
        batch.drop_column("registry_fingerprint")
