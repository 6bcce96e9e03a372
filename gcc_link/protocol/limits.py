"""What a message body may hold: I-JSON (RFC 7493) within one nesting limit.

The sending node's agency API and every receiver apply these same rules
(``Message.create`` and ``Message.from_jws`` both call
:func:`check_json_limits`), so a node never signs a body its peers must
reject, and its own message log never holds a document that cannot be
verified again. Refused: nesting deeper than :data:`MAX_JSON_DEPTH`;
integers outside ±(2**53 - 1); and any number whose RFC 8785 form does not
read back as the same value (``1e17`` is written ``100000000000000000``,
which is an integer beyond the exact range).
"""

from __future__ import annotations

import json
from typing import Any

from .canonical import canonical_json
from .errors import MalformedError

__all__ = ["MAX_JSON_DEPTH", "MAX_SAFE_INTEGER", "check_json_limits", "json_depth"]

#: Arrays and objects nested deeper than this are refused everywhere (bodies, batches, agency requests).
MAX_JSON_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1


def json_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of ``value`` (a scalar is 0), counted without recursion; stops past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_json_limits(value: Any, what: str = "body") -> None:
    """Raise ``MalformedError`` unless ``value`` is I-JSON within the depth limit (see module docstring)."""
    if json_depth(value) > MAX_JSON_DEPTH:
        raise MalformedError(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    unusual = False
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise MalformedError(f"{what} holds an integer outside ±(2**53 - 1), which I-JSON cannot carry")
        elif kind is float:
            unusual = True
    if unusual:
        # the canonical form of a float must read back as a value with the same canonical form
        first = canonical_json(value)
        try:
            again = canonical_json(json.loads(first))
        except MalformedError as exc:
            raise MalformedError(f"{what} holds a number RFC 8785 cannot reproduce: {exc.message}") from exc
        if again != first:
            raise MalformedError(f"{what} holds a number RFC 8785 cannot reproduce exactly")
