"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attempt_counters",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_attempt_counters")),
    )
    with op.batch_alter_table("attempt_counters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attempt_counters_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=True),
        sa.Column("patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("identifier", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_identifier"), ["identifier"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_patron_id"), ["patron_id"], unique=False)

    op.create_table(
        "forced_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("go_live", sa.Date(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forced_changes")),
    )
    with op.batch_alter_table("forced_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_forced_changes_institution"), ["institution"], unique=False
        )

    op.create_table(
        "patrons",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone_masked", sa.String(length=20), nullable=True),
        sa.Column("phone_digest", sa.String(length=160), nullable=True),
        sa.Column("id_type", sa.String(length=12), nullable=True),
        sa.Column("id_masked", sa.String(length=24), nullable=True),
        sa.Column("id_digest", sa.String(length=160), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrons")),
        sa.UniqueConstraint("uid", name=op.f("uq_patrons_uid")),
    )
    with op.batch_alter_table("patrons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_patrons_institution"), ["institution"], unique=False)

    op.create_table(
        "credentials",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("default_digest", sa.String(length=160), nullable=True),
        sa.Column("policy_from", sa.Date(), nullable=True),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("suspended_from", sa.String(length=16), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_credentials_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("patron_id", "kind", name=op.f("uq_credentials_patron_id_kind")),
    )
    op.create_table(
        "identifiers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("lookup_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("replaced_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_identifiers_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identifiers")),
        sa.UniqueConstraint("value", name=op.f("uq_identifiers_value")),
    )
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identifiers_lookup_key"), ["lookup_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_identifiers_patron_id"), ["patron_id"], unique=False)

    op.create_table(
        "temporary_secrets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "patron_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_temporary_secrets_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_temporary_secrets")),
    )
    with op.batch_alter_table("temporary_secrets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_temporary_secrets_patron_id_kind"), ["patron_id", "kind"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("temporary_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_temporary_secrets_patron_id_kind"))

    op.drop_table("temporary_secrets")
    with op.batch_alter_table("identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identifiers_patron_id"))
        batch_op.drop_index(batch_op.f("ix_identifiers_lookup_key"))

    op.drop_table("identifiers")
    op.drop_table("credentials")
    with op.batch_alter_table("patrons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrons_institution"))

    op.drop_table("patrons")
    with op.batch_alter_table("forced_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forced_changes_institution"))

    op.drop_table("forced_changes")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_patron_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_identifier"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
    with op.batch_alter_table("attempt_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_counters_updated_at"))

    op.drop_table("attempt_counters")
