"""Highlighted titles and abstract excerpts, built so that no markup from the data reaches a page.

The engine marks matches with characters from Unicode's private use area
(app/engine/base.py); the text around them is escaped first, then the markers become
<mark> tags. A paper whose own text contains a marker character is shown
escaped and unhighlighted rather than risk a stray tag.
"""

import re

from markupsafe import Markup, escape

from app.paper_sets import check_deadline
from app.engine import get_engine
from app.engine import MARK_CLOSE as CLOSE
from app.engine import MARK_OPEN as OPEN
from app.papers import excerpt
from app.plan import Text

SNIPPET_TOKENS = 40
_PAIRED = re.compile(f"[^{OPEN}{CLOSE}]*(?:{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}[^{OPEN}{CLOSE}]*)*")


def marked(text: str) -> Markup:
    """FTS5 output with markers -> escaped HTML with <mark> (markers must be balanced)."""
    html = str(escape(text))
    return Markup(html.replace(OPEN, "<mark>").replace(CLOSE, "</mark>"))


def _safe(text: str) -> bool:
    return OPEN not in text and CLOSE not in text


def _balanced(text: str) -> bool:
    """Markers come in open/close pairs, never nested."""
    return _PAIRED.fullmatch(text) is not None


def highlight(conn, match: Text | None, papers: list, matches: int | None = None) -> dict[int, tuple[Markup, Markup]]:
    """paper id -> (title_html, snippet_html) for rows with `id`, `title`, `abstract`, `authors`.

    One pass for the whole page (the engine marks the page's own text); `conn` and
    `matches` are not needed for it and kept for callers.
    """
    out = {p["id"]: (Markup(escape(p["title"])), Markup(escape(excerpt(p["abstract"])))) for p in papers}
    wanted = [(p["id"], p["title"], p["abstract"], p["authors"] or "") for p in papers
              if _safe(p["title"]) and _safe(p["abstract"])]
    if not match or not wanted:
        return out
    check_deadline()
    rows = get_engine(conn).highlight(match, wanted, SNIPPET_TOKENS)
    for paper_id, (title, snippet) in rows.items():
        plain_title, plain_snippet = out[paper_id]
        out[paper_id] = (marked(title) if title and _balanced(title) else plain_title,
                         marked(snippet) if snippet and _balanced(snippet) else plain_snippet)
    return out
