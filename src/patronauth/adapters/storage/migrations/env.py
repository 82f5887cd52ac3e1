"""Alembic environment: the connection comes from `patronauth.adapters.storage.migrate`."""

from __future__ import annotations

from alembic import context

from patronauth.adapters.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `patronauth init`, which supplies the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
