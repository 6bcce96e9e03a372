"""Public pages: home, member states, achievements, award, readiness dashboard, standards, services, my view."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select

from ..charts import network_map, rank_history, stacked_bars
from ..db import get_session
from ..i18n import current_lang, digits
from ..models import Achievement, AwardEdition, Practice, Service, Standard, State
from ..sectors import is_sector, sector_choices, sector_label
from ..sectors import sectors as sector_records
from ..vocab import ACHIEVEMENT_CATEGORIES, MATURITY, MATURITY_ORDER, STANDARD_CATEGORIES, STATE_CODES
from .filters import MYVIEW_COOKIE, Filters, parse_filters, read_myview

bp = Blueprint("public", __name__)


def states_in_order() -> list[State]:
    return list(get_session().scalars(select(State).order_by(State.sort_order, State.code)))


def published_achievements():
    return select(Achievement).where(Achievement.status == "published")


def published_practices():
    return select(Practice).where(Practice.status == "published")


def filtered_practices(f: Filters):
    """Published practices of the filters' state (``REGIONAL``: none), sector and year.

    Tags are a JSON list: callers filter them on the loaded rows with :func:`has_tag`.
    """
    query = published_practices()
    if f.state == "REGIONAL":
        query = query.where(Practice.state_code.is_(None))
    elif f.state:
        query = query.where(Practice.state_code == f.state)
    if f.sector:
        query = query.where(Practice.sector == f.sector)
    if f.year:
        query = query.where(Practice.year == f.year)
    return query


def has_tag(practice: Practice, tag: str | None) -> bool:
    return not tag or tag in (practice.tags or [])


def maturity_stages() -> list[tuple[str, str]]:
    return [(code, str(MATURITY[code])) for code in MATURITY_ORDER]


def traffic_links(network: Any) -> dict[tuple[str, str], int]:
    """Messages each pair of states exchanged over 24 hours (both directions), as their nodes' signed statuses say."""
    from datetime import datetime, timezone

    from ..network_history import history

    codes = [n.cc for n in network.states]
    matrix = history(get_session(), codes, datetime.now(timezone.utc), days=1).matrix
    links: dict[tuple[str, str], int] = {}
    for a in codes:
        for b in codes:
            if a < b:
                links[(a, b)] = max(matrix.get(a, {}).get(b, 0), 0) + max(matrix.get(b, {}).get(a, 0), 0)
    return {pair: n for pair, n in links.items() if n > 0}


@bp.get("/")
def home():
    db = get_session()
    achievements = db.scalars(published_achievements().order_by(Achievement.date.desc()).limit(5)).all()
    practices = db.scalars(
        published_practices().order_by(Practice.published_at.desc(), Practice.id.desc()).limit(5)
    ).all()
    service_counts = Counter(db.scalars(select(Service.state_code)))
    cross_border = Counter(db.scalars(select(Service.state_code).where(Service.cross_border.is_(True))))
    sts = states_in_order()
    network = current_app.extensions["portal_network"].view(sts)
    lang = current_lang()
    names = {st.code: st.t("name", lang) for st in sts}
    map_nodes = [
        (n.cc, names.get(n.cc, n.cc), ("online" if n.online else "offline") if n.online is not None else n.status)
        for n in network.states
    ]
    links = traffic_links(network) if network.directory_version else {}
    network_svg = network_map(
        map_nodes,
        _("The GCC e-government network"),
        _(
            "Each member state's node; lines join the nodes that exchanged messages in the "
            "last 24 hours, thicker for more. A hollow, dashed node is offline or suspended."
        ),
        links=links,
        link_title=_("{a} – {b}: {n} messages in 24 hours"),
    )
    return render_template(
        "home.html",
        states=sts,
        achievements=achievements,
        network=network,
        network_svg=network_svg,
        has_links=bool(links),
        nodes={n.cc: n for n in network.states},
        practices=practices,
        service_counts=service_counts,
        cross_border=cross_border,
    )


@bp.get("/states/")
def states():
    return render_template("states.html", states=states_in_order())


@bp.get("/states/<code>")
def state(code: str):
    db = get_session()
    st = db.get(State, code.upper())
    if st is None:
        abort(404)
    lang = current_lang()
    achievements = db.scalars(
        published_achievements().where(Achievement.state_code == st.code).order_by(Achievement.date.desc())
    ).all()
    practices = db.scalars(
        published_practices().where(Practice.state_code == st.code).order_by(Practice.year.desc())
    ).all()
    services = db.scalars(select(Service).where(Service.state_code == st.code)).all()
    by_stage = Counter(s.maturity for s in services)
    chart = rank_history(
        [(r.year, r.rank) for r in st.ranks],
        _("UN e-government development index rank of %(state)s", state=st.t("name", lang)),
        _("Lower is better; rank 1 is the top of the world ranking."),
        fmt=lambda n: digits(n, st.code),
    )
    return render_template(
        "state.html",
        st=st,
        achievements=achievements,
        practices=practices,
        services=services,
        by_stage=by_stage,
        stages=maturity_stages(),
        chart=chart,
        digits_state=st.code,
    )


@bp.get("/achievements/")
def achievements():
    db = get_session()
    f = parse_filters(request)
    query = published_achievements()
    if f.state:
        query = query.where(Achievement.state_code == f.state)
    if f.category:
        query = query.where(Achievement.category == f.category)
    items = [a for a in db.scalars(query.order_by(Achievement.date.desc())) if not f.year or a.date.year == f.year]
    years = sorted({a.date.year for a in db.scalars(published_achievements())}, reverse=True)
    by_year: dict[int, list[Achievement]] = defaultdict(list)
    for a in items:
        by_year[a.date.year].append(a)
    return render_template(
        "achievements.html",
        filters=f,
        by_year=sorted(by_year.items(), reverse=True),
        total=len(items),
        years=years,
        states=states_in_order(),
        categories=ACHIEVEMENT_CATEGORIES,
    )


@bp.get("/award/")
def award():
    editions = get_session().scalars(select(AwardEdition).order_by(AwardEdition.year.desc())).all()
    return render_template("award.html", editions=editions, states_by_code={s.code: s for s in states_in_order()})


def _readiness_rows(services: Sequence[Service], key: Callable[[Service], str]) -> dict[str, Counter]:
    rows: dict[str, Counter] = defaultdict(Counter)
    for s in services:
        rows[key(s)][s.maturity] += 1
    return rows


@bp.get("/readiness/")
def dashboard():
    db = get_session()
    lang = current_lang()
    services = db.scalars(select(Service)).all()
    sts = states_in_order()
    matrix: dict[tuple[str, str], list[Service]] = defaultdict(list)
    for s in services:
        matrix[(s.state_code, s.sector)].append(s)
    used = {s.sector for s in services}
    sectors = [code for code in sector_records() if code in used] + sorted(used - set(sector_records()))
    rows = _readiness_rows(services, lambda s: s.state_code)
    chart = stacked_bars(
        [(st.t("name", lang), dict(rows.get(st.code, {}))) for st in sts],
        maturity_stages(),
        _("Services by maturity stage in each member state"),
        _("Stacked bars: number of services at each UN maturity stage."),
        rtl=lang == "ar",
        fmt=digits,
    )
    totals = {
        "services": len(services),
        "e_payment": sum(s.e_payment for s in services),
        "end_to_end": sum(s.end_to_end for s in services),
        "cross_border": sum(s.cross_border for s in services),
    }
    return render_template(
        "dashboard.html",
        states=sts,
        sectors=sectors,
        matrix=matrix,
        chart=chart,
        totals=totals,
        stages=maturity_stages(),
    )


def _stage_score(services: list[Service]) -> str | None:
    """The highest maturity stage any service in a matrix cell reaches (the cell shows it and is coloured by it)."""
    if not services:
        return None
    return max(
        services, key=lambda s: MATURITY_ORDER.index(s.maturity) if s.maturity in MATURITY_ORDER else -1
    ).maturity


bp.add_app_template_global(_stage_score, "stage_score")


@bp.get("/readiness/state/<code>")
def dashboard_state(code: str):
    db = get_session()
    st = db.get(State, code.upper())
    if st is None:
        abort(404)
    lang = current_lang()
    services = db.scalars(select(Service).where(Service.state_code == st.code).order_by(Service.sector)).all()
    rows = _readiness_rows(services, lambda s: s.sector)
    chart = stacked_bars(
        [(sector_label(k), dict(v)) for k, v in sorted(rows.items())],
        maturity_stages(),
        _("Services of %(state)s by sector and maturity stage", state=st.t("name", lang)),
        _("Stacked bars: number of services at each UN maturity stage."),
        rtl=lang == "ar",
        fmt=digits,
    )
    return render_template(
        "dashboard_list.html",
        heading=st.t("name", lang),
        services=services,
        chart=chart,
        show_state=False,
        feed_args={"state": st.code},
    )


@bp.get("/readiness/sector/<sector>")
def dashboard_sector(sector: str):
    if not is_sector(sector):
        abort(404)
    db = get_session()
    lang = current_lang()
    services = db.scalars(select(Service).where(Service.sector == sector).order_by(Service.state_code)).all()
    names = {st.code: st.t("name", lang) for st in states_in_order()}
    rows = _readiness_rows(services, lambda s: s.state_code)
    chart = stacked_bars(
        [(names.get(k, k), dict(v)) for k, v in rows.items()],
        maturity_stages(),
        _("Services of the %(sector)s sector by state and maturity stage", sector=sector_label(sector)),
        _("Stacked bars: number of services at each UN maturity stage."),
        rtl=lang == "ar",
        fmt=digits,
    )
    return render_template(
        "dashboard_list.html",
        heading=sector_label(sector),
        services=services,
        chart=chart,
        show_state=True,
        feed_args={"sector": sector},
    )


#: Orders of the service catalogue (``?sort=``): key → columns (state and id break ties, so pages are stable).
SERVICE_SORTS: dict[str, tuple] = {
    "state": (Service.state_code, Service.sector, Service.id),
    "sector": (Service.sector, Service.state_code, Service.id),
    "maturity": (Service.maturity, Service.state_code, Service.id),
    "name": (Service.name_en, Service.id),
}
SERVICES_PER_PAGE = 20


@bp.get("/services/")
def services():
    """The service catalogue: filtered, sorted (``sort``) and paged, so a phone never gets 51 rows at once.

    Maturity sorts from the most mature stage down; names sort by the page's language.
    """
    db = get_session()
    f = parse_filters(request)
    query = select(Service)
    if f.state:
        query = query.where(Service.state_code == f.state)
    if f.sector:
        query = query.where(Service.sector == f.sector)
    maturity = request.args.get("maturity")
    if maturity in MATURITY:
        query = query.where(Service.maturity == maturity)
    requested = request.args.get("sort") or ""
    sort = requested if requested in SERVICE_SORTS else "state"
    items = list(db.scalars(query.order_by(*SERVICE_SORTS[sort])))
    lang = current_lang()
    if sort == "name":
        items.sort(key=lambda s: s.t("name", lang))
    elif sort == "maturity":
        items.sort(key=lambda s: -MATURITY_ORDER.index(s.maturity) if s.maturity in MATURITY_ORDER else 1)
    total = len(items)
    pages = max(1, -(-total // SERVICES_PER_PAGE))
    page = min(f.page, pages)
    shown = items[(page - 1) * SERVICES_PER_PAGE : page * SERVICES_PER_PAGE]
    feed_args = {**f.as_args(), **({"maturity": maturity} if maturity in MATURITY else {})}
    return render_template(
        "services.html",
        services=shown,
        total=total,
        page=page,
        pages=pages,
        sort=sort,
        filters=f,
        states=states_in_order(),
        sectors=sector_choices(),
        maturity=maturity if maturity in MATURITY else None,
        feed_args=feed_args,
    )


@bp.get("/services/<int:service_id>")
def service(service_id: int):
    """One e-service: every field the catalogue has, its source and when it was last updated."""
    svc = get_session().get(Service, service_id)
    if svc is None:
        abort(404)
    return render_template("service.html", s=svc, digits_state=svc.state_code)


@bp.get("/contact")
def contact():
    return render_template("contact.html")


@bp.get("/privacy")
def privacy():
    return render_template("privacy.html")


@bp.get("/accessibility")
def accessibility():
    return render_template("accessibility.html")


@bp.get("/standards/")
def standards():
    items = get_session().scalars(select(Standard).order_by(Standard.category, Standard.code)).all()
    return render_template("standards.html", standards=items, categories=STANDARD_CATEGORIES)


@bp.get("/about-data")
def about_data():
    return render_template("about_data.html")


@bp.route("/my-view", methods=["GET", "POST"])
def my_view():
    """Pinned states and sectors, kept in a cookie (no account).

    What is shown is what concerns any pin: records of a pinned state OR of a
    pinned sector (pinning Kuwait and Health shows every Kuwaiti practice and
    every health practice, not only Kuwaiti health practices).
    """
    from ..forms import ActionForm

    form = ActionForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        pins = {
            "states": [s for s in request.form.getlist("states") if s in STATE_CODES],
            "sectors": [s for s in request.form.getlist("sectors") if is_sector(s)],
        }
        response = make_response(redirect(url_for("public.my_view")))
        response.set_cookie(MYVIEW_COOKIE, json.dumps(pins), max_age=365 * 86400, samesite="Lax", httponly=True)
        return response
    pins = read_myview(request)
    db = get_session()
    achievements: Sequence[Achievement] = []
    practices: Sequence[Practice] = []
    services: Sequence[Service] = []
    if pins["states"] or pins["sectors"]:
        aq = published_achievements()
        pq = published_practices()
        sq = select(Service)
        states, sectors = pins["states"] or ["-"], pins["sectors"] or ["-"]  # "-" matches nothing
        if pins["states"]:
            aq = aq.where(Achievement.state_code.in_(states))
        pq = pq.where(or_(Practice.state_code.in_(states), Practice.sector.in_(sectors)))
        sq = sq.where(or_(Service.state_code.in_(states), Service.sector.in_(sectors)))
        achievements = db.scalars(aq.order_by(Achievement.date.desc()).limit(10)).all()
        practices = db.scalars(pq.order_by(Practice.year.desc()).limit(10)).all()
        services = db.scalars(sq.order_by(Service.state_code).limit(50)).all()
    return render_template(
        "my_view.html",
        form=form,
        pins=pins,
        states=states_in_order(),
        sectors=sector_choices(),
        achievements=achievements,
        practices=practices,
        services=services,
    )
