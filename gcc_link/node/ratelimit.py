"""Sliding-window counters that throttle what costs the node work on behalf of strangers.

Used for rejected peer input (per remote address) and failed token
requests (per client id and per address). Counters live in the process:
with several web workers each keeps its own, so the effective limit is at
most ``workers`` times the configured one, which still bounds the cost.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["WindowLimiter"]


class WindowLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            if len(self._events) >= self.max_keys:  # a flood of distinct keys must not grow memory without bound
                self._events.clear()
            events = self._events[key] = deque()
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def blocked(self, key: str, now: float) -> bool:
        """Whether ``key`` has used up its events in the window ending at ``now``."""
        with self._lock:
            return len(self._recent(key, now)) >= self.limit

    def hit(self, key: str, now: float, count: int = 1) -> None:
        """Record ``count`` events of ``key`` at ``now``."""
        with self._lock:
            events = self._recent(key, now)
            events.extend([now] * min(count, self.limit))

    def reset(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
