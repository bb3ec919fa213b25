"""arXiv's XML formats: OAI-PMH responses (arXiv, arXivRaw, oai_dc) and API Atom feeds.

XML is read by real parsers only: OAI-PMH with defusedxml (expat with entity
expansion and external references refused), streamed record by record so a
harvest file of any size takes little memory; Atom with feedparser. Each record
becomes the same mapping a JSON record would be, and goes through the same
validation (`record_from_mapping`), so every format obeys one set of rules.
"""

import bisect
import codecs
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from app.ingest.categories import ARXIV_CATEGORIES
from app.ingest.records import (ESCAPED_BYTES, REPLACED_UTF8, Deleted, PaperIn, RecordError, as_record_error,
                                parse_arxiv_id, record_from_mapping, replace_escaped, with_note)

Parsed = tuple[int, PaperIn | RecordError | Deleted]

OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
ARXIV_RAW = "{http://arxiv.org/OAI/arXivRaw/}"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}"
DC = "{http://purl.org/dc/elements/1.1/}"
CHUNK = 256 * 1024
MAX_RECORD_CHARS = 4 * 1024 * 1024  # the line cap of the other formats, per record
MAX_FEED_BYTES = 64 * 1024 * 1024  # an API page is a few hundred kB; feedparser reads it whole

# oai_dc names subjects in words ("Computer Science - Machine Learning"); back to codes.
# oai_dc names a category "Archive - Category" ("Computer Science - Machine Learning"), or by
# its own name when its archive has no subdivisions ("Quantum Physics", "High Energy Physics - Theory").
_ARCHIVE_NAMES = {"computer science": "cs", "statistics": "stat", "mathematics": "math",
                  "electrical engineering and systems science": "eess", "economics": "econ",
                  "quantitative biology": "q-bio", "quantitative finance": "q-fin", "physics": "physics",
                  "astrophysics": "astro-ph", "condensed matter": "cond-mat", "nonlinear sciences": "nlin"}
_BY_NAME = {(code.split(".")[0], re.sub(r"\s*\(.*\)$", "", name).lower()): code
            for code, name in ARXIV_CATEGORIES.items()}
# Where arXiv's own short name differs from the one shown here.
_BY_NAME.update({("stat", "applications"): "stat.AP", ("stat", "computation"): "stat.CO",
                 ("stat", "methodology"): "stat.ME"})
_ARCHIVES_BY_NAME = {name.lower(): code for code, name in ARXIV_CATEGORIES.items() if "." not in code}


class XmlError(ValueError):
    """The document as a whole is not readable XML past some point."""


@dataclass
class OaiPage:
    """What one OAI-PMH response says besides its records."""
    token: str | None = None              # resumptionToken; None or "" when the list is complete
    complete_size: int | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)  # (code, message)
    response_date: str | None = None


class _Target:
    """expat target that builds one <record> at a time and hands it over when it closes."""

    def __init__(self, page: OaiPage):
        self.page = page
        self.builder: ET.TreeBuilder | None = None
        self.depth = 0
        self.line = 0
        self.done: list[tuple[int, int, ET.Element | RecordError]] = []  # first and last line
        self.size = 0  # characters of text in the record being built: past the cap, no more are kept
        self.text: list[str] | None = None  # text of a response-level element being read
        self.attrs: dict = {}
        self.parser = None  # the expat parser, for line numbers
        self.rooted = False  # the root element was OAI-PMH

    def start(self, tag, attrs):
        if self.depth == 0 and self.builder is None and not self.rooted:
            if tag != f"{OAI}OAI-PMH":  # an HTML error page, an RSS feed...: not a page of this list
                raise XmlError(f"not an OAI-PMH response (its root element is <{tag.rpartition('}')[2]}>)")
            self.rooted = True
        if self.builder is None and tag == f"{OAI}record":
            self.builder, self.depth, self.line = ET.TreeBuilder(), 0, self.parser.CurrentLineNumber
            self.size = 0
        if self.builder is not None:
            self.depth += 1
            self.builder.start(tag, attrs)
        elif tag in (f"{OAI}resumptionToken", f"{OAI}error", f"{OAI}responseDate"):
            self.text, self.attrs = [], attrs

    def end(self, tag):
        if self.builder is not None:
            self.builder.end(tag)
            self.depth -= 1
            if self.depth == 0:
                element = self.builder.close()
                if self.size > MAX_RECORD_CHARS:
                    element = RecordError(f"record longer than {MAX_RECORD_CHARS // (1024 * 1024)} MiB")
                self.done.append((self.line, self.parser.CurrentLineNumber, element))
                self.builder = None
        elif self.text is not None:
            text = "".join(self.text).strip()
            if tag == f"{OAI}resumptionToken":
                self.page.token = text
                size = self.attrs.get("completeListSize", "")
                self.page.complete_size = int(size) if size.isdigit() and len(size) < 19 else None
            elif tag == f"{OAI}error":
                self.page.errors.append((self.attrs.get("code", ""), text))
            else:
                self.page.response_date = text
            self.text = None

    def data(self, data):
        if self.builder is not None:
            self.size += len(data)
            if self.size <= MAX_RECORD_CHARS:  # memory stays bounded by one record's cap
                self.builder.data(data)
        elif self.text is not None and sum(map(len, self.text)) < MAX_RECORD_CHARS:
            self.text.append(data)

    def close(self):
        return None


def parse_oai(stream: BinaryIO, page: OaiPage | None = None) -> Iterator[Parsed]:
    """Records of an OAI-PMH ListRecords/GetRecord response, streamed; `page` gets the rest."""
    target = _Target(page if page is not None else OaiPage())
    parser = DefusedXMLParser(target=target, forbid_dtd=True)
    target.parser = parser.parser
    mend: _Utf8Mend | None = None
    while True:
        chunk = stream.read(CHUNK)
        if mend is None:
            mend = _Utf8Mend(chunk)
        try:
            if chunk:
                parser.feed(mend(chunk))
            else:
                parser.feed(mend(b"", final=True))
                parser.close()
        except (ET.ParseError, DefusedXmlException) as exc:
            yield from _records(target, mend.lines)
            raise XmlError(f"not well-formed XML ({exc}); the records before were read") from None
        yield from _records(target, mend.lines)
        if not chunk:
            return


_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")


class _Utf8Mend:
    """Bytes that are not UTF-8 read as U+FFFD before expat sees them: expat would stop the whole
    response (a harvest page of a thousand records) at the first. Remembers the lines where it
    did, so the records there are said to be kept with a note. A document declared in another
    encoding is passed through as it is."""

    def __init__(self, first: bytes):
        declared = _DECLARED.match(first[:200])
        self.active = (declared.group(1).lower() in (b"utf-8", b"utf8") if declared
                       else not first.startswith((b"\xff\xfe", b"\xfe\xff")))  # UTF-16, by its byte order mark
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.line = 1
        self.lines: list[int] = []  # ascending

    def __call__(self, chunk: bytes, final: bool = False) -> bytes:
        if not self.active:
            return chunk
        if not self.decoder.getstate()[0]:  # nothing held from the last chunk
            try:
                chunk.decode("utf-8")  # the common case: whole, valid characters, passed on as they are
                self.line += chunk.count(b"\n")
                return chunk
            except UnicodeDecodeError:
                pass  # odd bytes, or a character cut at the chunk's end: read below
        text = self.decoder.decode(chunk, final)
        at = 0
        for found in ESCAPED_BYTES.finditer(text):  # each line counted once: linear in the chunk
            self.line += text.count("\n", at, found.start())
            at = found.start()
            if not self.lines or self.lines[-1] != self.line:
                self.lines.append(self.line)
        self.line += text.count("\n", at)
        return replace_escaped(text).encode("utf-8")


def _records(target: _Target, mended: list[int]) -> Iterator[Parsed]:
    done, target.done = target.done, []
    for line, last, element in done:
        if isinstance(element, RecordError):
            yield line, element
            continue
        try:
            record = oai_record(element)
        except Exception as exc:  # noqa: BLE001 - one record's failure, never the file's
            yield line, as_record_error(exc)
            continue
        if bisect.bisect_left(mended, line) < bisect.bisect_right(mended, last):
            record = with_note(record, REPLACED_UTF8)
        yield line, record


def oai_record(record: ET.Element) -> PaperIn | Deleted:
    header = record.find(f"{OAI}header")
    identifier = _text(header, f"{OAI}identifier") if header is not None else ""
    header_id = parse_arxiv_id(identifier.rsplit(":", 1)[-1]) if identifier else None
    if header is not None and header.get("status") == "deleted":
        if header_id is None:
            raise RecordError(f"deleted record without an arXiv identifier ({identifier!r:.60})")
        return Deleted(header_id)
    metadata = record.find(f"{OAI}metadata")
    if metadata is None or len(metadata) == 0:
        raise RecordError("record without metadata")
    body = metadata[0]
    if body.tag == f"{ARXIV}arXiv":
        mapping = _arxiv(body)
    elif body.tag == f"{ARXIV_RAW}arXivRaw":
        mapping = _arxiv_raw(body)
    elif body.tag == f"{OAI_DC}dc":
        mapping = _oai_dc(body)
    else:
        raise RecordError(f"unknown metadata format {body.tag!r:.80}")
    if not mapping.get("id") and header_id:
        mapping["id"] = header_id
    return record_from_mapping(mapping)


def _text(element: ET.Element | None, path: str) -> str:
    found = element.find(path) if element is not None else None
    return "".join(found.itertext()).strip() if found is not None else ""


def _fields(body: ET.Element, ns: str, names: tuple[str, ...]) -> dict:
    mapping = {}
    for name in names:
        value = _text(body, f"{ns}{name}")
        if value:
            mapping[name.replace("-", "_")] = value
    return mapping


def _arxiv(body: ET.Element) -> dict:
    mapping = _fields(body, ARXIV, ("id", "title", "abstract", "categories", "msc-class", "acm-class",
                                    "doi", "journal-ref", "comments", "license"))
    mapping["published"] = _text(body, f"{ARXIV}created") or None
    mapping["updated"] = _text(body, f"{ARXIV}updated") or None
    mapping["revised"] = mapping["updated"] or mapping["published"]  # a record never updated is its first version
    authors = body.find(f"{ARXIV}authors")
    if authors is not None:
        mapping["authors"] = [" ".join(p for p in (_text(a, f"{ARXIV}forenames"), _text(a, f"{ARXIV}keyname"),
                                                   _text(a, f"{ARXIV}suffix")) if p)
                              for a in authors.findall(f"{ARXIV}author")]
    return mapping


def _arxiv_raw(body: ET.Element) -> dict:
    mapping = _fields(body, ARXIV_RAW, ("id", "title", "abstract", "authors", "categories", "msc-class",
                                        "acm-class", "doi", "journal-ref", "comments", "license", "submitter"))
    versions = [{"version": v.get("version"), "created": _text(v, f"{ARXIV_RAW}date")}
                for v in body.findall(f"{ARXIV_RAW}version")]
    if versions:
        mapping["versions"] = versions
    return mapping


def _oai_dc(body: ET.Element) -> dict:
    def all_of(name: str) -> list[str]:
        return [t for t in ("".join(e.itertext()).strip() for e in body.findall(f"{DC}{name}")) if t]

    descriptions = [d for d in all_of("description") if not d.startswith("Comment:")]
    identifiers = all_of("identifier")
    link = next((i for i in identifiers if parse_arxiv_id(i)), None)
    mapping = {"title": next(iter(all_of("title")), None),
               "abstract": descriptions[0] if descriptions else None,
               # dc:creator is "Family, Given"; the catalogue shows "Given Family".
               "authors": [" ".join(reversed([p.strip() for p in c.split(",", 1)])) for c in all_of("creator")],
               "published": next(iter(all_of("date")), None),
               "categories": [_subject_code(s) for s in all_of("subject")]}
    if link:
        mapping["id"] = parse_arxiv_id(link)
        mapping["url"] = link if link.startswith(("http://", "https://")) else None
    return mapping


def _subject_code(subject: str) -> str:
    whole = _ARCHIVES_BY_NAME.get(" ".join(subject.split()).lower())
    if whole:
        return whole
    archive, sep, name = subject.partition(" - ")
    code = _ARCHIVE_NAMES.get(archive.strip().lower())
    if code and sep:
        return _BY_NAME.get((code, name.strip().lower()), subject)
    return code if code and not sep else subject


def parse_atom(stream: BinaryIO) -> Iterator[Parsed]:
    """Entries of an arXiv API Atom feed (the position of an entry stands for its line)."""
    import feedparser

    data = stream.read(MAX_FEED_BYTES + 1)
    if len(data) > MAX_FEED_BYTES:
        raise XmlError("Atom feed larger than 64 MiB: fetch it in pages")
    feed = feedparser.parse(data)
    if feed.bozo and not feed.entries:
        raise XmlError(f"not a readable Atom feed ({feed.bozo_exception})")
    for number, entry in enumerate(feed.entries, start=1):
        try:
            yield number, atom_entry(entry)
        except Exception as exc:  # noqa: BLE001 - one entry's failure, never the feed's
            yield number, as_record_error(exc)


def atom_entry(entry) -> PaperIn:
    entry_id = entry.get("id", "")
    if "/api/errors" in entry_id:  # the API reports a bad query as an entry
        raise RecordError(f"the feed reports an error: {entry.get('summary', '')!r:.100}")
    terms = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
    primary = entry.get("arxiv_primary_category", {}).get("term")
    links = [link.get("href") for link in entry.get("links", [])
             if link.get("rel") == "alternate" and link.get("href")]
    return record_from_mapping({
        "id": entry_id, "title": entry.get("title"), "summary": entry.get("summary"),
        "authors": [a.get("name", "") for a in entry.get("authors", [])] or None,
        "published": entry.get("published"), "updated": entry.get("updated"),
        "categories": ([primary] if primary else []) + [t for t in terms if t != primary] or None,
        "url": links[0] if links else None,
    })
