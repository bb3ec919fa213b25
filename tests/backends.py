"""Where a test database is, as a URL: an SQLite file's path, or a PostgreSQL URL as is."""

from pathlib import Path


def database_url(where: Path | str) -> str:
    return where if isinstance(where, str) else f"sqlite:///{where}"
