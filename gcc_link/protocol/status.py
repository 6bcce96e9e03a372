"""A node's signed status (``gcc-link-status+jws``): what the network attests about one node.

Served at ``GET /peer/v1/status`` and read by the portal, which shows each
node online only on the strength of a status that verifies against the
directory. The status carries its own time ``at``; a verifier refuses one
outside the clock-skew window and one older than the last it accepted
(``not_before``), so an old status replayed cannot show a dead node as
online.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from . import signed
from .directory import Directory
from .errors import MalformedError, StaleError
from .identifiers import AgencyId, ServiceId, parse_state
from .pki import NodeIdentity
from .signed import CLOCK_SKEW_SECONDS
from .timefmt import format_time, parse_time

__all__ = ["MAX_STATUS_BYTES", "STATUS_TYP", "NodeStatus"]

STATUS_TYP = "gcc-link-status+jws"
MAX_STATUS_BYTES = 256 * 1024
_REQUIRED = frozenset(
    {"gcc_link", "node", "software_version", "directory_version", "queue_depth", "services", "agencies", "at"}
)
#: Fields a newer node may add; a verifier keeps them in ``extra`` without interpreting them here.
_OPTIONAL = frozenset({"uptime_seconds", "traffic", "catalogue"})


@dataclass(frozen=True)
class NodeStatus:
    """One node's signed account of itself at time ``at``."""

    node: str
    software_version: str
    directory_version: int
    queue_depth: int
    services: tuple[str, ...]
    agencies: tuple[str, ...]
    at: datetime
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    jws: bytes = field(default=b"", repr=False)

    def payload(self) -> dict[str, Any]:
        return {
            "gcc_link": 1,
            "node": self.node,
            "software_version": self.software_version,
            "directory_version": self.directory_version,
            "queue_depth": self.queue_depth,
            "services": sorted(self.services),
            "agencies": sorted(self.agencies),
            "at": format_time(self.at),
            **self.extra,
        }

    def sign(self, identity: NodeIdentity) -> NodeStatus:
        """This status signed by ``identity`` (its node must be the one the status is about)."""
        if identity.state != self.node:
            raise MalformedError(f"a {identity.state} node cannot sign the status of {self.node}")
        payload = self.payload()
        _fields(payload)
        return replace(self, at=parse_time(payload["at"]), jws=signed.sign(identity, STATUS_TYP, payload, self.at))

    @classmethod
    def from_jws(
        cls,
        data: bytes,
        *,
        directory: Directory,
        now: datetime,
        expected_node: str | None = None,
        not_before: datetime | None = None,
        window_seconds: int = CLOCK_SKEW_SECONDS,
    ) -> NodeStatus:
        """Verify a status: the shared checks, the node it names, and its time.

        ``stale`` when ``at`` is outside ``window_seconds`` of ``now`` or older
        than ``not_before`` (the time of the last status accepted from
        that node).
        """
        verified = signed.verify(
            data,
            STATUS_TYP,
            directory,
            now,
            fields=_fields,
            state_of=_node,
            max_bytes=MAX_STATUS_BYTES,
            signed_at=_at,
            window_seconds=window_seconds,
        )
        status = verified.document
        if expected_node is not None and status.node != expected_node:
            raise MalformedError(f"the status is about {status.node}, not {expected_node}")
        if not_before is not None and status.at < not_before:
            raise StaleError(f"status of {format_time(status.at)} is older than one already accepted")
        return replace(status, jws=verified.jws)


def _node(status: NodeStatus) -> str:
    return status.node


def _at(status: NodeStatus) -> datetime:
    return status.at


def _count(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedError(f"{what} must be a non-negative integer")
    return value


def _fields(payload: dict[str, Any]) -> NodeStatus:
    signed.require_fields(payload, _REQUIRED, _OPTIONAL, "status")
    if payload["gcc_link"] != 1 or isinstance(payload["gcc_link"], bool):
        raise MalformedError("unsupported status version")
    if not isinstance(payload["software_version"], str) or len(payload["software_version"]) > 64:
        raise MalformedError("software_version must be a short string")
    services, agencies = payload["services"], payload["agencies"]
    if not isinstance(services, list) or not isinstance(agencies, list):
        raise MalformedError("services and agencies must be lists")
    node = parse_state(payload["node"])
    for s in services:
        if ServiceId.parse(s).state != node:
            raise MalformedError(f"{node} cannot publish the service {s}")
    for a in agencies:
        if AgencyId.parse(a).state != node:
            raise MalformedError(f"{node} cannot list the agency {a}")
    extra = {k: payload[k] for k in _OPTIONAL if k in payload}
    return NodeStatus(
        node,
        payload["software_version"],
        _count(payload["directory_version"], "directory_version"),
        _count(payload["queue_depth"], "queue_depth"),
        tuple(services),
        tuple(agencies),
        parse_time(payload["at"]),
        extra,
    )
