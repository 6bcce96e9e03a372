"""Sectors as records: lookups for pages, filters and importers.

Sectors are :class:`~knowledge_portal.models.Sector` rows (the secretariat can
add or relabel them), so nothing public reads the static seed list in
:mod:`knowledge_portal.vocab` except as a last-resort label for a code that
has no record (e.g. an old service whose sector was deleted).
"""

from __future__ import annotations

from flask import g, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Sector, State
from .vocab import SECTORS, label


def load_sectors(session: Session) -> dict[str, Sector]:
    """Every sector record by code, in display order."""
    return {s.code: s for s in session.scalars(select(Sector).order_by(Sector.sort_order, Sector.code))}


def load_state_codes(session: Session) -> list[str]:
    """The codes of the member-state records, in display order."""
    return list(session.scalars(select(State.code).order_by(State.sort_order, State.code)))


def sectors() -> dict[str, Sector]:
    """The sector records of the current request (read once per request)."""
    if "portal_sectors" not in g:
        from .db import get_session

        g.portal_sectors = load_sectors(get_session())
    cached: dict[str, Sector] = g.portal_sectors
    return cached


def sector_label(code: str | None, lang: str | None = None) -> str:
    """The label of ``code`` in ``lang`` (default: the page's), from its record; the code when unknown."""
    if not code:
        return ""
    if lang is None:
        from .i18n import current_lang

        lang = current_lang()
    record = sectors().get(code) if has_app_context() else None
    if record is not None:
        return record.t("label", lang)
    return label(SECTORS, code)


def sector_choices() -> list[tuple[str, str]]:
    """(code, label) of every sector, for selects and check boxes."""
    return [(code, sector_label(code)) for code in sectors()]


def is_sector(code: str | None) -> bool:
    """Whether ``code`` names a sector record."""
    return bool(code) and code in sectors()
