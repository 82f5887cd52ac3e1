"""Seed rules: a temporary secret signs in once; loans from mobile libraries accrue no fine

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("temporary_used_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("loans") as batch:
        batch.add_column(
            sa.Column("fine_free", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("loans") as batch:
        batch.drop_column("fine_free")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("temporary_used_at")
