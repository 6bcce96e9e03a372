"""Retry timing shared by outbox delivery and webhook pushes: exponential backoff with jitter."""

from __future__ import annotations

import random

__all__ = ["backoff"]


def backoff(attempts: int, base: float, cap: float, rng: random.Random = random.Random()) -> float:
    """Seconds to wait before attempt ``attempts + 1``: up to ``base * 2**(attempts-1)``, capped, at least half.

    The jitter spreads the retries of many messages to a peer that comes back.
    """
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    return ceiling * rng.uniform(0.5, 1.0)
