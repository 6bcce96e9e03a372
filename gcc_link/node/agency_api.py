"""The agency API: send messages, read status, pull and ack the inbox, call services, manage services.

Every route needs a bearer token from ``/oauth/token`` with the right scope;
the token's client is bound to one agency, which is the only sender it may
use and the only inbox it may read.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import delete, select

from ..protocol.errors import GccLinkError
from ..protocol.identifiers import SERVICE_CODE_PATTERN, AgencyId, ServiceId
from . import calls, inbox, sending
from .apierrors import ApiError
from .context import NodeContext
from .models import Grant, Service
from .oauth import require

bp = Blueprint("agency", __name__, url_prefix="/api/v1")


def ctx() -> NodeContext:
    return current_app.extensions["gcc_link"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_body(limit: int) -> Any:
    """The request's JSON value: 413 ``too_large``, 400 ``invalid_json``."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"the request body is larger than {limit} bytes")
    data = request.get_data()
    if len(data) > limit:
        raise ApiError(413, "too_large", f"the request body is larger than {limit} bytes")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None


@bp.post("/messages")
@require("messages:send")
def send() -> tuple[Response, int]:
    c = ctx()
    message = sending.queue(c, g.caller.agency, json_body(c.config.max_body_bytes))
    return jsonify({"id": message.id, "status": "queued", "conversation_id": message.conversation_id}), 202


@bp.post("/messages:batch")
@require("messages:send")
def send_batch() -> tuple[Response, int]:
    """Queue up to ``node.max_batch_messages`` send requests with one durable commit; per-item outcomes."""
    c = ctx()
    items = sending.parse_batch_request(json_body(c.config.max_body_bytes), c.config.max_batch_messages)
    results = sending.queue_batch(c, g.caller.agency, items)
    answers: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        if isinstance(result, ApiError):
            answers.append({"index": index, "status": "rejected", "error": result.to_dict()["error"]})
        else:
            answers.append(
                {"index": index, "id": result.id, "status": "queued", "conversation_id": result.conversation_id}
            )
    queued = sum(1 for a in answers if a["status"] == "queued")
    return jsonify({"items": answers, "queued": queued, "rejected": len(answers) - queued}), 202


@bp.get("/messages/<message_id>")
@require("messages:send")
def message_status(message_id: str) -> Response:
    return jsonify(sending.outbox_status(ctx(), g.caller.agency, message_id))


@bp.get("/inbox")
@require("messages:read")
def get_inbox() -> Response:
    return jsonify(inbox.page(ctx(), g.caller.agency, request.args.get("after"), request.args.get("limit")))


@bp.post("/inbox/<message_id>/ack")
@require("messages:read")
def ack(message_id: str) -> Response:
    return jsonify(inbox.ack(ctx(), g.caller.agency, message_id))


@bp.post("/calls/<cc>/<agency>/<code>")
@require("calls")
def call(cc: str, agency: str, code: str) -> Response:
    c = ctx()
    body = json_body(c.config.max_body_bytes)
    return jsonify(calls.call(c, g.caller.agency, f"{cc}/{agency}/{code}", body))


def _service_dict(s, svc: Service) -> dict[str, Any]:
    grants = sorted(s.execute(select(Grant.grantee).where(Grant.service == svc.id)).scalars())
    return {"id": svc.id, "description": svc.description, "backend_url": svc.backend_url, "grants": grants}


@bp.get("/services")
@require("services:admin")
def list_services() -> Response:
    with ctx().db.read() as s:
        rows = s.execute(select(Service).where(Service.agency == g.caller.agency).order_by(Service.id)).scalars()
        return jsonify({"services": [_service_dict(s, r) for r in rows]})


def backend_allowed(url: str, allowlist: tuple[str, ...]) -> bool:
    """Whether ``url`` lies under one of the operator's allowed prefixes (same scheme and host:port, path below).

    Agencies cannot aim the node at arbitrary addresses (server-side request forgery); the operator
    lists where backends live. Services configured in node.toml are the operator's own and not checked.
    """
    target = urlsplit(url)
    if target.username or target.password:
        return False
    for prefix in allowlist:
        allowed = urlsplit(prefix)
        if (target.scheme, target.netloc.lower()) == (
            allowed.scheme,
            allowed.netloc.lower(),
        ) and target.path.startswith(allowed.path or "/"):
            return True
    return False


@bp.put("/services/<code>")
@require("services:admin")
def put_service(code: str) -> Response:
    """Create or replace one of the caller agency's services and its grants."""
    c = ctx()
    try:
        sid = ServiceId.parse(f"{g.caller.agency}/{code}")
    except GccLinkError:
        raise ApiError(400, "invalid_request", f"a service code matches {SERVICE_CODE_PATTERN}") from None
    data = json_body(64 * 1024)
    if not isinstance(data, dict) or set(data) - {"description", "backend_url", "grants"}:
        raise ApiError(400, "invalid_request", "fields: description, backend_url, grants")
    description, backend, grants = data.get("description", ""), data.get("backend_url"), data.get("grants", [])
    if not isinstance(description, str) or (backend is not None and not isinstance(backend, str)):
        raise ApiError(400, "invalid_request", "description and backend_url are strings")
    if backend is not None and not backend.startswith(("http://", "https://")):
        raise ApiError(400, "invalid_request", "backend_url must be an http(s) URL")
    if backend is not None and not backend_allowed(backend, c.config.backend_allowlist):
        raise ApiError(
            403,
            "backend_not_allowed",
            "this node's operator has not allowed that backend address (node.backend_allowlist)",
        )
    if not isinstance(grants, list):
        raise ApiError(400, "invalid_request", "grants is a list of agency addresses")
    for grantee in grants:
        try:
            AgencyId.parse(grantee)
        except GccLinkError:
            raise ApiError(400, "invalid_request", f"not an agency address: {grantee!r}") from None

    def work(s) -> dict[str, Any]:
        svc = s.get(Service, str(sid))
        if svc is None:
            svc = Service(id=str(sid), agency=g.caller.agency)
            s.add(svc)
        svc.description, svc.backend_url = description, backend
        s.execute(delete(Grant).where(Grant.service == str(sid)))
        for grantee in sorted(set(grants)):
            s.add(Grant(service=str(sid), grantee=grantee))
        s.flush()
        return _service_dict(s, svc)

    return jsonify(c.db.retrying(work))
