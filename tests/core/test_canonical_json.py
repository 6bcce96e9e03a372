"""Canonical JSON: the fast path must be byte-identical to the rfc8785 reference."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from gcc_link.protocol.canonical import canonical_json, reference_canonical_json
from gcc_link.protocol.errors import MalformedError

ALPHABET = (
    'abcXYZ09 "\\/\b\f\n\r\t\x00\x1f\x7f'
    "مرحباً بالعالم ـــ \u064b\u0650 ١٢٣"
    "\u00e9\u2028\u2029\ue000\uffff\U0001f600\U00010000"
)


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**53 - 1, -(2**53 - 1), rng.randrange(-(10**9), 10**9)])
    if kind == 3:
        return rng.choice([0.5, -1.25, 1e21, 1e-7, 3.0, 123456789.125, 2.0**60])
    if kind in (4, 5):
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 12)))
    if kind in (6, 7):
        return {
            "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 5))): random_value(rng, depth + 1)
            for _ in range(rng.randrange(0, 6))
        }
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 6))]


def test_fast_path_matches_reference_on_generated_values():
    rng = random.Random(20261122)
    compared = 0
    for _ in range(3000):
        value = random_value(rng)
        assert canonical_json(value) == reference_canonical_json(value), value
        compared += 1
    assert compared == 3000


def test_key_order_is_utf16_for_astral_characters():
    # U+1F600 sorts before U+E000 in UTF-16 code units, after it in code points
    value = {"\ue000": 1, "\U0001f600": 2}
    assert canonical_json(value) == reference_canonical_json(value)
    assert canonical_json(value).index("\U0001f600".encode()) < canonical_json(value).index("\ue000".encode())


@pytest.mark.parametrize("bad", [math.nan, math.inf, 2**53, -(2**53), {1: "non-string key"}, {"s": "\ud800"}])
def test_unrepresentable_values_are_malformed(bad):
    with pytest.raises(MalformedError):
        canonical_json(bad)


def test_deep_nesting_is_malformed_not_a_crash():
    value: Any = "leaf"
    for _ in range(100_000):
        value = [value]
    with pytest.raises(MalformedError):
        canonical_json(value)


def test_subclasses_go_to_the_reference():
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    assert canonical_json({"level": Level.HIGH}) == reference_canonical_json({"level": Level.HIGH}) == b'{"level":3}'
