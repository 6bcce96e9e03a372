"""The best-practice knowledge base: browsing, full-text search with facets, practice pages."""

from __future__ import annotations

import math
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request, send_from_directory
from sqlalchemy import select

from ..db import get_session
from ..i18n import current_lang
from ..indexing import get_backend
from ..models import Attachment, Practice
from ..search import Lang, SearchQuery, SearchResults, Sort
from ..sectors import sector_choices
from .filters import Filters, parse_filters
from .public import filtered_practices, has_tag, published_practices, states_in_order

bp = Blueprint("practices", __name__, url_prefix="/practices")

MAX_QUERY = 200


def run_search(q: str, lang: Lang, f: Filters, sort: Sort, per_page: int) -> SearchResults:
    """Ask the search backend; filter values are already validated."""
    state = None if f.state == "REGIONAL" else f.state
    return get_backend().search(
        SearchQuery(
            q=q[:MAX_QUERY],
            lang=lang,
            state=state,
            sector=f.sector,
            year=f.year,
            tag=f.tag,
            page=f.page,
            per_page=per_page,
            sort=sort,
        )
    )


def browse(f: Filters, per_page: int, sort: Sort = "relevance") -> tuple[int, list[Practice]]:
    """Published practices from the database (no query text): newest year first, or by publication date."""
    order = (
        (Practice.published_at.desc(), Practice.id.desc())
        if sort == "date"
        else (Practice.year.desc(), Practice.id.desc())
    )
    items = [p for p in get_session().scalars(filtered_practices(f).order_by(*order)) if has_tag(p, f.tag)]
    total = len(items)
    start = (f.page - 1) * per_page
    return total, items[start : start + per_page]


@bp.get("/")
def index():
    lang: Lang = "en" if current_lang() == "en" else "ar"
    f = parse_filters(request)
    q = (request.args.get("q") or "").strip()
    sort: Sort = "date" if request.args.get("sort") == "date" else "relevance"
    per_page = current_app.config.get("PER_PAGE", 10)
    results = None
    practices: list[Practice] = []
    search_error = False
    if q:
        try:
            results = run_search(q, lang, f, sort, per_page)
            total = results.total
        except Exception:  # the engine failing must not take the page down
            current_app.logger.exception("search failed")
            search_error = True
            total = 0
    else:
        total, practices = browse(f, per_page, sort)
    pages = max(1, math.ceil(total / per_page))
    db = get_session()
    years = [
        y
        for (y,) in db.execute(
            select(Practice.year)
            .where(Practice.status == "published")
            .group_by(Practice.year)
            .order_by(Practice.year.desc())
        )
    ]
    return render_template(
        "practices.html",
        q=q,
        filters=f,
        sort=sort,
        results=results,
        practices=practices,
        total=total,
        page=f.page,
        pages=pages,
        states=states_in_order(),
        sectors=sector_choices(),
        years=years,
        search_error=search_error,
    )


@bp.get("/<public_id>")
def detail(public_id: str):
    db = get_session()
    practice = db.scalar(published_practices().where(Practice.public_id == public_id))
    if practice is None:
        abort(404)
    related = [p for p in practice.related if p.status == "published"]
    # digits_state: the page follows the practice's state's digit convention (list markers included)
    return render_template("practice.html", p=practice, related=related, digits_state=practice.state_code)


@bp.get("/<public_id>/attachments/<int:attachment_id>")
def attachment(public_id: str, attachment_id: int):
    db = get_session()
    att = db.get(Attachment, attachment_id)
    if att is None or att.practice.public_id != public_id or att.practice.status != "published":
        abort(404)
    return send_from_directory(
        Path(current_app.config["UPLOAD_DIR"]),
        att.stored_name,
        as_attachment=True,
        download_name=att.filename,
        mimetype=att.content_type,
    )
