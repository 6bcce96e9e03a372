"""Secretariat admin: generic CRUD per resource, moderation workflow, revisions, audit log, CSV import.

Access rules (tested): admins do everything; editors only touch their own
state's records of state-scoped resources (other states' records answer 404,
as if they did not exist) and cannot publish; reviewers moderate submitted
records of any state but do not edit them. An editor's change to published
content (an edit or a new attachment) sends the record back to review, and
only the secretariat deletes a moderated record that is or was published.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth import login_required, revoke_sessions, roles_required
from ..db import get_session
from ..forms import ActionForm, AttachmentForm, CsvImportForm, ModerationForm, UserForm, select_choices
from ..importer import import_services_csv
from ..indexing import get_backend, reindex_tag, sync_practice
from ..inputs import clean_filename, parse_int
from ..models import (
    Attachment,
    AuditEntry,
    AwardWinner,
    EgdiRank,
    Practice,
    Revision,
    SoftDeletable,
    TagLabel,
    User,
    utcnow,
)
from ..resources import (
    AUDIT_ACTIONS,
    RESOURCES,
    Resource,
    action_label,
    build_form,
    entity_label,
    field_labels,
    parse_ranks,
    parse_winners,
    record_data,
    snapshot,
)
from ..sanitize import clean_html
from ..security import audit, hash_password
from ..vocab import STATE_CODES, STATUS_LABELS

bp = Blueprint("admin", __name__, url_prefix="/admin")

ALLOWED_UPLOADS = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
    ".txt": "text/plain",
}


# --- access -----------------------------------------------------------------


def resource_or_404(slug: str) -> Resource:
    resource = RESOURCES.get(slug)
    if resource is None:
        abort(404)
    if resource.admin_only and g.user.role != "admin":
        abort(403)
    return resource


def can_edit(resource: Resource) -> bool:
    """Reviewers moderate but do not edit; editors edit state-scoped resources only."""
    if g.user.role == "admin":
        return True
    return g.user.role == "editor" and resource.is_state_scoped()


def scoped_query(resource: Resource):
    """The records this user may see: an editor sees only their own state's."""
    query: Any = select(resource.model)
    if g.user.role == "editor" and resource.state_field is not None:
        query = query.where(getattr(resource.model, resource.state_field) == g.user.state_code)
    return query


def get_record(resource: Resource, record_id: Any, deleted: bool = False):
    """The record, or 404; a soft-deleted one only when ``deleted`` (history and restore)."""
    obj = get_session().get(resource.model, record_id, execution_options={"include_deleted": True})
    if obj is None or (is_deleted(obj) and not deleted):
        abort(404)
    if (
        g.user.role == "editor"
        and resource.state_field is not None
        and resource.is_state_scoped()
        and getattr(obj, resource.state_field) != g.user.state_code
    ):
        abort(404)  # never reveal another state's records to an editor
    return obj


def is_deleted(obj: Any) -> bool:
    return getattr(obj, "deleted_at", None) is not None


def soft_deletes(resource: Resource) -> bool:
    """Records of this kind are deleted reversibly (member states, which others refer to, are not)."""
    return isinstance(resource.model, type) and issubclass(resource.model, SoftDeletable)


def may_delete(resource: Resource, obj: Any) -> bool:
    """The delete rule (also the restore rule): editors, for their own state, never a once-published record."""
    if not can_edit(resource):
        return False
    return g.user.role == "admin" or not (resource.workflow and has_been_public(obj))


def has_been_public(obj: Any) -> bool:
    """True when a moderated record is published now or was published once (``published_at`` is kept)."""
    return obj.status == "published" or getattr(obj, "published_at", None) is not None


def state_choices() -> list[tuple[str, str]]:
    if g.user.role == "editor":
        return [(g.user.state_code, g.user.state_code)]
    return [("", "—")] + [(c, c) for c in STATE_CODES]


def record_id_of(obj: Any) -> Any:
    return getattr(obj, "code", None) if obj.__class__.__name__ == "State" else obj.id


def _revision(resource: Resource, obj: Any, comment: str = "") -> None:
    get_session().add(
        Revision(
            entity=resource.slug,
            entity_id=str(record_id_of(obj)),
            data=snapshot(obj, resource),
            username=g.user.username,
            comment=comment,
        )
    )


@bp.context_processor
def _admin_helpers() -> dict[str, Any]:
    return {"action_label": action_label}


# --- dashboard and audit ------------------------------------------------------


@bp.get("/")
@login_required
def dashboard():
    db = get_session()
    queue = []
    returned = []  # records a reviewer sent back, with the comment, for the editors who can change them
    counts = {}
    for resource in RESOURCES.values():
        if resource.admin_only and g.user.role != "admin":
            continue
        counts[resource.slug] = db.scalar(select(func.count()).select_from(scoped_query(resource).subquery()))
        if resource.workflow:
            query = scoped_query(resource).where(resource.model.status == "submitted")
            queue += [(resource, obj) for obj in db.scalars(query)]
            if can_edit(resource):
                query = scoped_query(resource).where(resource.model.status == "returned")
                newest_first = resource.model.updated_at.desc()
                returned += [(resource, obj) for obj in db.scalars(query.order_by(newest_first))]
    return render_template(
        "admin/dashboard.html",
        resources=RESOURCES,
        counts=counts,
        queue=queue,
        returned=returned,
        action_form=ActionForm(),
    )


AUDIT_PAGE = 50
AUDIT_ZONE = "Asia/Riyadh"  # the secretariat's zone: times and date filters are read in it


def _parse_day(raw: str | None) -> date | None:
    """A ``YYYY-MM-DD`` day in ASCII digits (the project's digit rule), else ``None``."""
    parts = (raw or "").strip().split("-")
    if len(parts) != 3:
        return None
    numbers = [parse_int(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    try:
        return date(*numbers)  # type: ignore[arg-type]
    except ValueError:
        return None


def _zone_start(day: date) -> datetime:
    """Midnight of ``day`` in the secretariat's zone, as the naive UTC the audit log stores."""
    local = datetime.combine(day, time.min, tzinfo=ZoneInfo(AUDIT_ZONE))
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def entity_url(entity: str, entity_id: str) -> str | None:
    """The admin page of the record an audit entry names, if it has one."""
    if entity in RESOURCES and entity_id:
        if entity != "states" and parse_int(entity_id) is None:
            return None
        return url_for("admin.edit", slug=entity, record_id=entity_id)
    if entity == "users" and parse_int(entity_id) is not None:
        return url_for("admin.user_form", user_id=parse_int(entity_id))
    if entity == "directory":
        return url_for("admin.directory_upload")
    return None


@bp.get("/audit")
@roles_required("admin")
def audit_log():
    """The audit log, newest first, filtered by user, action, record status and a day range (GET parameters)."""
    args = request.args
    page_no = parse_int(args.get("page", "1")) or 1  # a bad page number shows the first page
    db = get_session()
    query = select(AuditEntry)
    filters: dict[str, str] = {}
    user = (args.get("user") or "").strip()[:120]
    if user:
        query = query.where(AuditEntry.username == user)
        filters["user"] = user
    action = args.get("action") or ""
    if action in AUDIT_ACTIONS:
        query = query.where(AuditEntry.action == action)
        filters["action"] = action
    status = args.get("status") or ""
    if status in STATUS_LABELS:
        query = query.where(AuditEntry.details["status"].as_string() == status)
        filters["status"] = status
    invalid = []
    for name in ("from", "to"):
        raw = (args.get(name) or "").strip()
        if not raw:
            continue
        day = _parse_day(raw)
        if day is None:
            invalid.append(name)
            continue
        filters[name] = day.isoformat()
        if name == "from":
            query = query.where(AuditEntry.at >= _zone_start(day))
        else:
            query = query.where(AuditEntry.at < _zone_start(day + timedelta(days=1)))
    entries = db.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page_no - 1) * AUDIT_PAGE).limit(AUDIT_PAGE + 1)
    ).all()
    users = db.scalars(select(AuditEntry.username).distinct().order_by(AuditEntry.username).limit(500)).all()
    actions = sorted(
        ((code, str(label)) for code, label in AUDIT_ACTIONS.items() if code in AUDIT_CODES), key=lambda pair: pair[1]
    )
    rows = [
        (e, action_label(e.action), entity_label(e.entity), entity_url(e.entity, e.entity_id))
        for e in entries[:AUDIT_PAGE]
    ]
    return render_template(
        "admin/audit.html",
        rows=rows,
        page=page_no,
        more=len(entries) > AUDIT_PAGE,
        filters=filters,
        users=users,
        actions=actions,
        invalid=invalid,
        zone=AUDIT_ZONE,
    ), 400 if invalid else 200


#: The action codes the audit log records (revision comments share the vocabulary but are not actions).
AUDIT_CODES = (
    "create",
    "update",
    "delete",
    "restore",
    "submit",
    "publish",
    "return",
    "unpublish",
    "attach",
    "import_services",
    "user_create",
    "user_update",
    "login",
    "login_sso",
    "logout",
    "login_failed",
    "login_blocked",
    "sso_login_refused",
    "directory_upload",
)


# --- generic CRUD ----------------------------------------------------------------


@bp.get("/<slug>/")
@login_required
def list_records(slug: str):
    resource = resource_or_404(slug)
    db = get_session()
    query = scoped_query(resource)
    status = request.args.get("status")
    if status == "deleted" and soft_deletes(resource):
        query = query.where(resource.model.deleted_at.is_not(None)).execution_options(include_deleted=True)
    elif resource.workflow and status in STATUS_LABELS:
        query = query.where(resource.model.status == status)
    items = db.scalars(query).all()
    return render_template(
        "admin/list.html",
        resource=resource,
        items=items,
        can_edit=can_edit(resource),
        status=status,
        soft_deletes=soft_deletes(resource),
        action_form=ActionForm(),
    )


def _apply(resource: Resource, obj: Any, form: Any) -> None:
    """Copy validated form values onto ``obj`` (sanitising rich text)."""
    for spec in resource.fields:
        value = getattr(form, spec.name).data
        if spec.kind == "richtext":
            value = clean_html(value)
        elif spec.kind == "tags":
            value = [t.strip() for t in (value or "").split(",") if t.strip()][:30]
        elif spec.kind == "multi":
            value = ",".join(value or [])
        elif spec.kind in ("state_nullable",):
            value = value or None
        elif spec.kind in ("text", "textarea", "url") and value is None:
            value = ""
        elif spec.kind == "int" and value is None:
            value = 0
        setattr(obj, spec.name, value)
    if g.user.role == "editor" and resource.state_field is not None:
        setattr(obj, resource.state_field, g.user.state_code)  # editors write only for their own state
    db = get_session()
    if "ranks" in resource.extra:
        obj.ranks = [EgdiRank(year=y, rank=r) for y, r in parse_ranks(form.ranks.data)]
    if "winners" in resource.extra:
        obj.winners = [AwardWinner(**w) for w in parse_winners(form.winners.data)]
    if "related" in resource.extra:
        wanted = [x.strip() for x in (form.related.data or "").split(",") if x.strip()]
        obj.related = (
            list(
                db.scalars(select(Practice).where(Practice.public_id.in_(wanted), Practice.public_id != obj.public_id))
            )
            if wanted
            else []
        )


@bp.route("/<slug>/new", methods=["GET", "POST"])
@login_required
def create(slug: str):
    resource = resource_or_404(slug)
    if not can_edit(resource):
        abort(403)
    form = build_form(resource, state_choices(), formdata=request.form if request.method == "POST" else None)
    if form.validate_on_submit():
        db = get_session()
        obj = resource.model()
        if resource.workflow:
            obj.status = "draft"
        if hasattr(resource.model, "is_demo"):
            obj.is_demo = False
        _apply(resource, obj, form)
        db.add(obj)
        try:
            db.flush()
        except IntegrityError:
            db.rollback()
            flash(_("A record with this identifier already exists."), "error")
            return render_template("admin/form.html", resource=resource, form=form, obj=None), 409
        _revision(resource, obj, "created")
        audit(db, g.user.username, "create", resource.slug, record_id_of(obj))
        db.commit()
        if isinstance(obj, TagLabel):
            reindex_tag(db, obj.slug)
        flash(_("Saved."), "ok")
        return redirect(url_for("admin.edit", slug=slug, record_id=record_id_of(obj)))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/form.html", resource=resource, form=form, obj=None), status


@bp.route("/<slug>/<record_id>", methods=["GET", "POST"])
@login_required
def edit(slug: str, record_id: str):
    resource = resource_or_404(slug)
    obj = get_record(resource, _key(resource, record_id), deleted=True)
    if is_deleted(obj):
        flash(_("This record was deleted. It can be restored from its history."), "error")
        return redirect(url_for("admin.history", slug=slug, record_id=record_id))
    editable = can_edit(resource)
    if request.method == "POST":
        if not editable:
            abort(403)
        form = build_form(resource, state_choices(), formdata=request.form)
    else:
        form = build_form(resource, state_choices(), data=record_data(obj, resource))
    if request.method == "POST" and form.validate_on_submit():
        db = get_session()
        was_published = resource.workflow and obj.status == "published"
        _apply(resource, obj, form)
        if resource.workflow and g.user.role == "editor" and was_published:
            obj.status = "submitted"  # an editor's change to published content is reviewed again
        try:
            db.flush()
        except IntegrityError:
            db.rollback()
            flash(_("A record with this identifier already exists."), "error")
            return render_template("admin/form.html", resource=resource, form=form, obj=obj), 409
        _revision(resource, obj, "updated")
        audit(db, g.user.username, "update", resource.slug, record_id_of(obj))
        db.commit()
        if isinstance(obj, Practice):
            sync_practice(obj)
        elif isinstance(obj, TagLabel):
            reindex_tag(db, obj.slug)
        flash(_("Saved."), "ok")
        return redirect(url_for("admin.edit", slug=slug, record_id=record_id_of(obj)))
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/form.html",
        resource=resource,
        form=form,
        obj=obj,
        editable=editable,
        may_delete=editable and may_delete(resource, obj),
        moderation_form=ModerationForm(),
        action_form=ActionForm(),
        attachment_form=AttachmentForm(),
    ), status


def _key(resource: Resource, record_id: str) -> Any:
    if resource.slug == "states":
        return record_id.upper()
    number = parse_int(record_id)
    if number is None or record_id != record_id.strip():
        abort(404)
    return number


@bp.route("/<slug>/<record_id>/delete", methods=["GET", "POST"])
@login_required
def delete(slug: str, record_id: str):
    """GET: a confirmation page; POST (from it): the record leaves the site, restorable from its history."""
    resource = resource_or_404(slug)
    if not can_edit(resource):
        abort(403)
    obj = get_record(resource, _key(resource, record_id))
    if not may_delete(resource, obj):
        abort(403)  # a published (or once published) record leaves the site only by the secretariat's hand
    form = ActionForm()
    if request.method == "GET":
        return render_template(
            "admin/confirm_delete.html",
            resource=resource,
            obj=obj,
            form=form,
            record_id=record_id,
            reversible=soft_deletes(resource),
        )
    if not form.validate_on_submit():
        abort(400)
    db = get_session()
    if soft_deletes(resource):
        obj.deleted_at = utcnow()
        obj.deleted_by = g.user.username
        _revision(resource, obj, "deleted")
        audit(db, g.user.username, "delete", resource.slug, record_id_of(obj))
        db.commit()
        if isinstance(obj, Practice):
            get_backend().remove(obj.public_id)
        elif isinstance(obj, TagLabel):
            reindex_tag(db, obj.slug)
        flash(_("Deleted. The record can be restored from its history."), "ok")
        return redirect(url_for("admin.list_records", slug=slug))
    _revision(resource, obj, "deleted")
    audit(db, g.user.username, "delete", resource.slug, record_id_of(obj))
    db.delete(obj)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        flash(_("This record is still used by other records and cannot be deleted."), "error")
        return redirect(url_for("admin.edit", slug=slug, record_id=record_id))
    flash(_("Deleted."), "ok")
    return redirect(url_for("admin.list_records", slug=slug))


@bp.post("/<slug>/<record_id>/restore")
@login_required
def restore(slug: str, record_id: str):
    """Bring a soft-deleted record back, as it was (same status); allowed to whoever could delete it."""
    resource = resource_or_404(slug)
    if not soft_deletes(resource):
        abort(404)
    if not can_edit(resource):
        abort(403)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    obj = get_record(resource, _key(resource, record_id), deleted=True)
    if not may_delete(resource, obj):
        abort(403)
    if not is_deleted(obj):
        abort(409)
    db = get_session()
    obj.deleted_at = None
    obj.deleted_by = None
    try:
        db.flush()
    except IntegrityError:  # pragma: no cover - unique columns are checked against deleted records too
        db.rollback()
        abort(409)
    _revision(resource, obj, "restored")
    audit(db, g.user.username, "restore", resource.slug, record_id_of(obj))
    db.commit()
    if isinstance(obj, Practice):
        sync_practice(obj)
    elif isinstance(obj, TagLabel):
        reindex_tag(db, obj.slug)
    flash(_("Restored."), "ok")
    return redirect(url_for("admin.edit", slug=slug, record_id=record_id))


@bp.get("/<slug>/<record_id>/history")
@login_required
def history(slug: str, record_id: str):
    resource = resource_or_404(slug)
    obj = get_record(resource, _key(resource, record_id), deleted=True)
    revisions = (
        get_session()
        .scalars(
            select(Revision)
            .where(Revision.entity == slug, Revision.entity_id == str(record_id_of(obj)))
            .order_by(Revision.id.asc())
        )
        .all()
    )
    changes = []  # (revision, fields that differ from the revision before it), newest first
    previous: dict[str, Any] = {}
    for rev in revisions:
        changed = sorted(k for k in set(rev.data) | set(previous) if rev.data.get(k) != previous.get(k))
        changes.append((rev, changed if previous else []))
        previous = rev.data
    return render_template(
        "admin/history.html",
        resource=resource,
        obj=obj,
        changes=list(reversed(changes)),
        deleted=is_deleted(obj),
        may_restore=is_deleted(obj) and may_delete(resource, obj),
        field_labels=field_labels(resource),
        form=ActionForm(),
        record_id=record_id,
    )


# --- moderation ---------------------------------------------------------------------

TRANSITIONS = {
    # action: (allowed roles, from statuses, to status)
    "submit": (("admin", "editor"), ("draft", "returned"), "submitted"),
    "publish": (("admin", "reviewer"), ("submitted", "draft", "returned"), "published"),
    "return": (("admin", "reviewer"), ("submitted",), "returned"),
    "unpublish": (("admin", "reviewer"), ("published",), "draft"),
}


@bp.post("/<slug>/<record_id>/<action>")
@login_required
def moderate(slug: str, record_id: str, action: str):
    resource = resource_or_404(slug)
    if not resource.workflow or action not in TRANSITIONS:
        abort(404)
    roles, sources, target = TRANSITIONS[action]
    if g.user.role not in roles:
        abort(403)
    form = ModerationForm()
    if not form.validate_on_submit():
        abort(400)
    obj = get_record(resource, _key(resource, record_id))
    if action == "publish" and g.user.role == "reviewer" and obj.status != "submitted":
        abort(409)
    if obj.status not in sources:
        abort(409)
    if action == "return" and not (form.comment.data or "").strip():
        flash(_("Please say why the record is returned."), "error")
        return redirect(url_for("admin.edit", slug=slug, record_id=record_id))
    db = get_session()
    previous = obj.status
    obj.status = target
    obj.review_comment = (form.comment.data or "").strip() if action == "return" else ""
    if target == "published" and hasattr(obj, "published_at") and obj.published_at is None:
        obj.published_at = utcnow()
    _revision(resource, obj, action + (": " + obj.review_comment if obj.review_comment else ""))
    audit(db, g.user.username, action, resource.slug, record_id_of(obj), previous=previous, status=target)
    db.commit()
    if isinstance(obj, Practice):
        sync_practice(obj)
    flash(_("Status changed to: %(status)s", status=STATUS_LABELS[target]), "ok")
    return redirect(url_for("admin.edit", slug=slug, record_id=record_id))


# --- attachments ------------------------------------------------------------------------


@bp.post("/practices/<int:record_id>/attachments")
@login_required
def upload_attachment(record_id: int):
    resource = resource_or_404("practices")
    if not can_edit(resource):
        abort(403)
    practice = get_record(resource, record_id)
    form = AttachmentForm()
    if not form.validate_on_submit():
        abort(400)
    upload = form.file.data
    # the shown name keeps Arabic (secure_filename dropped it); the file is stored under a random name
    name = clean_filename(upload.filename) or "file"
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_UPLOADS:
        flash(_("This file type is not accepted."), "error")
        return redirect(url_for("admin.edit", slug="practices", record_id=record_id))
    upload_dir = Path(current_app.config["UPLOAD_DIR"])
    upload_dir.mkdir(parents=True, exist_ok=True)
    stored = secrets.token_hex(16) + suffix
    upload.save(upload_dir / stored)
    db = get_session()
    att = Attachment(
        practice=practice,
        filename=name,
        stored_name=stored,
        content_type=ALLOWED_UPLOADS[suffix],
        size=(upload_dir / stored).stat().st_size,
    )
    db.add(att)
    audit(db, g.user.username, "attach", "practices", record_id, filename=name)
    back_to_review = g.user.role != "admin" and practice.status == "published"
    if back_to_review:
        # like an edit: an editor's file on published content is not public until a reviewer publishes again
        practice.status = "submitted"
        _revision(resource, practice, "attachment added: " + name)
    db.commit()
    if back_to_review:
        sync_practice(practice)
    flash(_("Saved."), "ok")
    return redirect(url_for("admin.edit", slug="practices", record_id=record_id))


# --- CSV import of a state's service catalogue ------------------------------------------


@bp.route("/services/import", methods=["GET", "POST"])
@roles_required("editor")
def import_services():
    form = CsvImportForm()
    report = None
    status = 200
    if request.method == "POST":
        state = g.user.state_code if g.user.role == "editor" else (request.form.get("state") or "").upper()
        if state not in STATE_CODES:
            flash(_("Choose a member state."), "error")
            status = 400
        elif form.validate_on_submit():
            raw = form.file.data.read(2 * 1024 * 1024 + 1)
            db = get_session()
            report = import_services_csv(db, raw, state)
            audit(
                db,
                g.user.username,
                "import_services",
                "services",
                state,
                imported=report.imported,
                updated=report.updated,
                errors=len(report.errors),
            )
            db.commit()
            status = 200 if not report.errors else 422
        else:
            status = 400
    return render_template("admin/import.html", form=form, report=report, states=STATE_CODES), status


# --- users (secretariat only) ----------------------------------------------------------


@bp.get("/users/")
@roles_required("admin")
def users():
    items = get_session().scalars(select(User).order_by(User.username)).all()
    return render_template("admin/users.html", users=items)


@bp.route("/users/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def user_form(user_id: int | None):
    """Create or change an account (role, state, active, password); the generated password is shown once."""
    db = get_session()
    user = db.get(User, user_id) if user_id is not None else None
    if user_id is not None and user is None:
        abort(404)
    form = UserForm(obj=user) if request.method == "GET" and user else UserForm()
    form.state_code.choices = select_choices([("", "—")] + [(c, c) for c in STATE_CODES])
    generated = None
    if form.validate_on_submit():
        clash = db.scalar(select(User).where(User.username == form.username.data.strip()))
        if clash is not None and clash is not user:
            flash(_("A record with this identifier already exists."), "error")
            return render_template("admin/user_form.html", form=form, user=user), 409
        if user is None:
            user = User(username=form.username.data.strip())
            db.add(user)
        user.username = form.username.data.strip()
        user.role = form.role.data
        user.state_code = (form.state_code.data or None) if form.role.data == "editor" else None
        user.email = form.email.data or None
        user.active = form.active.data
        subject = (form.oidc_subject.data or "").strip() or None
        if subject != user.oidc_subject:
            if (
                subject is not None
                and db.scalar(select(User).where(User.oidc_subject == subject, User.id != user.id)) is not None
            ):
                flash(_("A record with this identifier already exists."), "error")
                db.rollback()
                return render_template("admin/user_form.html", form=form, user=user), 409
            user.oidc_subject = subject
            if user_id is not None:
                revoke_sessions(user)  # a changed binding ends sessions opened through the old one
        password = form.password.data
        if not password and not user.password_hash:
            password = generated = secrets.token_urlsafe(18)
        if password:
            user.password_hash = hash_password(password)
            if user_id is not None:
                revoke_sessions(user)  # a new password ends the account's open sessions
        db.flush()
        if user.id == g.user.id:
            session["session_version"] = user.session_version  # changing one's own account keeps this session
        audit(
            db,
            g.user.username,
            "user_create" if user_id is None else "user_update",
            "users",
            user.id,
            role=user.role,
            state=user.state_code,
            active=user.active,
            password_changed=bool(password),
        )
        db.commit()
        if generated:
            flash(_("Generated password, shown only now: %(password)s", password=generated), "ok")
        else:
            flash(_("Saved."), "ok")
        return redirect(url_for("admin.user_form", user_id=user.id))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=user), status
