"""Open data: the read-only JSON API (``/api/v1/…``), CSV downloads and ``/openapi.json``.

Every error is ``{"error": {"code", "message"}}`` with a 4xx status; lists are
``{"total", "page", "per_page", "results": [...]}``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from gcc_link.http_errors import error_body

from ..db import get_session
from ..inputs import parse_int
from ..models import Achievement, AwardEdition, Practice, Service, State
from ..search import Lang, Sort
from ..serialize import (
    SERVICE_CSV_FIELDS,
    achievement_dict,
    award_dict,
    csv_cell,
    practice_dict,
    service_dict,
    service_row,
    state_dict,
)
from ..vocab import MATURITY
from .filters import FilterError, parse_filters
from .practices import MAX_QUERY, browse, run_search
from .public import published_achievements

bp = Blueprint("api", __name__)

MAX_PER_PAGE = 100


def api_error(status: int, code: str, message: str) -> tuple[Response, int]:
    """A JSON refusal in the project's one error vocabulary (:mod:`gcc_link.http_errors`)."""
    return jsonify(error_body(code, message)), status


@bp.errorhandler(FilterError)
def _filter_error(exc: FilterError):
    return api_error(400, exc.code, exc.message)


def _per_page() -> int:
    number = parse_int(request.args.get("per_page", "20"))
    if number is None or not 1 <= number <= MAX_PER_PAGE:
        raise FilterError("invalid_per_page", f"per_page must be 1..{MAX_PER_PAGE}")
    return number


def _page(items: list, page: int, per_page: int, to_dict: Callable[[Any], dict]) -> Response:
    start = (page - 1) * per_page
    return jsonify(
        {
            "total": len(items),
            "page": page,
            "per_page": per_page,
            "results": [to_dict(i) for i in items[start : start + per_page]],
        }
    )


@bp.get("/api/v1/states")
def states():
    items = get_session().scalars(select(State).order_by(State.sort_order, State.code)).all()
    return jsonify({"total": len(items), "page": 1, "per_page": len(items), "results": [state_dict(s) for s in items]})


@bp.get("/api/v1/network")
def network():
    """Each member node's verified status (see :mod:`knowledge_portal.network`)."""
    states = get_session().scalars(select(State).order_by(State.sort_order, State.code)).all()
    return jsonify(current_app.extensions["portal_network"].view(list(states)).as_dict())


@bp.get("/api/v1/states/<code>")
def state(code: str):
    st = get_session().get(State, code.upper())
    if st is None:
        return api_error(404, "not_found", f"no member state {code[:10]!r}")
    return jsonify(state_dict(st))


def _services() -> list[Service]:
    f = parse_filters(request, strict=True)
    query = select(Service)
    if f.state:
        query = query.where(Service.state_code == f.state)
    if f.sector:
        query = query.where(Service.sector == f.sector)
    maturity = request.args.get("maturity")
    if maturity:
        if maturity not in MATURITY:
            raise FilterError("invalid_maturity", f"unknown maturity stage: {maturity[:20]!r}")
        query = query.where(Service.maturity == maturity)
    return list(get_session().scalars(query.order_by(Service.state_code, Service.sector, Service.id)))


@bp.get("/api/v1/services")
def services():
    f = parse_filters(request, strict=True)
    return _page(_services(), f.page, _per_page(), service_dict)


@bp.get("/api/v1/achievements")
def achievements():
    f = parse_filters(request, strict=True)
    query = published_achievements()
    if f.state:
        query = query.where(Achievement.state_code == f.state)
    if f.category:
        query = query.where(Achievement.category == f.category)
    items = [
        a for a in get_session().scalars(query.order_by(Achievement.date.desc())) if not f.year or a.date.year == f.year
    ]
    return _page(items, f.page, _per_page(), achievement_dict)


@bp.get("/api/v1/awards")
def awards():
    items = get_session().scalars(select(AwardEdition).order_by(AwardEdition.year.desc())).all()
    return jsonify({"total": len(items), "page": 1, "per_page": len(items), "results": [award_dict(e) for e in items]})


@bp.get("/api/v1/practices")
def practices():
    f = parse_filters(request, strict=True)
    per_page = _per_page()
    total, items = browse(f, per_page)
    return jsonify({"total": total, "page": f.page, "per_page": per_page, "results": [practice_dict(p) for p in items]})


@bp.get("/api/v1/practices/<public_id>")
def practice(public_id: str):
    p = get_session().scalar(select(Practice).where(Practice.public_id == public_id, Practice.status == "published"))
    if p is None:
        return api_error(404, "not_found", f"no published practice {public_id[:80]!r}")
    return jsonify(practice_dict(p, full=True))


@bp.get("/api/v1/search")
def search():
    q = (request.args.get("q") or "").strip()
    if not q:
        return api_error(400, "missing_query", "q is required")
    if len(q) > MAX_QUERY:
        return api_error(400, "query_too_long", f"q is limited to {MAX_QUERY} characters")
    raw_lang = request.args.get("lang", "ar")
    if raw_lang not in ("ar", "en"):
        return api_error(400, "invalid_lang", "lang must be ar or en")
    raw_sort = request.args.get("sort", "relevance")
    if raw_sort not in ("relevance", "date"):
        return api_error(400, "invalid_sort", "sort must be relevance or date")
    lang: Lang = "en" if raw_lang == "en" else "ar"
    sort: Sort = "date" if raw_sort == "date" else "relevance"
    f = parse_filters(request, strict=True)
    per_page = _per_page() if "per_page" in request.args else current_app.config.get("PER_PAGE", 10)
    try:
        res = run_search(q, lang, f, sort, per_page)
    except Exception:
        current_app.logger.exception("search failed")
        return api_error(503, "search_unavailable", "the search index is not available")
    return jsonify(
        {
            "total": res.total,
            "page": res.page,
            "per_page": res.per_page,
            "suggestion": res.suggestion,
            "partial": res.partial,  # no result has every word: these have most of them
            "facets": {k: [{"value": v, "count": n} for v, n in vals] for k, vals in res.facets.items()},
            "results": [
                {
                    "id": h.id,
                    "title": h.title,
                    "snippet": h.snippet,
                    "state": h.state,
                    "sector": h.sector,
                    "year": h.year,
                    "score": h.score,
                    "published": h.published.isoformat() if h.published else None,
                }
                for h in res.hits
            ],
        }
    )


def _csv(rows: list[dict[str, Any]], fields: tuple[str, ...], name: str) -> Response:
    """A CSV download; every cell goes through :func:`csv_cell` (no formula injection)."""
    buf = io.StringIO()
    buf.write("\ufeff")  # so spreadsheet programs read the Arabic as UTF-8
    writer = csv.DictWriter(buf, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)
    return Response(
        buf.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/api/v1/services.csv")
def services_csv():
    return _csv([service_row(s) for s in _services()], SERVICE_CSV_FIELDS, "gcc-services.csv")


@bp.get("/api/v1/achievements.csv")
def achievements_csv():
    items = get_session().scalars(published_achievements().order_by(Achievement.date.desc())).all()
    rows = [
        {
            "id": a.id,
            "state": a.state_code,
            "date": a.date.isoformat(),
            "category": a.category,
            "title_ar": a.title_ar,
            "title_en": a.title_en,
            "source": a.source,
            "demo": a.is_demo,
        }
        for a in items
    ]
    return _csv(
        rows, ("id", "state", "date", "category", "title_ar", "title_en", "source", "demo"), "gcc-achievements.csv"
    )


@bp.get("/api/v1/practices.csv")
def practices_csv():
    items = (
        get_session()
        .scalars(select(Practice).where(Practice.status == "published").order_by(Practice.year.desc()))
        .all()
    )
    rows = [
        {
            "id": p.public_id,
            "state": p.state_code or "",
            "sector": p.sector,
            "year": p.year,
            "tags": ";".join(p.tags or []),
            "title_ar": p.title_ar,
            "title_en": p.title_en,
            "summary_ar": p.summary_ar,
            "summary_en": p.summary_en,
            "demo": p.is_demo,
        }
        for p in items
    ]
    return _csv(
        rows,
        ("id", "state", "sector", "year", "tags", "title_ar", "title_en", "summary_ar", "summary_en", "demo"),
        "gcc-practices.csv",
    )


@bp.get("/openapi.json")
def openapi():
    from ..openapi import build_openapi

    return jsonify(build_openapi())
