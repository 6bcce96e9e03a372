"""The operator API: the CLI's operator commands over HTTP, for the state's IT department.

Every route needs a bearer token with the scope ``operator``. Only operator
clients (``gcc-link client create --operator``) hold that scope; agency
clients cannot be given it (``oauth.create_client`` refuses unknown
scopes), so an agency can never requeue, cancel or revoke. The work is
done by ``operations.py``, shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ..protocol.errors import GccLinkError
from .apierrors import ApiError
from .context import NodeContext
from .oauth import require
from .operations import (
    OPERATOR_SCOPE,
    OperationRefusedError,
    cancel_message,
    grant,
    list_clients,
    list_grants,
    list_messages,
    requeue_message,
    revoke_client,
    rotate_key,
    rotate_secret,
    show_message,
)

__all__ = ["OPERATOR_SCOPE", "allow_operator_scope", "bp", "openapi_paths"]

bp = Blueprint("operator", __name__, url_prefix="/operator/v1")


def allow_operator_scope(server: Any) -> None:
    """Let operator clients ask for ``operator`` by name at the token endpoint.

    Only the token endpoint's list of supported scopes changes: which
    scopes a client gets is still its row's (``Client.get_allowed_scope``),
    and no agency client row can hold ``operator``.
    """
    from .config import SCOPES

    supported = list(server.scopes_supported or SCOPES)
    if OPERATOR_SCOPE not in supported:
        server.scopes_supported = [*supported, OPERATOR_SCOPE]


def ctx() -> NodeContext:
    return current_app.extensions["gcc_link"]


def _body(allowed: set[str]) -> dict[str, Any]:
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or set(data) - allowed:
        raise ApiError(400, "invalid_request", f"the body must be a JSON object with only {sorted(allowed)}")
    return data


def _run(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call an operation; its refusals become 4xx (409 for a record in the wrong state)."""
    try:
        return fn(*args, **kwargs)
    except OperationRefusedError as exc:
        raise ApiError(409, exc.code, exc.message) from None
    except GccLinkError as exc:
        raise ApiError(404 if exc.code == "not_found" else 400, exc.code, exc.message) from None


@bp.get("/messages")
@require(OPERATOR_SCOPE)
def messages() -> Response:
    """List messages: ``direction`` (sent|received), ``status``, ``peer``, ``agency``, ``since``, ``until``, ``limit``."""
    args = request.args
    extra = set(args) - {"direction", "status", "peer", "agency", "since", "until", "limit"}
    if extra:
        raise ApiError(400, "invalid_request", f"unknown parameter(s) {sorted(extra)}")
    limit_text = args.get("limit", "100")
    if not limit_text.isdigit():
        raise ApiError(400, "invalid_request", "limit must be a positive integer")
    items = _run(
        list_messages,
        ctx().db,
        direction=args.get("direction", "sent"),
        status=args.get("status"),
        peer=args.get("peer"),
        agency=args.get("agency"),
        since=args.get("since"),
        until=args.get("until"),
        limit=int(limit_text),
    )
    return jsonify({"items": items})


@bp.get("/messages/<message_id>")
@require(OPERATOR_SCOPE)
def message(message_id: str) -> Response:
    return jsonify(_run(show_message, ctx().db, message_id[:64]))


@bp.post("/messages/<message_id>/requeue")
@require(OPERATOR_SCOPE)
def requeue(message_id: str) -> Response:
    """Re-sign (same id) and queue a failed or dead message; optional ``{"ttl_seconds"}``."""
    c = ctx()
    data = _body({"ttl_seconds"})
    return jsonify(_run(requeue_message, c.db, c.identity, message_id[:64], c.now(), data.get("ttl_seconds", 86_400)))


@bp.post("/messages/<message_id>/cancel")
@require(OPERATOR_SCOPE)
def cancel(message_id: str) -> Response:
    c = ctx()
    return jsonify(_run(cancel_message, c.db, message_id[:64], c.now()))


@bp.get("/clients")
@require(OPERATOR_SCOPE)
def clients() -> Response:
    return jsonify({"clients": list_clients(ctx().db)})


@bp.post("/clients/<client_id>/revoke")
@require(OPERATOR_SCOPE)
def revoke(client_id: str) -> Response:
    return jsonify(_run(revoke_client, ctx().db, client_id[:64]))


@bp.post("/clients/<client_id>/rotate-secret")
@require(OPERATOR_SCOPE)
def new_secret(client_id: str) -> Response:
    return jsonify(_run(rotate_secret, ctx().db, client_id[:64]))


@bp.post("/clients/<client_id>/rotate-key")
@require(OPERATOR_SCOPE)
def new_key(client_id: str) -> Response:
    data = _body({"public_key_pem"})
    pem = data.get("public_key_pem")
    if not isinstance(pem, str):
        raise ApiError(400, "invalid_request", "public_key_pem (a PEM string) is required")
    return jsonify(_run(rotate_key, ctx().db, client_id[:64], pem))


@bp.get("/grants")
@require(OPERATOR_SCOPE)
def grants() -> Response:
    return jsonify({"services": _run(list_grants, ctx().db, request.args.get("service"))})


@bp.post("/grants")
@require(OPERATOR_SCOPE)
def set_grant() -> Response:
    """``{"service", "grantee", "granted": true|false}``: allow or withdraw one agency's use of a service."""
    data = _body({"service", "grantee", "granted"})
    service, grantee, granted = data.get("service"), data.get("grantee"), data.get("granted", True)
    if not isinstance(service, str) or not isinstance(grantee, str) or not isinstance(granted, bool):
        raise ApiError(400, "invalid_request", "service and grantee are strings, granted a boolean")
    return jsonify(_run(grant, ctx().db, service, grantee, allow=granted))


def openapi_paths() -> dict[str, Any]:
    """The operator and gap routes for the node's OpenAPI document (``openapi.py`` merges them in)."""
    err = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

    def op(
        summary: str,
        *,
        params: Sequence[str] = (),
        query: Sequence[str] = (),
        body: dict[str, Any] | None = None,
        codes: tuple[int, ...] = (400, 401, 403),
    ) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "summary": summary,
            "security": [{"oauth2": [OPERATOR_SCOPE]}],
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
                **{str(c): err for c in codes},
            },
            "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params]
            + [{"name": q, "in": "query", "schema": {"type": "string"}} for q in query],
        }
        if body is not None:
            spec["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
        return spec

    msg, client = ["message_id"], ["client_id"]
    return {
        "/operator/v1/messages": {
            "get": op(
                "List messages by direction, status, peer, agency and time",
                query=["direction", "status", "peer", "agency", "since", "until", "limit"],
            )
        },
        "/operator/v1/messages/{message_id}": {
            "get": op("One message with its log entries", params=msg, codes=(401, 403, 404))
        },
        "/operator/v1/messages/{message_id}/requeue": {
            "post": op(
                "Re-sign (same id) and queue a failed or dead message",
                params=msg,
                codes=(400, 401, 403, 404, 409),
                body={"type": "object", "properties": {"ttl_seconds": {"type": "integer", "minimum": 1}}},
            )
        },
        "/operator/v1/messages/{message_id}/cancel": {
            "post": op("Cancel a queued message", params=msg, codes=(401, 403, 404, 409))
        },
        "/operator/v1/clients": {"get": op("Agency and operator clients (never secrets)")},
        "/operator/v1/clients/{client_id}/revoke": {
            "post": op("Revoke a client; its live tokens end now", params=client, codes=(401, 403, 404, 409))
        },
        "/operator/v1/clients/{client_id}/rotate-secret": {
            "post": op("New client secret (returned once)", params=client, codes=(401, 403, 404, 409))
        },
        "/operator/v1/clients/{client_id}/rotate-key": {
            "post": op(
                "New private_key_jwt public key",
                params=client,
                codes=(400, 401, 403, 404, 409),
                body={
                    "type": "object",
                    "required": ["public_key_pem"],
                    "properties": {"public_key_pem": {"type": "string"}},
                },
            )
        },
        "/operator/v1/grants": {
            "get": op("Services and their grantees", query=["service"], codes=(401, 403, 404)),
            "post": op(
                "Grant or withdraw a service to an agency",
                codes=(400, 401, 403, 404),
                body={
                    "type": "object",
                    "required": ["service", "grantee"],
                    "properties": {
                        "service": {"type": "string"},
                        "grantee": {"type": "string"},
                        "granted": {"type": "boolean"},
                    },
                },
            ),
        },
        "/peer/v1/gap": {
            "post": {
                "summary": "Signed gap query (gcc-link-gap+jws) in; receipts for the asker's messages since then out",
                "requestBody": {"required": True, "content": {"application/jose": {"schema": {"type": "string"}}}},
                "responses": {
                    "200": {
                        "description": "receipts",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "node": {"type": "string"},
                                        "receipts": {"type": "array", "items": {"type": "string"}},
                                        "truncated": {"type": "boolean"},
                                    },
                                }
                            }
                        },
                    },
                    "400": err,
                    "403": err,
                },
            }
        },
    }
