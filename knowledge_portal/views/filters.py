"""Parsing of list filters from query strings, shared by pages, feeds and the API.

Bad values never raise: an unknown state or a non-numeric year (numbers are
ASCII digits only, see :func:`knowledge_portal.inputs.parse_int`) is reported as
a :class:`FilterError` with a stable code, which pages show as a message and
the API returns as a 400.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask import Request

from ..inputs import parse_int
from ..sectors import is_sector
from ..vocab import ACHIEVEMENT_CATEGORIES, STATE_CODES

MYVIEW_COOKIE = "myview"


class FilterError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Filters:
    state: str | None = None
    sector: str | None = None
    year: int | None = None
    category: str | None = None
    tag: str | None = None
    page: int = 1
    errors: list[FilterError] = field(default_factory=list)

    def as_args(self) -> dict[str, str]:
        out = {
            "state": self.state,
            "sector": self.sector,
            "year": self.year,
            "category": self.category,
            "tag": self.tag,
        }
        return {k: str(v) for k, v in out.items() if v not in (None, "")}


def parse_filters(request: Request, strict: bool = False) -> Filters:
    """Read state, sector, year, category, tag and page; collect (or raise) errors."""
    f = Filters()
    args = request.args

    def bad(code: str, message: str) -> None:
        err = FilterError(code, message)
        if strict:
            raise err
        f.errors.append(err)

    state = (args.get("state") or "").strip().upper()
    if state:
        if state in STATE_CODES or state == "REGIONAL":
            f.state = state
        else:
            bad("invalid_state", f"unknown member state: {state[:10]!r}")
    sector = (args.get("sector") or "").strip().lower()
    if sector:
        if is_sector(sector):
            f.sector = sector
        else:
            bad("invalid_sector", f"unknown sector: {sector[:30]!r}")
    category = (args.get("category") or "").strip().lower()
    if category:
        if category in ACHIEVEMENT_CATEGORIES:
            f.category = category
        else:
            bad("invalid_category", f"unknown category: {category[:30]!r}")
    year = (args.get("year") or "").strip()
    if year:
        number = parse_int(year)
        if number is not None and 1900 <= number <= 2200:
            f.year = number
        else:
            bad("invalid_year", f"not a year: {year[:10]!r}")
    tag = (args.get("tag") or "").strip()
    if tag:
        f.tag = tag[:60]
    page = (args.get("page") or "1").strip()
    page_no = parse_int(page)
    if page_no is not None and 1 <= page_no <= 10000:
        f.page = page_no
    else:
        bad("invalid_page", f"not a page number: {page[:10]!r}")
    return f


def read_myview(request: Request) -> dict[str, list[str]]:
    """The visitor's pinned states and sectors from the cookie (bad cookies are ignored)."""
    try:
        data = json.loads(request.cookies.get(MYVIEW_COOKIE) or "{}")
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    states = [s for s in data.get("states", []) if isinstance(s, str) and s in STATE_CODES]
    sectors = [s for s in data.get("sectors", []) if isinstance(s, str) and is_sector(s)]
    return {"states": states, "sectors": sectors}
