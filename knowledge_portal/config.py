"""Portal configuration: defaults, then the instance's ``portal.toml``, then environment.

Why layered: operators keep site settings in the instance folder, while
containers override single values with ``GCC_PORTAL_*`` variables. The secret
key is generated once into the instance folder (mode 0600) and never logged.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

ENV_PREFIX = "GCC_PORTAL_"

DEFAULTS: dict[str, Any] = {
    "INSTANCE_DIR": "instance",
    "DATABASE_URL": None,  # None: sqlite file portal.sqlite in the instance folder
    "SEARCH_INDEX_DIR": None,  # None: DIR/search-index
    "UPLOAD_DIR": None,  # None: DIR/uploads
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "DEFAULT_LANGUAGE": "ar",
    "LANGUAGES": ("ar", "en"),
    # Digits in Arabic pages: "arab" (Arabic-Indic, ٠١٢) or "latn" (0-9); per-state override.
    "ARABIC_DIGITS": "arab",
    "STATE_DIGITS": {},
    "PER_PAGE": 10,
    "LOGIN_MAX_ATTEMPTS": 5,
    "LOGIN_WINDOW_SECONDS": 300,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set True behind TLS (the portal does when PREFERRED_URL_SCHEME=https)
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "OIDC_ISSUER": None,
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_SCOPE": "openid email profile",
    "SEARCH_BACKEND_FACTORY": None,  # callable(index_dir) -> SearchBackend; None: whoosh
    "SITE_URL": None,
    "PROXY_COUNT": 0,
    # The signed member directory and the GCC root it must chain to: the home page and /api/v1/network
    # then show each node's verified live status. Unset: the statuses typed into the portal are shown.
    "DIRECTORY_FILE": None,
    "ROOT_CERT": None,
    "NETWORK_CACHE_SECONDS": 30,
    "NETWORK_TIMEOUT_SECONDS": 1.5,  # reverse proxies in front of the portal whose X-Forwarded-* headers are trusted
}

_SECRET_FILE = "secret_key"


def _coerce(raw: str) -> Any:
    """Environment values are strings; accept JSON literals (true, 5, {...}) too."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def read_instance_file(instance: Path) -> dict[str, Any]:
    """Settings from ``portal.toml`` (upper-cased keys) or ``portal.py`` in the instance folder."""
    values: dict[str, Any] = {}
    toml_path = instance / "portal.toml"
    py_path = instance / "portal.py"
    if toml_path.exists():
        with toml_path.open("rb") as fh:
            values.update({k.upper(): v for k, v in tomllib.load(fh).items()})
    elif py_path.exists():
        namespace: dict[str, Any] = {}
        exec(compile(py_path.read_text(encoding="utf-8"), str(py_path), "exec"), namespace)
        values.update({k: v for k, v in namespace.items() if k.isupper()})
    return values


def ensure_secret_key(instance: Path) -> str:
    """Read DIR/secret_key, creating it (0600) with 64 random hex characters if missing."""
    path = instance / _SECRET_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


def build_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge defaults, the instance file, environment, then explicit ``overrides``.

    ``INSTANCE_DIR`` may come from overrides or the environment, and decides
    where the instance file is read from.
    """
    overrides = dict(overrides or {})
    env = {k[len(ENV_PREFIX):]: _coerce(v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    instance = Path(overrides.get("INSTANCE_DIR") or env.get("INSTANCE_DIR") or DEFAULTS["INSTANCE_DIR"])
    instance = instance.resolve()
    config: dict[str, Any] = dict(DEFAULTS)
    config.update(read_instance_file(instance))
    config.update(env)
    config.update(overrides)
    config["INSTANCE_DIR"] = str(instance)
    instance.mkdir(parents=True, exist_ok=True)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance / 'portal.sqlite'}"
    config["SEARCH_INDEX_DIR"] = str(config.get("SEARCH_INDEX_DIR") or instance / "search-index")
    config["UPLOAD_DIR"] = str(config.get("UPLOAD_DIR") or instance / "uploads")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = ensure_secret_key(instance)
    if config.get("PREFERRED_URL_SCHEME") == "https":
        config["SESSION_COOKIE_SECURE"] = True
    return config
