"""Query parameters of the network pages, parsed with the project's one digit rule."""

from __future__ import annotations

from gcc_link.params import ascii_int

__all__ = ["days_param"]


def days_param(raw: str | None, default: int = 7) -> int | None:
    """``days`` (1-30), the default when absent, None when present but not a whole number in range."""
    if raw is None or raw == "":
        return default
    return ascii_int(raw, 1, 30)
