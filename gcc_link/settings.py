"""How the node and the portal read ``GCC_`` environment overrides (one rule for both).

A setting ``key`` of section ``section`` (``[node] database_url`` in
``node.toml``, ``database_url`` of the portal's ``portal.toml``, whose
section is ``portal``) is overridden by ``GCC_<SECTION>__<KEY>``:
``GCC_NODE__DATABASE_URL``, ``GCC_PORTAL__DATABASE_URL``. Values parse as
TOML scalars when they do (``5``, ``true``, ``"x"``, ``[1, 2]``), else they
are kept as the plain string.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

__all__ = ["ENV_PREFIX", "env_key", "env_overrides", "parse_env_value"]

ENV_PREFIX = "GCC_"


def env_key(section: str, key: str) -> str:
    """The environment variable that overrides ``key`` of ``section``."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


def parse_env_value(text: str) -> Any:
    """A TOML scalar or array if ``text`` is one, else ``text`` itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def env_overrides(section: str, environ: Mapping[str, str]) -> dict[str, Any]:
    """Every ``GCC_<SECTION>__<KEY>`` in ``environ``, as ``{key (lower case): parsed value}``."""
    prefix = f"{ENV_PREFIX}{section.upper()}__"
    return {
        name[len(prefix) :].lower(): parse_env_value(value)
        for name, value in environ.items()
        if name.startswith(prefix) and len(name) > len(prefix)
    }
