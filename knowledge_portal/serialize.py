"""Plain-dict views of records for the JSON API, CSV downloads and feeds (one place, one shape)."""

from __future__ import annotations

from typing import Any

from .inputs import CSV_FORMULA_STARTS, strip_bidi
from .models import Achievement, AwardEdition, Practice, Service, Standard, State
from .tags import tag_labels


def csv_cell(value: Any) -> Any:
    """A value safe to put in a CSV cell opened by spreadsheet programs.

    Strings that begin with a formula character get a leading ``'`` (OWASP's
    advice: the spreadsheet then shows text, quote included, instead of
    evaluating a formula; the service import removes the quote again, see
    :func:`knowledge_portal.inputs.unquote_formula`). Bidi controls are dropped
    too, in case older rows stored them. Numbers and booleans are unchanged.
    """
    if not isinstance(value, str):
        return value
    value = strip_bidi(value)
    if value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value


def _sources(r: Any) -> dict[str, Any]:
    """The bilingual source of a record: ``source_ar``, ``source_en`` (null when not recorded).

    ``source`` (the English line, or the Arabic one when there is no English) is
    kept for clients written before sources became bilingual.
    """
    return {"source": r.source or None, "source_ar": r.source_ar or None, "source_en": r.source_en or None}


def _updated(r: Any) -> str | None:
    """When a record last changed (ISO 8601 date), when the record keeps it."""
    moment = getattr(r, "updated_at", None)
    return moment.date().isoformat() if moment else None


def state_dict(s: State) -> dict[str, Any]:
    return {
        "code": s.code,
        "name": {"ar": s.name_ar, "en": s.name_en},
        "programme": {"ar": s.programme_ar, "en": s.programme_en},
        "agency": {"ar": s.agency_ar, "en": s.agency_en, "url": s.agency_url or None},
        "readiness": {"ar": s.readiness_ar, "en": s.readiness_en},
        "network_status": s.network_status,
        "egdi_ranks": [{"year": r.year, "rank": r.rank, **_sources(r)} for r in s.ranks],
    }


def service_dict(s: Service) -> dict[str, Any]:
    return {
        "id": s.id,
        "state": s.state_code,
        "agency": {"ar": s.agency_ar, "en": s.agency_en},
        "sector": s.sector,
        "name": {"ar": s.name_ar, "en": s.name_en},
        "maturity": s.maturity,
        "channels": s.channel_list,
        "e_payment": s.e_payment,
        "end_to_end": s.end_to_end,
        "ministry_priority": s.ministry_priority,
        "launch_phase": s.launch_phase,
        "cross_border": s.cross_border,
        "evidence_url": s.evidence_url or None,
        "as_of": s.as_of.isoformat() if s.as_of else None,
        **_sources(s),
        "demo": s.is_demo,
        "updated": _updated(s),
        "network_service": s.network_service or None,
    }


SERVICE_CSV_FIELDS = (
    "state",
    "agency_ar",
    "agency_en",
    "sector",
    "name_ar",
    "name_en",
    "maturity",
    "channels",
    "e_payment",
    "end_to_end",
    "ministry_priority",
    "launch_phase",
    "cross_border",
    "evidence_url",
    "as_of",
)


def service_row(s: Service) -> dict[str, Any]:
    """One CSV row; the same columns the service-catalogue import accepts."""
    return {
        "state": s.state_code,
        "agency_ar": s.agency_ar,
        "agency_en": s.agency_en,
        "sector": s.sector,
        "name_ar": s.name_ar,
        "name_en": s.name_en,
        "maturity": s.maturity,
        "channels": ";".join(s.channel_list),
        "e_payment": str(s.e_payment).lower(),
        "end_to_end": str(s.end_to_end).lower(),
        "ministry_priority": str(s.ministry_priority).lower(),
        "launch_phase": s.launch_phase,
        "cross_border": str(s.cross_border).lower(),
        "evidence_url": s.evidence_url,
        "as_of": s.as_of.isoformat() if s.as_of else "",
    }


def achievement_dict(a: Achievement) -> dict[str, Any]:
    return {
        "id": a.id,
        "state": a.state_code,
        "date": a.date.isoformat(),
        "year": a.date.year,
        "category": a.category,
        "title": {"ar": a.title_ar, "en": a.title_en},
        "body": {"ar": a.body_ar, "en": a.body_en},
        **_sources(a),
        "demo": a.is_demo,
        "updated": _updated(a),
    }


def award_dict(e: AwardEdition) -> dict[str, Any]:
    return {
        "year": e.year,
        "host": e.host_code,
        "notes": {"ar": e.notes_ar, "en": e.notes_en},
        **_sources(e),
        "demo": e.is_demo,
        "winners": [
            {
                "category": {"ar": w.category_ar, "en": w.category_en},
                "winner": {"ar": w.winner_ar, "en": w.winner_en},
                "state": w.state_code,
            }
            for w in e.winners
        ],
    }


def practice_dict(p: Practice, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.public_id,
        "state": p.state_code,
        "sector": p.sector,
        "year": p.year,
        "tags": list(p.tags or []),
        "tag_labels": tag_labels(p.tags or []),
        "title": {"ar": p.title_ar, "en": p.title_en},
        "summary": {"ar": p.summary_ar, "en": p.summary_en},
        "published": p.published_at.date().isoformat() if p.published_at else None,
        **_sources(p),
        "demo": p.is_demo,
        "updated": _updated(p),
    }
    if full:
        out["body"] = {"ar": p.body_ar, "en": p.body_en}
        out["outcomes"] = {"ar": p.outcomes_ar, "en": p.outcomes_en}
        out["related"] = [r.public_id for r in p.related if r.status == "published"]
        out["attachments"] = [{"id": a.id, "filename": a.filename, "size": a.size} for a in p.attachments]
    return out


def standard_dict(s: Standard) -> dict[str, Any]:
    return {
        "code": s.code,
        "category": s.category,
        "year": s.year,
        "title": {"ar": s.title_ar, "en": s.title_en},
        "body": {"ar": s.body_ar, "en": s.body_en},
        "demo": s.is_demo,
    }
