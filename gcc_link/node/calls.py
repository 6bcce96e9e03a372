"""Synchronous service calls: caller node → provider node → provider agency's backend.

The provider verifies the request like any message (grants enforced: no
grant is ``access_denied``), forwards the body to the service's registered
backend URL, and signs the backend's JSON answer as a response message with
``in_reply_to`` = the request id and ``request_sha256`` = SHA-256 of the
request JWS, binding the answer to the question. Backend and peer trouble
become clear 502/504 errors, never a hang.

A call is idempotent by request: the same signed request arriving again
while it is valid (a retry, or a replay) gets the stored signed response
back and the backend does not run twice; the same request id with other
bytes is rejected ``id_conflict``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests

from ..protocol.errors import GccLinkError, IdConflictError, MalformedError, RejectionError
from ..protocol.identifiers import ServiceId
from ..protocol.message import Message
from ..protocol.receipt import Receipt
from . import logstore, traffic
from .apierrors import STATUS_BY_CODE, ApiError
from .context import NodeContext
from .models import Service
from .receiving import grant_checker, verify_incoming
from .sending import check_service_exists, sign_message
from .transport import peer_url, session

log = logging.getLogger("gcc_link.node.calls")
JOSE = "application/jose"
CALL_TTL_SECONDS = 120


def _error(status: int, code: str, message: str) -> tuple[int, bytes, str]:
    return status, json.dumps({"error": {"code": code, "message": message}}).encode(), "application/json"


def serve(ctx: NodeContext, data: bytes, peer_state: str | None) -> tuple[int, bytes, str]:
    """Provider side of ``POST /peer/v1/calls``: (status, body, mimetype)."""
    now = ctx.now()
    with ctx.db.read() as s:
        has_grant = grant_checker(s)
    try:
        request_msg = verify_incoming(ctx, data, now, has_grant, peer_state)
        if request_msg.service is None:
            raise MalformedError("a call request must name a service")
    except RejectionError as exc:
        receipt = Receipt.create(
            ctx.identity, message_jws=data, message_id=None, status="rejected", code=exc.code, now=now
        )
        ctx.db.retrying(lambda s: logstore.append(s, "receipt_signed", None, receipt.jws, now))
        return STATUS_BY_CODE.get(exc.code, 400), receipt.jws, JOSE
    with ctx.db.read() as s:
        svc = s.get(Service, request_msg.service)
        backend = svc.backend_url if svc else None
        earlier_requests = logstore.find(s, "call_request", request_msg.id)
        earlier_responses = logstore.find(s, "call_response", request_msg.id)
    if earlier_requests:
        if any(e.item_sha256 != request_msg.sha256 for e in earlier_requests):
            conflict = IdConflictError(f"request id {request_msg.id} was already used for another request")
            receipt = Receipt.create(
                ctx.identity,
                message_jws=data,
                message_id=request_msg.id,
                status="rejected",
                code=conflict.code,
                now=now,
            )
            return STATUS_BY_CODE.get(conflict.code, 409), receipt.jws, JOSE
        if earlier_responses:
            return 200, earlier_responses[-1].data, JOSE  # the answer already signed: the backend is not asked again
    ctx.db.retrying(lambda s: logstore.append(s, "call_request", request_msg.id, data, now))
    if not backend:
        return _error(502, "backend_unavailable", f"{request_msg.service} has no registered backend")
    try:
        answer = requests.post(
            backend,
            json=request_msg.body,
            timeout=ctx.config.call_timeout_seconds,
            headers={
                "X-GCC-Link-Sender": request_msg.sender,
                "X-GCC-Link-Service": request_msg.service,
                "X-GCC-Link-Message-Id": request_msg.id,
            },
        )
    except requests.Timeout:
        return _error(504, "backend_timeout", f"the backend of {request_msg.service} did not answer in time")
    except requests.RequestException as exc:
        return _error(502, "backend_unavailable", f"the backend of {request_msg.service} is down: {type(exc).__name__}")
    if answer.status_code >= 400:
        return _error(502, "backend_error", f"the backend answered HTTP {answer.status_code}")
    try:
        body = answer.json()
    except ValueError:
        return _error(502, "backend_error", "the backend did not answer JSON")
    provider = str(ServiceId.parse(request_msg.service).provider)
    try:
        response = Message.create(
            ctx.identity,
            sender=provider,
            recipient=request_msg.sender,
            body=body,
            now=ctx.now(),
            ttl_seconds=CALL_TTL_SECONDS,
            conversation_id=request_msg.conversation_id,
            in_reply_to=request_msg.id,
            request_sha256=request_msg.sha256,
            max_bytes=ctx.config.max_body_bytes,
        )
    except GccLinkError as exc:
        return _error(502, "backend_error", f"the backend answer cannot be signed: {exc.message}")

    def store_response(s) -> None:
        logstore.append(s, "call_response", request_msg.id, response.jws, now)
        traffic.record(s, request_msg.sender_state, "calls_received", None, now)

    ctx.db.retrying(store_response)
    return 200, response.jws, JOSE


def call(ctx: NodeContext, agency: str, service: str, body: Any) -> dict[str, Any]:
    """Caller side of ``POST /api/v1/calls/<CC>/<AGENCY>/<code>``."""
    try:
        sid = ServiceId.parse(service)
    except GccLinkError:
        raise ApiError(400, "invalid_request", "not a service address CC/AGENCY/code") from None
    if ctx.directory().member(sid.state) is None:
        raise ApiError(422, "unknown_state", f"{sid.state} is not a member state in the directory")
    with ctx.db.read() as s:
        check_service_exists(ctx, s, sid)
    now = ctx.now()
    request_msg = sign_message(
        ctx,
        {
            "sender": agency,
            "recipient": str(sid.provider),
            "body": body,
            "service": str(sid),
            "ttl_seconds": CALL_TTL_SECONDS,
        },
        now,
    )
    ctx.db.retrying(lambda s: logstore.append(s, "call_request", request_msg.id, request_msg.jws, now))
    url = peer_url(ctx, sid.state, "/peer/v1/calls")
    assert url is not None
    try:
        answer = session(ctx).post(
            url, data=request_msg.jws, headers={"Content-Type": JOSE}, timeout=ctx.config.call_timeout_seconds + 5
        )
    except requests.Timeout:
        raise ApiError(504, "peer_timeout", f"the {sid.state} node did not answer in time") from None
    except requests.RequestException as exc:
        raise ApiError(502, "peer_unavailable", f"the {sid.state} node is unreachable: {type(exc).__name__}") from None
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        try:
            err = answer.json()["error"]
            raise ApiError(
                answer.status_code if answer.status_code >= 400 else 502,
                str(err["code"]),
                f"{sid.state}: {err.get('message', '')}",
            )
        except (ValueError, KeyError, TypeError):
            raise ApiError(502, "peer_error", f"the {sid.state} node answered HTTP {answer.status_code}") from None
    directory = ctx.directory()
    now = ctx.now()
    if answer.status_code != 200:
        try:
            receipt = Receipt.from_jws(
                answer.content,
                directory=directory,
                now=now,
                expected_node=sid.state,
                expected_message_sha256=request_msg.sha256,
            )
        except GccLinkError:
            raise ApiError(502, "peer_error", f"the {sid.state} node answered HTTP {answer.status_code}") from None
        code = receipt.code or "rejected"
        ctx.db.retrying(lambda s: traffic.record(s, sid.state, "calls_sent", code, now))
        raise ApiError(STATUS_BY_CODE.get(code, 400), code, f"{sid.state} rejected the call: {code}")
    try:
        response = Message.from_jws(
            answer.content, directory=directory, now=now, local_state=ctx.state, max_bytes=ctx.config.max_body_bytes
        )
    except GccLinkError as exc:
        raise ApiError(502, "bad_response", f"the response failed verification: {exc.code}") from None
    if (
        response.in_reply_to != request_msg.id
        or response.request_sha256 != request_msg.sha256
        or response.sender != str(sid.provider)
        or response.recipient != agency
    ):
        raise ApiError(502, "bad_response", "the response is not bound to this request")

    def store_response(s) -> None:
        logstore.append(s, "call_response", response.id, response.jws, now)
        traffic.record(s, sid.state, "calls_sent", None, now)

    ctx.db.retrying(store_response)
    return {
        "id": response.id,
        "in_reply_to": response.in_reply_to,
        "request_sha256": response.request_sha256,
        "sender": response.sender,
        "body": response.body,
        "jws": response.jws.decode("ascii"),
        "request_jws": request_msg.jws.decode("ascii"),
    }
