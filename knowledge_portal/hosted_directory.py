"""The portal hosts the signed member directory: uploaded by the secretariat, verified as a node would.

Directory keys never touch the web server. The secretariat signs a new
version offline (``gcc-link directory sign`` / ``cosign`` / ``publish``) and
uploads the file in the admin; the portal accepts it only by the rules a
node applies (``gcc_link.protocol.directory.update_directory``): signed by
the threshold of the version it already holds AND by its own threshold, not
older, not expired. It then serves every version at ``/directory.jws`` (the
latest) and ``/directory.vN.jws``, so nodes can refresh from the portal and
walk the chain across key rotations, and lists them on a public page.

The first version the portal trusts is the operator's explicit choice: the
configured ``DIRECTORY_FILE`` (pinned to ``ROOT_CERT`` when set), or, with
no file configured, a first upload whose root certificate is the pinned
``ROOT_CERT``. Without either, uploads are refused: a web form is no place
to choose a federation's root of trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gcc_link.protocol.directory import Directory, load_directory, peek_directory_version, update_directory
from gcc_link.protocol.errors import ConfigError, DirectoryError, DirectoryRollbackError, GccLinkError
from gcc_link.protocol.pki import cert_fingerprint, load_certificate

from .models import DirectoryVersion

__all__ = ["DirectoryVersion", "HostedDirectory", "UploadRefused", "describe", "latest", "seed", "upload"]

MAX_UPLOAD_BYTES = 4 * 1024 * 1024


class UploadRefused(ConfigError):
    """An uploaded directory version was not accepted (the message says which rule refused it)."""

    code = "directory_refused"


@dataclass(frozen=True)
class HostedDirectory:
    """A stored version, parsed (for pages and the API)."""

    version: int
    issued_at: datetime
    expires_at: datetime
    uploaded_at: datetime
    uploaded_by: str
    members: list[dict[str, Any]]
    signers: list[str]
    threshold: int
    raw: bytes


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def latest(session: Session) -> DirectoryVersion | None:
    """The newest accepted version, or None when the portal hosts none yet."""
    return session.execute(
        select(DirectoryVersion).order_by(DirectoryVersion.version.desc()).limit(1)
    ).scalar_one_or_none()


def _pinned_root(config: Any) -> bytes | None:
    path = config.get("ROOT_CERT")
    return Path(path).read_bytes() if path else None


def _check_root(directory: Directory, pinned: bytes | None) -> None:
    if pinned is not None and cert_fingerprint(load_certificate(pinned)) != cert_fingerprint(
        directory.root_certificate
    ):
        raise UploadRefused("the directory carries another root certificate than the configured GCC root")


def _anchor(session: Session, config: Any, now: datetime) -> Directory | None:
    """The version uploads must chain from: the newest stored one, else the configured file (stored first)."""
    row = latest(session)
    if row is not None:
        return load_directory(row.raw, now, allow_expired=True)
    configured = config.get("DIRECTORY_FILE")
    if not configured:
        return None
    data = Path(configured).read_bytes()
    directory = load_directory(data, now, allow_expired=True)
    _check_root(directory, _pinned_root(config))
    _store(session, directory, data, now, "configuration")
    return directory


def _store(session: Session, directory: Directory, data: bytes, now: datetime, who: str) -> DirectoryVersion:
    row = DirectoryVersion(
        version=directory.version,
        raw=data,
        issued_at=_naive(directory.issued_at),
        expires_at=_naive(directory.expires_at),
        uploaded_at=_naive(now),
        uploaded_by=who,
    )
    session.add(row)
    session.flush()
    return row


def upload(session: Session, config: Any, data: bytes, now: datetime, who: str) -> list[int]:
    """Accept ``data``, the next version, as a node would; returns the versions added.

    Raises ``UploadRefused`` with the rule that failed: threshold of the
    held version or of its own, rollback, expiry, foreign root, or no
    operator-chosen root of trust.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(f"a directory file is at most {MAX_UPLOAD_BYTES} bytes")
    try:
        anchor = _anchor(session, config, now)
        if anchor is None:
            pinned = _pinned_root(config)
            if pinned is None:
                raise UploadRefused("no root of trust is configured: set DIRECTORY_FILE or ROOT_CERT first")
            first = load_directory(data, now)
            _check_root(first, pinned)
            _store(session, first, data, now, who)
            return [first.version]
        version = peek_directory_version(data)
        if version <= anchor.version:
            if version == anchor.version and data == anchor.raw:
                raise UploadRefused(f"version {version} is already published")
            raise DirectoryRollbackError(f"version {version} is not newer than the published version {anchor.version}")
        if version != anchor.version + 1:
            raise UploadRefused(
                f"version {version} skips versions: upload version {anchor.version + 1} first, "
                "so every node can walk the chain"
            )
        accepted = update_directory(anchor, data, now)
        _check_root(accepted, _pinned_root(config))
        _store(session, accepted, data, now, who)
        return [accepted.version]
    except UploadRefused:
        raise
    except DirectoryError as exc:
        raise UploadRefused(f"{exc.code}: {exc.message}") from exc
    except (GccLinkError, OSError) as exc:
        raise UploadRefused(f"{getattr(exc, 'code', 'unreadable')}: {exc}") from exc


def seed(session: Session, config: Any, now: datetime) -> None:
    """Host the configured ``DIRECTORY_FILE`` as the first version if the portal hosts none yet.

    So a portal configured with the federation's directory serves it to
    nodes at once; a configured file that cannot be read or trusted is
    simply not hosted (the network page says the directory is unavailable).
    """
    if latest(session) is not None or not config.get("DIRECTORY_FILE"):
        return
    try:
        _anchor(session, config, now)
        session.commit()
    except (GccLinkError, OSError):
        session.rollback()


def describe(row: DirectoryVersion) -> HostedDirectory:
    """What a person reads about one version: when, which members with which status, who signed."""
    directory = load_directory(row.raw, _aware(row.issued_at), allow_expired=True)
    holders = {k.kid: k.holder for k in directory.keys}
    members = [
        {
            "cc": m.cc,
            "name": {"ar": m.name_ar, "en": m.name_en},
            "status": m.status,
            "node_url": m.node_url,
            "services": len(m.services),
        }
        for m in directory.members
    ]
    signers = sorted(holders.get(kid, kid[:12]) for kid in directory.signer_kids)
    return HostedDirectory(
        row.version,
        _aware(row.issued_at),
        _aware(row.expires_at),
        _aware(row.uploaded_at),
        row.uploaded_by,
        members,
        signers,
        directory.threshold,
        row.raw,
    )
