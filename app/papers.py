"""The read layer: every page, API route, feed and related-papers call reads papers,
authors, tags and aliases through here, and every `Hit` is built here (`hits`).

Searching itself is `search.run` (which reads its pages of results through `hits`
too); these are plain keyed reads. Full-text work goes through app/engine.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from datetime import date

from markupsafe import Markup, escape

from app import kinds
from app.db import reader
from app.results import Hit, TagRef

ELLIPSIS = "…"
PLAIN_EXCERPT_CHARS = 300



@dataclass
class TagInfo:
    slug: str
    name: str
    kind: str
    description: str
    rule: str
    count: int = 0
    evidence: str = ""   # topics: how strong a match must be (app/topic_evidence.py), as JSON

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


PAPER_COLUMNS = ("p.id, p.key, p.arxiv_id, p.title, p.abstract, p.authors, p.published, p.url, p.categories,"
                 " p.upvotes")


def _marks(ids) -> str:
    return ",".join("?" * len(ids))


def rows(conn, ids: list[int]) -> list:
    """Paper rows for these ids, in that order (unknown ids left out)."""
    if not ids:
        return []
    found = {r["id"]: r for r in conn.execute(f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.id IN ({_marks(ids)})",
                                              ids)}
    return [found[i] for i in ids if i in found]


def tags_of(conn, paper_ids: list[int]) -> dict[int, list[TagRef]]:
    """Each paper's tags, topics first, by name."""
    refs: dict[int, list[TagRef]] = {pid: [] for pid in paper_ids}
    if not paper_ids:
        return refs
    for row in conn.execute("SELECT pt.paper_id, t.slug, t.name, t.kind FROM paper_tags pt JOIN tags t"
                            f" ON t.id = pt.tag_id WHERE pt.paper_id IN ({_marks(paper_ids)})", paper_ids):
        refs[row[0]].append(TagRef(row[1], row[2], row[3]))
    for tags in refs.values():
        tags.sort(key=_tag_order)
    return refs


def _tag_order(tag) -> tuple:
    return kinds.order(tag.kind), tag.name


def author_refs_of(conn, paper_ids: list[int]) -> dict[int, list["AuthorRef"]]:
    """Each paper's authors in byline order (papers loaded before author rows have none)."""
    out: dict[int, list[AuthorRef]] = {}
    if not paper_ids:
        return out
    for row in conn.execute("SELECT pa.paper_id, a.name, a.slug FROM paper_authors pa JOIN authors a"
                            f" ON a.id = pa.author_id WHERE pa.paper_id IN ({_marks(paper_ids)})"
                            " ORDER BY pa.paper_id, pa.position", paper_ids):
        out.setdefault(row[0], []).append(AuthorRef(row[1], row[2]))
    return out


def excerpt(text: str, limit: int = PLAIN_EXCERPT_CHARS) -> str:
    """The start of a text, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[:cut if cut > limit // 2 else limit].rstrip(" ,;:.") + ELLIPSIS


def as_date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def hits(conn, paper_rows, marked: dict[int, tuple[Markup, Markup]] | None = None) -> list[Hit]:
    """The one Hit builder: Hits for paper rows, in order; `marked` gives (title_html,
    snippet_html) per id where a search highlighted them, else they are shown plain."""
    ids = [row["id"] for row in paper_rows]
    tags, authors = tags_of(conn, ids), author_refs_of(conn, ids)
    marked = marked or {}
    out = []
    for row in paper_rows:
        title_html, snippet = marked.get(row["id"]) or (Markup(escape(row["title"])),
                                                        Markup(escape(excerpt(row["abstract"]))))
        # From the author table, never by splitting the stored string: "Smith, John" is one author.
        names = [a.name for a in authors.get(row["id"], [])]
        out.append(Hit(id=row["id"], key=row["key"], arxiv_id=row["arxiv_id"], title=row["title"],
                       abstract=row["abstract"], authors=names, published=as_date(row["published"]),
                       url=row["url"], tags=tags[row["id"]], snippet=snippet, title_html=title_html,
                       upvotes=row["upvotes"], categories=(row["categories"] or "").split()))
    return out


def hits_for_rows(paper_rows) -> list[Hit]:
    """Plain (unhighlighted) Hits for paper rows, in the given order."""
    return hits(reader(), paper_rows)


def hits_by_ids(ids: list[int]) -> list[Hit]:
    """Plain Hits for these paper ids, in the given order (ids not found are left out)."""
    if not ids:
        return []
    conn = reader()
    rows = {row["id"]: row for row in conn.execute(
        f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.id IN ({_marks(ids)})", ids)}
    return hits(conn, [rows[i] for i in ids if i in rows])


def _unstorable(text: str) -> bool:
    """No key or slug holds NUL: the ingest never writes one, and PostgreSQL text cannot hold
    one (it refuses the comparison), so a look-up with one finds nothing without asking."""
    return "\x00" in text


def paper_by_key(key: str) -> PaperPage | None:
    if _unstorable(key):
        return None
    conn = reader()
    row = conn.execute(f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.key = ?", (key,)).fetchone()
    if row is None:
        return None
    hit = hits(conn, [row])[0]
    authors = author_refs_of(conn, [row["id"]]).get(row["id"], [])
    tags = sorted((TagInfo(r["slug"], r["name"], r["kind"], r["description"], r["rule"]) for r in conn.execute(
        "SELECT t.slug, t.name, t.kind, t.description, t.rule FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id"
        " WHERE pt.paper_id = ?", (row["id"],))), key=_tag_order)
    return PaperPage(hit=hit, author_refs=authors, tags=tags, categories=(row["categories"] or "").split())


_VERSION = re.compile(r"v\d+$")


def canonical_key(alias: str) -> str | None:
    """The current key of a paper once known by `alias`, or cited with an arXiv version (2401.04088v2)."""
    if _unstorable(alias):
        return None
    conn = reader()
    row = conn.execute("SELECT p.key FROM aliases a JOIN papers p ON p.id = a.paper_id WHERE a.key = ?",
                       (alias,)).fetchone()
    if row is None and _VERSION.search(alias):
        row = conn.execute("SELECT key FROM papers WHERE arxiv_id = ?", (_VERSION.sub("", alias),)).fetchone()
    return row["key"] if row else None


def author_by_slug(slug: str) -> tuple[AuthorRef, list[Hit]] | None:
    if _unstorable(slug):
        return None
    conn = reader()
    row = conn.execute("SELECT id, name, slug FROM authors WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        return None
    papers = conn.execute(
        f"SELECT {PAPER_COLUMNS} FROM paper_authors pa JOIN papers p ON p.id = pa.paper_id"
        " WHERE pa.author_id = ? ORDER BY p.published IS NULL, p.published DESC, p.id DESC", (row["id"],)).fetchall()
    return AuthorRef(row["name"], row["slug"]), hits_for_rows(papers)


def hits_by_keys(keys: list[str]) -> tuple[list[Hit], list[str]]:
    """The papers of these keys (aliases and arXiv versions followed), in the keys' order, and the
    keys no paper answers to."""
    if any(_unstorable(key) for key in keys):
        found, missing = hits_by_keys([key for key in keys if not _unstorable(key)])
        return found, [key for key in keys if _unstorable(key) or key in missing]
    conn = reader()
    rows = {row["key"]: row for row in conn.execute(
        f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.key IN ({_marks(keys)})", keys)} if keys else {}
    ordered, missing, seen = [], [], set()
    for key in keys:
        row = rows.get(key)
        if row is None:
            target = canonical_key(key)
            row = conn.execute(f"SELECT {PAPER_COLUMNS} FROM papers p WHERE p.key = ?",
                               (target,)).fetchone() if target else None
        if row is None:
            missing.append(key)
        elif row["id"] not in seen:
            seen.add(row["id"])
            ordered.append(row)
    return hits(conn, ordered), missing


def author_ref(slug: str) -> AuthorRef | None:
    if _unstorable(slug):
        return None
    row = reader().execute("SELECT name, slug FROM authors WHERE slug = ?", (slug,)).fetchone()
    return AuthorRef(row["name"], row["slug"]) if row else None


@dataclass
class AuthorProfile:
    """Who an author writes with, and whether the name seems to cover several people."""
    coauthors: list[tuple[AuthorRef, int]]       # most frequent first
    groups: list[list[AuthorRef]] = field(default_factory=list)  # when several: each group's main co-authors


MAX_PROFILED = 2000  # papers read to describe an author: a name with more is certainly several people


def author_profile(slug: str) -> AuthorProfile:
    """Co-authors of an author's papers; and, when the papers fall into groups that share no
    co-author and no arXiv archive (cs, physics, q-bio...), those groups: one name, several people."""
    if _unstorable(slug):
        return AuthorProfile([])
    conn = reader()
    rows = conn.execute(
        "SELECT pa.paper_id, a.name, a.slug, p.categories FROM paper_authors me"
        " JOIN authors self ON self.id = me.author_id AND self.slug = ?"
        " JOIN paper_authors pa ON pa.paper_id = me.paper_id AND pa.author_id != me.author_id"
        " JOIN authors a ON a.id = pa.author_id JOIN papers p ON p.id = me.paper_id"
        " ORDER BY me.paper_id DESC LIMIT ?", (slug, MAX_PROFILED * 20)).fetchall()
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    by_paper: dict[int, set[str]] = {}
    archives: dict[int, set[str]] = {}
    for row in rows:
        counts[row["slug"]] = counts.get(row["slug"], 0) + 1
        names[row["slug"]] = row["name"]
        by_paper.setdefault(row["paper_id"], set()).add(row["slug"])
        archives[row["paper_id"]] = {c.split(".")[0] for c in (row["categories"] or "").split()}
    top = sorted(counts, key=lambda s: (-counts[s], names[s]))[:12]
    return AuthorProfile([(AuthorRef(names[s], s), counts[s]) for s in top], _people(by_paper, archives, names))


def _people(by_paper: dict[int, set[str]], archives: dict[int, set[str]], names: dict[str, str]) -> list:
    """Papers joined when they share a co-author or an archive; two or more groups of at least
    two papers each suggest different people of the same name."""
    parent = {pid: pid for pid in by_paper}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    owner: dict[str, int] = {}
    for pid in by_paper:
        for key in [*by_paper[pid], *(f"archive:{a}" for a in archives.get(pid, ()))]:
            if key in owner:
                parent[find(pid)] = find(owner[key])
            else:
                owner[key] = pid
    groups: dict[int, list[int]] = {}
    for pid in by_paper:
        groups.setdefault(find(pid), []).append(pid)
    big = sorted((g for g in groups.values() if len(g) >= 2), key=len, reverse=True)
    if len(big) < 2:
        return []
    out = []
    for group in big[:4]:
        counts: dict[str, int] = {}
        for pid in group:
            for s in by_paper[pid]:
                counts[s] = counts.get(s, 0) + 1
        out.append([AuthorRef(names[s], s) for s in sorted(counts, key=lambda s: (-counts[s], names[s]))[:3]])
    return out


def tags_with_counts() -> list[TagInfo]:
    """Every tag, by kind (topics first), then most papers, with the number of papers it holds."""
    found = reader().execute(
        "SELECT t.slug, t.name, t.kind, t.description, t.rule, count(pt.paper_id) AS n"
        " FROM tags t LEFT JOIN paper_tags pt ON pt.tag_id = t.id GROUP BY t.id ORDER BY n DESC, t.name")
    return sorted((TagInfo(r["slug"], r["name"], r["kind"], r["description"], r["rule"], r["n"]) for r in found),
                  key=lambda t: kinds.order(t.kind))


def tag_by_slug(slug: str) -> TagInfo | None:
    """The tag of this slug, or of this slug in another case ("cs.ro" is cs.RO, as tag:cs.ro
    finds it); its own slug says which, so a page can redirect to it."""
    if _unstorable(slug):
        return None
    query = ("SELECT t.slug, t.name, t.kind, t.description, t.rule, t.evidence,"
             " (SELECT count(*) FROM paper_tags pt WHERE pt.tag_id = t.id) AS n FROM tags t WHERE {} ORDER BY t.slug")
    conn = reader()
    row = (conn.execute(query.format("t.slug = ?"), (slug,)).fetchone()
           or conn.execute(query.format("lower(t.slug) = lower(?)"), (slug,)).fetchone())
    return TagInfo(row["slug"], row["name"], row["kind"], row["description"], row["rule"], row["n"],
                   row["evidence"]) if row else None


def sitemap_rows(offset: int, limit: int):
    """(key, last change) of papers in id order, for sitemap.xml."""
    return reader().execute("SELECT key, updated_at FROM papers ORDER BY id LIMIT ? OFFSET ?", (limit, offset))


def tag_neighbours(paper_id: int, limit: int) -> list[Hit]:
    """The papers sharing most topics with this one, most shared first, then newest."""
    found = reader().execute(
        f"SELECT {PAPER_COLUMNS} FROM papers p JOIN ("
        "  SELECT other.paper_id, count(*) AS shared FROM paper_tags mine"
        "  JOIN tags t ON t.id = mine.tag_id AND t.kind = 'topic'"
        "  JOIN paper_tags other ON other.tag_id = mine.tag_id AND other.paper_id != mine.paper_id"
        "  WHERE mine.paper_id = ? GROUP BY other.paper_id ORDER BY shared DESC LIMIT ?"
        ") n ON n.paper_id = p.id ORDER BY n.shared DESC, p.published IS NULL, p.published DESC", (paper_id, limit)).fetchall()
    return hits_for_rows(found)


def paper_count() -> int:
    """Papers in the catalogue: the in-memory catalogue's count when it is current, else
    counted. Health probes ask often, and counting is not free: `count(*)` over a million
    rows took over a second on PostgreSQL."""
    from app.search.catalogue import current  # here: the search package imports this module
    conn = reader()
    built = current(conn)
    if built is not None:
        return built.total
    return conn.execute("SELECT count(*) FROM papers").fetchone()[0]


def reads_standby() -> bool:
    """Whether the readers' PostgreSQL database is a hot standby (writes go to the primary)."""
    return bool(reader().execute("SELECT pg_is_in_recovery()").fetchone()[0])


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


def describe_evidence(evidence: str) -> str:
    """A topic's evidence rule in words (empty when the query alone decides)."""
    from app import topic_evidence
    rule = topic_evidence.from_json(evidence)
    return topic_evidence.describe(rule) if rule else ""


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
