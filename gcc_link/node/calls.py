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

Each side commits a call once, durably, after the answer is known: the
request and the response entries go into the log in one transaction
(``call_request`` then ``call_response``, chained), with the traffic count.
A call that fails (backend or peer down, a rejection) logs its request
alone, as before. Backends are called over a per-thread keep-alive session
(``transport.backend_post``), peers over the node's pooled peer session.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..protocol.errors import GccLinkError, IdConflictError, MalformedError, RejectionError
from ..protocol.identifiers import ServiceId
from ..protocol.message import Message
from ..protocol.receipt import Receipt
from . import logstore, traffic
from .apierrors import STATUS_BY_CODE, ApiError
from .context import NodeContext
from .models import Grant, Service
from .receiving import verify_incoming
from .sending import check_service_exists, sign_message
from .transport import backend_post, peer_url, session

log = logging.getLogger("gcc_link.node.calls")
JOSE = "application/jose"
CALL_TTL_SECONDS = 120


#: Whether ``grantee`` holds a grant for ``service`` and the service exists: one indexed row, not every grant.
_HAS_GRANT = (
    select(Grant.grantee)
    .join(Service, Service.id == Grant.service)
    .where(Grant.service == bindparam("service"), Grant.grantee == bindparam("grantee"))
    .limit(1)
)


_BACKEND_URL = select(Service.backend_url).where(Service.id == bindparam("service"))


def _error(status: int, code: str, message: str) -> tuple[int, bytes, str]:
    return status, json.dumps({"error": {"code": code, "message": message}}).encode(), "application/json"


def _grant_lookup(session: Session):
    """``has_grant(sender, service)`` for ``verify_incoming``, asking the store for just that grant."""

    def has_grant(sender: str, service: str) -> bool:
        return session.execute(_HAS_GRANT, {"service": service, "grantee": sender}).first() is not None

    return has_grant


def _earlier(session: Session, request_msg: Message) -> bytes | IdConflictError | None:
    """What this node already answered to ``request_msg``'s id: the signed response, a conflict, or nothing.

    A request id logged with other bytes is ``id_conflict``; the same request
    logged with a response gets that response again (the backend is not
    asked twice); the same request logged without a response (its backend
    call failed) is asked again. Indexed lookups by the request id.
    """
    rows = logstore.find(session, None, request_msg.id)  # chained or still waiting for the sequencer
    if any(e.kind == "call_request" and e.item_sha256 != request_msg.sha256 for e in rows):
        return IdConflictError(f"request id {request_msg.id} was already used for another request")
    responses = [e.data for e in rows if e.kind == "call_response"]
    return responses[-1] if responses else None


def _conflict(ctx: NodeContext, data: bytes, request_msg: Message, conflict: IdConflictError, now: datetime):
    receipt = Receipt.create(
        ctx.identity, message_jws=data, message_id=request_msg.id, status="rejected", code=conflict.code, now=now
    )
    return STATUS_BY_CODE.get(conflict.code, 409), receipt.jws, JOSE


def serve(ctx: NodeContext, data: bytes, peer_state: str | None) -> tuple[int, bytes, str]:
    """Provider side of ``POST /peer/v1/calls``: (status, body, mimetype).

    One read (verification with the one grant it needs, the service, any
    earlier answer to this id), the backend call outside any transaction,
    then one durable commit of the request and the signed response.

    If this node dies after the backend answered and before that commit,
    nothing of the call is stored: the caller's node sees a network error
    (502 ``peer_unavailable`` to its agency), and the same request sent
    again runs the backend again, exactly as after a crash before the
    backend answered. (When the request was logged first, a request without
    a stored response was also asked again, so the idempotency guarantee is
    unchanged: a stored response is never recomputed.) Backends get the
    request id in ``X-GCC-Link-Message-Id`` to recognise such a repeat.
    """
    now = ctx.now()
    try:
        with ctx.db.read() as s:
            request_msg = verify_incoming(ctx, data, now, _grant_lookup(s), peer_state)
            if request_msg.service is None:
                raise MalformedError("a call request must name a service")
            backend = s.execute(_BACKEND_URL, {"service": request_msg.service}).scalar()
            earlier = _earlier(s, request_msg)
    except RejectionError as exc:
        receipt = Receipt.create(
            ctx.identity, message_jws=data, message_id=None, status="rejected", code=exc.code, now=now
        )
        ctx.db.retrying(lambda s: logstore.append(s, "receipt_signed", None, receipt.jws, now))
        return STATUS_BY_CODE.get(exc.code, 400), receipt.jws, JOSE
    if isinstance(earlier, IdConflictError):
        return _conflict(ctx, data, request_msg, earlier, now)
    if earlier is not None:
        return 200, earlier, JOSE  # the answer already signed: the backend is not asked again
    answered = _ask_backend(ctx, request_msg, backend)
    if not isinstance(answered, Message):
        ctx.db.retrying(lambda s: logstore.append(s, "call_request", request_msg.id, data, now))
        return answered
    response = answered

    def store(s: Session) -> bytes | IdConflictError | None:
        again = _earlier(s, request_msg)  # a twin of this request committed while the backend ran
        if again is not None:
            return again
        logstore.append(s, "call_request", request_msg.id, data, now)
        logstore.append(s, "call_response", request_msg.id, response.jws, now)
        traffic.record(s, request_msg.sender_state, "calls_received", None, now)
        return None

    twin = ctx.db.retrying(store)
    if isinstance(twin, IdConflictError):
        return _conflict(ctx, data, request_msg, twin, now)
    return 200, twin if twin is not None else response.jws, JOSE


def _ask_backend(ctx: NodeContext, request_msg: Message, backend: str | None) -> Message | tuple[int, bytes, str]:
    """The backend's answer signed as the response message, or the error answer for the caller."""
    assert request_msg.service is not None
    if not backend:
        return _error(502, "backend_unavailable", f"{request_msg.service} has no registered backend")
    try:
        answer = backend_post(
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
        return Message.create(
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


@dataclass
class _PeerAnswer:
    """How the provider node answered a call: a verified response, or the error for the agency."""

    response: Message | None = None
    error: ApiError | None = None
    #: counted in the traffic figures: the provider answered (``None`` = ok) or rejected with this code
    counted: bool = False
    code: str | None = None


def call(ctx: NodeContext, agency: str, service: str, body: Any) -> dict[str, Any]:
    """Caller side of ``POST /api/v1/calls/<CC>/<AGENCY>/<code>``.

    The request is signed, sent, and its answer verified before anything is
    written; then the request and the response (or the request alone, when
    the call failed) are logged in one durable commit. A crash between the
    provider's answer and that commit leaves no trace of the call here; the
    agency got no answer either (its connection broke) and calls again with
    a new request.
    """
    try:
        sid = ServiceId.parse(service)
    except GccLinkError:
        raise ApiError(400, "invalid_request", "not a service address CC/AGENCY/code") from None
    if ctx.directory().member(sid.state) is None:
        raise ApiError(422, "unknown_state", f"{sid.state} is not a member state in the directory")
    if sid.state == ctx.state:
        with ctx.db.read() as s:
            check_service_exists(ctx, s, sid)
    else:
        check_service_exists(ctx, None, sid)  # the directory answers: no store read
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
    outcome = _ask_peer(ctx, sid, agency, request_msg)
    answered_at = ctx.now()
    response = outcome.response

    def store(s: Session) -> None:
        logstore.append(s, "call_request", request_msg.id, request_msg.jws, now)
        if response is not None:
            logstore.append(s, "call_response", response.id, response.jws, answered_at)
        if outcome.counted:
            traffic.record(s, sid.state, "calls_sent", outcome.code, answered_at)

    ctx.db.retrying(store)
    if outcome.error is not None:
        raise outcome.error
    assert response is not None
    return {
        "id": response.id,
        "in_reply_to": response.in_reply_to,
        "request_sha256": response.request_sha256,
        "sender": response.sender,
        "body": response.body,
        "jws": response.jws.decode("ascii"),
        "request_jws": request_msg.jws.decode("ascii"),
    }


def _ask_peer(ctx: NodeContext, sid: ServiceId, agency: str, request_msg: Message) -> _PeerAnswer:
    """Send the signed request to the provider's node and verify what comes back (no store access)."""
    url = peer_url(ctx, sid.state, "/peer/v1/calls")
    assert url is not None
    try:
        answer = session(ctx).post(
            url, data=request_msg.jws, headers={"Content-Type": JOSE}, timeout=ctx.config.call_timeout_seconds + 5
        )
    except requests.Timeout:
        return _PeerAnswer(error=ApiError(504, "peer_timeout", f"the {sid.state} node did not answer in time"))
    except requests.RequestException as exc:
        return _PeerAnswer(
            error=ApiError(502, "peer_unavailable", f"the {sid.state} node is unreachable: {type(exc).__name__}")
        )
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        try:
            err = answer.json()["error"]
            return _PeerAnswer(
                error=ApiError(
                    answer.status_code if answer.status_code >= 400 else 502,
                    str(err["code"]),
                    f"{sid.state}: {err.get('message', '')}",
                )
            )
        except (ValueError, KeyError, TypeError):
            return _PeerAnswer(
                error=ApiError(502, "peer_error", f"the {sid.state} node answered HTTP {answer.status_code}")
            )
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
            return _PeerAnswer(
                error=ApiError(502, "peer_error", f"the {sid.state} node answered HTTP {answer.status_code}")
            )
        code = receipt.code or "rejected"
        error = ApiError(STATUS_BY_CODE.get(code, 400), code, f"{sid.state} rejected the call: {code}")
        return _PeerAnswer(error=error, counted=True, code=code)
    try:
        response = Message.from_jws(
            answer.content, directory=directory, now=now, local_state=ctx.state, max_bytes=ctx.config.max_body_bytes
        )
    except GccLinkError as exc:
        return _PeerAnswer(error=ApiError(502, "bad_response", f"the response failed verification: {exc.code}"))
    if (
        response.in_reply_to != request_msg.id
        or response.request_sha256 != request_msg.sha256
        or response.sender != str(sid.provider)
        or response.recipient != agency
    ):
        return _PeerAnswer(error=ApiError(502, "bad_response", "the response is not bound to this request"))
    return _PeerAnswer(response=response, counted=True)
