"""Signed receipts: the receiving node's proof that it accepted or rejected a message.

A receipt binds to the exact message bytes (``message_sha256``) so the sender
can prove delivery of that message and no other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cryptography import x509

from . import signed
from .canonical import sha256_hex
from .directory import Directory
from .errors import REJECTION_CODES, MalformedError, SenderNotAuthorisedError
from .identifiers import parse_hex64, parse_state, parse_uuid4
from .pki import NodeIdentity
from .timefmt import format_time, parse_time, require_aware

__all__ = ["MAX_RECEIPT_BYTES", "RECEIPT_TYP", "STATUSES", "Receipt"]

RECEIPT_TYP = "gcc-link-rcpt+jws"
MAX_RECEIPT_BYTES = 16_384
STATUSES = ("accepted", "rejected")
_KEYS = frozenset({"gcc_link", "receipt_for", "message_sha256", "status", "code", "received_at", "node"})


@dataclass(frozen=True)
class Receipt:
    """An accept or reject answer for one message, signed by the receiving node."""

    receipt_for: str | None
    message_sha256: str
    status: str
    code: str | None
    received_at: datetime
    node: str
    jws: bytes = field(default=b"", repr=False)
    certificate: x509.Certificate | None = field(default=None, repr=False, compare=False)

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def payload(self) -> dict[str, Any]:
        return {
            "gcc_link": 1,
            "receipt_for": self.receipt_for,
            "message_sha256": self.message_sha256,
            "status": self.status,
            "code": self.code,
            "received_at": format_time(self.received_at),
            "node": self.node,
        }

    @classmethod
    def create(
        cls,
        identity: NodeIdentity,
        *,
        message_jws: bytes,
        message_id: str | None,
        status: str,
        code: str | None,
        now: datetime,
    ) -> Receipt:
        """Sign a receipt for ``message_jws`` as received (its exact bytes are hashed)."""
        require_aware(now)
        receipt = cls(message_id, sha256_hex(bytes(message_jws)), status, code, now, identity.state)
        payload = receipt.payload()
        _validate(payload)
        data = signed.sign(identity, RECEIPT_TYP, payload, now)
        return replace(
            receipt, received_at=parse_time(payload["received_at"]), jws=data, certificate=identity.certificate
        )

    @classmethod
    def from_jws(
        cls,
        data: bytes,
        *,
        directory: Directory,
        now: datetime,
        expected_node: str | None = None,
        expected_message_sha256: str | None = None,
    ) -> Receipt:
        """Verify a receipt: format, signature, and a node certificate listed for ``node``.

        The signing state's status is not required to be active: a suspended
        state's receipts for messages it received earlier remain proof.
        """
        verified = signed.verify(
            data,
            RECEIPT_TYP,
            directory,
            now,
            fields=_fields,
            state_of=_node,
            max_bytes=MAX_RECEIPT_BYTES,
            require_authorised=False,
        )
        receipt = verified.document
        if expected_node is not None and receipt.node != expected_node:
            raise SenderNotAuthorisedError(f"receipt from {receipt.node}, expected {expected_node}")
        if expected_message_sha256 is not None and receipt.message_sha256 != expected_message_sha256:
            raise MalformedError("receipt is for other message bytes")
        return replace(receipt, jws=verified.jws, certificate=verified.signer.certificate)


def _fields(payload: dict[str, Any]) -> Receipt:
    _validate(payload)
    return Receipt(
        payload["receipt_for"],
        payload["message_sha256"],
        payload["status"],
        payload["code"],
        parse_time(payload["received_at"]),
        payload["node"],
    )


def _node(receipt: Receipt) -> str:
    return receipt.node


def _validate(payload: dict[str, Any]) -> None:
    signed.require_fields(payload, _KEYS, frozenset(), "receipt")
    if payload["gcc_link"] != 1 or isinstance(payload["gcc_link"], bool):
        raise MalformedError("receipt fields wrong")
    if payload["receipt_for"] is not None:
        parse_uuid4(payload["receipt_for"], "receipt_for")
    parse_hex64(payload["message_sha256"], "message_sha256")
    status, code = payload["status"], payload["code"]
    if status == "accepted" and code is not None:
        raise MalformedError("an accepted receipt has no code")
    if status == "rejected" and code not in REJECTION_CODES:
        raise MalformedError(f"a rejected receipt needs a rejection code; got {code!r}")
    if status not in STATUSES:
        raise MalformedError(f"receipt status must be one of {STATUSES}")
    parse_time(payload["received_at"])
    parse_state(payload["node"])
