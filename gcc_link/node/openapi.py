"""The OpenAPI 3.1 document of the node's HTTP API (peer, agency, OAuth, operations)."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..protocol.identifiers import AGENCY_NAME_PATTERN, AGENCY_PATTERN, SERVICE_CODE_PATTERN, STATE_PATTERN

_ERR = {"$ref": "#/components/schemas/Error"}
_JOSE = {"application/jose": {"schema": {"type": "string", "description": "compact JWS"}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", "content": _json(_ERR)} for c in codes}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    scope: str | None = None,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if scope:
        op["security"] = [{"oauth2": [scope]}]
    if body:
        op["requestBody"] = {"required": True, "content": body}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = f"^{pattern}$"
    return {"name": name, "in": "path", "required": True, "schema": schema}


def openapi_document(server_url: str = "", max_batch_messages: int = 500) -> dict[str, Any]:
    """Build the document; ``server_url`` is the node's public URL, ``max_batch_messages`` its batch cap."""
    uuid = {"type": "string", "format": "uuid"}
    send_req = {
        "type": "object",
        "required": ["recipient", "body"],
        "additionalProperties": False,
        "properties": {
            "recipient": {"type": "string", "pattern": f"^{AGENCY_PATTERN}$"},
            "body": {"description": "any JSON value"},
            "service": {"type": ["string", "null"]},
            "conversation_id": {**uuid, "type": ["string", "null"]},
            "in_reply_to": {**uuid, "type": ["string", "null"]},
            "ttl_seconds": {"type": "integer", "minimum": 1, "maximum": 2592000},
            "content_type": {"type": "string"},
            "sender": {"type": "string", "description": "optional; must be the client's own agency"},
        },
    }
    batch_req = {
        "type": "object",
        "required": ["messages"],
        "additionalProperties": False,
        "properties": {
            "messages": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_batch_messages,
                "items": send_req,
                "description": "send requests, each exactly what POST /api/v1/messages takes; an invalid item "
                "is refused on its own (its error in the answer), the others are queued",
            }
        },
    }
    batch_item = {
        "oneOf": [
            {
                "type": "object",
                "required": ["index", "id", "status", "conversation_id"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "id": uuid,
                    "status": {"const": "queued"},
                    "conversation_id": uuid,
                },
            },
            {
                "type": "object",
                "required": ["index", "status", "error"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "status": {"const": "rejected"},
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        "description": "the error a single send of this item gets",
                    },
                },
            },
        ]
    }
    status = {
        "type": "object",
        "required": ["id", "status", "attempts", "last_error", "receipt"],
        "properties": {
            "id": uuid,
            "status": {"enum": ["queued", "delivered", "failed", "dead"]},
            "attempts": {"type": "integer"},
            "last_error": {"type": ["string", "null"]},
            "recipient": {"type": "string"},
            "receipt": {"type": ["string", "null"]},
        },
    }
    inbox_item = {
        "type": "object",
        "properties": {
            "id": uuid,
            "sender": {"type": "string"},
            "recipient": {"type": "string"},
            "service": {"type": ["string", "null"]},
            "conversation_id": uuid,
            "in_reply_to": {"type": ["string", "null"]},
            "content_type": {"type": "string"},
            "body": {},
            "received_at": {"type": "string"},
            "jws": {"type": "string"},
            "receipt": {"type": "string"},
        },
    }
    service = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "description": {"type": "string"},
            "backend_url": {"type": ["string", "null"]},
            "grants": {"type": "array", "items": {"type": "string"}},
        },
    }
    ok = lambda desc, schema: {"description": desc, "content": _json(schema)}  # noqa: E731
    paths: dict[str, Any] = {
        "/oauth/token": {
            "post": {
                "summary": "OAuth 2.0 token (client_credentials; client_secret_basic or private_key_jwt)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type"],
                                "properties": {
                                    "grant_type": {"const": "client_credentials"},
                                    "scope": {"type": "string"},
                                    "client_assertion_type": {"type": "string"},
                                    "client_assertion": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": ok(
                        "access token",
                        {
                            "type": "object",
                            "properties": {
                                "access_token": {"type": "string"},
                                "token_type": {"type": "string"},
                                "expires_in": {"type": "integer"},
                                "scope": {"type": "string"},
                            },
                        },
                    ),
                    "400": {"description": "RFC 6749 error"},
                    "401": {"description": "RFC 6749 invalid_client"},
                    "429": {"description": "too many failed attempts for this client id or address (rate_limited)"},
                },
            }
        },
        "/api/v1/messages": {
            "post": _op(
                "Send a message (committed to the outbox before 202)",
                {
                    "202": ok(
                        "queued",
                        {
                            "type": "object",
                            "properties": {"id": uuid, "status": {"const": "queued"}, "conversation_id": uuid},
                        },
                    ),
                    **_errors(400, 401, 403, 404, 413, 422),
                },
                scope="messages:send",
                body=_json(send_req),
            )
        },
        "/api/v1/messages:batch": {
            "post": _op(
                "Send several messages: each item checked and signed as a single send, all valid items "
                "committed to the outbox in one transaction before 202; a retried batch queues new messages",
                {
                    "202": ok(
                        "per-item outcomes, in request order",
                        {
                            "type": "object",
                            "required": ["items", "queued", "rejected"],
                            "properties": {
                                "items": {"type": "array", "items": batch_item},
                                "queued": {"type": "integer", "minimum": 0},
                                "rejected": {"type": "integer", "minimum": 0},
                            },
                        },
                    ),
                    **_errors(400, 401, 403, 413),
                },
                scope="messages:send",
                body=_json(batch_req),
            )
        },
        "/api/v1/messages/{id}": {
            "get": _op(
                "Status of a sent message",
                {"200": ok("status", status), **_errors(401, 403, 404)},
                scope="messages:send",
                params=[_path_param("id")],
            )
        },
        "/api/v1/inbox": {
            "get": _op(
                "Pull the inbox after a cursor",
                {
                    "200": ok(
                        "page",
                        {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": inbox_item}, "next": {"type": "string"}},
                        },
                    ),
                    **_errors(400, 401, 403),
                },
                scope="messages:read",
                params=[
                    {"name": "after", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                ],
            )
        },
        "/api/v1/inbox/{id}/ack": {
            "post": _op(
                "Acknowledge an inbox message",
                {"200": ok("acked", {"type": "object"}), **_errors(401, 403, 404)},
                scope="messages:read",
                params=[_path_param("id")],
            )
        },
        "/api/v1/calls/{cc}/{agency}/{code}": {
            "post": _op(
                "Synchronous call of a peer agency's service",
                {
                    "200": ok(
                        "signed response",
                        {
                            "type": "object",
                            "properties": {
                                "id": uuid,
                                "in_reply_to": uuid,
                                "request_sha256": {"type": "string"},
                                "sender": {"type": "string"},
                                "body": {},
                                "jws": {"type": "string"},
                                "request_jws": {"type": "string"},
                            },
                        },
                    ),
                    **_errors(400, 401, 403, 404, 413, 422, 502, 504),
                },
                scope="calls",
                body=_json({}),
                params=[
                    _path_param("cc", STATE_PATTERN),
                    _path_param("agency", AGENCY_NAME_PATTERN),
                    _path_param("code", SERVICE_CODE_PATTERN),
                ],
            )
        },
        "/api/v1/services": {
            "get": _op(
                "The caller agency's services and grants",
                {
                    "200": ok(
                        "services", {"type": "object", "properties": {"services": {"type": "array", "items": service}}}
                    ),
                    **_errors(401, 403),
                },
                scope="services:admin",
            )
        },
        "/api/v1/services/{code}": {
            "put": _op(
                "Create or replace a service and its grants",
                {"200": ok("service", service), **_errors(400, 401, 403)},
                scope="services:admin",
                params=[_path_param("code", SERVICE_CODE_PATTERN)],
                body=_json(
                    {
                        "type": "object",
                        "properties": {
                            "description": {"type": "string"},
                            "backend_url": {"type": "string"},
                            "grants": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                ),
            )
        },
        "/peer/v1/messages": {
            "post": {
                "summary": "Deliver one message (mTLS)",
                "requestBody": {"required": True, "content": _JOSE},
                "responses": {
                    "202": {"description": "accepted receipt", "content": _JOSE},
                    "400": {"description": "rejected receipt", "content": _JOSE},
                    "403": {"description": "rejected receipt", "content": _JOSE},
                    "409": {
                        "description": "rejected receipt (id_conflict: the id was used by another sender)",
                        "content": _JOSE,
                    },
                    "413": {"description": "rejected receipt (too large)", "content": _JOSE},
                    **_errors(429, 503),
                },
            }
        },
        "/peer/v1/messages:batch": {
            "post": {
                "summary": "Deliver several messages (mTLS)",
                "requestBody": {"required": True, "content": _json({"type": "array", "items": {"type": "string"}})},
                "responses": {
                    "200": ok("receipts, in order", {"type": "array", "items": {"type": "string"}}),
                    **_errors(400, 401, 403, 413, 429, 503),
                },
            }
        },
        "/peer/v1/calls": {
            "post": {
                "summary": "Service call: request message in, signed response out",
                "requestBody": {"required": True, "content": _JOSE},
                "responses": {
                    "200": {"description": "response message", "content": _JOSE},
                    "400": {"description": "rejected receipt", "content": _JOSE},
                    "403": {"description": "rejected receipt", "content": _JOSE},
                    "409": {"description": "rejected receipt (id_conflict)", "content": _JOSE},
                    **_errors(413, 429, 502, 503, 504),
                },
            }
        },
        "/peer/v1/status": {
            "get": {
                "summary": "Signed node status (gcc-link-status+jws)",
                "responses": {"200": {"description": "status JWS", "content": _JOSE}},
            }
        },
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": ok("ok", {"type": "object"})}}},
        "/readyz": {
            "get": {
                "summary": "Readiness (key, database, directory)",
                "responses": {"200": ok("ready", {"type": "object"}), "503": ok("not ready", {"type": "object"})},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {"description": "text", "content": {"text/plain": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/openapi.json": {"get": {"summary": "This document", "responses": {"200": ok("OpenAPI", {"type": "object"})}}},
    }
    from .operator_api import openapi_paths

    paths.update(openapi_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "GCC Link node",
            "version": __version__,
            "description": "A member state's GCC Link node: agency API (OAuth 2.0), peer API (mTLS), operations.",
        },
        "servers": [{"url": server_url or "/"}],
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                }
            },
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/oauth/token",
                            "scopes": {
                                "messages:send": "send messages",
                                "messages:read": "read the inbox",
                                "calls": "call services",
                                "services:admin": "manage services and grants",
                                "operator": "node operators only (never granted to agency clients)",
                            },
                        }
                    },
                }
            },
        },
    }
