"""The GCC e-government knowledge portal: bilingual (Arabic first, English).

``create_app(config)`` builds the Flask app; ``gcc-link portal ...`` runs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

    from .config import PortalConfig


def create_app(config: PortalConfig | Mapping[str, Any] | None = None) -> Flask:
    """Build the portal app (see :func:`knowledge_portal.app.create_app`); the schema must be migrated first."""
    from .app import create_app as _create_app

    return _create_app(config)


__all__ = ["create_app"]
