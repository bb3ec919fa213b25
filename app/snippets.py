"""Highlighted titles and abstract excerpts, built so that no markup from the data reaches a page.

FTS5's highlight() and snippet() mark matches with characters from Unicode's
private use area; the text around them is escaped first, then the markers become
<mark> tags. A paper whose own text contains a marker character is shown
escaped and unhighlighted rather than risk a stray tag.
"""

import re

from markupsafe import Markup, escape

OPEN, CLOSE = "\ue000", "\ue001"
ELLIPSIS = "…"
SNIPPET_TOKENS = 40
PLAIN_EXCERPT_CHARS = 300
_PAIRED = re.compile(f"[^{OPEN}{CLOSE}]*(?:{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}[^{OPEN}{CLOSE}]*)*")

_SQL = (f"SELECT rowid, highlight(papers_fts, 0, '{OPEN}', '{CLOSE}'),"
        f" snippet(papers_fts, 1, '{OPEN}', '{CLOSE}', '{ELLIPSIS}', {SNIPPET_TOKENS})"
        " FROM papers_fts WHERE papers_fts MATCH ? AND rowid BETWEEN ? AND ? AND +rowid IN ({marks})")


def marked(text: str) -> Markup:
    """FTS5 output with markers -> escaped HTML with <mark> (markers must be balanced)."""
    html = str(escape(text))
    return Markup(html.replace(OPEN, "<mark>").replace(CLOSE, "</mark>"))


def excerpt(text: str, limit: int = PLAIN_EXCERPT_CHARS) -> str:
    """The start of a text, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > limit // 2 else limit].rstrip(" ,;:.") + ELLIPSIS


def _safe(text: str) -> bool:
    return OPEN not in text and CLOSE not in text


def _balanced(text: str) -> bool:
    """Markers come in open/close pairs, never nested."""
    return _PAIRED.fullmatch(text) is not None


def highlight(conn, match: str | None, papers: list) -> dict[int, tuple[Markup, Markup]]:
    """paper id -> (title_html, snippet_html) for rows with `id`, `title`, `abstract`.

    One statement for the page. FTS5 walks the matches between the page's lowest and
    highest rowid and computes snippets for the page's papers only (`+rowid` keeps
    the IN list a filter: as a constraint it costs FTS5 one look-up per paper, 2-4x slower).
    """
    out = {p["id"]: (Markup(escape(p["title"])), Markup(escape(excerpt(p["abstract"])))) for p in papers}
    wanted = [p["id"] for p in papers if _safe(p["title"]) and _safe(p["abstract"])]
    if not match or not wanted:
        return out
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(_SQL.format(marks=marks), (match, min(wanted), max(wanted), *wanted))
    for paper_id, title, snippet in rows:
        plain_title, plain_snippet = out[paper_id]
        out[paper_id] = (marked(title) if title and _balanced(title) else plain_title,
                         marked(snippet) if snippet and _balanced(snippet) else plain_snippet)
    return out
