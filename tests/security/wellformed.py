"""Checks that a response is well-formed and carries nothing executable, whatever the data behind it.

Shared by the hostile-data, header and fuzz tests: each parses a body in its own
format (HTML, Atom/XML, BibTeX, JSON, JSON-LD) and raises AssertionError on the
first problem, saying what and where.
"""

import json
import re
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Elements whose end tag HTML lets an author omit; the templates may rely on it.
OPTIONAL_END = {"p", "li", "dt", "dd", "tr", "td", "th", "option", "thead", "tbody", "tfoot", "colgroup"}
FORBIDDEN_ELEMENTS = {"iframe", "object", "embed", "applet", "frame", "frameset", "base", "svg", "math",
                      "template", "noscript", "portal"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "data", "cite", "srcset", "xlink:href",
                  "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete", "hx-push-url"}
SAFE_SCHEMES = {"http", "https", "mailto"}
SCRIPT_SOURCES = re.compile(r"^/static/[\w./-]+\.js$")
# Ignored by browsers inside a URL's scheme: "java\tscript:" is "javascript:".
_URL_NOISE = re.compile(r"[\x00-\x20\x7f-\x9f\u200b-\u200f\ufeff]")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in an attribute URL, or None for a relative URL."""
    cleaned = _URL_NOISE.sub("", value)
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else None


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.script: dict | None = None
        self.json_ld: list[str] = []
        self.elements: list[tuple[str, dict]] = []

    def problem(self, text: str) -> None:
        line, col = self.getpos()
        self.problems.append(f"{line}:{col}: {text}")

    def handle_starttag(self, tag, attrs):
        self._element(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._element(tag, attrs)

    def _element(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        self.elements.append((tag, values))
        if len(values) != len(attrs):
            self.problem(f"<{tag}> repeats an attribute: {attrs}")
        if tag in FORBIDDEN_ELEMENTS:
            self.problem(f"forbidden element <{tag}>")
        for name, value in values.items():
            if name.startswith("on") or name.startswith("hx-on") or name.startswith("data-hx-on"):
                self.problem(f"event handler attribute {name}= on <{tag}>")
            if name in URL_ATTRIBUTES or name.startswith("data-hx-"):
                scheme = url_scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    self.problem(f"<{tag} {name}> has a {scheme}: URL")
                if name.startswith("hx-") and name != "hx-push-url" and not value.startswith("/"):
                    self.problem(f"<{tag} {name}> requests something other than a same-origin path: {value!r}")
            if name == "http-equiv" and value.lower() == "refresh":
                self.problem("<meta http-equiv=refresh>")
            if name == "style" and re.search(r"expression|url\s*\(", value, re.I):
                self.problem(f"style attribute with code or URLs on <{tag}>")
        if tag == "script":
            kind = values.get("type", "")
            if kind == "application/ld+json" and "src" not in values:
                self.script = {"kind": "json-ld", "text": ""}
            elif SCRIPT_SOURCES.match(values.get("src", "")) and kind in ("", "module", "text/javascript"):
                self.script = {"kind": "external", "text": ""}
            else:
                self.problem(f"script element not from /static/: {values}")
                self.script = {"kind": "bad", "text": ""}

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if tag == "script" and self.script is not None:
            if self.script["kind"] == "external" and self.script["text"].strip():
                self.problem("external script element with inline code")
            if self.script["kind"] == "json-ld":
                self.json_ld.append(self.script["text"])
            self.script = None
        while self.stack and self.stack[-1] != tag and self.stack[-1] in OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            self.problem(f"</{tag}> does not close the open element (open: {self.stack[-3:]})")
            if tag in self.stack:
                del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag):]
            return
        self.stack.pop()

    def handle_data(self, data):
        if self.script is not None:
            self.script["text"] += data


class Document:
    """A parsed HTML page: its elements (tag, attributes) and JSON-LD blocks, checked on the way in."""

    def __init__(self, checker: _Checker):
        self.elements = checker.elements
        self.json_ld = [json.loads(block) for block in checker.json_ld]

    def meta(self, key: str) -> list[str]:
        return [a.get("content", "") for tag, a in self.elements
                if tag == "meta" and key in (a.get("name"), a.get("property"))]

    def attributes(self, tag: str, name: str) -> list[str]:
        return [a[name] for t, a in self.elements if t == tag and name in a]


def check_html(text: str, *, fragment: bool = False) -> Document:
    """Balanced elements, no executable markup: scripts only from /static/ or JSON-LD that parses,
    no event handler attributes, no javascript:/data: URLs, no frames or objects, no meta refresh."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    unclosed = [tag for tag in checker.stack if tag not in OPTIONAL_END]
    if unclosed:
        checker.problems.append(f"unclosed elements at the end: {unclosed}")
    if not fragment and not re.match(r"\s*<!doctype html>", text, re.I):
        checker.problems.append("no <!doctype html>")
    for block in checker.json_ld:
        if re.search(r"</|<!--", block, re.I):
            checker.problems.append("JSON-LD block contains '</' or '<!--'")
    assert not checker.problems, "\n".join(checker.problems[:10])
    try:
        return Document(checker)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"JSON-LD does not parse: {exc}") from None


def check_xml(body: bytes) -> ET.Element:
    """Well-formed XML without a DOCTYPE (so no entity tricks), parsed."""
    assert b"<!DOCTYPE" not in body.upper(), "XML with a DOCTYPE"
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise AssertionError(f"XML does not parse: {exc}") from None


# What tex_escape may write: escaped specials only, never a command of the data's choosing.
_TEX_ESCAPES = re.compile(r"\\(?:[{}$&%#_]|textbackslash\{\}|textasciicircum\{\}|textasciitilde\{\})")


def check_bibtex(text: str, *, entries: int | None = None) -> list:
    """Parses with bibtexparser, every field's braces balance, no backslash but the escapes we write."""
    import bibtexparser

    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, f"BibTeX blocks that do not parse: {library.failed_blocks[:2]}"
    stray_text = [b.comment for b in library.comments if str(getattr(b, "comment", "")).strip()]
    assert not stray_text, f"text outside any BibTeX entry: {stray_text[:2]}"
    if entries is not None:
        assert len(library.entries) == entries, f"{len(library.entries)} BibTeX entries, expected {entries}"
    for entry in library.entries:
        for field in entry.fields:
            value = str(field.value)
            depth = 0
            for char in _TEX_ESCAPES.sub("", value):
                depth += {"{": 1, "}": -1}.get(char, 0)
                assert depth >= 0, f"{entry.key}.{field.key}: a closing brace without an opening one"
            assert depth == 0, f"{entry.key}.{field.key}: braces do not balance: {value[:80]!r}"
            stray = _TEX_ESCAPES.sub("", value)
            assert "\\" not in stray, f"{entry.key}.{field.key}: a TeX command from the data: {value[:80]!r}"
    return library.entries


def check_response(response, *, path: str = "") -> None:
    """The body parses in the format its Content-Type names."""
    kind = response.headers.get("content-type", "").split(";")[0].strip()
    if response.request.method == "HEAD" or response.status_code in (204, 304) or 300 <= response.status_code < 400:
        return
    where = path or str(response.url)
    try:
        if kind == "text/html":
            fragment = response.request.headers.get("HX-Request") == "true" and response.status_code == 200
            check_html(response.text, fragment=fragment and not response.text.lstrip().lower().startswith("<!doctype"))
        elif kind in ("application/atom+xml", "application/xml", "application/opensearchdescription+xml"):
            check_xml(response.content)
        elif kind == "application/x-bibtex":
            check_bibtex(response.text)
        elif kind == "application/json":
            json.loads(response.content)
        elif kind in ("text/plain", "text/css", "text/javascript", "image/svg+xml", "application/javascript"):
            response.content.decode("utf-8")
        else:
            raise AssertionError(f"unexpected content type {kind!r}")
    except AssertionError as exc:
        raise AssertionError(f"{where} ({response.status_code}, {kind}): {exc}") from None
