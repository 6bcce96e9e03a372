"""What the network attests: each member node's signed status, verified against the directory.

The collector (:mod:`knowledge_portal.collector`) polls every node the
trusted member directory lists (the version the portal hosts, else
``DIRECTORY_FILE``, pinned to ``ROOT_CERT``) and stores what each signed
status proves; this module turns the stored samples into the view pages and
``/api/v1/network`` show, so the portal shows what the nodes prove, not what
was typed, and no page render ever waits on a node.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Flask

from gcc_link.protocol.errors import GccLinkError
from gcc_link.protocol.timefmt import format_time

from .models import NodeSample


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
        return {
            "cc": self.cc,
            "name": self.name,
            "status": self.status,
            "online": self.online,
            "last_seen": self.last_seen,
            "directory_version": self.directory_version,
            "services": self.services,
            "error": self.error,
        }


@dataclass
class NetworkView:
    directory_version: int | None
    states: list[NodeStatus]

    def as_dict(self) -> dict[str, Any]:
        return {"directory_version": self.directory_version, "states": [s.as_dict() for s in self.states]}


class NetworkMonitor:
    """Reads what the collector stored (``app.extensions['portal_network']``): no page waits on a node.

    A node is online while its latest verified status was collected less
    than ``offline_after`` seconds ago (three missed polls by default).
    """

    def __init__(self, app: Flask) -> None:
        self.directory_file = app.config.get("DIRECTORY_FILE")
        self.root_cert_file = app.config.get("ROOT_CERT")
        self.offline_after = float(app.config.get("NETWORK_OFFLINE_AFTER_SECONDS", 90))
        app.extensions["portal_network"] = self

    @property
    def config(self) -> dict[str, Any]:
        return {"DIRECTORY_FILE": self.directory_file, "ROOT_CERT": self.root_cert_file}

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

    def view(self, fallback_states: list[Any], now: datetime | None = None) -> NetworkView:
        """Each member of the trusted directory with what the collector last verified; typed statuses when unconfigured."""
        from .collector import trusted_directory
        from .db import get_session

        if not self.configured:
            return NetworkView(
                None,
                [
                    NodeStatus(cc=s.code, name={"ar": s.name_ar, "en": s.name_en}, status=s.network_status, online=None)
                    for s in fallback_states
                ],
            )
        now = now or datetime.now(timezone.utc)
        session = get_session()
        try:
            directory = trusted_directory(session, self.config, now)
        except (GccLinkError, OSError) as exc:
            logging.getLogger(__name__).warning("member directory unavailable: %s", exc)
            return NetworkView(
                None,
                [
                    NodeStatus(
                        cc=s.code,
                        name={"ar": s.name_ar, "en": s.name_en},
                        status=s.network_status,
                        online=None,
                        error="directory_unavailable",
                    )
                    for s in fallback_states
                ],
            )
        latest_any, latest_ok = _latest_samples(session)
        states = []
        for member in directory.members:
            node = NodeStatus(
                cc=member.cc, name={"ar": member.name_ar, "en": member.name_en}, status=member.status, online=None
            )
            last, ok = latest_any.get(member.cc), latest_ok.get(member.cc)
            if last is not None:
                fresh = ok is not None and now - _aware(ok.polled_at) <= timedelta(seconds=self.offline_after)
                # a node that could not be reached gets a few missed polls before it is shown offline; one
                # whose status no longer verifies (suspended, wrong certificate, replay) is offline at once
                refused = not last.online and last.error not in (None, "unreachable", "http_error")
                node.online = fresh and not refused
                node.error = None if node.online else (last.error or "missed_polls")
            if ok is not None and ok.status_at is not None:
                node.last_seen = format_time(_aware(ok.status_at))
                node.directory_version = ok.directory_version
                node.services = list(ok.services or [])
            states.append(node)
        return NetworkView(directory.version, states)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _latest_samples(session: Any) -> tuple[dict[str, NodeSample], dict[str, NodeSample]]:
    """The newest sample of each node (by poll time), and the newest one with a verified status."""
    from sqlalchemy import and_, func, select

    def newest(online_only: bool) -> dict[str, NodeSample]:
        latest_at = select(NodeSample.cc, func.max(NodeSample.polled_at).label("at"))
        if online_only:
            latest_at = latest_at.where(NodeSample.online.is_(True))
        sub = latest_at.group_by(NodeSample.cc).subquery()
        query = select(NodeSample).join(sub, and_(NodeSample.cc == sub.c.cc, NodeSample.polled_at == sub.c.at))
        if online_only:
            query = query.where(NodeSample.online.is_(True))
        return {r.cc: r for r in session.scalars(query.order_by(NodeSample.id)).all()}

    return newest(False), newest(True)
