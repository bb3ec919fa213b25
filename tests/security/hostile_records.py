"""Hostile paper records: markup, scripts, TeX commands, FTS syntax, invisible and combining characters,
oversized fields; those the ingest must store and those it must refuse."""

import re
import unicodedata

SCRIPT = '<script>alert("xss")</script>'
IMG = '"><img src=x onerror=alert(1)>'
CLOSE_ALL = "</textarea></title></script></style><!-- --!> ]]> <![CDATA["
JINJA = "{{ 7*7 }} {% raw %}"
TEX = r"} @misc{evil, title={pwned} \input{/etc/passwd} \write18{touch x} $x^2$ % # & _ ~ \\"
FTS = 'NEAR(experts distillation) AND "quoted OR NOT title:* ^prefix -minus'
MARKERS = "\ue000open\ue001 marker"  # the characters the snippets use to mark matches
ZALGO = "Z\u0334\u0321\u032aa\u0338\u0327l\u0337\u031bg\u0335\u0323o\u0336" + "\u0301" * 40
RTL = "\u202egnp.exe\u202c file"
ZERO_WIDTH = "zero\u200bwidth\u200d\ufeffjoined"
NUL = "nul\u0000byte"
LS = "line\u2028separator\u2029paragraph"
# Format characters (Unicode category Cf): soft hyphen, word joiner, Arabic letter mark, tag characters;
# ZWNJ and ZWJ spell words in Persian and Indic scripts (kept there), not between an emoji's parts.
FORMAT = "soft\u00adhyphen word\u2060joiner \u061cmarked \U000e0001\U000e0074\U000e0061\U000e0067\U000e007f tagged"
JOINED_WORDS = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u0915\u094d\u200d\u0937 \U0001f469\u200d\U0001f4bb"

# (id, record): every record that the ingest must store; text fields are checked after cleaning.
STORED = {
    "script": {"id": "2601.00001", "title": f"Sparse experts {SCRIPT}", "abstract":
               f"Knowledge distillation of experts {IMG} {CLOSE_ALL} {SCRIPT} and more distillation.",
               "authors": [f"<b onmouseover=alert(1)>Eve {SCRIPT}</b>", "Robert'); DROP TABLE papers;--"],
               "categories": ["cs.LG"], "published": "2026-01-02"},
    "tex": {"id": "2601.00002", "title": f"Distillation {TEX}", "abstract": f"Experts and distillation {TEX}",
            "authors": [r"Mallory \input{x} {Brace", "Trent }"], "categories": ["cs.CL"], "published": "2026-01-03"},
    "fts": {"id": "2601.00003", "title": f"Experts {FTS}", "abstract": f"Distillation {FTS} {MARKERS}",
            "authors": ["Oscar OR NOT"], "published": "2026-01-04"},
    "unicode": {"id": "2601.00004", "title": f"Experts {ZALGO} {RTL} {ZERO_WIDTH}",
                "abstract": f"Distillation {ZALGO} {RTL} {ZERO_WIDTH} {NUL} {LS}",
                "authors": [f"Zoë {ZALGO}", f"{RTL} Peggy"], "published": "2026-01-05"},
    "template": {"id": "2601.00005", "title": f"Experts {JINJA}", "abstract": f"Distillation {JINJA} {IMG}",
                 "authors": [JINJA], "published": "2026-01-06"},
    # No arXiv id: the page links the record's own URL, which carries quotes and markup.
    "url": {"title": f"Experts from elsewhere {IMG}", "abstract": f"Distillation with a hostile link {SCRIPT}",
            "url": 'https://example.org/a?b="><script>alert(1)</script>&c=\'onmouseover=\'alert(1)',
            "authors": ["Walter"], "published": "2026-01-07"},
    "json-ld": {"id": "2601.00006", "title": "Experts </script><script>alert(1)</script>",
                "abstract": "Distillation </SCRIPT ><!--<script> \\u2028 & \u2028 end", "authors": ["Victor"],
                "published": "2026-01-08"},
    "xml": {"id": "2601.00007", "title": "Experts ]]> &amp; &#0; &lt;tag&gt; \ufffe\uffff",
            "abstract": "Distillation <?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>&e;",
            "authors": ["Xavier &e;"], "published": "2026-01-09"},
    "format": {"id": "2601.00009", "title": f"Experts {FORMAT}", "abstract": f"Distillation {FORMAT} {JOINED_WORDS}",
               "authors": ["\u2060", "\u2060\u00ad", "Dana\u00ad Scully\u2060", "\u200dFox\u200c"],
               "published": "2026-01-11"},
    "long": {"id": "2601.00008", "title": "Experts " + "w" * 900, "abstract": "Distillation " + "word " * 3900,
             "authors": ["A" * 900], "published": "2026-01-10"},
}
# Records the ingest keeps without their dangerous field: (record, what the report says it dropped).
STRIPPED = {
    "javascript-url": ({"title": "Js link", "abstract": "A.", "url": "javascript:alert(1)"},
                       r"dropped url \(url is not an http"),
    "spaced-javascript-url": ({"title": "Js link 2", "abstract": "A.", "url": " JaVaScRiPt:alert(1)"},
                              r"dropped url \(url is not an http"),
    "data-url": ({"title": "Data link", "abstract": "A.", "url": "data:text/html,<script>alert(1)</script>"},
                 r"dropped url \(url is not an http"),
    "tabbed-url": ({"title": "Tab link", "abstract": "A.", "url": "https://example.org/\tjavascript:x"},
                   r"dropped url \(url contains invisible"),
    "huge-author": ({"title": "Huge author", "abstract": "A.", "authors": ["n" * 1_000_000]},
                    r"dropped authors \(author name too long"),
    "script-category": ({"title": "Bad category", "abstract": "A.", "categories": ['cs.LG"><script>']},
                        r"dropped category 'cs.LG\"><script>'"),
}
# Records the ingest must refuse, with the reason it gives.
REFUSED = {
    "huge-title": ({"title": "t" * 1_000_000, "abstract": "A."}, "title too long"),
    "huge-abstract": ({"title": "Huge abstract", "abstract": "a " * 500_000}, "abstract too long"),
    "only-invisible-title": ({"title": "\u200b\u202e\u0000", "abstract": "A."}, "missing title"),
    "only-format-title": ({"title": "\u2060\u00ad\u061c\U000e0041\u200d", "abstract": "A."}, "missing title"),
}


def _invisible(text: str, i: int) -> bool:
    category = unicodedata.category(text[i])
    if text[i] in "\u200c\u200d":  # kept between two letters (or a mark and a letter)
        return not (0 < i < len(text) - 1 and unicodedata.category(text[i - 1])[0] in "LM"
                    and unicodedata.category(text[i + 1])[0] in "LM")
    return category in ("Cf", "Cs") or category == "Cc" and text[i] not in "\t\n\r"


def clean(text: str) -> str:
    """What the ingest stores for a text field (app.ingest.records.clean_text, restated from the
    Unicode categories): controls, surrogates and format characters removed, whitespace collapsed."""
    kept = "".join(ch for i, ch in enumerate(text) if not _invisible(text, i) or ch in "\u200c\u200d")
    kept = "".join(ch for i, ch in enumerate(kept) if not _invisible(kept, i))
    return " ".join(kept.split())


def invisible_characters(text: str) -> list[str]:
    """Characters of a stored text that should not be there."""
    return [f"U+{ord(ch):04X}" for i, ch in enumerate(text) if _invisible(text, i)]
