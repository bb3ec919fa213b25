"""Hostile paper records: markup, scripts, TeX commands, FTS syntax, invisible and combining characters,
oversized fields; those the ingest must store and those it must refuse."""

import re

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
}


def clean(text: str) -> str:
    """What the ingest stores for a text field (app.ingest.records.clean_text, restated)."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", "", text)
    return " ".join(text.split())
