"""Run Alembic migrations from code (the CLI and the server call this before work).

Alembic is imported when a migration runs, not with this module: every process the
ingest spawns imports the command's modules again (a few tenths of a second each)
and never migrates.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from app.resources import alembic_ini
from app.settings import MIGRATIONS_DIR, get_settings

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(url: str | None = None) -> "Config":
    from alembic.config import Config

    cfg = Config(str(alembic_ini()))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url or get_settings().sqlalchemy_url)
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    from alembic import command

    settings = get_settings()
    if url is None and not settings.is_postgres:
        Path(settings.database_path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
