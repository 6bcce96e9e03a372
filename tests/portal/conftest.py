"""Portal test fixtures (helpers live in portalkit.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from portalkit import PortalEnv, build_instance  # noqa: E402


@pytest.fixture(scope="module")
def portal_env(tmp_path_factory: pytest.TempPathFactory) -> PortalEnv:
    """One demo instance per test module."""
    return build_instance(tmp_path_factory.mktemp("portal"))
