"""The import contract: layers only import downward, and no module imports itself back.

Layers, top to bottom (a module may import its own layer and those below):
  edge      app.main, app.web (HTML, JSON, HTTP concerns), app.cli, app.feeds
  search    app.search (query plan, catalogue, facets, hits, snippets, spelling),
            app.papers (the read layer), app.related, app.tagging, app.ingest
  engine    app.engine (the only place that speaks the engine's query language)
  store     app.db, app.pg (PostgreSQL connections), app.models, app.migrate
  ground    app.plan, app.results, app.kinds, app.settings (import nothing from the app but each other)
"""

import grimp
import pytest

LAYERS = [
    ("edge", {"app.main", "app.web", "app.cli", "app.feeds"}),
    ("search", {"app.search", "app.papers", "app.related", "app.tagging", "app.ingest"}),
    ("engine", {"app.engine"}),
    ("store", {"app.db", "app.pg", "app.models", "app.migrate"}),
    ("ground", {"app.plan", "app.results", "app.kinds", "app.settings", "app"}),
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
    importers = {m for m in graph.find_modules_that_directly_import("app.engine.fts5")
                 if not m.startswith("app.engine")}
    assert importers == set()


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
