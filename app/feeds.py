"""Atom and BibTeX renderers of a SearchResult (and of single papers, which are Hits too)."""

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

from app.results import Hit

ATOM_NS = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry at all; ingest already strips most, this is the last guard.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return _XML_INVALID.sub("", value)


def _stamp(value: date | datetime | None, fallback: datetime) -> str:
    if value is None:
        value = fallback
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom(hits: Iterable[Hit], *, title: str, feed_url: str, html_url: str, base_url: str,
         updated: dict[int, datetime] | None = None, subtitle: str = "", generator: str = "") -> bytes:
    """An Atom 1.0 document; entry ids and links are the papers' permalinks under `base_url`.

    `updated` maps paper ids to their last change; a paper's publication date stands in otherwise.
    """
    hits = list(hits)
    updated = updated or {}
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    stamps = {h.id: _stamp(updated.get(h.id) or h.published, epoch) for h in hits}
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = _text(text)
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "title", title)
    if subtitle:
        sub(feed, "subtitle", subtitle)
    sub(feed, "id", feed_url)
    sub(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    sub(feed, "link", rel="alternate", type="text/html", href=html_url)
    sub(feed, "updated", max(stamps.values(), default=_stamp(None, epoch)))
    sub(sub(feed, "author"), "name", generator or title)
    if generator:
        sub(feed, "generator", generator)
    base = base_url.rstrip("/")
    for hit in hits:
        permalink = f"{base}/papers/{hit.key}"
        entry = sub(feed, "entry")
        sub(entry, "id", permalink)
        sub(entry, "title", hit.title)
        sub(entry, "link", rel="alternate", type="text/html", href=permalink)
        sub(entry, "updated", stamps[hit.id])
        if hit.published:
            sub(entry, "published", _stamp(hit.published, epoch))
        for name in hit.authors:
            sub(sub(entry, "author"), "name", name)
        for tag in hit.tags:
            sub(entry, "category", term=tag.slug, label=tag.name)
        sub(entry, "summary", hit.abstract, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


# --- BibTeX ----------------------------------------------------------------------

# Every character with a meaning to (Bib)TeX, written so it prints as itself;
# braces are escaped too, so a value's braces always balance.
_TEX_SPECIAL = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "%": r"\%",
    "#": r"\#", "_": r"\_", "^": r"\textasciicircum{}", "~": r"\textasciitilde{}",
}
_TEX_RE = re.compile("[" + re.escape("".join(_TEX_SPECIAL)) + "]")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def tex_escape(value: str) -> str:
    return _TEX_RE.sub(lambda m: _TEX_SPECIAL[m.group(0)], " ".join(value.split()))


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


_KEY_SKIP = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "towards", "toward", "with"}


_AND = re.compile(r"\band\b", re.I)


def bibtex_authors(names: Iterable[str]) -> str:
    """The `author` field of every entry: one name per author of the author table, joined by " and ".

    BibTeX splits the field at each " and ", reads "Last, First" (and "Last, Jr, First") as one name,
    and "others" as et al.: a name holding the word "and", more than two commas, or being "others"
    is braced whole, so BibTeX reads it as the one name it is.
    """
    out = []
    for name in names:
        text = tex_escape(name)
        if _AND.search(name) or name.count(",") > 2 or name.strip().lower() == "others":
            text = "{" + text + "}"
        out.append(text)
    return " and ".join(out)


def _surname(name: str) -> str:
    """"Smith, John" -> Smith; "John Smith" -> Smith."""
    words = (name.split(",")[0] if "," in name else name).split()
    return words[-1] if words else ""


def cite_key(hit: Hit) -> str:
    """A readable key like `jiang2023mistral`: first author's surname, year, first title word."""
    surname = _ascii_word(_surname(hit.authors[0])) if hit.authors else ""
    words = [_ascii_word(w) for w in re.findall(r"\w+", hit.title)]
    first = next((w for w in words if w and w not in _KEY_SKIP), "")
    year = str(hit.published.year) if hit.published else ""
    key = f"{surname}{year}{first}"
    return key if surname or year else f"{first or 'paper'}{_ascii_word(hit.key)}"


def bibtex_entry(hit: Hit, *, url: str, key: str | None = None) -> str:
    """One @misc entry (arXiv's own recommendation for preprints) with fields TeX-escaped.

    No abstract: like arXiv's own export, the entry is for citing, and stays short. primaryClass is
    the paper's primary category, the first it lists (never the first of its tags, sorted by name).
    """
    fields: list[tuple[str, str]] = [("title", "{" + tex_escape(hit.title) + "}")]
    if hit.authors:
        fields.append(("author", bibtex_authors(hit.authors)))
    if hit.published:
        fields.append(("year", str(hit.published.year)))
        fields.append(("month", _MONTHS[hit.published.month - 1]))
    if hit.arxiv_id:
        fields += [("eprint", hit.arxiv_id), ("archivePrefix", "arXiv")]
        if hit.categories:
            fields.append(("primaryClass", tex_escape(hit.categories[0])))
        fields.append(("doi", f"10.48550/arXiv.{hit.arxiv_id}"))
    fields.append(("url", url))
    body = ",\n".join(f"  {name} = {{{value}}}" if name != "month" else f"  {name} = {value}"
                      for name, value in fields)
    return f"@misc{{{key or cite_key(hit)},\n{body}\n}}\n"


def bibtex(hits: Iterable[Hit], *, base_url: str) -> str:
    """Entries for many papers, keys made unique (jiang2023mistral, jiang2023mistrala, ...)."""
    seen: dict[str, int] = {}
    entries = []
    base = base_url.rstrip("/")
    for hit in hits:
        key = cite_key(hit)
        count = seen.get(key, 0)
        seen[key] = count + 1
        if count:
            key += _suffix(count)
        entries.append(bibtex_entry(hit, url=f"{base}/papers/{hit.key}", key=key))
    return "\n".join(entries)


def _suffix(n: int) -> str:
    """1 -> a, 26 -> z, 27 -> aa: BibTeX-style disambiguation."""
    letters = ""
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters
