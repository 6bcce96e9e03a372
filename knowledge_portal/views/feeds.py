"""Atom feeds (RFC 4287) of achievements and practices; every filtered list has one.

Links and ids are built by :func:`_url` on the configured ``SITE_URL``, never
on the request's ``Host`` header (which anyone can forge, and which a shared
cache would then serve to everybody). Without ``SITE_URL`` they are
root-relative (``/en/practices/...``): readers resolve them against the
feed's own address. Set ``SITE_URL`` in production for absolute ids.
"""

from __future__ import annotations

from datetime import datetime, time, timezone
from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, abort, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..db import get_session
from ..i18n import current_lang
from ..inputs import strip_bidi
from ..models import Achievement, Practice
from ..sanitize import html_to_text
from ..security import site_url
from ..tags import tag_label
from .filters import parse_filters
from .public import filtered_practices, has_tag, published_achievements

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

ATOM = "http://www.w3.org/2005/Atom"


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat().replace("+00:00", "Z")


def _feed(title: str, self_url: str, alt_url: str, entries: list[dict]) -> Response:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": current_lang()})
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = self_url
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=alt_url)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = _("GCC e-government secretariat")
    updated = max((e["updated"] for e in entries), default=datetime(2000, 1, 1))
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(updated)
    for e in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = strip_bidi(e["title"])  # rows stored before the fix
        ET.SubElement(entry, f"{{{ATOM}}}id").text = e["id"]
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", type="text/html", href=e["link"])
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(e["updated"])
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = strip_bidi(e["summary"])
        if e.get("category"):
            ET.SubElement(entry, f"{{{ATOM}}}category", term=e["category"])
        for term, label, scheme in e.get("tags", ()):
            ET.SubElement(entry, f"{{{ATOM}}}category", term=strip_bidi(term), label=strip_bidi(label), scheme=scheme)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="application/atom+xml")


def _url(endpoint: str, **values: Any) -> str:
    """``url_for`` made absolute on ``SITE_URL`` (root-relative when unset); never from the Host header."""
    return site_url(url_for(endpoint, **values))


def _self_url() -> str:
    """This feed's own URL (path and query) on ``SITE_URL``."""
    return site_url(request.script_root + request.full_path.rstrip("?"))


@bp.get("/achievements.atom")
def achievements():
    lang = current_lang()
    f = parse_filters(request)
    if f.errors:
        abort(400)
    query = published_achievements()
    if f.state:
        query = query.where(Achievement.state_code == f.state)
    if f.category:
        query = query.where(Achievement.category == f.category)
    items = [
        a
        for a in get_session().scalars(query.order_by(Achievement.date.desc()).limit(200))
        if not f.year or a.date.year == f.year
    ][:50]
    alt = _url("public.achievements", **f.as_args())
    entries = [
        {
            "title": a.t("title", lang),
            "id": _url("public.achievements") + f"#a{a.id}",
            "link": _url("public.achievements", state=a.state_code) + f"#a{a.id}",
            "updated": datetime.combine(a.date, time()),
            "summary": html_to_text(a.t("body", lang)),
            "category": a.category,
        }
        for a in items
    ]
    return _feed(_("GCC e-government achievements"), _self_url(), alt, entries)


@bp.get("/practices.atom")
def practices():
    lang = current_lang()
    f = parse_filters(request)
    if f.errors:
        abort(400)
    newest = filtered_practices(f).order_by(Practice.published_at.desc(), Practice.id.desc()).limit(200)
    items = [p for p in get_session().scalars(newest) if has_tag(p, f.tag)]
    alt = _url("practices.index", **f.as_args())
    # tags: the slug as term, its label in the feed's language; one scheme for both languages (like the ids)
    tag_scheme = _url("practices.index", lang="en")
    entries = [
        {
            "title": p.t("title", lang),
            "id": _url("practices.detail", public_id=p.public_id, lang="en"),
            "link": _url("practices.detail", public_id=p.public_id),
            "updated": p.published_at or p.updated_at,
            "summary": p.t("summary", lang),
            "category": p.sector,
            "tags": [(t, tag_label(t, lang), tag_scheme) for t in (p.tags or [])],
        }
        for p in items[:50]
    ]
    return _feed(_("GCC e-government best practices"), _self_url(), alt, entries)


@bp.get("/services.atom")
def services():
    """Services of a filtered catalogue view, newest readiness assessment first."""
    from ..models import Service
    from ..vocab import MATURITY, SECTORS

    lang = current_lang()
    f = parse_filters(request)
    maturity = request.args.get("maturity")
    if f.errors or (maturity and maturity not in MATURITY):
        abort(400)
    query = select(Service)
    if f.state:
        query = query.where(Service.state_code == f.state)
    if f.sector:
        query = query.where(Service.sector == f.sector)
    if maturity:
        query = query.where(Service.maturity == maturity)
    items = get_session().scalars(query.order_by(Service.as_of.desc(), Service.id.desc()).limit(100)).all()
    args = {**f.as_args(), **({"maturity": maturity} if maturity else {})}
    alt = _url("public.services", **args)
    entries = [
        {
            "title": s.t("name", lang) + " — " + s.state.t("name", lang),
            "id": _url("api.services") + f"#s{s.id}",
            "link": _url("public.services", state=s.state_code, sector=s.sector),
            "updated": datetime.combine(s.as_of, time()) if s.as_of else datetime(2000, 1, 1),
            "summary": f"{s.t('agency', lang)} · {MATURITY.get(s.maturity, s.maturity)}",
            "category": SECTORS.get(s.sector) and s.sector,
        }
        for s in items
    ]
    return _feed(_("GCC e-services readiness"), _self_url(), alt, entries)
