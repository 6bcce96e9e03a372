"""The member directory hosted by the portal: files for nodes, a public page, the secretariat's upload.

``/directory.jws`` and ``/directory.vN.jws`` are what nodes refresh from
(``node.directory = "https://portal…/directory.jws"``): the exact signed
bytes, never re-serialised. The public page lists every version with its
members and signers; only the secretariat uploads (see
:mod:`knowledge_portal.hosted_directory` for the rules an upload must pass).
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth import roles_required
from ..db import get_session
from ..forms import DirectoryUploadForm
from ..hosted_directory import UploadRefused, describe, latest, seed, upload
from ..models import DirectoryVersion
from ..security import audit
from .admin import bp as admin_bp

bp = Blueprint("directory", __name__)
files_bp = Blueprint("directory_files", __name__)
MEDIA_TYPE = "application/jose+json"  # JWS JSON serialization (RFC 7515 §7.2)


def _seeded():
    """The session, with the configured directory hosted as version 1 when nothing was uploaded yet."""
    db = get_session()
    seed(db, _config(), datetime.now(timezone.utc))
    return db


def _versions() -> list:
    _seeded()
    rows = get_session().scalars(select(DirectoryVersion).order_by(DirectoryVersion.version.desc())).all()
    return [describe(r) for r in rows]


def _file(row: DirectoryVersion | None) -> Response:
    if row is None:
        response = jsonify({"error": {"code": "not_found", "message": "the portal hosts no such directory version"}})
        response.status_code = 404
        return response
    response = Response(row.raw, mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-cache"  # nodes must see a new version at their next refresh
    return response


@files_bp.get("/directory.jws")
def latest_file() -> Response:
    """The newest accepted version, byte for byte as signed."""
    return _file(latest(_seeded()))


@files_bp.get("/directory.v<int:version>.jws")
def version_file(version: int) -> Response:
    """One version, for nodes walking the chain across key rotations."""
    return _file(_seeded().get(DirectoryVersion, version))


@files_bp.get("/api/v1/network/directory")
def versions_api() -> Response:
    """Every hosted version: when issued, until when, members and statuses, who signed."""
    return jsonify(
        {
            "versions": [
                {
                    "version": v.version,
                    "issued_at": v.issued_at.isoformat(),
                    "expires_at": v.expires_at.isoformat(),
                    "uploaded_at": v.uploaded_at.isoformat(),
                    "threshold": v.threshold,
                    "signers": v.signers,
                    "members": v.members,
                    "url": url_for("directory_files.version_file", version=v.version),
                }
                for v in _versions()
            ]
        }
    )


@bp.get("/directory")
def versions_page() -> str:
    return render_template("directory.html", versions=_versions())


@admin_bp.route("/directory/", methods=["GET", "POST"])
@roles_required("admin")
def directory_upload():
    """The secretariat uploads a version signed offline; the portal checks it as a node would."""
    form = DirectoryUploadForm()
    status = 200
    if form.validate_on_submit():
        data = form.file.data.read(4 * 1024 * 1024 + 1)
        db = get_session()
        try:
            added = upload(db, _config(), data, datetime.now(timezone.utc), g.user.username)
        except UploadRefused as exc:
            db.rollback()
            flash(_("The directory was not accepted: %(reason)s", reason=exc.message), "error")
            status = 422
        else:
            audit(db, g.user.username, "directory_upload", "directory", added[-1])
            db.commit()
            flash(_("Directory version %(version)s is published.", version=added[-1]), "success")
            return redirect(url_for("admin.directory_upload"))
    elif request.method == "POST":
        status = 400
    return render_template("admin/directory.html", form=form, versions=_versions()), status


def _config() -> dict:
    return {
        "DIRECTORY_FILE": current_app.config.get("DIRECTORY_FILE"),
        "ROOT_CERT": current_app.config.get("ROOT_CERT"),
    }
