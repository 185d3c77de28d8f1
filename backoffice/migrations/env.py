"""Alembic's environment: run the migrations on the connection backoffice/schema.py hands over
(`config.attributes["connection"]`, inside its transaction), SQLite in batch mode (its ALTER
TABLE cannot change or drop a column, so Alembic copies the table). `target_metadata` is the
models' metadata, so `alembic.autogenerate` can compare head with backoffice/db.py.
"""
from __future__ import annotations

from alembic import context

from backoffice.db import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run the back office's migrations through backoffice.schema "
                           "(`backoffice db upgrade`), which opens the database")
    # transactional_ddl: backoffice/schema.py runs every upgrade in one transaction, on SQLite
    # too (BEGIN IMMEDIATE with the driver's own transaction handling off)
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                      transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
