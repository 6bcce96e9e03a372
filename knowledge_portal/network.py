"""What the network attests: each member node's signed status, verified against the directory.

The portal reads the signed member directory (``DIRECTORY_FILE``, optionally
pinned to ``ROOT_CERT``) and asks every member node for ``GET
/peer/v1/status``. A status counts only if it is a valid ``gcc-link-status+jws``
whose certificate chains to the GCC root and is listed for that state, so the
home page shows what the nodes prove, not what was typed. Results are cached
for ``NETWORK_CACHE_SECONDS`` and fetched in parallel with a short timeout, so
an offline node slows a page by at most that timeout once per cache period.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from flask import Flask

from gcc_link.protocol.errors import GccLinkError
from gcc_link.protocol.status import NodeStatus as SignedStatus
from gcc_link.protocol.timefmt import format_time

if TYPE_CHECKING:  # pragma: no cover
    from gcc_link.protocol.directory import Directory


@dataclass
class NodeStatus:
    cc: str
    name: dict[str, str]
    status: str  # directory status: trial, active, suspended
    online: bool | None  # None: not checked (no directory configured)
    last_seen: str | None = None
    directory_version: int | None = None
    services: list[str] = field(default_factory=list)
    error: str | None = None  # stable code of why the last check failed

    def as_dict(self) -> dict[str, Any]:
        return {"cc": self.cc, "name": self.name, "status": self.status, "online": self.online,
                "last_seen": self.last_seen, "directory_version": self.directory_version,
                "services": self.services, "error": self.error}


@dataclass
class NetworkView:
    directory_version: int | None
    states: list[NodeStatus]

    def as_dict(self) -> dict[str, Any]:
        return {"directory_version": self.directory_version, "states": [s.as_dict() for s in self.states]}


class NetworkMonitor:
    """Per-app cache of verified node statuses (``app.extensions['portal_network']``)."""

    def __init__(self, app: Flask) -> None:
        self.directory_file = app.config.get("DIRECTORY_FILE")
        self.root_cert_file = app.config.get("ROOT_CERT")
        self.ttl = float(app.config.get("NETWORK_CACHE_SECONDS", 30))
        self.timeout = float(app.config.get("NETWORK_TIMEOUT_SECONDS", 1.5))
        self._lock = threading.Lock()
        self._cached: tuple[float, NetworkView] | None = None
        self._last_seen: dict[str, tuple[datetime, int | None, list[str]]] = {}
        app.extensions["portal_network"] = self

    @property
    def configured(self) -> bool:
        return bool(self.directory_file) or self._hosted() is not None

    def _hosted(self) -> bytes | None:
        """The newest directory version the portal hosts (uploaded by the secretariat), if any."""
        from .db import get_session
        from .hosted_directory import latest

        try:
            row = latest(get_session())
        except Exception:  # noqa: BLE001 - outside a request, or before the table exists: no hosted directory
            return None
        return row.raw if row is not None else None

    def _load_directory(self, now: datetime) -> "Directory":
        from gcc_link.protocol.directory import load_directory
        from gcc_link.protocol.pki import cert_fingerprint, load_certificate

        hosted = self._hosted()
        raw = hosted if hosted is not None else Path(str(self.directory_file)).read_bytes()
        directory = load_directory(raw, now)
        if self.root_cert_file:
            pinned = load_certificate(Path(self.root_cert_file).read_bytes())
            if cert_fingerprint(pinned) != cert_fingerprint(directory.root_certificate):
                raise ValueError("the directory's root certificate is not the configured GCC root")
        return directory

    def _check(self, directory: Any, member: Any, now: datetime) -> NodeStatus:

        node = NodeStatus(cc=member.cc, name={"ar": member.name_ar, "en": member.name_en}, status=member.status,
                          online=False)
        last = self._last_seen.get(member.cc)
        try:
            response = requests.get(member.node_url.rstrip("/") + "/peer/v1/status", timeout=self.timeout)
            if response.status_code != 200:
                node.error = "http_error"
            else:
                # the core's checks: signature, listed certificate, state allowed, own services only,
                # time window, no replay of an older status
                status = SignedStatus.from_jws(response.content, directory=directory, now=now,
                                               expected_node=member.cc, not_before=last[0] if last else None)
                node.online = True
                self._last_seen[member.cc] = (status.at, status.directory_version, list(status.services))
        except requests.RequestException:
            node.error = "unreachable"
        except GccLinkError as exc:
            node.error = exc.code  # malformed, bad_signature, untrusted_certificate, sender_not_authorised, stale
        seen = self._last_seen.get(member.cc)
        if seen:
            node.last_seen, node.directory_version, node.services = format_time(seen[0]), seen[1], list(seen[2])
        return node

    def view(self, fallback_states: list[Any]) -> NetworkView:
        """The cached view, refreshed when older than the TTL; ``fallback_states`` when unconfigured."""
        if not self.configured:
            return NetworkView(None, [NodeStatus(cc=s.code, name={"ar": s.name_ar, "en": s.name_en},
                                                 status=s.network_status, online=None) for s in fallback_states])
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.ttl:
                return self._cached[1]
            now = datetime.now(timezone.utc)
            try:
                directory = self._load_directory(now)
            except Exception as exc:  # noqa: BLE001 - an unreadable or untrusted directory: say so, don't crash
                states = [NodeStatus(cc=s.code, name={"ar": s.name_ar, "en": s.name_en}, status=s.network_status,
                                     online=None, error="directory_unavailable") for s in fallback_states]
                view = NetworkView(None, states)
                self._cached = (time.monotonic(), view)
                logging.getLogger(__name__).warning("member directory unavailable: %s", exc)
                return view
            members = list(directory.members)
            with ThreadPoolExecutor(max_workers=max(1, len(members))) as pool:
                states = list(pool.map(lambda m: self._check(directory, m, now), members))
            view = NetworkView(directory.version, states)
            self._cached = (time.monotonic(), view)
            return view
