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

_SQL = (f"SELECT highlight(papers_fts, 0, '{OPEN}', '{CLOSE}'),"
        f" snippet(papers_fts, 1, '{OPEN}', '{CLOSE}', '{ELLIPSIS}', {SNIPPET_TOKENS})"
        " FROM papers_fts WHERE papers_fts MATCH ? AND rowid = ?")


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

    One FTS5 look-up per paper (`rowid = ?` keeps it to that paper's postings).
    """
    out: dict[int, tuple[Markup, Markup]] = {}
    for paper in papers:
        title, abstract = paper["title"], paper["abstract"]
        plain = (Markup(escape(title)), Markup(escape(excerpt(abstract))))
        if not match or not (_safe(title) and _safe(abstract)):
            out[paper["id"]] = plain
            continue
        row = conn.execute(_SQL, (match, paper["id"])).fetchone()
        if row is None or row[0] is None:
            out[paper["id"]] = plain
            continue
        title_html = marked(row[0]) if _balanced(row[0]) else plain[0]
        snippet = row[1] if row[1] and _balanced(row[1]) else None
        out[paper["id"]] = (title_html, marked(snippet) if snippet else plain[1])
    return out
