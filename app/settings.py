"""Settings and file-system locations, read once from the environment."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app import resources

# The source checkout (an installed package has its files in site-packages: see app/resources.py).
PROJECT_ROOT = resources.SOURCE_ROOT
APP_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = resources.templates_dir()
STATIC_DIR = resources.static_dir()
MIGRATIONS_DIR = resources.migrations_dir()
SEED_FILE = APP_DIR / "data" / "seed-papers.txt"
TOPICS_FILE = APP_DIR / "topics.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    # ./data of the directory the command runs in, so an installed `papers` serves from anywhere.
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "data")
    # sqlite:///path (the default: data_dir/papers.db) or postgresql+psycopg://user@host/db
    database_url: str = ""
    # Where app servers read, when not from DATABASE_URL: a PostgreSQL hot standby
    # (writes -- ingest, retag, sync, migrations -- always go to DATABASE_URL).
    read_database_url: str = ""
    # Read connections per server process on PostgreSQL (one per request thread).
    database_pool_size: int = 48
    site_name: str = "Paper Catalogue"
    # Public origin used in permalinks, feeds and sitemaps when set
    # (e.g. https://papers.example.org); otherwise taken from the request.
    base_url: str = ""
    # Live sources for `papers sync` (tests point these at a local server).
    arxiv_oai_url: str = "https://oaipmh.arxiv.org/oai"
    daily_papers_url: str = "https://huggingface.co/api/daily_papers"
    # Politeness: seconds between requests, retries on network errors and 5xx, longest wait obeyed.
    sync_pause: float = 3.0
    sync_retries: int = 5
    sync_max_wait: float = 600.0
    # Seconds a client has to send a whole request (line, headers, any body) once it starts, or
    # once it connects; `papers serve --header-timeout` sets it for the server's workers.
    header_timeout: float = 10.0
    # Which SQLite driver: auto, stdlib or pysqlite3 (see app/sqlite_driver.py).
    papers_sqlite: str = "auto"
    # The full arXiv corpus that benchmarks and the corpus tests read (absent: they skip and say so).
    papers_corpus: Path = PROJECT_ROOT.parent / "shared" / "corpus" / "arxiv-ai-2025-2026.jsonl.gz"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(POSTGRES_SCHEMES)

    @property
    def database_path(self) -> Path:
        """The SQLite file behind DATABASE_URL (on PostgreSQL there is none)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'papers.db'}"
        prefix = "sqlite:///"
        if not url.startswith(prefix):
            if self.is_postgres:
                raise ValueError("the catalogue is on PostgreSQL: it has no database file")
            raise ValueError(f"DATABASE_URL must be an sqlite:/// or postgresql+psycopg:// URL, got {url!r}")
        return Path(url[len(prefix):])

    @property
    def sqlalchemy_url(self) -> str:
        if self.is_postgres:
            return _with_driver(self.database_url)
        return f"sqlite:///{self.database_path}"

    @property
    def read_url(self) -> str:
        """Where readers connect: READ_DATABASE_URL when set, else the writers' database."""
        if self.read_database_url:
            if not self.read_database_url.startswith(POSTGRES_SCHEMES) or not self.is_postgres:
                raise ValueError("READ_DATABASE_URL is for PostgreSQL replicas, beside a PostgreSQL DATABASE_URL")
            return _with_driver(self.read_database_url)
        return self.sqlalchemy_url

    @property
    def database_label(self) -> str:
        """Where the catalogue is, for messages (no password)."""
        if not self.is_postgres:
            return str(self.database_path)
        from sqlalchemy.engine import make_url
        return make_url(self.sqlalchemy_url).render_as_string(hide_password=True)


POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def _with_driver(url: str) -> str:
    """The URL with SQLAlchemy's psycopg 3 driver named (plain postgresql:// means psycopg2 to it)."""
    _scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg{sep}{rest}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
