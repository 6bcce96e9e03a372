"""Whole numbers in request parameters, parsed the same way by the node and the portal.

``str.isdigit()`` is true for ``²`` and ``₉`` (which ``int()`` then refuses,
a 500); only ASCII ``[0-9]+`` is a number here.
"""

from __future__ import annotations

import re

__all__ = ["ascii_int"]

_DIGITS = re.compile(r"[0-9]{1,18}")


def ascii_int(text: object, low: int, high: int) -> int | None:
    """``text`` as an int if it is 1-18 ASCII digits within ``low..high``, else None."""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None
