"""LaTeX accents in titles and abstracts as Unicode: `Fr\\'echet` -> Fréchet, `Schr\\"{o}dinger` -> Schrödinger.

arXiv metadata writes accented letters as LaTeX, in titles and abstracts as in names. Left as
written they split words ("Fr", "echet") so a search for Fréchet or Frechet misses them. Only
the accent commands are turned into letters: the rest of the LaTeX (math, \\textbf...) is the
author's and stays as written. Names go through the full converter instead (records.latex_to_text).
"""

import re
import unicodedata

# Combining marks of the accent commands of LaTeX's text mode.
_MARKS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
          ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
          "r": "\u030a", "d": "\u0323", "b": "\u0331"}
_SYMBOL = r"""['`^"~=.]"""      # accents written with a symbol: \'e, \'{e}, {\'e}
_LETTER = r"[uvHckrdb]"         # accents written with a letter need braces: \v{c}, {\v c}
_BASE = r"\\[ij]|[A-Za-z]"      # \i and \j are the dotless i and j that take an accent
_ACCENT = re.compile(
    rf"\{{\\(?P<a1>{_SYMBOL}|{_LETTER}(?=[\s{{]))\s*(?:\{{(?P<b1>{_BASE})\}}|(?P<b2>{_BASE}))\}}"  # {\'e} {\v c}
    rf"|\\(?P<a2>{_SYMBOL}|{_LETTER})\{{(?P<b3>{_BASE})\}}"                                      # \'{e} \v{c}
    rf"|\\(?P<a3>{_SYMBOL})(?P<b4>{_BASE})")                                                    # \'e


def _letter(found: re.Match) -> str:
    accent = found["a1"] or found["a2"] or found["a3"]
    base = (found["b1"] or found["b2"] or found["b3"] or found["b4"]).removeprefix("\\")
    return unicodedata.normalize("NFC", base + _MARKS[accent])


def accents_to_unicode(text: str) -> str:
    """`text` with every LaTeX accent command on a letter written as the accented letter."""
    return _ACCENT.sub(_letter, text) if "\\" in text else text
