"""Admin resource specifications: which fields each record type has and who may edit it.

One generic set of admin views (list, create, edit, delete, history, moderation)
is driven by these specs, so access rules live in one place: ``state_scoped``
records are limited to an editor's own state, ``admin_only`` ones to the
secretariat, and ``workflow`` ones go draft → submitted → published/returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, Regexp, ValidationError

from .forms import select_choices
from .inputs import parse_int, strip_bidi
from .models import Achievement, AwardEdition, Practice, Service, Standard, State, TagLabel
from .vocab import ACHIEVEMENT_CATEGORIES, CHANNELS, MATURITY, SECTORS, STANDARD_CATEGORIES, STATE_CODES


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # text, textarea, richtext, int, bool, date, url, select, multi, state, state_nullable, tags
    label: Any
    required: bool = False
    choices: Callable[[], list[tuple[str, str]]] | None = None
    max_length: int = 500


@dataclass(frozen=True)
class Resource:
    slug: str
    model: type[Any]
    label: Any
    fields: tuple[FieldSpec, ...]
    title: Callable[[Any, str], str]
    state_field: str | None = None
    admin_only: bool = False
    workflow: bool = False
    extra: tuple[str, ...] = field(default_factory=tuple)  # special editors: ranks, winners, related

    def is_state_scoped(self) -> bool:
        return self.state_field is not None


def _choices(vocab: dict) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(k, str(v)) for k, v in vocab.items()]


def _states() -> list[tuple[str, str]]:
    return [(c, c) for c in STATE_CODES]


F = FieldSpec
BI_TITLE = (F("title_ar", "text", _l("Title (Arabic)"), True), F("title_en", "text", _l("Title (English)"), True))

RESOURCES: dict[str, Resource] = {
    r.slug: r
    for r in (
        Resource(
            "states",
            State,
            _l("Member states"),
            (
                F("code", "select", _l("Code"), True, choices=_states),
                F("name_ar", "text", _l("Name (Arabic)"), True),
                F("name_en", "text", _l("Name (English)"), True),
                F("programme_ar", "textarea", _l("Programme (Arabic)")),
                F("programme_en", "textarea", _l("Programme (English)")),
                F("agency_ar", "text", _l("E-government agency (Arabic)")),
                F("agency_en", "text", _l("E-government agency (English)")),
                F("agency_url", "url", _l("Agency web site")),
                F("readiness_ar", "textarea", _l("Readiness summary (Arabic)")),
                F("readiness_en", "textarea", _l("Readiness summary (English)")),
                F(
                    "network_status",
                    "select",
                    _l("Network status"),
                    True,
                    choices=lambda: [("trial", "trial"), ("active", "active"), ("suspended", "suspended")],
                ),
                F("sort_order", "int", _l("Order")),
            ),
            title=lambda o, lang: o.t("name", lang),
            admin_only=True,
            extra=("ranks",),
        ),
        Resource(
            "services",
            Service,
            _l("Services"),
            (
                F("state_code", "state", _l("Member state"), True),
                F("agency_ar", "text", _l("Agency (Arabic)"), True),
                F("agency_en", "text", _l("Agency (English)"), True),
                F("sector", "select", _l("Sector"), True, choices=_choices(SECTORS)),
                F("name_ar", "text", _l("Name (Arabic)"), True),
                F("name_en", "text", _l("Name (English)"), True),
                F("maturity", "select", _l("Maturity stage"), True, choices=_choices(MATURITY)),
                F("channels", "multi", _l("Channels"), choices=_choices(CHANNELS)),
                F("e_payment", "bool", _l("E-payment")),
                F("end_to_end", "bool", _l("End-to-end online")),
                F("ministry_priority", "bool", _l("Ministry priority service")),
                F("launch_phase", "int", _l("Launch phase")),
                F("cross_border", "bool", _l("Available across borders")),
                F("evidence_url", "url", _l("Evidence URL")),
                F("as_of", "date", _l("As of")),
                F("source", "text", _l("Source")),
            ),
            title=lambda o, lang: o.t("name", lang),
            state_field="state_code",
        ),
        Resource(
            "achievements",
            Achievement,
            _l("Achievements"),
            (
                F("state_code", "state", _l("Member state"), True),
                F("date", "date", _l("Date"), True),
                F("category", "select", _l("Category"), True, choices=_choices(ACHIEVEMENT_CATEGORIES)),
                *BI_TITLE,
                F("body_ar", "textarea", _l("Text (Arabic)")),
                F("body_en", "textarea", _l("Text (English)")),
                F("source", "text", _l("Source")),
            ),
            title=lambda o, lang: o.t("title", lang),
            state_field="state_code",
            workflow=True,
        ),
        Resource(
            "awards",
            AwardEdition,
            _l("Award editions"),
            (
                F("year", "int", _l("Year"), True),
                F("host_code", "select", _l("Host state"), True, choices=_states),
                F("notes_ar", "textarea", _l("Notes (Arabic)")),
                F("notes_en", "textarea", _l("Notes (English)")),
                F("source", "text", _l("Source")),
            ),
            title=lambda o, lang: str(o.year),
            admin_only=True,
            extra=("winners",),
        ),
        Resource(
            "practices",
            Practice,
            _l("Best practices"),
            (
                F("public_id", "text", _l("Public identifier"), True, max_length=80),
                F("state_code", "state_nullable", _l("Member state"), False),
                F("sector", "select", _l("Sector"), True, choices=_choices(SECTORS)),
                F("year", "int", _l("Year"), True),
                F("tags", "tags", _l("Tags (comma-separated)")),
                *BI_TITLE,
                F("summary_ar", "textarea", _l("Summary (Arabic)"), True),
                F("summary_en", "textarea", _l("Summary (English)"), True),
                F("body_ar", "richtext", _l("Body (Arabic)")),
                F("body_en", "richtext", _l("Body (English)")),
                F("outcomes_ar", "richtext", _l("Outcomes (Arabic)")),
                F("outcomes_en", "richtext", _l("Outcomes (English)")),
                F("source", "text", _l("Source")),
            ),
            title=lambda o, lang: o.t("title", lang),
            state_field="state_code",
            workflow=True,
            extra=("related",),
        ),
        Resource(
            "standards",
            Standard,
            _l("Standards"),
            (
                F("code", "text", _l("Code"), True, max_length=40),
                F("category", "select", _l("Category"), True, choices=_choices(STANDARD_CATEGORIES)),
                F("year", "int", _l("Year"), True),
                *BI_TITLE,
                F("body_ar", "textarea", _l("Text (Arabic)")),
                F("body_en", "textarea", _l("Text (English)")),
            ),
            title=lambda o, lang: o.t("title", lang),
            admin_only=True,
        ),
        Resource(
            "tags",
            TagLabel,
            _l("Tag labels"),
            (
                F("slug", "text", _l("Tag"), True, max_length=60),
                F("label_ar", "text", _l("Label (Arabic)"), True, max_length=120),
                F("label_en", "text", _l("Label (English)"), True, max_length=120),
            ),
            title=lambda o, lang: f"{o.t('label', lang)} ({o.slug})",
            admin_only=True,
        ),
    )
}

_PUBLIC_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"


class AsciiIntegerField(IntegerField):
    """An integer field that reads ASCII digits only (:func:`parse_int`): ``int()`` would take ``٢٠١٦`` or ``2_016``."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        raw = valuelist[0]
        if isinstance(raw, str) and not raw.strip():
            self.data = None  # empty: left to the Optional/DataRequired validators
            return
        self.data = parse_int(raw)
        if self.data is None:
            raise ValueError(self.gettext("Not a valid integer value."))


class _MultiCheckbox(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def build_form(
    resource: Resource, state_choices: list[tuple[str, str]], data: dict[str, Any] | None = None, formdata: Any = None
) -> FlaskForm:
    """A FlaskForm class for ``resource``, instantiated on ``formdata`` (or ``data`` for editing).

    Every free-text field filters its input through :func:`strip_bidi`, so no
    bidi override or isolate control is ever stored from the admin.
    """

    class ResourceForm(FlaskForm):
        pass

    for spec in resource.fields:
        required = [DataRequired()] if spec.required else [Optional()]
        if spec.kind in ("text", "tags"):
            validators = required + [Length(max=spec.max_length)]
            if spec.name == "public_id":
                validators.append(
                    Regexp(_PUBLIC_ID, message=str(_l("Letters, digits, dot, dash and underscore only.")))
                )
            fld = StringField(spec.label, validators=validators, filters=[strip_bidi])
        elif spec.kind in ("textarea", "richtext"):
            render_kw: dict[str, Any] = {"rows": 4}
            if spec.kind == "richtext":  # static/admin.js puts a formatting toolbar over it; it stays the value
                render_kw = {"rows": 8, "data-richtext": "1", "aria-describedby": "hint-" + spec.name}
            fld = TextAreaField(
                spec.label, validators=required + [Length(max=100_000)], filters=[strip_bidi], render_kw=render_kw
            )
        elif spec.kind == "int":
            fld = AsciiIntegerField(spec.label, validators=required + [NumberRange(min=0, max=100_000)])
        elif spec.kind == "bool":
            fld = BooleanField(spec.label)
        elif spec.kind == "date":
            fld = DateField(spec.label, validators=required)
        elif spec.kind == "url":
            fld = StringField(
                spec.label, validators=[Optional(), URL(require_tld=False), Length(max=500)], filters=[strip_bidi]
            )
        elif spec.kind == "select":
            fld = SelectField(
                spec.label, choices=select_choices(spec.choices() if spec.choices else []), validators=required
            )
        elif spec.kind == "multi":
            fld = _MultiCheckbox(spec.label, choices=select_choices(spec.choices() if spec.choices else []))
        elif spec.kind == "state":
            fld = SelectField(spec.label, choices=select_choices(state_choices), validators=[DataRequired()])
        elif spec.kind == "state_nullable":
            fld = SelectField(spec.label, choices=select_choices(state_choices), validators=[Optional()])
        else:  # pragma: no cover - spec typo
            raise ValueError(spec.kind)
        setattr(ResourceForm, spec.name, fld)
    if "ranks" in resource.extra:
        ResourceForm.ranks = TextAreaField(
            _l('UN EGDI ranks, one "year: rank" a line'), validators=[_check_ranks], filters=[strip_bidi]
        )
    if "winners" in resource.extra:
        ResourceForm.winners = TextAreaField(
            _l(
                "Winners, one a line: category (Arabic) | category (English) | winner (Arabic) | winner (English) | state"
            ),
            validators=[_check_winners],
            filters=[strip_bidi],
            render_kw={"rows": 6},
        )
    if "related" in resource.extra:
        ResourceForm.related = StringField(
            _l("Related practices (public identifiers, comma-separated)"),
            validators=[Length(max=2000)],
            filters=[strip_bidi],
        )
    return ResourceForm(formdata=formdata, data=data)


def parse_ranks(text: str) -> list[tuple[int, int]]:
    out = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        year, _, rank = line.partition(":")
        year_no, rank_no = parse_int(year), parse_int(rank)
        if year_no is None or rank_no is None:
            raise ValueError(line)
        out.append((year_no, rank_no))
    return out


def _check_ranks(_form: Any, fld: Any) -> None:
    try:
        parse_ranks(fld.data)
    except ValueError as exc:
        raise ValidationError(str(_l('Not a "year: rank" line: %(line)s', line=str(exc)[:60]))) from exc


def parse_winners(text: str) -> list[dict[str, str | None]]:
    out = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 5 or not all(parts[:4]) or (parts[4] and parts[4] not in STATE_CODES):
            raise ValueError(line)
        out.append(
            {
                "category_ar": parts[0],
                "category_en": parts[1],
                "winner_ar": parts[2],
                "winner_en": parts[3],
                "state_code": parts[4] or None,
            }
        )
    return out


def _check_winners(_form: Any, fld: Any) -> None:
    try:
        parse_winners(fld.data)
    except ValueError as exc:
        raise ValidationError(str(_l("Not a winner line: %(line)s", line=str(exc)[:60]))) from exc


def record_data(obj: Any, resource: Resource) -> dict[str, Any]:
    """The editable values of ``obj`` (for the form and for revision snapshots)."""
    data: dict[str, Any] = {}
    for spec in resource.fields:
        value = getattr(obj, spec.name)
        if spec.kind == "tags":
            value = ", ".join(value or [])
        elif spec.kind == "multi":
            value = [c for c in (value or "").split(",") if c]
        elif spec.kind == "state_nullable":
            value = value or ""
        data[spec.name] = value
    if "ranks" in resource.extra:
        data["ranks"] = "\n".join(f"{r.year}: {r.rank}" for r in obj.ranks)
    if "winners" in resource.extra:
        data["winners"] = "\n".join(
            f"{w.category_ar} | {w.category_en} | {w.winner_ar} | {w.winner_en} | {w.state_code or ''}"
            for w in obj.winners
        )
    if "related" in resource.extra:
        data["related"] = ", ".join(r.public_id for r in obj.related)
    return data


def snapshot(obj: Any, resource: Resource) -> dict[str, Any]:
    """JSON-safe copy of the record for the revision history."""
    data = record_data(obj, resource)
    for key, value in data.items():
        if isinstance(value, date):
            data[key] = value.isoformat()
    if resource.workflow:
        data["status"] = obj.status
    return data


#: What each audit-log action code (and revision comment) reads as, in the page's language.
AUDIT_ACTIONS: dict[str, Any] = {
    "create": _l("Created"),
    "created": _l("Created"),
    "update": _l("Changed"),
    "updated": _l("Changed"),
    "delete": _l("Deleted"),
    "deleted": _l("Deleted"),
    "restore": _l("Restored"),
    "restored": _l("Restored"),
    "submit": _l("Submitted for review"),
    "publish": _l("Published"),
    "return": _l("Returned with comment"),
    "unpublish": _l("Unpublished"),
    "attach": _l("Attachment added"),
    "attachment added": _l("Attachment added"),
    "import_services": _l("Services imported (CSV)"),
    "user_create": _l("Account created"),
    "user_update": _l("Account changed"),
    "login": _l("Logged in"),
    "login_sso": _l("Logged in (single sign-on)"),
    "logout": _l("Logged out"),
    "login_failed": _l("Failed login"),
    "login_blocked": _l("Login refused (too many failures)"),
    "sso_login_refused": _l("Single sign-on refused"),
    "directory_upload": _l("Member directory published"),
}

#: Record kinds in the audit log that are not admin resources.
AUDIT_ENTITIES: dict[str, Any] = {"users": _l("Users"), "directory": _l("Member directory")}

_EXTRA_LABELS: dict[str, Any] = {
    "ranks": _l("UN EGDI ranks"),
    "winners": _l("Winners"),
    "related": _l("Related practices"),
    "status": _l("Status"),
}


def action_label(code: str) -> str:
    """An audit action or revision comment (``"return: why"``) in the page's language; unknown codes as they are."""
    head, sep, rest = (code or "").partition(": ")
    label = AUDIT_ACTIONS.get(head)
    if label is None:
        return code
    return f"{label}{sep}{rest}" if sep else str(label)


def field_labels(resource: Resource) -> dict[str, str]:
    """Field name → label, for the revision history's "changed" lists."""
    labels = {spec.name: str(spec.label) for spec in resource.fields}
    return {**{k: str(v) for k, v in _EXTRA_LABELS.items()}, **labels}


def entity_label(entity: str) -> str:
    resource = RESOURCES.get(entity)
    if resource is not None:
        return str(resource.label)
    label = AUDIT_ENTITIES.get(entity)
    return str(label) if label is not None else entity
