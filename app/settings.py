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
    database_url: str = ""
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
    def database_path(self) -> Path:
        """The SQLite file behind DATABASE_URL (only sqlite URLs are supported)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'papers.db'}"
        prefix = "sqlite:///"
        if not url.startswith(prefix):
            raise ValueError(f"DATABASE_URL must be an sqlite:/// URL, got {url!r}")
        return Path(url[len(prefix):])

    @property
    def sqlalchemy_url(self) -> str:
        return f"sqlite:///{self.database_path}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
