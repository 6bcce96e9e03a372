"""The node's clock: the one place the node server reads the time of day.

Everything else takes the time from :class:`~gcc_link.node.context.NodeContext`
(``ctx.now()``, ``ctx.time()``), whose ``clock`` defaults to :func:`utcnow`
and can be replaced, so tests can move time; the pure core never reads a
clock at all.
"""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["utcnow"]


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(timezone.utc)
