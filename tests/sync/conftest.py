import pytest
from replay import Replay

from app.settings import get_settings
from app.sync.http import Polite


@pytest.fixture
def replay(monkeypatch):
    server = Replay()
    monkeypatch.setenv("ARXIV_OAI_URL", server.url)
    monkeypatch.setenv("DAILY_PAPERS_URL", server.url.replace("/oai", "/api/daily_papers"))
    get_settings.cache_clear()
    yield server
    server.close()
    get_settings.cache_clear()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    """The polite client with its waits recorded instead of slept."""
    polite = Polite(pause=3.0, retries=2, max_wait=60, sleep=sleeps.append, timeout=5)
    yield polite
    polite.close()
