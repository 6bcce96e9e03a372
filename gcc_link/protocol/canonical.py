"""RFC 8785 canonical JSON and digests: the exact bytes that are signed and hashed.

The ``rfc8785`` package is the reference. Because it is pure Python and every
message is canonicalised several times, values that need none of JCS's
special cases (no floats, integers within IEEE 754's exact range, object keys
in the Basic Multilingual Plane so code-point and UTF-16 order agree) are
serialised by the standard library's C encoder, whose output for such values
is byte-identical to JCS (tests compare both on generated values). Anything
else goes to ``rfc8785``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from .errors import MalformedError

__all__ = [
    "canonical_json",
    "reference_canonical_json",
    "sha256_hex",
]

_MAX_SAFE_INT = 2**53 - 1
_encoder = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _is_plain(value: Any) -> bool:
    """True if ``value`` needs none of JCS's special cases (see module docstring).

    Exact types only: subclasses (enums, custom mappings) go to the reference.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or (not key.isascii() and max(key, default="") > "\uffff"):
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        else:
            return False  # floats and anything else: the reference implementation decides
    return True


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) serialisation of ``value``.

    Raises ``MalformedError`` for values JCS cannot represent (non-finite
    floats, integers beyond IEEE 754 double precision, non-string keys, lone
    surrogates).
    """
    if _is_plain(value):
        try:
            return _encoder.encode(value).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            pass  # lone surrogates, absurd nesting: let the reference implementation judge
    return reference_canonical_json(value)


def reference_canonical_json(value: Any) -> bytes:
    """Canonical JSON by the ``rfc8785`` package alone (the reference)."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeError, RecursionError) as exc:
        raise MalformedError(f"value has no canonical JSON form: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
