"""Portal configuration: one typed, frozen :class:`PortalConfig`, built by :func:`load_config`.

Layers, each overriding the one before:

1. the defaults of :class:`PortalConfig`;
2. the instance folder's ``portal.toml`` (flat ``key = value`` lines; relative
   paths are relative to the instance folder);
3. the environment, by the rule of :mod:`gcc_link.settings` shared with the
   node: ``GCC_PORTAL__<KEY>`` (``GCC_PORTAL__DATABASE_URL``,
   ``GCC_PORTAL__PER_PAGE=20``), values parsed as TOML scalars;
4. the explicit overrides given to ``create_app(config)`` (keys in any case:
   ``{"INSTANCE_DIR": ..., "PER_PAGE": 5}`` or ``{"per_page": 5}``).

Why typed: every value is checked once, when the app is built, so a typo or a
wrong type stops start-up with a :class:`~gcc_link.protocol.errors.ConfigError`
naming the key instead of failing inside a request. Why no executable
instance file: configuration is data; nothing in the instance folder is run.
The secret key is generated once into the instance folder (mode 0600) and is
never logged nor shown in ``repr``.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gcc_link.protocol.errors import ConfigError
from gcc_link.protocol.identifiers import GCC_STATES
from gcc_link.settings import env_key, env_overrides

__all__ = ["CONFIG_FILE", "ENV_SECTION", "SECRET_FILE", "PortalConfig", "ensure_secret_key", "load_config"]

#: The section of ``GCC_<SECTION>__<KEY>`` environment overrides (``GCC_PORTAL__PER_PAGE``).
ENV_SECTION = "portal"
#: The instance file read between the defaults and the environment.
CONFIG_FILE = "portal.toml"
#: The instance file holding the generated secret key (mode 0600).
SECRET_FILE = "secret_key"

LANGUAGE_CHOICES = ("ar", "en")
DIGIT_CHOICES = ("arab", "latn")
SAMESITE_CHOICES = ("Lax", "Strict", "None")
SCHEME_CHOICES = ("http", "https")


@dataclass(frozen=True)
class PortalConfig:
    """Everything the portal app reads, checked and complete (paths resolved, secret key present)."""

    instance_dir: Path
    #: SQLAlchemy URL; default ``sqlite:///INSTANCE/portal.sqlite``. ``postgresql://`` uses psycopg 3.
    database_url: str
    search_index_dir: Path
    upload_dir: Path
    secret_key: str = field(repr=False)
    max_content_length: int = 8 * 1024 * 1024
    default_language: str = "ar"
    languages: tuple[str, ...] = LANGUAGE_CHOICES
    #: Digits on Arabic pages: ``arab`` (Arabic-Indic, ٠١٢) or ``latn`` (0-9); ``state_digits`` overrides per state.
    arabic_digits: str = "arab"
    state_digits: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    per_page: int = 10
    login_max_attempts: int = 5
    login_window_seconds: int = 300
    login_max_attempts_per_address: int = 50  # failures from one address, any user names, per window
    login_lockout_max_seconds: int = 86400  # the longest a (user, address) pair stays locked after failures
    session_cookie_httponly: bool = True
    session_cookie_samesite: str = "Lax"
    #: Forced on when ``preferred_url_scheme`` is ``https``.
    session_cookie_secure: bool = False
    permanent_session_lifetime: int = 8 * 3600
    wtf_csrf_time_limit: int = 8 * 3600
    preferred_url_scheme: str = "http"
    #: Reverse proxies in front of the portal whose ``X-Forwarded-*`` headers are trusted.
    proxy_count: int = 0
    site_url: str | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_scope: str = "openid email profile"
    #: The signed member directory and the GCC root it must chain to: the home page and ``/api/v1/network``
    #: then show each node's verified live status. Unset: the statuses typed into the portal are shown.
    directory_file: Path | None = None
    root_cert: Path | None = None
    network_cache_seconds: float = 30.0  # the collector's poll interval (gcc-link portal collect-network)
    network_timeout_seconds: float = 1.5  # how long the collector waits for one node's status
    network_offline_after_seconds: float = 90.0  # a node that missed polls this long is shown offline
    #: Search engine: ``auto`` (PostgreSQL when ``database_url`` is PostgreSQL, so every portal machine
    #: shares one index; else whoosh in ``search_index_dir``), ``whoosh`` or ``postgres``.
    search_backend: str = "auto"
    #: ``callable(index_dir) -> SearchBackend``; None: whoosh. Only settable from code (overrides).
    search_backend_factory: Callable[[Path], Any] | None = None
    #: Anonymous public GET pages are served from a per-process cache (see :mod:`knowledge_portal.response_cache`).
    response_cache: bool = True
    response_cache_entries: int = 512  # pages kept per process (least recently used out first)
    response_cache_seconds: float = 300.0  # the longest a cached page is kept (writes invalidate it at once)
    response_cache_live_seconds: float = 5.0  # pages showing the clock-dependent network view
    #: 0: read the content generation on every cacheable request (no stale page); N: at most every N ms
    #: per process, so a page can be up to N ms stale after a write.
    response_cache_generation_ms: int = 0
    testing: bool = False

    def flask_config(self) -> dict[str, Any]:
        """The values as Flask ``app.config`` keys (upper case; paths as strings, the mapping as a dict)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name.upper()] = value
        return out


# --- checking one value --------------------------------------------------------------------------------------

Checker = Callable[[Any, Path], Any]


def _str(value: Any, _base: Path) -> str:
    if not isinstance(value, str):
        raise TypeError("a string")
    return value


def _optional_str(value: Any, base: Path) -> str | None:
    return None if value is None or value == "" else _str(value, base)


def _int(minimum: int) -> Checker:
    def check(value: Any, _base: Path) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("an integer")
        if value < minimum:
            raise TypeError(f"an integer >= {minimum}")
        return value

    return check


def _float(value: Any, _base: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TypeError("a positive number")
    return float(value)


def _bool(value: Any, _base: Path) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _choice(options: tuple[str, ...]) -> Checker:
    def check(value: Any, _base: Path) -> str:
        if value not in options:
            raise TypeError("one of " + ", ".join(options))
        return str(value)

    return check


def _path(value: Any, base: Path) -> Path:
    if not isinstance(value, (str, os.PathLike)) or str(value) == "":
        raise TypeError("a path")
    return (base / Path(value)).resolve()


def _optional_path(value: Any, base: Path) -> Path | None:
    return None if value is None or value == "" else _path(value, base)


def _languages(value: Any, _base: Path) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value or any(v not in LANGUAGE_CHOICES for v in value):
        raise TypeError("a non-empty list of " + ", ".join(LANGUAGE_CHOICES))
    return tuple(value)


def _state_digits(value: Any, _base: Path) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or any(k not in GCC_STATES or v not in DIGIT_CHOICES for k, v in value.items()):
        raise TypeError(f"a table of member state ({', '.join(GCC_STATES)}) to {' or '.join(DIGIT_CHOICES)}")
    return MappingProxyType(dict(value))


def _callable(value: Any, _base: Path) -> Callable[[Path], Any] | None:
    if value is None:
        return None
    if not callable(value):
        raise TypeError("a callable (settable from code only)")
    factory: Callable[[Path], Any] = value
    return factory


_CHECKS: dict[str, Checker] = {
    "instance_dir": _path,
    "database_url": _optional_str,  # empty: the SQLite file in the instance folder
    "search_index_dir": _optional_path,
    "upload_dir": _optional_path,
    "secret_key": _optional_str,  # empty: generated into the instance folder
    "max_content_length": _int(1),
    "default_language": _choice(LANGUAGE_CHOICES),
    "languages": _languages,
    "arabic_digits": _choice(DIGIT_CHOICES),
    "state_digits": _state_digits,
    "per_page": _int(1),
    "login_max_attempts": _int(1),
    "login_window_seconds": _int(1),
    "login_max_attempts_per_address": _int(1),
    "login_lockout_max_seconds": _int(1),
    "session_cookie_httponly": _bool,
    "session_cookie_samesite": _choice(SAMESITE_CHOICES),
    "session_cookie_secure": _bool,
    "permanent_session_lifetime": _int(1),
    "wtf_csrf_time_limit": _int(1),
    "preferred_url_scheme": _choice(SCHEME_CHOICES),
    "proxy_count": _int(0),
    "site_url": _optional_str,
    "oidc_issuer": _optional_str,
    "oidc_client_id": _optional_str,
    "oidc_client_secret": _optional_str,
    "oidc_scope": _str,
    "directory_file": _optional_path,
    "root_cert": _optional_path,
    "network_cache_seconds": _float,
    "network_timeout_seconds": _float,
    "network_offline_after_seconds": _float,
    "search_backend": _choice(("auto", "whoosh", "postgres")),
    "search_backend_factory": _callable,
    "response_cache": _bool,
    "response_cache_entries": _int(1),
    "response_cache_seconds": _float,
    "response_cache_live_seconds": _float,
    "response_cache_generation_ms": _int(0),
    "testing": _bool,
}
#: Settings whose environment value is kept as the plain text when it parses as another TOML type
#: (a numeric client id or secret is still a string).
_TEXT_SETTINGS = frozenset(
    name for name, check in _CHECKS.items() if check in (_str, _optional_str, _path, _optional_path)
)


def _checked(key: str, value: Any, base: Path, where: str) -> Any:
    check = _CHECKS.get(key)
    if check is None:
        raise ConfigError(f"{where}: unknown portal setting {key!r}")
    try:
        return check(value, base)
    except TypeError as exc:
        raise ConfigError(
            f"{where}: {key} must be {exc}, not {value!r}"
            if key not in ("secret_key", "oidc_client_secret")
            else f"{where}: {key} must be {exc}"
        ) from None


# --- the layers ------------------------------------------------------------------------------------------------


def _read_instance_file(instance: Path) -> dict[str, Any]:
    path = instance / CONFIG_FILE
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return {key.lower(): _checked(key.lower(), value, instance, str(path)) for key, value in data.items()}


def _read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in env_overrides(ENV_SECTION, environ).items():
        name = env_key(ENV_SECTION, key)
        if key in _TEXT_SETTINGS and not isinstance(value, str):
            value = environ[name]
        values[key] = _checked(key, value, Path.cwd(), name)
    return values


def ensure_secret_key(instance: Path) -> str:
    """Read ``INSTANCE/secret_key``, creating it (0600) with 64 random hex characters if missing."""
    path = instance / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def load_config(overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> PortalConfig:
    """Build the :class:`PortalConfig`: defaults, ``INSTANCE/portal.toml``, ``GCC_PORTAL__*`` from ``env``
    (default ``os.environ``), then ``overrides``.

    ``instance_dir`` (default ``./instance``) comes from the overrides or the
    environment, since it decides where ``portal.toml`` is read from. The
    instance folder and its secret key file are created when missing; the
    database is not touched (see :func:`knowledge_portal.db.migrate`).
    Raises ``ConfigError`` naming the key on an unknown setting or a wrong value.
    """
    environ = os.environ if env is None else env
    explicit = {
        str(k).lower(): _checked(str(k).lower(), v, Path.cwd(), "create_app config")
        for k, v in (overrides or {}).items()
    }
    from_env = _read_environment(environ)
    instance: Path = explicit.get("instance_dir") or from_env.get("instance_dir") or _path("instance", Path.cwd())
    values: dict[str, Any] = {}
    values.update(_read_instance_file(instance))
    values.update(from_env)
    values.update(explicit)
    values["instance_dir"] = instance
    instance.mkdir(parents=True, exist_ok=True)
    values["database_url"] = values.get("database_url") or f"sqlite:///{instance / 'portal.sqlite'}"
    values["search_index_dir"] = values.get("search_index_dir") or instance / "search-index"
    values["upload_dir"] = values.get("upload_dir") or instance / "uploads"
    values["secret_key"] = values.get("secret_key") or ensure_secret_key(instance)
    if values.get("preferred_url_scheme") == "https":
        values["session_cookie_secure"] = True
    config = PortalConfig(**values)
    if config.default_language not in config.languages:
        raise ConfigError(f"default_language {config.default_language!r} is not one of languages {config.languages}")
    return config
