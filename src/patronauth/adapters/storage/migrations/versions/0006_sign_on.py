"""Sign-on: the library's services, their codes, tokens and tickets (R19)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column[int]:
    return sa.Column("id", Id, autoincrement=True, nullable=False)


def _patron() -> sa.Column[int]:
    return sa.Column("patron_id", Id, nullable=False)


def upgrade() -> None:
    op.create_table(
        "sign_on_clients",
        _id(),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("institution", sa.String(length=32), nullable=False),
        sa.Column("secret_digest", sa.String(length=160), nullable=True),
        sa.Column("redirect_uris", sa.Text(), nullable=False),
        sa.Column("logout_uris", sa.Text(), nullable=False),
        sa.Column("allow_from", sa.Text(), nullable=False),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_on_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_sign_on_clients_client_id")),
    )
    op.create_table(
        "sign_on_codes",
        _id(),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        _patron(),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("session_id", Id, nullable=True),
        sa.Column("auth_time", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_sign_on_codes_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_on_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_sign_on_codes_code_hash")),
    )
    op.create_table(
        "sign_on_tokens",
        _id(),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        _patron(),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("code_id", Id, nullable=True),
        sa.Column("session_id", Id, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_sign_on_tokens_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_on_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_on_tokens_token_hash")),
    )
    op.create_index(op.f("ix_sign_on_tokens_client_id"), "sign_on_tokens", ["client_id"])
    op.create_index(op.f("ix_sign_on_tokens_patron_id"), "sign_on_tokens", ["patron_id"])
    op.create_index(op.f("ix_sign_on_tokens_code_id"), "sign_on_tokens", ["code_id"])
    op.create_table(
        "sign_on_visits",
        _id(),
        _patron(),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", Id, nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_sign_on_visits_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_on_visits")),
    )
    op.create_index(op.f("ix_sign_on_visits_patron_id"), "sign_on_visits", ["patron_id"])
    op.create_index(op.f("ix_sign_on_visits_session_id"), "sign_on_visits", ["session_id"])
    op.create_table(
        "cas_tickets",
        _id(),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        _patron(),
        sa.Column("renewed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patron_id"], ["patrons.id"], name=op.f("fk_cas_tickets_patron_id_patrons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cas_tickets")),
        sa.UniqueConstraint("ticket_hash", name=op.f("uq_cas_tickets_ticket_hash")),
    )


def downgrade() -> None:
    op.drop_table("cas_tickets")
    op.drop_table("sign_on_visits")
    op.drop_table("sign_on_tokens")
    op.drop_table("sign_on_codes")
    op.drop_table("sign_on_clients")
