"""The telephone line: calls in progress, and the channel a SIP2 terminal counts as

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telephone_calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("turn", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telephone_calls")),
        sa.UniqueConstraint(
            "platform", "call_id", name=op.f("uq_telephone_calls_platform_call_id")
        ),
    )
    op.create_index(
        op.f("ix_telephone_calls_updated_at"), "telephone_calls", ["updated_at"], unique=False
    )
    with op.batch_alter_table("terminals") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=12), nullable=False, server_default="sip2")
        )


def downgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("channel")
    op.drop_index(op.f("ix_telephone_calls_updated_at"), table_name="telephone_calls")
    op.drop_table("telephone_calls")
