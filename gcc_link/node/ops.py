"""Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify

from .context import NodeContext
from .db import describe_db_error
from .metrics import render
from .openapi import openapi_document

bp = Blueprint("ops", __name__)
log = logging.getLogger("gcc_link.node.ops")


def ctx() -> NodeContext:
    return current_app.extensions["gcc_link"]


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers (no dependencies checked)."""
    return jsonify({"status": "ok", "node": ctx().state})


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: key loaded, database reachable, directory valid and not expired."""
    c = ctx()
    checks: dict[str, str] = {}
    checks["key"] = "ok" if c.identity.private_key is not None else "missing"
    try:
        c.db.probe_write()  # a store that answers reads but takes no writes cannot accept messages
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise
        log.error("readiness: the store cannot take writes: %s", describe_db_error(exc))
        checks["database"] = f"error: {type(exc).__name__}"
    directory = c.directory()
    checks["directory"] = "expired" if directory.is_expired(c.now()) else "ok"
    ready = all(v == "ok" for v in checks.values())
    body = {"ready": ready, "checks": checks, "directory_version": directory.version}
    return jsonify(body), 200 if ready else 503


@bp.get("/metrics")
def metrics() -> Response:
    return Response(render(ctx()), mimetype="text/plain; version=0.0.4")


@bp.get("/openapi.json")
def openapi() -> Response:
    config = ctx().config
    return jsonify(openapi_document(config.public_url, config.max_batch_messages))
