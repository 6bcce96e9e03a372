"""Property tests: whatever bytes or JSON arrive, every parser raises only the project's own errors.

Derandomized (the same examples every run) and bounded, so CI is
repeatable; each parser is fed both raw noise and well-signed documents
whose payload is arbitrary JSON, which reaches the field validators.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gcc_link.node.receiving import parse_batch
from gcc_link.protocol import jose
from gcc_link.protocol.canonical import canonical_json
from gcc_link.protocol.directory import load_directory, update_directory
from gcc_link.protocol.errors import GccLinkError
from gcc_link.protocol.limits import check_json_limits
from gcc_link.protocol.message import MESSAGE_TYP, Message, peek_claims
from gcc_link.protocol.push import PUSH_TYP, Push
from gcc_link.protocol.receipt import RECEIPT_TYP, Receipt
from gcc_link.protocol.status import STATUS_TYP, NodeStatus
from tests.core.corekit import NOW

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
b64 = st.binary(max_size=200).map(lambda b: base64.urlsafe_b64encode(b).rstrip(b"="))
compactish = st.tuples(b64, b64, b64).map(lambda t: b".".join(t))
noise = st.one_of(st.binary(max_size=400), compactish, st.text(max_size=200).map(str.encode))


def only_project_errors(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except GccLinkError as exc:
        assert exc.code and isinstance(exc.message, str)


def parsers(world) -> list[Callable[[bytes], Any]]:
    d = world.directory
    return [
        lambda data: jose.parse(data, MESSAGE_TYP, 1 << 20),
        lambda data: Message.from_jws(data, directory=d, now=NOW, local_state="SA"),
        lambda data: Receipt.from_jws(data, directory=d, now=NOW),
        lambda data: NodeStatus.from_jws(data, directory=d, now=NOW),
        lambda data: Push.from_jws(data, directory=d, now=NOW),
        lambda data: load_directory(data, NOW),
        lambda data: update_directory(d, data, NOW),
        parse_batch,
    ]


@PROPERTY
@given(data=noise)
def test_noise_raises_only_project_errors(world, data):
    for parse in parsers(world):
        only_project_errors(lambda: parse(data))
    mid, sender = peek_claims(data)  # never raises
    assert mid is None or len(mid) == 36


@PROPERTY
@given(
    payload=st.dictionaries(
        st.sampled_from(
            [
                "gcc_link",
                "id",
                "node",
                "sender",
                "recipient",
                "body",
                "at",
                "created_at",
                "expires_at",
                "status",
                "code",
                "item",
                "services",
            ]
        ),
        json_values,
        max_size=8,
    )
)
def test_signed_documents_with_arbitrary_payloads_raise_only_project_errors(world, payload):
    kw = world.ids["KW"]
    for typ in (MESSAGE_TYP, RECEIPT_TYP, STATUS_TYP, PUSH_TYP):
        try:
            body = canonical_json(payload)
        except GccLinkError:
            continue
        data = jose.sign(body, typ, kw.private_key, kw.der, kw.fingerprint)
        for parse in parsers(world)[1:5]:
            only_project_errors(lambda: parse(data))


@PROPERTY
@given(value=json_values)
def test_limits_and_canonical_json_raise_only_project_errors(value):
    only_project_errors(lambda: check_json_limits(value))
    only_project_errors(lambda: canonical_json(value))


@PROPERTY
@given(items=st.lists(st.one_of(st.text(max_size=30), json_values), max_size=5))
def test_batches_of_anything(items):
    only_project_errors(lambda: parse_batch(json.dumps(items).encode()))


def test_absurd_nesting_is_refused_without_recursion_errors(world):
    deep = b"[" * 100_000 + b"]" * 100_000
    for parse in parsers(world):
        only_project_errors(lambda: parse(deep))
    segment = base64.urlsafe_b64encode(deep).rstrip(b"=")
    assert peek_claims(b"x." + segment + b".y") == (None, None)
