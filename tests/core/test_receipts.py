"""Receipts: bound to the exact message bytes, signed by a node listed for the claimed state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gcc_link.protocol.canonical import sha256_hex
from gcc_link.protocol.errors import GccLinkError, MalformedError
from gcc_link.protocol.receipt import Receipt
from tests.core.corekit import NOW, resign


def test_accepted_and_rejected_receipts_round_trip(world, make_message):
    msg = make_message()
    sa = world.ids["SA"]
    for status, code in (("accepted", None), ("rejected", "stale")):
        r = Receipt.create(sa, message_jws=msg.jws, message_id=msg.id, status=status, code=code, now=NOW)
        got = Receipt.from_jws(
            r.jws, directory=world.directory, now=NOW, expected_node="SA", expected_message_sha256=sha256_hex(msg.jws)
        )
        assert (got.status, got.code, got.receipt_for, got.node) == (status, code, msg.id, "SA")
        assert got.message_sha256 == msg.sha256


def test_receipt_for_other_bytes_or_node_is_refused(world, make_message):
    msg = make_message()
    r = Receipt.create(world.ids["SA"], message_jws=msg.jws, message_id=msg.id, status="accepted", code=None, now=NOW)
    with pytest.raises(MalformedError):
        Receipt.from_jws(r.jws, directory=world.directory, now=NOW, expected_message_sha256="0" * 64)
    with pytest.raises(GccLinkError) as info:
        Receipt.from_jws(r.jws, directory=world.directory, now=NOW, expected_node="QA")
    assert info.value.code == "sender_not_authorised"


def test_receipt_claiming_another_node_is_refused(world, make_message):
    msg = make_message()
    r = Receipt.create(world.ids["SA"], message_jws=msg.jws, message_id=msg.id, status="accepted", code=None, now=NOW)
    payload = {**r.payload(), "node": "QA"}
    forged = resign(payload, world.ids["SA"].private_key, world.ids["SA"].certificate, typ="gcc-link-rcpt+jws")
    with pytest.raises(GccLinkError) as info:
        Receipt.from_jws(forged, directory=world.directory, now=NOW)
    assert info.value.code == "sender_not_authorised"


@pytest.mark.parametrize(
    "status,code", [("accepted", "stale"), ("rejected", None), ("rejected", "oops"), ("maybe", None)]
)
def test_inconsistent_status_and_code_are_refused(world, make_message, status, code):
    with pytest.raises(MalformedError):
        Receipt.create(world.ids["SA"], message_jws=b"x", message_id=None, status=status, code=code, now=NOW)


def test_message_jws_is_not_a_receipt(world, make_message):
    with pytest.raises(MalformedError):
        Receipt.from_jws(make_message().jws, directory=world.directory, now=NOW)


@pytest.mark.parametrize("delta,code", [(-1, None), (0, "directory_expired")])
def test_an_expired_directory_vouches_for_no_receipt(world, make_message, delta, code):
    at = world.directory.expires_at + timedelta(seconds=delta)
    msg = make_message(now=at)
    r = Receipt.create(world.ids["SA"], message_jws=msg.jws, message_id=msg.id, status="accepted", code=None, now=at)
    try:
        Receipt.from_jws(r.jws, directory=world.directory, now=at, expected_node="SA")
        got = None
    except GccLinkError as exc:
        got = exc.code
    assert got == code
