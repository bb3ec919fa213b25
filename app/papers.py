"""Look-ups behind the pages that are not a search: one paper, an author, the tag list, the sitemap.

Searching itself is `search.run`; these are plain keyed reads shared by web.py and feeds.py.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape

from app.db import reader
from app.results import Hit, TagRef
from app.search.hits import as_date

KIND_ORDER = ("topic", "category")


@dataclass
class TagInfo:
    slug: str
    name: str
    kind: str
    description: str
    rule: str
    count: int = 0

    @property
    def ref(self) -> TagRef:
        return TagRef(self.slug, self.name, self.kind)


@dataclass
class AuthorRef:
    name: str
    slug: str


@dataclass
class PaperPage:
    """A paper as its permalink shows it: the search Hit plus what only this page needs."""
    hit: Hit
    author_refs: list[AuthorRef]
    tags: list[TagInfo]
    categories: list[str] = field(default_factory=list)

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.hit.arxiv_id}" if self.hit.arxiv_id else None

    @property
    def abs_url(self) -> str | None:
        if self.hit.arxiv_id:
            return f"https://arxiv.org/abs/{self.hit.arxiv_id}"
        return self.hit.url


def _tag_refs(paper_ids: list[int]) -> dict[int, list[TagRef]]:
    refs: dict[int, list[TagRef]] = {pid: [] for pid in paper_ids}
    if not paper_ids:
        return refs
    marks = ",".join("?" * len(paper_ids))
    rows = reader().execute(
        "SELECT pt.paper_id, t.slug, t.name, t.kind FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
        f" WHERE pt.paper_id IN ({marks}) ORDER BY t.kind = 'category', t.name", paper_ids)
    for row in rows:
        refs[row["paper_id"]].append(TagRef(row["slug"], row["name"], row["kind"]))
    return refs


def excerpt(text: str, limit: int = 320) -> str:
    """The start of a text, cut at a word boundary."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + " …"


def hits_for_rows(rows) -> list[Hit]:
    """Plain (unhighlighted) Hits for paper rows, in the given order."""
    tags = _tag_refs([row["id"] for row in rows])
    return [Hit(id=row["id"], key=row["key"], arxiv_id=row["arxiv_id"], title=row["title"],
                abstract=row["abstract"], authors=[a for a in row["authors"].split(", ") if a],
                published=as_date(row["published"]), url=row["url"], tags=tags[row["id"]],
                snippet=Markup(escape(excerpt(row["abstract"]))), title_html=Markup(escape(row["title"])))
            for row in rows]


PAPER_COLUMNS = "p.id, p.key, p.arxiv_id, p.title, p.abstract, p.authors, p.published, p.url, p.categories"


def paper_by_key(key: str) -> PaperPage | None:
    conn = reader()
    row = conn.execute(f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.key = ?", (key,)).fetchone()
    if row is None:
        return None
    hit = hits_for_rows([row])[0]
    authors = [AuthorRef(r["name"], r["slug"]) for r in conn.execute(
        "SELECT a.name, a.slug FROM paper_authors pa JOIN authors a ON a.id = pa.author_id"
        " WHERE pa.paper_id = ? ORDER BY pa.position", (row["id"],))]
    if not authors:  # papers loaded before author rows existed still show their names
        authors = [AuthorRef(name, "") for name in hit.authors]
    tags = [TagInfo(r["slug"], r["name"], r["kind"], r["description"], r["rule"]) for r in conn.execute(
        "SELECT t.slug, t.name, t.kind, t.description, t.rule FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
        " WHERE pt.paper_id = ? ORDER BY t.kind = 'category', t.name", (row["id"],))]
    return PaperPage(hit=hit, author_refs=authors, tags=tags, categories=row["categories"].split())


_VERSION = re.compile(r"v\d+$")


def canonical_key(alias: str) -> str | None:
    """The current key of a paper once known by `alias`, or cited with an arXiv version (2401.04088v2)."""
    conn = reader()
    row = conn.execute("SELECT p.key FROM aliases a JOIN papers p ON p.id = a.paper_id WHERE a.key = ?",
                       (alias,)).fetchone()
    if row is None and _VERSION.search(alias):
        row = conn.execute("SELECT key FROM papers WHERE arxiv_id = ?", (_VERSION.sub("", alias),)).fetchone()
    return row["key"] if row else None


def author_by_slug(slug: str) -> tuple[AuthorRef, list[Hit]] | None:
    conn = reader()
    row = conn.execute("SELECT id, name, slug FROM authors WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        return None
    papers = conn.execute(
        f"SELECT {PAPER_COLUMNS} FROM paper_authors pa JOIN papers p ON p.id = pa.paper_id"
        " WHERE pa.author_id = ? ORDER BY p.published IS NULL, p.published DESC, p.id DESC", (row["id"],)).fetchall()
    return AuthorRef(row["name"], row["slug"]), hits_for_rows(papers)


def tags_with_counts() -> list[TagInfo]:
    """Every tag, topics first, with the number of papers it holds."""
    rows = reader().execute(
        "SELECT t.slug, t.name, t.kind, t.description, t.rule, count(pt.paper_id) AS n"
        " FROM tags t LEFT JOIN paper_tags pt ON pt.tag_id = t.id GROUP BY t.id"
        " ORDER BY t.kind = 'category', n DESC, t.name")
    return [TagInfo(r["slug"], r["name"], r["kind"], r["description"], r["rule"], r["n"]) for r in rows]


def tag_by_slug(slug: str) -> TagInfo | None:
    row = reader().execute(
        "SELECT t.slug, t.name, t.kind, t.description, t.rule,"
        " (SELECT count(*) FROM paper_tags pt WHERE pt.tag_id = t.id) AS n FROM tags t WHERE t.slug = ?",
        (slug,)).fetchone()
    return TagInfo(row["slug"], row["name"], row["kind"], row["description"], row["rule"], row["n"]) if row else None


def sitemap_rows(offset: int, limit: int):
    """(key, last change) of papers in id order, for sitemap.xml."""
    return reader().execute("SELECT key, updated_at FROM papers ORDER BY id LIMIT ? OFFSET ?", (limit, offset))


def paper_count() -> int:
    return reader().execute("SELECT count(*) FROM papers").fetchone()[0]


def explain_tag(paper_id: int, slug: str) -> list[str]:
    """The terms that put a paper under a topic (empty when it cannot be told)."""
    try:
        from app import tagging
        explain = tagging.explain
    except (ImportError, AttributeError):
        return []
    try:
        return [str(term) for term in explain(reader(), paper_id, slug)]
    except Exception:  # noqa: BLE001 - an explanation is a nicety; the page must still render
        return []


_WORD_GAP = r"[\s\-‐‑–]+"


def highlight_terms(text: str, terms: list[str]) -> Markup:
    """`text` escaped, each occurrence of a term (any case, word start, any ending) in <mark>."""
    patterns = []
    for term in sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True):
        words = [re.escape(w) for w in re.findall(r"\w+", term)]
        if words:
            patterns.append(r"\b" + _WORD_GAP.join(words) + r"\w*")
    if not patterns:
        return Markup(escape(text))
    out, last = [], 0
    for match in re.finditer("|".join(patterns), text, flags=re.IGNORECASE):
        out.append(escape(text[last:match.start()]))
        out.append(Markup("<mark>%s</mark>") % match.group(0))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def last_changes(paper_ids: list[int]) -> dict[int, datetime]:
    """When each paper last changed in the catalogue (feeds' `updated`)."""
    if not paper_ids:
        return {}
    marks = ",".join("?" * len(paper_ids))
    out = {}
    for row in reader().execute(f"SELECT id, updated_at FROM papers WHERE id IN ({marks})", paper_ids):
        try:
            out[row["id"]] = datetime.fromisoformat(str(row["updated_at"]))
        except ValueError:
            continue
    return out


def json_ld(paper: PaperPage, canonical: str) -> Markup:
    """schema.org ScholarlyArticle, escaped so no text can close the <script> element."""
    hit = paper.hit
    data: dict = {"@context": "https://schema.org", "@type": "ScholarlyArticle", "@id": canonical,
                  "url": canonical, "headline": hit.title[:110], "name": hit.title, "abstract": hit.abstract}
    if paper.author_refs:
        data["author"] = [{"@type": "Person", "name": a.name} for a in paper.author_refs]
    if hit.published:
        data["datePublished"] = hit.published.isoformat()
    if hit.arxiv_id:
        data["identifier"] = {"@type": "PropertyValue", "propertyID": "arXiv", "value": hit.arxiv_id}
        data["sameAs"] = paper.abs_url
    topics = [t.name for t in paper.tags]
    if topics:
        data["keywords"] = topics
    text = json.dumps(data, ensure_ascii=False)
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return Markup(text)


_RULE_TOKEN = re.compile(r'\(|\)|"[^"]*"?|[^\s()"]+')


def describe_rule(rule: str) -> str:
    """A topic's saved query read aloud: `"mixture of experts" OR moe` -> “mixture of experts” or moe."""
    out: list[str] = []
    previous_operand = False
    for token in _RULE_TOKEN.findall(rule):
        upper = token.upper()
        if upper in ("OR", "AND", "NOT", "ANDNOT"):
            out.append({"OR": "or", "AND": "and"}.get(upper, "but not"))
            previous_operand = False
            continue
        if token == ")":
            out.append(")")
            continue
        if previous_operand:
            out.append("and")
        if token == "(":
            out.append("(")
            previous_operand = False
            continue
        negated = token.startswith("-") and len(token) > 1
        term = token[1:] if negated else token
        field, _, value = term.partition(":") if ":" in term and not term.startswith('"') else ("", "", term)
        value = value.strip('"')
        value = value[:-1] + "…" if value.endswith("*") else value
        text = f"“{value}”"
        if field in ("title", "abstract"):
            text += f" in the {field}"
        elif field == "tag":
            text = f"the tag {value}"
        elif field:
            text = f"{field} {value}"
        out.append(("not " if negated else "") + text)
        previous_operand = True
    return " ".join(out).replace("( ", "(").replace(" )", ")")
