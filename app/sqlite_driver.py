"""Which SQLite the catalogue runs on, and whether it has what the catalogue needs.

Every module takes `sqlite3` from here (through `app.db`), so one process never mixes two
drivers: an error raised by one would slip past the other's `except sqlite3.Error`.

The choice (setting `PAPERS_SQLITE`):
- `auto` (default): the bundled SQLite of `pysqlite3-binary` when it is installed, else the
  standard library's `sqlite3`. pyproject.toml installs `pysqlite3-binary` only where it has
  wheels (Linux x86_64), where its newer SQLite ranks and snippets faster (bench/README.md);
  everywhere else the standard library's SQLite serves, provided it passes `missing_features`.
- `stdlib`: the standard library's `sqlite3` (CI runs the suite once this way).
- `pysqlite3`: the bundled one, or an error saying it is not installed.
"""

import importlib
from types import ModuleType

from app.settings import Settings

CHOICES = ("auto", "stdlib", "pysqlite3")
# json_each without a JSON1 flag, UPSERT, remove_diacritics 2, FTS5 as it is used here: the
# oldest SQLite the suite has run on is 3.40, and 3.38 is where the probes below all pass by default.
MIN_VERSION = (3, 38, 0)

# What the catalogue uses, each tried on an in-memory database: (what, SQL script).
PROBES = (
    ("the FTS5 full-text index (tokenizer porter unicode61 remove_diacritics 2)",
     "CREATE VIRTUAL TABLE probe_fts USING fts5(title, body, tokenize = 'porter unicode61 remove_diacritics 2');"
     "INSERT INTO probe_fts VALUES ('Caf\u00e9 models', 'ranking papers');"
     "SELECT bm25(probe_fts, 5.0, 1.0), highlight(probe_fts, 0, '[', ']'), snippet(probe_fts, 1, '[', ']', '', 8)"
     " FROM probe_fts WHERE probe_fts MATCH 'cafe';"),
    ("FTS5's vocabulary table (fts5vocab, for spelling suggestions)",
     "CREATE VIRTUAL TABLE probe_vocab USING fts5vocab(probe_fts, row); SELECT term FROM probe_vocab;"),
    ("JSON functions (json_each)", "SELECT value FROM json_each('[1, 2]');"),
    ("UPSERT (INSERT ... ON CONFLICT DO UPDATE)",
     "CREATE TABLE probe_upsert (k PRIMARY KEY, v);"
     "INSERT INTO probe_upsert VALUES (1, 1) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"
     "INSERT INTO probe_upsert VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET v = excluded.v;"),
)


class SQLiteUnfit(RuntimeError):
    """The SQLite at hand lacks something the catalogue needs; the message says what and what to do."""


def _choice() -> str:
    choice = (Settings().papers_sqlite or "auto").strip().lower()
    if choice not in CHOICES:
        raise SQLiteUnfit(f"PAPERS_SQLITE must be one of {', '.join(CHOICES)}, not {choice!r}")
    return choice


def load(choice: str | None = None) -> ModuleType:
    """The DB-API module for `choice` (default: the PAPERS_SQLITE setting)."""
    choice = choice or _choice()
    if choice != "stdlib":
        try:
            return importlib.import_module("pysqlite3.dbapi2")
        except ImportError:
            if choice == "pysqlite3":
                raise SQLiteUnfit("PAPERS_SQLITE=pysqlite3 but pysqlite3 is not installed "
                                  "(`pip install pysqlite3-binary`, Linux x86_64 only)") from None
    return importlib.import_module("sqlite3")


sqlite3 = load()
DRIVER = "pysqlite3" if sqlite3.__name__.startswith("pysqlite3") else "sqlite3 (standard library)"


def describe() -> str:
    return f"SQLite {sqlite3.sqlite_version} via {DRIVER}"


def missing_features(conn, version: tuple[int, ...] | None = None) -> list[str]:
    """What the catalogue needs that the SQLite behind `conn` lacks, in words (empty: nothing).
    The probes create tables: give it a scratch in-memory connection."""
    missing = []
    version = version or sqlite3.sqlite_version_info
    if tuple(version) < MIN_VERSION:
        missing.append(f"SQLite {'.'.join(map(str, MIN_VERSION))} or newer (this is {'.'.join(map(str, version))})")
    for what, script in PROBES:
        try:
            conn.executescript(script)
        except sqlite3.Error as exc:
            missing.append(f"{what}: {exc}")
    return missing


def require() -> None:
    """Raise SQLiteUnfit, naming every missing feature and the way out, unless this SQLite will do."""
    conn = sqlite3.connect(":memory:")
    try:
        missing = missing_features(conn)
    finally:
        conn.close()
    if missing:
        raise SQLiteUnfit(f"{describe()} lacks what the catalogue needs: {'; '.join(missing)}. Use a Python "
                          "whose sqlite3 has FTS5 (python.org and most distribution builds do), or install "
                          "pysqlite3-binary where it has wheels (Linux x86_64)")
