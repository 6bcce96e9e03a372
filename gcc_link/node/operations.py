"""Operator operations on a node's store: messages, agency clients, service grants.

The CLI (``gcc-link node messages …``, ``gcc-link client …``, ``gcc-link
node grants …``) and the operator API (``operator_api.py``, scope
``operator``) both call these, so the two can never disagree. Every
function takes the database and the time explicitly (the node's clock), and
raises ``GccLinkError`` subclasses with stable codes on refused input.

Requeueing a ``failed`` or ``dead`` message re-signs it (same id, new
signature time and TTL, ``Message.resign``) and appends the new version's
digest to the row's ``versions``, so the receipt for any version settles it,
and the receiver's idempotency on (sender, id) keeps it delivered once.

Revoking a client deletes its live tokens at once. A node process keeps an
in-process cache of token checks (``oauth._TOKEN_CACHE``, at most
``oauth.TOKEN_CACHE_SECONDS`` = 5 s): the operator API drops the revoked
tokens from the cache of the process that served the request, other
processes (gunicorn workers; a revocation made by the CLI) stop accepting
the token within those 5 seconds.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..protocol.errors import ConfigError, GccLinkError, MalformedError, NotFoundError
from ..protocol.identifiers import AgencyId, ServiceId, parse_state
from ..protocol.message import MAX_TTL_SECONDS, Message
from ..protocol.pki import NodeIdentity
from ..protocol.timefmt import format_time, parse_time
from . import logstore
from .db import Database
from .models import Grant, InboxMessage, OAuthClient, OAuthToken, OutboxMessage, Service

__all__ = [
    "OPERATOR_SCOPE",
    "OperationRefusedError",
    "cancel_message",
    "create_operator_client",
    "grant",
    "list_clients",
    "list_grants",
    "list_messages",
    "requeue_message",
    "revoke_client",
    "revoke",
    "rotate_key",
    "rotate_secret",
    "show_message",
]

#: The scope of operator clients; agency clients can never hold it (``create_client`` refuses it).
OPERATOR_SCOPE = "operator"
STATUSES = ("queued", "delivered", "failed", "dead")
MAX_LIST = 1000
DEFAULT_REQUEUE_TTL = 86_400


class OperationRefusedError(GccLinkError):
    """The operation does not apply to the record in its current state (e.g. requeue a delivered message)."""

    code = "conflict"


def _ts(value: Any) -> str | None:

    return None if value is None else format_time(datetime.fromtimestamp(float(value), UTC))


def _since(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    return parse_time(value).timestamp()


# --- messages ----------------------------------------------------------------


def _outbox_dict(r: OutboxMessage, full: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": r.id,
        "direction": "sent",
        "status": r.status,
        "sender": r.sender,
        "recipient": r.recipient,
        "peer": r.peer,
        "service": r.service,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "created_at": _ts(r.created_at),
        "delivered_at": _ts(r.delivered_at),
        "expires_at": _ts(r.expires_at),
    }
    if full:
        d.update(
            {
                "conversation_id": r.conversation_id,
                "signed_at": _ts(r.signed_at),
                "next_attempt_at": _ts(r.next_attempt_at),
                "versions": r.versions.split(),
                "jws": bytes(r.jws).decode("ascii"),
                "receipt": bytes(r.receipt).decode("ascii") if r.receipt else None,
            }
        )
    return d


def _inbox_dict(r: InboxMessage, full: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": r.id,
        "direction": "received",
        "status": "acked" if r.acked_at else "received",
        "sender": r.sender,
        "recipient": r.recipient,
        "peer": r.sender.split("/")[0],
        "service": r.service,
        "received_at": _ts(r.received_at),
        "acked_at": _ts(r.acked_at),
    }
    if full:
        d.update(
            {
                "conversation_id": r.conversation_id,
                "in_reply_to": r.in_reply_to,
                "push_status": r.push_status,
                "jws": bytes(r.jws).decode("ascii"),
                "receipt": bytes(r.receipt).decode("ascii"),
            }
        )
    return d


def list_messages(
    db: Database,
    *,
    direction: str = "sent",
    status: str | None = None,
    peer: str | None = None,
    agency: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Messages by direction (``sent``: the outbox, ``received``: the inbox), filtered; newest first."""
    if not 1 <= limit <= MAX_LIST:
        raise MalformedError(f"limit must be 1..{MAX_LIST}")
    if peer is not None:
        parse_state(peer)
    if agency is not None:
        AgencyId.parse(agency)
    lo, hi = _since(since, "since"), _since(until, "until")
    with db.read() as s:
        if direction == "sent":
            if status is not None and status not in STATUSES:
                raise MalformedError(f"status must be one of {', '.join(STATUSES)}")
            q = select(OutboxMessage)
            if status:
                q = q.where(OutboxMessage.status == status)
            if peer:
                q = q.where(OutboxMessage.peer == peer)
            if agency:
                q = q.where((OutboxMessage.sender == agency) | (OutboxMessage.recipient == agency))
            if lo is not None:
                q = q.where(OutboxMessage.created_at >= lo)
            if hi is not None:
                q = q.where(OutboxMessage.created_at < hi)
            rows = s.execute(q.order_by(OutboxMessage.created_at.desc()).limit(limit)).scalars().all()
            return [_outbox_dict(r) for r in rows]
        if direction == "received":
            if status is not None and status not in ("received", "acked"):
                raise MalformedError("status of received messages must be received or acked")
            qi = select(InboxMessage)
            if status == "acked":
                qi = qi.where(InboxMessage.acked_at.is_not(None))
            elif status == "received":
                qi = qi.where(InboxMessage.acked_at.is_(None))
            if peer:
                qi = qi.where(InboxMessage.sender.like(f"{peer}/%"))
            if agency:
                qi = qi.where((InboxMessage.recipient == agency) | (InboxMessage.sender == agency))
            if lo is not None:
                qi = qi.where(InboxMessage.received_at >= lo)
            if hi is not None:
                qi = qi.where(InboxMessage.received_at < hi)
            rows_in = s.execute(qi.order_by(InboxMessage.seq.desc()).limit(limit)).scalars().all()
            return [_inbox_dict(r) for r in rows_in]
    raise MalformedError("direction must be sent or received")


def show_message(db: Database, message_id: str) -> dict[str, Any]:
    """Everything the store holds about one message (sent or received), with its log entries."""
    with db.read() as s:
        out = s.get(OutboxMessage, message_id)
        inb = s.execute(select(InboxMessage).where(InboxMessage.id == message_id)).scalar_one_or_none()
        if out is None and inb is None:
            raise NotFoundError(f"no message {message_id} in this node's store (archived ones: evidence export)")
        result = _outbox_dict(out, True) if out is not None else _inbox_dict(inb, True)  # type: ignore[arg-type]
        result["log"] = [  # seq None: recorded, chained within a moment (see logstore)
            {"seq": e.seq, "kind": e.kind, "at": e.at, "item_sha256": e.item_sha256}
            for e in logstore.find(s, None, message_id)
        ]
        return result


def requeue_message(
    db: Database, identity: NodeIdentity, message_id: str, now: datetime, ttl_seconds: int = DEFAULT_REQUEUE_TTL
) -> dict[str, Any]:
    """Send a ``failed`` or ``dead`` message again: re-signed (same id), queued now, attempts reset."""
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise MalformedError(f"ttl_seconds must be an integer from 1 to {MAX_TTL_SECONDS}")

    def work(s: Session) -> dict[str, Any]:
        row = s.get(OutboxMessage, message_id)
        if row is None:
            raise NotFoundError(f"no sent message {message_id} in this node's store")
        if row.status not in ("failed", "dead"):
            raise OperationRefusedError(f"only failed or dead messages can be requeued; this one is {row.status}")
        msg = Message.unverified(row.jws).resign(identity, now, ttl_seconds)
        previous = row.status
        row.jws, row.signed_at, row.expires_at = msg.jws, now.timestamp(), msg.expires_at.timestamp()
        row.versions = (row.versions + " " + msg.sha256).strip()
        row.status, row.attempts, row.next_attempt_at = "queued", 0, now.timestamp()
        row.last_error = f"requeued by operator (was {previous}: {row.last_error or ''})"[:500]
        row.receipt, row.delivered_at = None, None
        logstore.append(s, "message_sent", row.id, msg.jws, now)
        return _outbox_dict(row)

    return db.retrying(work)


def cancel_message(db: Database, message_id: str, now: datetime) -> dict[str, Any]:
    """Stop delivering a queued message: it becomes ``dead`` with ``last_error`` saying who stopped it.

    A copy a delivery worker already sent cannot be recalled: if its
    receipt arrives it is ignored (the row is no longer queued), and the
    receiver may hold the message.
    """

    def work(s: Session) -> dict[str, Any]:
        row = s.get(OutboxMessage, message_id)
        if row is None:
            raise NotFoundError(f"no sent message {message_id} in this node's store")
        if row.status != "queued":
            raise OperationRefusedError(f"only queued messages can be cancelled; this one is {row.status}")
        row.status = "dead"
        row.last_error = f"cancelled by operator at {format_time(now)}"
        # a copy may be in flight or received already when an attempt was made (its receipt is then ignored)
        return {**_outbox_dict(row), "may_have_been_sent": row.attempts > 0}

    return db.retrying(work)


# --- clients -----------------------------------------------------------------


def list_clients(db: Database) -> list[dict[str, Any]]:
    """Every registered client (agency and operator), with its live token count; never a secret."""
    with db.read() as s:
        live = dict(s.execute(select(OAuthToken.client_id, func.count()).group_by(OAuthToken.client_id)).all())
        return [
            {
                "client_id": r.client_id,
                "agency": r.agency,
                "auth_method": r.auth_method,
                "scope": r.scopes,
                "revoked": r.auth_method == "revoked",
                "tokens": int(live.get(r.client_id, 0)),
                "created_at": _ts(r.created_at),
            }
            for r in s.execute(select(OAuthClient).order_by(OAuthClient.client_id)).scalars()
        ]


def _client(s: Session, client_id: str) -> OAuthClient:
    row = s.get(OAuthClient, client_id)
    if row is None:
        raise NotFoundError(f"no client {client_id}")
    if row.auth_method == "revoked":
        raise OperationRefusedError(f"client {client_id} is revoked")
    return row


def _end_tokens(s: Session, client_id: str) -> list[str]:
    digests = list(s.execute(select(OAuthToken.token_sha256).where(OAuthToken.client_id == client_id)).scalars())
    s.execute(delete(OAuthToken).where(OAuthToken.client_id == client_id))
    return digests


def forget_cached(digests: list[str]) -> None:
    """Drop tokens from this process's token cache (other processes forget them within 5 s)."""
    from . import oauth

    for digest in digests:
        oauth._TOKEN_CACHE.pop(digest, None)


def revoke_client(db: Database, client_id: str) -> dict[str, Any]:
    """Revoke a client for good: no new tokens (no credentials left), its live tokens deleted now."""

    def work(s: Session) -> list[str]:
        row = _client(s, client_id)
        row.auth_method, row.secret_hash, row.public_key_pem, row.scopes = "revoked", None, None, ""
        return _end_tokens(s, client_id)

    digests = db.retrying(work)
    forget_cached(digests)
    return {"client_id": client_id, "revoked": True, "tokens_ended": len(digests)}


revoke = revoke_client


def rotate_secret(db: Database, client_id: str) -> dict[str, Any]:
    """A new secret for a ``client_secret_basic`` client (shown once); the old one and its tokens end now."""
    from .oauth import hash_secret

    secret = secrets.token_urlsafe(32)
    hashed = hash_secret(secret)

    def work(s: Session) -> list[str]:
        row = _client(s, client_id)
        if row.auth_method != "client_secret_basic":
            raise OperationRefusedError(f"client {client_id} authenticates with {row.auth_method}, not a secret")
        row.secret_hash = hashed
        return _end_tokens(s, client_id)

    digests = db.retrying(work)
    forget_cached(digests)
    return {"client_id": client_id, "client_secret": secret, "tokens_ended": len(digests)}


def rotate_key(db: Database, client_id: str, public_key_pem: str) -> dict[str, Any]:
    """A new public key for a ``private_key_jwt`` client (or switch a secret client to a key); tokens end now."""
    from joserfc.jwk import ECKey, RSAKey

    try:
        ECKey.import_key(public_key_pem)
    except Exception:  # noqa: BLE001 - joserfc raises several types for input that is not a key
        try:
            RSAKey.import_key(public_key_pem)
        except Exception:  # noqa: BLE001
            raise ConfigError("not a PEM public key (EC or RSA)") from None

    def work(s: Session) -> list[str]:
        row = _client(s, client_id)
        row.public_key_pem, row.secret_hash, row.auth_method = public_key_pem, None, "private_key_jwt"
        return _end_tokens(s, client_id)

    digests = db.retrying(work)
    forget_cached(digests)
    return {"client_id": client_id, "auth_method": "private_key_jwt", "tokens_ended": len(digests)}


def create_operator_client(db: Database, state: str, now: datetime) -> dict[str, str]:
    """An operator client of this node (scope ``operator`` only, bound to the state, not to an agency)."""
    from .oauth import hash_secret

    parse_state(state)
    client_id = f"operator-{state.lower()}-{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(32)
    with db.write() as s:
        s.add(
            OAuthClient(
                client_id=client_id,
                agency=state,
                secret_hash=hash_secret(secret),
                public_key_pem=None,
                auth_method="client_secret_basic",
                scopes=OPERATOR_SCOPE,
                created_at=now.timestamp(),
            )
        )
    return {
        "client_id": client_id,
        "client_secret": secret,
        "agency": state,
        "scope": OPERATOR_SCOPE,
        "auth_method": "client_secret_basic",
    }


# --- service grants ------------------------------------------------------------


def list_grants(db: Database, service: str | None = None) -> list[dict[str, Any]]:
    """The services of this node and who may use each."""
    with db.read() as s:
        q = select(Service).order_by(Service.id)
        if service:
            q = q.where(Service.id == service)
        out = []
        for svc in s.execute(q).scalars():
            grantees = sorted(s.execute(select(Grant.grantee).where(Grant.service == svc.id)).scalars())
            out.append({"service": svc.id, "grants": grantees})
        if service and not out:
            raise NotFoundError(f"{service} is not a service of this node")
        return out


def grant(db: Database, service: str, grantee: str, *, allow: bool = True) -> dict[str, Any]:
    """Allow (or with ``allow=False`` withdraw) ``grantee`` to use ``service``; idempotent."""
    sid, agency = ServiceId.parse(service), AgencyId.parse(grantee)

    def work(s: Session) -> bool:
        if s.get(Service, str(sid)) is None:
            raise NotFoundError(f"{sid} is not a service of this node")
        exists = s.get(Grant, (str(sid), str(agency))) is not None
        if allow and not exists:
            s.add(Grant(service=str(sid), grantee=str(agency)))
        elif not allow and exists:
            s.execute(delete(Grant).where(Grant.service == str(sid), Grant.grantee == str(agency)))
        return exists != allow

    changed = db.retrying(work)
    return {"service": str(sid), "grantee": str(agency), "granted": allow, "changed": changed}
