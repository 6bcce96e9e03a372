"""The network collector: polls every member node's signed status and keeps the verified history.

Run by ``gcc-link portal collect-network`` (a loop; ``portal run`` starts
one beside the web server, and so does the demo). Each round fetches
``GET /peer/v1/status`` from every node the trusted directory lists, in
parallel with a short timeout, verifies it with the core
(:class:`gcc_link.protocol.status.NodeStatus`: signature, certificate listed
for that state, state allowed, time window, never older than the last status
accepted from that node) and stores one sample per node: the verified facts,
or the stable code of why there were none. Pages only read samples, so a
page render never waits on a node; a node is shown offline once it missed
``offline_after`` seconds of polls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from gcc_link.protocol.directory import Directory, load_directory
from gcc_link.protocol.errors import GccLinkError
from gcc_link.protocol.pki import cert_fingerprint, load_certificate
from gcc_link.protocol.status import MAX_STATUS_BYTES, NodeStatus

from .hosted_directory import latest
from .models import NodeSample

__all__ = ["Poll", "collect_once", "run_forever", "trusted_directory"]

log = logging.getLogger("knowledge_portal.collector")
KEEP_DAYS = 30

Fetch = Callable[[str, float], tuple[int, bytes]]


@dataclass(frozen=True)
class Poll:
    """The outcome of asking one node: a verified status, or the code of why not."""

    cc: str
    status: NodeStatus | None
    error: str | None


def http_fetch(url: str, timeout: float) -> tuple[int, bytes]:
    """GET ``url``: (HTTP status, at most MAX_STATUS_BYTES of body)."""
    with requests.get(url, timeout=timeout, stream=True) as response:
        body = response.raw.read(MAX_STATUS_BYTES + 1, decode_content=True)
        return response.status_code, body


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def trusted_directory(session: Session, config: Any, now: datetime) -> Directory:
    """The directory the portal trusts now: the newest hosted version, else the configured file (pinned root)."""
    row = latest(session)
    if row is not None:
        directory = load_directory(row.raw, now)
    else:
        directory = load_directory(Path(str(config.get("DIRECTORY_FILE"))).read_bytes(), now)
    root = config.get("ROOT_CERT")
    if root and cert_fingerprint(load_certificate(Path(root).read_bytes())) != cert_fingerprint(
        directory.root_certificate
    ):
        raise GccLinkError("the directory's root certificate is not the configured GCC root")
    return directory


def _last_accepted(session: Session) -> dict[str, datetime]:
    rows = session.execute(
        select(NodeSample.cc, func.max(NodeSample.status_at)).where(NodeSample.online.is_(True)).group_by(NodeSample.cc)
    ).all()
    return {cc: _aware(at) for cc, at in rows if at is not None}


def poll(
    directory: Directory, member: Any, now: datetime, not_before: datetime | None, fetch: Fetch, timeout: float
) -> Poll:
    """Ask one node for its signed status and verify it with the core."""
    try:
        status_code, body = fetch(member.node_url.rstrip("/") + "/peer/v1/status", timeout)
        if status_code != 200:
            return Poll(member.cc, None, "http_error")
        status = NodeStatus.from_jws(body, directory=directory, now=now, expected_node=member.cc, not_before=not_before)
        return Poll(member.cc, status, None)
    except requests.RequestException:
        return Poll(member.cc, None, "unreachable")
    except GccLinkError as exc:
        return Poll(member.cc, None, exc.code)  # malformed, bad_signature, untrusted_certificate, stale, ...


def collect_once(
    session: Session, config: Any, now: datetime, fetch: Fetch = http_fetch, timeout: float = 2.0
) -> list[Poll]:
    """One round over every member of the trusted directory; the samples are committed."""
    directory = trusted_directory(session, config, now)
    last = _last_accepted(session)
    members = list(directory.members)
    with ThreadPoolExecutor(max_workers=max(1, len(members))) as pool:
        polls = list(pool.map(lambda m: poll(directory, m, now, last.get(m.cc), fetch, timeout), members))
    for p in polls:
        s = p.status
        session.add(
            NodeSample(
                cc=p.cc,
                polled_at=_naive(now),
                online=s is not None,
                error=p.error,
                status_at=_naive(s.at) if s else None,
                directory_version=s.directory_version if s else None,
                queue_depth=s.queue_depth if s else None,
                services=list(s.services) if s else [],
                extra=dict(s.extra) if s else {},
            )
        )
    session.execute(delete(NodeSample).where(NodeSample.polled_at < _naive(now - timedelta(days=KEEP_DAYS))))
    session.commit()
    return polls


def run_forever(
    make_session: Callable[[], Session],
    config: Any,
    interval: float,
    stop: threading.Event,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> None:
    """Collect every ``interval`` seconds until ``stop`` is set; a failed round is logged, the loop goes on."""
    while not stop.is_set():
        session = make_session()
        try:
            polls = collect_once(session, config, clock())
            log.info("network round: %s", ", ".join(f"{p.cc} {'ok' if p.status else p.error}" for p in polls))
        except (GccLinkError, OSError) as exc:
            session.rollback()
            log.warning("network round skipped: %s", exc)
        finally:
            session.close()
        stop.wait(interval)
