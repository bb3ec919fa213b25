"""The import contract: layers only import downward, and no module imports itself back.

Layers, top to bottom (a module may import its own layer and those below):
  edge      app.main, app.web (HTML, JSON, HTTP concerns), app.cli, app.feeds
  search    app.search (query plan, catalogue, facets, hits, snippets, spelling),
            app.papers and app.paper_sets (the read layer), app.related, app.tagging, app.topic_evidence, app.ingest, app.sync
  engine    app.engine (the only place that speaks the engine's query language)
  store     app.db, app.pg (PostgreSQL connections), app.models, app.migrate
  ground    app.plan, app.results, app.kinds, app.settings, app.resources, app.sqlite_driver,
            app.allocation, app.orphans (import nothing from the app but each other)
"""

import ast
import re
from pathlib import Path

import grimp
import pytest

import app

LAYERS = [
    ("edge", {"app.main", "app.web", "app.cli", "app.feeds"}),
    ("search", {"app.search", "app.papers", "app.paper_sets", "app.related", "app.tagging", "app.topic_evidence",
                "app.ingest", "app.sync"}),
    ("engine", {"app.engine"}),
    ("store", {"app.db", "app.pg", "app.models", "app.migrate"}),
    ("ground", {"app.plan", "app.results", "app.kinds", "app.settings", "app.resources", "app.sqlite_driver",
                "app.allocation", "app.orphans", "app"}),
]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("app", cache_dir=None)


def layer_of(module: str) -> int:
    for position, (_name, roots) in enumerate(LAYERS):
        if any(module == root or module.startswith(root + ".") for root in roots if root != "app"):
            return position
    if module == "app":
        return len(LAYERS) - 1
    raise AssertionError(f"{module} belongs to no layer: add it to LAYERS and to DESIGN.md")


def test_every_module_belongs_to_a_layer(graph):
    for module in graph.modules:
        layer_of(module)


def test_layers_only_import_downward(graph):
    upward = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if layer_of(imported) < layer_of(module):
                upward.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports "
                              f"{imported} ({LAYERS[layer_of(imported)][0]})")
    assert upward == []


def test_the_engine_query_language_stays_in_the_engine(graph):
    """Only app.engine imports the engine's implementation; the rest uses the interface."""
    for implementation in ("app.engine.fts5", "app.engine.postgres"):
        importers = {m for m in graph.find_modules_that_directly_import(implementation)
                     if not m.startswith("app.engine")}
        assert importers == set()


STORE = {"app.db", "app.pg", "app.models", "app.migrate", "app.sqlite_driver"}
DRIVERS = {"sqlite3", "pysqlite3", "psycopg", "psycopg2", "sqlalchemy", "sqlmodel", "alembic"}


def test_the_search_reaches_the_database_only_through_the_engine_and_the_read_layer():
    """No module of app.search imports the store or a database driver (inside functions
    included): it gets connections and rows from app.paper_sets / app.papers, matches from app.engine."""
    graph = grimp.build_graph("app", include_external_packages=True, cache_dir=None)
    reached = sorted(f"{module} imports {imported}" for module in graph.modules if module.startswith("app.search")
                     for imported in graph.find_modules_directly_imported_by(module)
                     if imported in STORE | DRIVERS or imported.split(".")[0] in DRIVERS)
    assert reached == []


# Statements as this code base writes them: upper-case keywords.
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|PRAGMA|BEGIN|COMMIT|ROLLBACK|WITH)\b"
                 r"|\bSELECT\b.*\bFROM\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bMATCH\s+\?")


def sql_strings(path: Path) -> list[str]:
    """The string literals of a module that read as SQL (docstrings left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [f"{path.name}:{node.lineno}: {node.value[:60]!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and SQL.search(node.value)]


def test_sql_is_recognised():
    """The check below can fail: it finds the read layer's and the engine's statements."""
    root = Path(app.__file__).parent
    assert sql_strings(root / "paper_sets.py") and sql_strings(root / "engine" / "fts5.py")


def test_the_search_writes_no_sql():
    """Every SQL statement of a search is in app/engine (FTS5) or the read layer (tables)."""
    found = [hit for path in sorted((Path(app.__file__).parent / "search").rglob("*.py")) for hit in sql_strings(path)]
    assert found == []


def test_no_import_cycles(graph):
    """No module reaches itself through imports (inside functions included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert cycles == []
