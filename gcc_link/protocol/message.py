"""Protocol v1 messages: compact JWS over RFC 8785 canonical JSON, signed by a node.

``Message.create`` builds and signs; ``Message.from_jws`` runs every
receiving check of DESIGN.md in its order and returns a verified message or
raises the error whose ``code`` is the rejection code. Both take the time as
an argument.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509

from . import jose, signed
from .canonical import canonical_json, sha256_hex
from .directory import Directory
from .errors import (
    AccessDeniedError,
    DigestMismatchError,
    MalformedError,
    StaleError,
    WrongRecipientError,
)
from .identifiers import AgencyId, ServiceId, parse_hex64, parse_uuid4, state_of
from .limits import check_json_limits
from .pki import NodeIdentity
from .signed import CLOCK_SKEW_SECONDS
from .timefmt import format_time, parse_time, require_aware

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "DEFAULT_TTL_SECONDS",
    "MAX_MESSAGE_BYTES",
    "MAX_TTL_SECONDS",
    "MESSAGE_TYP",
    "Message",
    "MessageTooLargeError",
    "body_digest",
    "peek_message_id",
]

PROTOCOL_VERSION = 1
MESSAGE_TYP = "gcc-link-msg+jws"
MAX_MESSAGE_BYTES = 1_048_576
DEFAULT_TTL_SECONDS = 86_400
MAX_TTL_SECONDS = 30 * 86_400

_REQUIRED = frozenset(
    {
        "gcc_link",
        "id",
        "conversation_id",
        "in_reply_to",
        "sender",
        "recipient",
        "service",
        "created_at",
        "expires_at",
        "content_type",
        "body",
        "body_sha256",
    }
)
_OPTIONAL = frozenset({"request_sha256"})
_CONTENT_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")

GrantCheck = Callable[[str, str], bool]


class MessageTooLargeError(MalformedError):
    """The signed message would exceed the size cap (a ``malformed`` rejection)."""


def body_digest(body: Any) -> str:
    """``body_sha256``: hex SHA-256 of the canonical JSON of the body."""
    return sha256_hex(canonical_json(body))


@dataclass(frozen=True)
class Message:
    """A signed message; ``jws`` holds the exact bytes that were signed or received."""

    id: str
    conversation_id: str
    in_reply_to: str | None
    sender: str
    recipient: str
    service: str | None
    created_at: datetime
    expires_at: datetime
    content_type: str
    body: Any
    body_sha256: str
    request_sha256: str | None = None
    jws: bytes = field(default=b"", repr=False)
    certificate: x509.Certificate | None = field(default=None, repr=False, compare=False)

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the JWS bytes (what receipts and call responses bind to)."""
        return sha256_hex(self.jws)

    @property
    def sender_state(self) -> str:
        return state_of(self.sender)

    @property
    def recipient_state(self) -> str:
        return state_of(self.recipient)

    def payload(self) -> dict[str, Any]:
        """The JSON object that is signed."""
        data: dict[str, Any] = {
            "gcc_link": PROTOCOL_VERSION,
            "id": self.id,
            "conversation_id": self.conversation_id,
            "in_reply_to": self.in_reply_to,
            "sender": self.sender,
            "recipient": self.recipient,
            "service": self.service,
            "created_at": format_time(self.created_at),
            "expires_at": format_time(self.expires_at),
            "content_type": self.content_type,
            "body": self.body,
            "body_sha256": self.body_sha256,
        }
        if self.request_sha256 is not None:
            data["request_sha256"] = self.request_sha256
        return data

    @classmethod
    def create(
        cls,
        identity: NodeIdentity,
        *,
        sender: str,
        recipient: str,
        body: Any,
        now: datetime,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        service: str | None = None,
        conversation_id: str | None = None,
        in_reply_to: str | None = None,
        message_id: str | None = None,
        content_type: str = "application/json",
        request_sha256: str | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> Message:
        """Build and sign a message from ``sender`` (an agency of ``identity``'s state)."""
        require_aware(now)
        if AgencyId.parse(sender).state != identity.state:
            raise MalformedError(f"a {identity.state} node cannot sign for {sender}")
        if not isinstance(ttl_seconds, int) or isinstance(ttl_seconds, bool) or not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
            raise MalformedError(f"ttl_seconds must be an integer from 1 to {MAX_TTL_SECONDS}")
        check_json_limits(body)
        created = now.replace(microsecond=now.microsecond // 1000 * 1000)
        expires = created + timedelta(seconds=ttl_seconds)
        payload: dict[str, Any] = {
            "gcc_link": PROTOCOL_VERSION,
            "id": message_id or str(uuid.uuid4()),
            "conversation_id": conversation_id or str(uuid.uuid4()),
            "in_reply_to": in_reply_to,
            "sender": sender,
            "recipient": recipient,
            "service": service,
            "created_at": format_time(created),
            "expires_at": format_time(expires),
            "content_type": content_type,
            "body": body,
            "body_sha256": body_digest(body),
        }
        if request_sha256 is not None:
            payload["request_sha256"] = request_sha256
        _validate_fields(payload)
        data = signed.sign(identity, MESSAGE_TYP, payload, now)
        if len(data) > max_bytes:
            raise MessageTooLargeError(f"signed message is {len(data)} bytes; the limit is {max_bytes}")
        return _from_payload(payload, data, identity.certificate, created, expires)

    @classmethod
    def unverified(cls, data: bytes, max_bytes: int = 16 * MAX_MESSAGE_BYTES) -> Message:
        """A message this node signed itself, re-read from its own store: format and fields, NO trust checks."""
        return replace(_fields(signed.open_unverified(data, MESSAGE_TYP, max_bytes)), jws=bytes(data))

    def resign(self, identity: NodeIdentity, now: datetime, ttl_seconds: int) -> Message:
        """The same message (same id, body and addresses) signed again at ``now``, expiring ``ttl_seconds`` later.

        A retry whose signature would be stale at the receiver is re-signed;
        the receiver's idempotency on (sender, id) keeps it delivered once.
        """
        return Message.create(
            identity,
            sender=self.sender,
            recipient=self.recipient,
            body=self.body,
            now=now,
            ttl_seconds=ttl_seconds,
            service=self.service,
            conversation_id=self.conversation_id,
            in_reply_to=self.in_reply_to,
            message_id=self.id,
            content_type=self.content_type,
            request_sha256=self.request_sha256,
            max_bytes=16 * MAX_MESSAGE_BYTES,
        )

    @classmethod
    def from_jws(
        cls,
        data: bytes,
        *,
        directory: Directory,
        now: datetime,
        local_state: str | None = None,
        has_grant: GrantCheck | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
        skew_seconds: int = CLOCK_SKEW_SECONDS,
    ) -> Message:
        """Verify ``data`` as received and return the message, or raise the rejection.

        Checks, in the protocol's order: format (``malformed``), signature
        (``bad_signature``), certificate chain and revocation
        (``untrusted_certificate``), sender state listing and status
        (``sender_not_authorised``), recipient is ours (``wrong_recipient``,
        only with ``local_state``), time (``stale``), body digest
        (``digest_mismatch``), service grant (``access_denied``, only with
        ``has_grant``).
        """
        verified = signed.verify(
            data, MESSAGE_TYP, directory, now, fields=_fields, state_of=_sender_state, max_bytes=max_bytes
        )
        message = replace(verified.document, jws=verified.jws, certificate=verified.signer.certificate)
        if local_state is not None and message.recipient_state != local_state:
            raise WrongRecipientError(f"{message.recipient} is not an agency of {local_state}")
        signed.check_window(message.created_at, now, "created_at", skew_seconds)
        if now > message.expires_at:
            raise StaleError(f"message expired at {format_time(message.expires_at)}")
        if body_digest(message.body) != message.body_sha256:
            raise DigestMismatchError("body_sha256 does not match the body")
        if message.service is not None and has_grant is not None and not has_grant(message.sender, message.service):
            raise AccessDeniedError(f"{message.sender} holds no grant for {message.service}")
        return message


def _fields(payload: dict[str, Any]) -> Message:
    _validate_fields(payload)
    return _from_payload(payload, b"", None)


def _sender_state(message: Message) -> str:
    return message.sender_state


def _validate_fields(payload: dict[str, Any]) -> None:
    signed.require_fields(payload, _REQUIRED, _OPTIONAL, "message")
    if payload["gcc_link"] != PROTOCOL_VERSION or isinstance(payload["gcc_link"], bool):
        raise MalformedError(f"unsupported protocol version {payload['gcc_link']!r}")
    parse_uuid4(payload["id"], "id")
    parse_uuid4(payload["conversation_id"], "conversation_id")
    if payload["in_reply_to"] is not None:
        parse_uuid4(payload["in_reply_to"], "in_reply_to")
    AgencyId.parse(payload["sender"])
    recipient = AgencyId.parse(payload["recipient"])
    if payload["service"] is not None and ServiceId.parse(payload["service"]).provider != recipient:
        raise MalformedError("service must be provided by the recipient agency")
    created, expires = parse_time(payload["created_at"]), parse_time(payload["expires_at"])
    if expires <= created:
        raise MalformedError("expires_at must be after created_at")
    if expires - created > timedelta(seconds=MAX_TTL_SECONDS):
        raise MalformedError(f"expires_at may be at most {MAX_TTL_SECONDS} s after created_at")
    if not isinstance(payload["content_type"], str) or not _CONTENT_TYPE_RE.fullmatch(payload["content_type"]):
        raise MalformedError("content_type must be a media type such as application/json")
    check_json_limits(payload["body"])
    parse_hex64(payload["body_sha256"], "body_sha256")
    if payload.get("request_sha256") is not None:
        parse_hex64(payload["request_sha256"], "request_sha256")


def _from_payload(
    payload: dict[str, Any],
    raw: bytes,
    cert: x509.Certificate | None,
    created: datetime | None = None,
    expires: datetime | None = None,
) -> Message:
    """Build a ``Message`` from a payload that ``_validate_fields`` accepted."""
    return Message(
        id=payload["id"],
        conversation_id=payload["conversation_id"],
        in_reply_to=payload["in_reply_to"],
        sender=payload["sender"],
        recipient=payload["recipient"],
        service=payload["service"],
        created_at=created or parse_time(payload["created_at"]),
        expires_at=expires or parse_time(payload["expires_at"]),
        content_type=payload["content_type"],
        body=payload["body"],
        body_sha256=payload["body_sha256"],
        request_sha256=payload.get("request_sha256"),
        jws=raw,
        certificate=cert,
    )


def peek_claims(data: bytes) -> tuple[str | None, str | None]:
    """The ``id`` and ``sender`` a (possibly invalid) message claims, unverified; for rejection receipts.

    Either is None when the input does not carry a well-formed one.
    Never raises, whatever the input (absurd nesting included).
    """
    try:
        segment = bytes(data).split(b".")[1]
        payload = json.loads(jose.b64url_decode_canonical(segment, "payload"))
    except (IndexError, ValueError, TypeError, UnicodeDecodeError, RecursionError, MalformedError):
        return None, None
    if not isinstance(payload, dict):
        return None, None
    found: list[str | None] = []
    for key, check in (("id", lambda v: parse_uuid4(v, "id")), ("sender", lambda v: str(AgencyId.parse(v)))):
        try:
            found.append(check(payload.get(key)))
        except MalformedError:
            found.append(None)
    return found[0], found[1]


def peek_message_id(data: bytes) -> str | None:
    """The ``id`` claimed by a (possibly invalid) message, unverified; for rejection receipts."""
    return peek_claims(data)[0]
