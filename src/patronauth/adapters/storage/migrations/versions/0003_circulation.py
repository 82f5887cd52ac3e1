"""Circulation: titles, items, loans, holds, fines, payments, closures, requests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "closures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closures")),
    )
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closures_institution"), ["institution"], unique=False)

    op.create_table(
        "titles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("isbn", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_titles")),
    )
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_titles_institution"), ["institution"], unique=False)

    op.create_table(
        "items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("barcode", sa.String(length=64), nullable=False),
        sa.Column("home_library", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"], name=op.f("fk_items_title_id_titles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("institution", "barcode", name=op.f("uq_items_institution_barcode")),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_items_title_id"), ["title_id"], unique=False)

    op.create_table(
        "patron_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_patron_requests_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patron_requests")),
    )
    with op.batch_alter_table("patron_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patron_requests_patron_id"), ["patron_id"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("paid_at", sa.DateTime(), nullable=False),
        sa.Column("received_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_payments_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_patron_id"), ["patron_id"], unique=False)

    op.create_table(
        "holds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("title_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pickup", sa.String(length=32), nullable=False),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("ready_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_holds_item_id_items")),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_holds_patron_id_patrons")
        ),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"], name=op.f("fk_holds_title_id_titles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holds_patron_id"), ["patron_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_holds_title_id_status"), ["title_id", "status"], unique=False
        )

    op.create_table(
        "loans",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("checked_out_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_loans_item_id_items")),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_loans_patron_id_patrons")
        ),
        sa.ForeignKeyConstraint(["title_id"], ["titles.id"], name=op.f("fk_loans_title_id_titles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
    )
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loans_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_loans_patron_id_returned_on"), ["patron_id", "returned_on"], unique=False
        )

    op.create_table(
        "fines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("loan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("charged_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_fines_loan_id_loans")),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_fines_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fines")),
    )
    with op.batch_alter_table("fines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fines_patron_id"), ["patron_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fines_patron_id"))

    op.drop_table("fines")
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loans_patron_id_returned_on"))
        batch_op.drop_index(batch_op.f("ix_loans_item_id"))

    op.drop_table("loans")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_holds_title_id_status"))
        batch_op.drop_index(batch_op.f("ix_holds_patron_id"))

    op.drop_table("holds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_patron_id"))

    op.drop_table("payments")
    with op.batch_alter_table("patron_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patron_requests_patron_id"))

    op.drop_table("patron_requests")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_items_title_id"))

    op.drop_table("items")
    with op.batch_alter_table("titles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_titles_institution"))

    op.drop_table("titles")
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closures_institution"))

    op.drop_table("closures")
