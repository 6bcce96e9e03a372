"""Checks and clean-ups applied to untrusted input before it is used or stored.

One place for rules every view, form and import path shares:

* :func:`parse_int` reads numbers as ASCII digits only. ``str.isdigit()`` is
  true for ``²`` or ``₉`` (and ``int()`` then raises), and ``int()`` accepts
  Arabic-Indic digits, spaces, signs and underscores; query strings and URL
  parts must not reach ``int()`` unchecked.
* :func:`strip_bidi` removes the Unicode bidirectional *embedding, override
  and isolate* controls (U+202A–U+202E, U+2066–U+2069), which let stored text
  display reversed or spoofed (``exe.pdf`` shown as ``fdp.exe``). The
  directional *marks* (LRM, RLM, ALM) are kept: they are ordinary in Arabic
  text and cannot reorder what follows them.
* :func:`clean_filename` keeps an upload's name readable (Arabic included) but
  harmless for display; files are stored on disk under random names anyway.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from gcc_link.params import ascii_int

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI_RE = re.compile(f"[{BIDI_CONTROLS}]")


def parse_int(raw: Any) -> int | None:
    """The integer written in ASCII digits in ``raw`` (surrounding spaces allowed, at most 9 digits), else ``None``.

    The digit rule is the project's one (``gcc_link.params.ascii_int``), shared with the node.
    """
    if not isinstance(raw, str):
        return None
    return ascii_int(raw.strip(), 0, 999_999_999)


def strip_bidi(value: Any) -> Any:
    """``value`` without bidi embedding/override/isolate controls; non-strings are returned unchanged.

    Usable as a WTForms filter (``None`` passes through).
    """
    if isinstance(value, str):
        return _BIDI_RE.sub("", value)
    return value


# A spreadsheet reads a cell that starts with one of these as a formula (or, for tab and CR, may
# shift it so the next character starts one): OWASP "CSV injection". See serialize.csv_cell.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def unquote_formula(value: str) -> str:
    """Undo the CSV download's formula guard (``'=x`` back to ``=x``), so an exported file imports unchanged."""
    if value.startswith("'") and value[1:].startswith(CSV_FORMULA_STARTS):
        return value[1:]
    return value


_NAME_PUNCT = set(" ._-()[]+,")


def clean_filename(name: str | None, max_length: int = 200) -> str:
    """A display name for an uploaded file: Unicode letters, marks and digits plus a little punctuation.

    Directory parts (``/`` and ``\\``), control and format characters (bidi
    controls included) and anything else are dropped; leading dots and spaces
    go (no hidden files), runs of spaces collapse. The extension is kept when
    the name is shortened. Returns ``""`` when nothing usable is left.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    kept = "".join(ch for ch in name if ch in _NAME_PUNCT or unicodedata.category(ch)[0] in ("L", "M", "N"))
    kept = re.sub(r"\s+", " ", kept).strip().lstrip(". ")
    if len(kept) > max_length:
        stem, dot, suffix = kept.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            kept = stem[: max_length - len(suffix) - 1] + "." + suffix
        else:
            kept = kept[:max_length]
    return kept
