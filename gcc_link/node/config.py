"""Node configuration: defaults, then a ``node.toml`` file, then ``GCC_`` environment.

Paths in the file are relative to the file's folder, so a configuration
can reference ``../../certs/...`` and work from any current directory.
Environment overrides use ``GCC_<SECTION>__<KEY>`` (e.g.
``GCC_NODE__DATABASE_URL``, ``GCC_DELIVERY__POLL_SECONDS``); values are
parsed as TOML scalars when they parse, else kept as strings.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..protocol.errors import ConfigError, GccLinkError
from ..protocol.identifiers import AgencyId, ServiceId, parse_state
from ..protocol.signed import CLOCK_SKEW_SECONDS, RESIGN_AFTER_SECONDS
from ..settings import env_key, parse_env_value

__all__ = [
    "AgencyConfig",
    "NodeConfig",
    "DEFAULT_AGENCY_SCOPES",
    "SCOPES",
    "ServiceConfig",
    "load_config",
]

SCOPES = ("messages:send", "messages:read", "calls", "services:admin")
#: The UN e-government survey's maturity stages, in order.
STAGES = ("emerging", "enhanced", "transactional", "connected")
#: What a new agency client gets unless the operator grants more: managing services is asked for explicitly.
DEFAULT_AGENCY_SCOPES = ("messages:send", "messages:read", "calls")


@dataclass(frozen=True)
class AgencyConfig:
    """One agency this node serves: its address, names and optional endpoints."""

    id: str
    name_en: str = ""
    name_ar: str = ""
    webhook_url: str | None = None


@dataclass(frozen=True)
class ServiceConfig:
    """A service an agency of this node provides, its backend and who may use it."""

    id: str
    description: str = ""
    backend_url: str | None = None
    grants: tuple[str, ...] = ()
    # readiness, as the UN e-government survey grades it; published in the node's signed status
    stage: str | None = None  # emerging | enhanced | transactional | connected
    channels: tuple[str, ...] = ()  # web, mobile, kiosk, service-centre, ...
    e_payment: bool = False


@dataclass(frozen=True)
class NodeConfig:
    """Everything a node needs to run; built by :func:`load_config`."""

    state: str
    data_dir: Path
    certificate: Path
    private_key: Path
    directory: str  # a file path or an http(s) URL
    name_en: str = ""
    name_ar: str = ""
    host: str = "127.0.0.1"
    port: int = 8100
    public_url: str = ""
    database_url: str = ""
    mode: str = "development"  # or "production" (gunicorn + delivery processes)
    workers: int = 2
    delivery_workers: int = 1
    dev_insecure_http: bool = False
    directory_refresh_seconds: float = 60.0
    token_ttl_seconds: int = 900
    max_body_bytes: int = 1_048_576
    max_batch_messages: int = 500  # items of one POST /api/v1/messages:batch
    max_peer_rejections_per_minute: int = 300
    max_token_failures_per_minute: int = 10
    backend_allowlist: tuple[str, ...] = ()
    batch_size: int = 50
    batch_max_bytes: int = 4_194_304
    poll_seconds: float = 0.2
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 300.0
    request_timeout_seconds: float = 10.0
    resign_after_seconds: float = float(RESIGN_AFTER_SECONDS)  # must stay below the receivers' skew window
    call_timeout_seconds: float = 10.0
    webhook_secret_env: str = ""
    retention_days: float = 30.0  # settled messages older than this move into signed archives (archive.py)
    archive_in_worker: bool = False  # the delivery worker runs the archiving once an hour
    agencies: tuple[AgencyConfig, ...] = ()
    services: tuple[ServiceConfig, ...] = ()
    source: Path | None = None

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: ``database_url`` or ``sqlite:///DATA_DIR/node.sqlite``."""
        return self.database_url or f"sqlite:///{self.data_dir / 'node.sqlite'}"

    @property
    def tls(self) -> bool:
        """mTLS between nodes unless plain HTTP is explicitly allowed for development."""
        return not self.dev_insecure_http

    @property
    def agency_ids(self) -> frozenset[str]:
        return frozenset(a.id for a in self.agencies)

    def agency(self, agency_id: str) -> AgencyConfig | None:
        for a in self.agencies:
            if a.id == agency_id:
                return a
        return None


_FIELDS: dict[str, tuple[str, str]] = {
    # toml section.key -> (attribute, type)
    "node.state": ("state", "str"),
    "node.name_en": ("name_en", "str"),
    "node.name_ar": ("name_ar", "str"),
    "node.data_dir": ("data_dir", "path"),
    "node.certificate": ("certificate", "path"),
    "node.private_key": ("private_key", "path"),
    "node.directory": ("directory", "source"),
    "node.directory_refresh_seconds": ("directory_refresh_seconds", "float"),
    "node.host": ("host", "str"),
    "node.port": ("port", "int"),
    "node.public_url": ("public_url", "str"),
    "node.database_url": ("database_url", "str"),
    "node.mode": ("mode", "str"),
    "node.workers": ("workers", "int"),
    "node.delivery_workers": ("delivery_workers", "int"),
    "node.dev_insecure_http": ("dev_insecure_http", "bool"),
    "node.max_body_bytes": ("max_body_bytes", "int"),
    "node.max_batch_messages": ("max_batch_messages", "int"),
    "oauth.token_ttl_seconds": ("token_ttl_seconds", "int"),
    "oauth.max_failures_per_minute": ("max_token_failures_per_minute", "int"),
    "node.max_peer_rejections_per_minute": ("max_peer_rejections_per_minute", "int"),
    "node.backend_allowlist": ("backend_allowlist", "strlist"),
    "delivery.batch_size": ("batch_size", "int"),
    "delivery.batch_max_bytes": ("batch_max_bytes", "int"),
    "delivery.poll_seconds": ("poll_seconds", "float"),
    "delivery.backoff_base_seconds": ("backoff_base_seconds", "float"),
    "delivery.backoff_max_seconds": ("backoff_max_seconds", "float"),
    "delivery.request_timeout_seconds": ("request_timeout_seconds", "float"),
    "delivery.resign_after_seconds": ("resign_after_seconds", "float"),
    "calls.timeout_seconds": ("call_timeout_seconds", "float"),
    "webhooks.secret_env": ("webhook_secret_env", "str"),
    "retention.days": ("retention_days", "float"),
    "retention.archive_in_worker": ("archive_in_worker", "bool"),
}


def _convert(kind: str, value: Any, base: Path, key: str) -> Any:
    try:
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            return value
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
            return value
        if kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise TypeError
            return value
        if kind == "strlist":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return tuple(value)
        if kind == "path":
            return (base / str(value)).resolve()
        if kind == "source":
            text = str(value)
            return text if text.startswith(("http://", "https://")) else str((base / text).resolve())
    except TypeError:
        raise ConfigError(f"{key}: expected {kind}, got {value!r}") from None
    raise ConfigError(f"unknown type {kind}")


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> NodeConfig:
    """Build a :class:`NodeConfig` from ``path`` (TOML), ``GCC_`` env and ``overrides``.

    Raises ``ConfigError`` with the offending key on any problem.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    base = Path.cwd()
    source = None
    if path is not None:
        source = Path(path).resolve()
        base = source.parent
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for dotted, (attr, kind) in _FIELDS.items():
        section, key = dotted.split(".")
        if key in data.get(section, {}):
            values[attr] = _convert(kind, data[section][key], base, dotted)
        name = env_key(section, key)
        if name in env:
            values[attr] = _convert(kind, parse_env_value(env[name]), Path.cwd(), name)
    for key, value in (overrides or {}).items():
        values[key] = value
    try:
        values["agencies"] = tuple(_agency(a) for a in data.get("agencies", []))
        values["services"] = tuple(_service(s) for s in data.get("services", []))
    except (KeyError, TypeError, GccLinkError) as exc:
        raise ConfigError(f"agencies/services: {exc}") from None
    for required in ("state", "data_dir", "certificate", "private_key", "directory"):
        if required not in values:
            raise ConfigError(f"missing required setting node.{required}")
    config = NodeConfig(source=source, **values)
    _check(config)
    return config


def _agency(item: Mapping[str, Any]) -> AgencyConfig:
    AgencyId.parse(item["id"])
    return AgencyConfig(
        item["id"], str(item.get("name_en", "")), str(item.get("name_ar", "")), item.get("webhook_url") or None
    )


def _service(item: Mapping[str, Any]) -> ServiceConfig:
    ServiceId.parse(item["id"])
    grants = tuple(item.get("grants", ()))
    for g in grants:
        AgencyId.parse(g)
    stage = item.get("stage")
    if stage is not None and stage not in STAGES:
        raise ConfigError(f"service {item['id']}: stage must be one of {', '.join(STAGES)}")
    channels = item.get("channels", [])
    if not isinstance(channels, list) or not all(isinstance(c, str) and c for c in channels):
        raise ConfigError(f"service {item['id']}: channels is a list of names")
    e_payment = item.get("e_payment", False)
    if not isinstance(e_payment, bool):
        raise ConfigError(f"service {item['id']}: e_payment is true or false")
    return ServiceConfig(
        item["id"],
        str(item.get("description", "")),
        item.get("backend_url") or None,
        grants,
        stage,
        tuple(channels),
        e_payment,
    )


def _check(config: NodeConfig) -> None:
    try:
        parse_state(config.state)
    except GccLinkError as exc:
        raise ConfigError(f"node.state: {exc.message}") from None
    for a in config.agencies:
        if AgencyId.parse(a.id).state != config.state:
            raise ConfigError(f"agency {a.id} is not of state {config.state}")
    for s in config.services:
        if str(ServiceId.parse(s.id).provider) not in config.agency_ids:
            raise ConfigError(f"service {s.id} is not provided by an agency of this node")
    if config.mode not in ("development", "production"):
        raise ConfigError("node.mode must be 'development' or 'production'")
    if config.max_batch_messages < 1:
        raise ConfigError("node.max_batch_messages must be at least 1")
    if not 1 <= config.port <= 65535:
        raise ConfigError("node.port must be 1..65535")
    if not 0 < config.resign_after_seconds < CLOCK_SKEW_SECONDS:
        raise ConfigError(
            f"delivery.resign_after_seconds must be above 0 and below the receivers' "
            f"{CLOCK_SKEW_SECONDS} s clock-skew window, or retried messages arrive stale"
        )
