"""The per-process node context: configuration, identity, directory and store.

Created once by the application factory (and by delivery workers) and kept
on ``app.extensions["gcc_link"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..protocol.errors import ConfigError, GccLinkError
from ..protocol.identifiers import ServiceId
from ..protocol.pki import NodeIdentity
from .clock import utcnow
from .config import NodeConfig
from .db import Database
from .directory_source import DirectoryHolder
from .models import Grant, Service

__all__ = [
    "NodeContext",
    "load_identity",
    "seed_services",
]


def load_identity(config: NodeConfig) -> NodeIdentity:
    try:
        identity = NodeIdentity.from_pem(config.certificate.read_bytes(), config.private_key.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"node key or certificate not found: {exc.filename}") from None
    except GccLinkError as exc:
        raise ConfigError(f"node identity: {exc.message}") from None
    if identity.state != config.state:
        raise ConfigError(f"the node certificate is for {identity.state}, the config for {config.state}")
    return identity


@dataclass
class NodeContext:
    """What every request handler and worker of one node process needs."""

    config: NodeConfig
    identity: NodeIdentity
    directories: DirectoryHolder
    db: Database
    #: The node's only clock: every time the node records or checks comes from here, so tests can move it.
    clock: Callable[[], datetime] = field(default=utcnow)
    started_at: datetime = field(default_factory=utcnow)

    @classmethod
    def create(cls, config: NodeConfig) -> NodeContext:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        identity = load_identity(config)
        holder = DirectoryHolder(config.directory, config.data_dir, config.directory_refresh_seconds)
        return cls(config, identity, holder, Database(config.db_url))

    @property
    def state(self) -> str:
        return self.config.state

    def directory(self):  # -> Directory
        return self.directories.current()

    def now(self) -> datetime:
        """The current time by the node's clock (aware UTC)."""
        return self.clock()

    def time(self) -> float:
        """The node's clock as POSIX seconds (the store keeps times as floats)."""
        return self.clock().timestamp()


def seed_services(ctx: NodeContext) -> None:
    """Insert services and grants from the configuration that the store does not hold yet.

    Services edited through the API are kept: the configuration only seeds.
    Several web workers may seed at once: whoever loses the race has nothing to do.
    """
    try:
        _seed(ctx)
    except IntegrityError:
        pass


def _seed(ctx: NodeContext) -> None:
    with ctx.db.write() as session:
        known = set(session.execute(select(Service.id)).scalars())
        for svc in ctx.config.services:
            if svc.id in known:
                continue
            session.add(
                Service(
                    id=svc.id,
                    agency=str(ServiceId.parse(svc.id).provider),
                    description=svc.description,
                    backend_url=svc.backend_url,
                )
            )
            session.execute(delete(Grant).where(Grant.service == svc.id))
            for grantee in svc.grants:
                session.add(Grant(service=svc.id, grantee=grantee))
