"""Jinja filters and globals: vocabulary and tag labels, safe HTML, filter choices."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import nh3
from flask import Flask, g
from flask_babel import gettext as _
from markupsafe import Markup

from .inputs import strip_bidi
from .resources import RESOURCES
from .sanitize import clean_html
from .sectors import sector_choices, sector_label
from .tags import tag_label
from .vocab import CHANNELS, MATURITY, MEMBERSHIP_LABELS, ROLE_LABELS, STATUS_LABELS, label


def _no_bidi_controls(value: Any) -> Any:
    """Every value a template prints loses bidi embedding/override/isolate controls (Markup stays Markup).

    Input is stripped already (``inputs.strip_bidi``); this also covers text
    stored before that, or written by a path that forgot, so a right-to-left
    override can never reorder what a reader sees.
    """
    if not isinstance(value, str) or value.isascii():  # bidi controls are never ASCII: most values pass as they are
        return value
    if isinstance(value, Markup):
        return Markup(strip_bidi(str(value)))
    return strip_bidi(value)


def node_attestation(service: Any) -> Any:
    """What the service's node attests about it (see :mod:`knowledge_portal.attestation`), once per request."""
    from .attestation import attest, attested_catalogues
    from .db import get_session

    if "attested_catalogues" not in g:
        g.attested_catalogues = attested_catalogues(get_session())
    return attest(service, g.attested_catalogues)


def init_templating(app: Flask) -> None:
    env = app.jinja_env
    env.finalize = _no_bidi_controls
    env.globals["node_attestation"] = node_attestation
    env.filters.update(
        sector_label=lambda c: sector_label(c),
        maturity_label=lambda c: label(MATURITY, c),
        channel_label=lambda c: label(CHANNELS, c),
        status_label=lambda c: label(STATUS_LABELS, c),
        role_label=lambda c: label(ROLE_LABELS, c),
        network_status_label=lambda c: label(MEMBERSHIP_LABELS, c),
        tag_label=tag_label,
        zip_names=_zip_names,
        zip_self=lambda values: [(v, v) for v in values],
        list_str=lambda items: [(k, str(v)) for k, v in items],
        safe_snippet=lambda s: Markup(nh3.clean(s or "", tags={"mark"}, attributes={})),
        safe_html=lambda s: Markup(clean_html(s)),
    )
    env.globals.update(
        maturity_choices=lambda: [(k, str(v)) for k, v in MATURITY.items()],
        sector_choices=sector_choices,
        state_choices=_state_choices,
        state_label=_state_label,
        facet_title=_facet_title,
        facet_label=_facet_label,
        admin_resources=_admin_resources,
        field_attrs=_field_attrs,
        status_labels=lambda: [(k, str(v)) for k, v in STATUS_LABELS.items()],
    )


def _lang() -> str:
    from .i18n import current_lang

    return current_lang()


def _zip_names(codes: Iterable[str], states: list[Any], lang: str) -> list[tuple[str, str]]:
    names = {s.code: s.t("name", lang) for s in states}
    return [(c, names.get(c, c)) for c in codes]


def _state_choices(states: list[Any]) -> list[tuple[str, str]]:
    lang = _lang()
    return [(s.code, s.t("name", lang)) for s in states] + [("REGIONAL", _("Regional or external experience"))]


def _state_label(states: list[Any], code: str | None) -> str:
    if not code:
        return _("Regional or external experience")
    lang = _lang()
    for s in states:
        if s.code == code:
            return s.t("name", lang)
    return code


def _facet_title(name: str) -> str:
    return {"state": _("Member state"), "sector": _("Sector"), "year": _("Year"), "tag": _("Tag")}.get(name, name)


def _facet_label(name: str, value: str, states: list[Any]) -> str:
    if name == "state":
        return _state_label(states, value if value not in ("", "none", "REGIONAL") else None)
    if name == "sector":
        return sector_label(value)
    if name == "tag":
        return tag_label(value)
    from .i18n import digits

    return digits(value) if name == "year" else str(value)


def _admin_resources() -> list[tuple[str, Any]]:
    user = g.get("user")
    return [(slug, r) for slug, r in RESOURCES.items() if not r.admin_only or (user and user.role == "admin")]


def _field_attrs(field: Any, readonly: bool, **extra: Any) -> dict[str, Any]:
    """HTML attributes of an admin form input: id, error description, text direction."""
    attrs: dict[str, Any] = {"id": "fld-" + field.name, **extra}
    if readonly:
        attrs["readonly"] = True
    if field.errors:
        attrs["aria-describedby"] = "err-" + field.name
        attrs["aria-invalid"] = "true"
    if field.name.endswith("_ar"):
        attrs["dir"] = "rtl"
    elif field.name.endswith("_en"):
        attrs["dir"] = "ltr"
    return attrs
