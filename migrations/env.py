"""Alembic environment: runs against the configured SQLite file (or a URL passed in)."""

from alembic import context
from sqlmodel import SQLModel

import app.models  # noqa: F401 - registers the tables on SQLModel.metadata
from app.db import make_engine
from app.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001
    """Keep FTS5 virtual tables and their shadow tables out of autogenerate."""
    if type_ == "table" and (name.startswith("papers_fts") or name.startswith("sqlite_")):
        return False
    return True


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # noqa: ANN001
    context.configure(connection=connection, target_metadata=target_metadata,
                      include_object=include_object, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
