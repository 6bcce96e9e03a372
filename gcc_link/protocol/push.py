"""Webhook pushes (``gcc-link-push+jws``): a node hands one inbox item to its agency's endpoint.

The item carries the original message JWS, so the agency holds the
sender's proof as well as its own node's signature over the delivery.
An agency verifies a push with :meth:`Push.from_jws` and its directory,
or with any JOSE library and the node's certificate.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from . import signed
from .directory import Directory
from .errors import MalformedError
from .identifiers import parse_state
from .pki import NodeIdentity

__all__ = ["MAX_PUSH_BYTES", "PUSH_TYP", "Push"]

PUSH_TYP = "gcc-link-push+jws"
MAX_PUSH_BYTES = 4 * 1024 * 1024
_KEYS = frozenset({"gcc_link_push", "node", "item"})


@dataclass(frozen=True)
class Push:
    """One inbox item as the node pushed it."""

    node: str
    item: dict[str, Any]
    jws: bytes = field(default=b"", repr=False)

    @classmethod
    def create(cls, identity: NodeIdentity, item: dict[str, Any], now: datetime) -> Push:
        payload = {"gcc_link_push": 1, "node": identity.state, "item": item}
        push = _fields(payload)
        return replace(push, jws=signed.sign(identity, PUSH_TYP, payload, now))

    @classmethod
    def from_jws(cls, data: bytes, *, directory: Directory, now: datetime) -> Push:
        verified = signed.verify(
            data,
            PUSH_TYP,
            directory,
            now,
            fields=_fields,
            state_of=_node,
            max_bytes=MAX_PUSH_BYTES,
            require_authorised=False,
        )
        return replace(verified.document, jws=verified.jws)


def _node(push: Push) -> str:
    return push.node


def _fields(payload: dict[str, Any]) -> Push:
    signed.require_fields(payload, _KEYS, frozenset(), "push")
    if payload["gcc_link_push"] != 1 or not isinstance(payload["item"], dict):
        raise MalformedError("not a version 1 push of one inbox item")
    return Push(parse_state(payload["node"]), payload["item"])
