"""The network page and its open data: what the nodes attest, now and over time.

Everything shown comes from the collector's verified samples (see
:mod:`knowledge_portal.collector`): each state's membership, whether its
node is online, its last verified status, the directory version it runs,
its availability hour by hour, its daily cross-border traffic, and the
state × state matrix of messages over the last 24 hours.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from ..db import get_session
from ..i18n import current_lang
from ..network_history import history
from ..params import days_param
from .public import states_in_order

bp = Blueprint("network", __name__)
api_bp = Blueprint("network_api", __name__)


def _view_and_history(days: int):
    states = states_in_order()
    network = current_app.extensions["portal_network"].view(states)
    codes = [s.cc for s in network.states]
    return states, network, history(get_session(), codes, datetime.now(timezone.utc), days=days)


@bp.get("/network")
def network_page() -> str:
    states, network, hist = _view_and_history(7)
    lang = current_lang()
    names = {st.code: st.t("name", lang) for st in states}
    for n in network.states:
        names.setdefault(n.cc, n.name.get(lang) or n.cc)
    return render_template(
        "network.html", network=network, hist=hist, names=names, codes=[n.cc for n in network.states]
    )


@api_bp.get("/api/v1/network/history")
def network_history() -> Response | tuple[Response, int]:
    """Availability per hour (24 h), daily messages sent (``days``, default 7) and the 24-hour matrix."""
    days = days_param(request.args.get("days"))
    if days is None:
        return jsonify({"error": {"code": "bad_request", "message": "days must be a whole number from 1 to 30"}}), 400
    _states, network, hist = _view_and_history(days)
    return jsonify({"directory_version": network.directory_version, **hist.as_dict()})


@api_bp.get("/api/v1/network/catalogue")
def network_catalogue() -> Response:
    """Per state: the services its node attests (signed catalogue) and how the entered catalogue compares."""
    from sqlalchemy import select

    from ..attestation import attest, attested_catalogues
    from ..models import Service

    db = get_session()
    catalogues = attested_catalogues(db)
    states: dict[str, dict] = {
        cc: {"attested": sorted(items.values(), key=lambda i: i["id"]), "entered": []}
        for cc, items in catalogues.items()
    }
    for svc in db.scalars(select(Service).where(Service.network_service != "").order_by(Service.id)):
        att = attest(svc, catalogues)
        states.setdefault(svc.state_code, {"attested": [], "entered": []})["entered"].append(
            {
                "id": svc.id,
                "name": {"ar": svc.name_ar, "en": svc.name_en},
                "network_service": svc.network_service,
                "maturity": svc.maturity,
                "attested": None if att is None else att.attested,
                "node_stage": att.stage if att else None,
                "differences": list(att.differences) if att else [],
            }
        )
    return jsonify({"states": states})
