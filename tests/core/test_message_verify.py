"""Message verification: a tamper table in python-tuf style, each case asserting the exact code."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from gcc_link.protocol.errors import GccLinkError, MalformedError
from gcc_link.protocol.message import MAX_MESSAGE_BYTES, Message, MessageTooLargeError, body_digest, peek_message_id
from tests.core.corekit import NOW, b64url, raw_jws, resign


def code_of(data: bytes, world: Any, **kw: Any) -> str | None:
    try:
        Message.from_jws(data, directory=world.directory, now=kw.pop("now", NOW), **kw)
    except GccLinkError as exc:
        return exc.code
    return None


def test_valid_message_round_trips(world, make_message):
    msg = make_message(service="SA/MOI/vehicle-record")
    got = Message.from_jws(
        msg.jws,
        directory=world.directory,
        now=NOW,
        local_state="SA",
        has_grant=lambda sender, service: (sender, service) == ("KW/MOI", "SA/MOI/vehicle-record"),
    )
    assert got.id == msg.id and got.body == {"plate": "12345", "ar": "مرحبا"}
    assert got.jws == msg.jws and got.sender == "KW/MOI" and got.service == "SA/MOI/vehicle-record"
    assert got.body_sha256 == body_digest(got.body)


FIELD_CHANGES = {
    "id": "0b8a3d7e-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
    "conversation_id": "0b8a3d7e-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
    "in_reply_to": "0b8a3d7e-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
    "sender": "KW/MOH",
    "recipient": "SA/MOH",
    "service": None,
    "created_at": "2026-11-22T10:00:01.000Z",
    "expires_at": "2026-11-23T11:00:00.000Z",
    "content_type": "application/xml",
    "body": {"plate": "99999"},
    "body_sha256": "0" * 64,
    "gcc_link": 1,
}


@pytest.mark.parametrize("field", sorted(FIELD_CHANGES))
def test_any_field_changed_and_resigned_by_a_wrong_key_is_bad_signature(world, make_message, field):
    msg = make_message(service="SA/MOI/vehicle-record")
    payload = msg.payload()
    payload[field] = FIELD_CHANGES[field]
    if field == "recipient":
        payload["service"] = None
    if field == "body":
        payload["body_sha256"] = body_digest(payload["body"])
    wrong_key = world.ids["SA"].private_key  # a real GCC key, but not the one in x5c
    forged = resign(payload, wrong_key, world.ids["KW"].certificate)
    assert code_of(forged, world) == "bad_signature"


def _segments(jws: bytes) -> list[bytes]:
    return jws.split(b".")


def _decode(seg: bytes) -> bytes:
    return base64.urlsafe_b64decode(seg + b"=" * (-len(seg) % 4))


def test_flip_in_payload_bytes_is_bad_signature(world, make_message):
    h, p, s = _segments(make_message().jws)
    payload = _decode(p).replace(b'"12345"', b'"12346"')
    assert code_of(b".".join([h, b64url(payload), s]), world) == "bad_signature"


def test_flip_in_signature_bytes_is_bad_signature(world, make_message):
    h, p, s = _segments(make_message().jws)
    sig = bytearray(_decode(s))
    sig[10] ^= 0x01
    assert code_of(b".".join([h, p, b64url(bytes(sig))]), world) == "bad_signature"


def test_flip_in_header_typ_is_malformed(world, make_message):
    h, p, s = _segments(make_message().jws)
    header = _decode(h).replace(b"gcc-link-msg+jws", b"gcc-link-msg+jwt")
    assert code_of(b".".join([b64url(header), p, s]), world) == "malformed"


def test_flip_in_header_certificate_is_malformed(world, make_message):
    h, p, s = _segments(make_message().jws)
    header = json.loads(_decode(h))
    der = bytearray(base64.b64decode(header["x5c"][0]))
    der[-5] ^= 0x01  # inside the certificate's signature: parses, but kid no longer matches
    header["x5c"] = [base64.b64encode(bytes(der)).decode()]
    assert code_of(b".".join([b64url(json.dumps(header).encode()), p, s]), world) == "malformed"


def test_non_canonical_base64_in_signature_is_malformed(world, make_message):
    h, p, s = _segments(make_message().jws)
    # 64 bytes -> 86 chars; the last char carries 2 unused bits: set one without changing the bytes
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(s[-1:])
    tweaked = s[:-1] + alphabet[last ^ 0x01 : (last ^ 0x01) + 1]
    assert _decode(tweaked) == _decode(s)
    assert code_of(b".".join([h, p, tweaked]), world) == "malformed"


@pytest.mark.parametrize("alg", ["none", "HS256", "EdDSA", "ES384", "RS256", "es256", None])
def test_algorithms_other_than_es256_are_malformed(world, make_message, alg):
    msg = make_message()
    header = json.loads(_decode(_segments(msg.jws)[0]))
    if alg is None:
        del header["alg"]
    else:
        header["alg"] = alg
    forged = raw_jws(header, _decode(_segments(msg.jws)[1]), b"" if alg == "none" else b"\x01" * 64)
    if alg == "none":
        forged = forged[:-1] + b"A"  # keep three non-empty segments
    assert code_of(forged, world) == "malformed"


@pytest.mark.parametrize("extra", [{"crit": ["b64"], "b64": False}, {"jku": "http://127.0.0.1/keys"}, {"cty": "JWT"}])
def test_unexpected_header_parameters_are_malformed(world, make_message, extra):
    msg = make_message()
    header = {**json.loads(_decode(_segments(msg.jws)[0])), **extra}
    forged = b".".join([b64url(json.dumps(header).encode()), _segments(msg.jws)[1], _segments(msg.jws)[2]])
    assert code_of(forged, world) == "malformed"


@pytest.mark.parametrize("data", [b"", b"abc", b"a.b", b"a.b.c.d", b"..", b"\xff\xfe.\x00.x", b"e30.e30.e30"])
def test_garbage_is_malformed(world, data):
    assert code_of(data, world) == "malformed"


def test_non_canonical_payload_correctly_signed_is_malformed(world, make_message):
    kw = world.ids["KW"]
    forged = resign(make_message().payload(), kw.private_key, kw.certificate, canonical=False)
    assert code_of(forged, world) == "malformed"


def test_duplicate_payload_keys_are_malformed(world, make_message):
    kw = world.ids["KW"]
    text = make_message().jws
    payload = _decode(_segments(text)[1])
    dup = payload[:-1] + b',"body":{"plate":"x"}}'
    header = _decode(_segments(text)[0])
    from gcc_link.protocol import jose

    signed = jose.sign(dup, "gcc-link-msg+jws", kw.private_key, kw.der, kw.fingerprint)
    assert json.loads(_decode(_segments(signed)[0])) == json.loads(header)
    assert code_of(signed, world) == "malformed"


@pytest.mark.parametrize(
    "field,value",
    [
        ("id", "not-a-uuid"),
        ("id", "0B8A3D7E-3A4B-4C5D-8E6F-7A8B9C0D1E2F"),
        ("sender", "kw/moi"),
        ("recipient", "SA"),
        ("service", "SA/MOH/vehicle-record"),
        ("created_at", "2026-11-22 10:00:00"),
        ("expires_at", "2026-11-22T09:00:00.000Z"),
        ("content_type", ""),
        ("body_sha256", "XYZ"),
        ("gcc_link", 2),
        ("gcc_link", True),
        ("conversation_id", 7),
    ],
)
def test_invalid_fields_correctly_signed_are_malformed(world, make_message, field, value):
    kw = world.ids["KW"]
    payload = make_message(service="SA/MOI/vehicle-record").payload()
    payload[field] = value
    assert code_of(resign(payload, kw.private_key, kw.certificate), world) == "malformed"


def test_missing_and_extra_fields_are_malformed(world, make_message):
    kw = world.ids["KW"]
    payload = make_message().payload()
    extra = {**payload, "priority": "high"}
    del payload["conversation_id"]
    assert code_of(resign(payload, kw.private_key, kw.certificate), world) == "malformed"
    assert code_of(resign(extra, kw.private_key, kw.certificate), world) == "malformed"


def test_certificate_from_another_root_is_untrusted(world, make_message):
    assert code_of(make_message(world.foreign).jws, world) == "untrusted_certificate"


def test_revoked_certificate_is_untrusted(world, make_message):
    assert code_of(make_message(world.revoked).jws, world) == "untrusted_certificate"


def test_valid_sa_certificate_signing_as_kw_is_not_authorised(world, make_message):
    sa = world.ids["SA"]
    payload = make_message().payload()  # sender KW/MOI
    forged = resign(payload, sa.private_key, sa.certificate)
    assert code_of(forged, world) == "sender_not_authorised"


def test_unlisted_certificate_is_not_authorised(world, make_message):
    assert code_of(make_message(world.unlisted).jws, world) == "sender_not_authorised"


def test_suspended_state_is_not_authorised_but_trial_is(world, make_message):
    assert code_of(make_message(world.ids["OM"], sender="OM/MOI").jws, world) == "sender_not_authorised"
    assert code_of(make_message(world.ids["QA"], sender="QA/MOI").jws, world) is None


def test_state_missing_from_directory_is_not_authorised(world):
    from gcc_link.protocol import pki

    key = pki.generate_key()
    bh = pki.NodeIdentity(
        "BH", pki.issue_node_certificate(world.root_key, world.root_cert, "BH", key.public_key(), NOW), key
    )
    msg = Message.create(bh, sender="BH/MOI", recipient="SA/MOI", body=1, now=NOW)
    assert code_of(msg.jws, world) == "sender_not_authorised"


def test_wrong_recipient(world, make_message):
    assert code_of(make_message().jws, world, local_state="QA") == "wrong_recipient"
    assert code_of(make_message().jws, world, local_state="SA") is None


@pytest.mark.parametrize("offset,code", [(-301, "stale"), (-300, None), (300, None), (301, "stale")])
def test_created_at_skew_boundaries(world, make_message, offset, code):
    msg = make_message(now=NOW + timedelta(seconds=offset))
    assert code_of(msg.jws, world) == code


@pytest.mark.parametrize("delta,code", [(-1, None), (0, None), (1, "stale")])
def test_expires_at_one_second_either_side(world, make_message, delta, code):
    msg = make_message(ttl_seconds=60)
    assert code_of(msg.jws, world, now=msg.expires_at + timedelta(seconds=delta), skew_seconds=3600) == code


def test_body_digest_mismatch(world, make_message):
    kw = world.ids["KW"]
    payload = make_message().payload()
    payload["body"] = {"plate": "54321"}
    assert code_of(resign(payload, kw.private_key, kw.certificate), world) == "digest_mismatch"


def test_access_denied_without_grant(world, make_message):
    msg = make_message(service="SA/MOI/vehicle-record")
    assert code_of(msg.jws, world, has_grant=lambda s, v: False) == "access_denied"
    assert code_of(msg.jws, world, has_grant=lambda s, v: True) is None
    # no service named: no grant needed
    assert code_of(make_message().jws, world, has_grant=lambda s, v: False) is None


def test_checks_run_in_protocol_order(world, make_message):
    # stale AND wrong recipient AND digest mismatch: the earliest in the table wins
    kw = world.ids["KW"]
    payload = make_message(now=NOW - timedelta(hours=2)).payload()
    payload["body"] = "changed"
    data = resign(payload, kw.private_key, kw.certificate)
    assert code_of(data, world, local_state="QA") == "wrong_recipient"
    assert code_of(data, world, local_state="SA") == "stale"


def test_size_cap_default_and_configurable(world, make_message):
    msg = make_message(body={"text": "x" * 2000})
    assert code_of(msg.jws, world, max_bytes=len(msg.jws)) is None
    assert code_of(msg.jws, world, max_bytes=len(msg.jws) - 1) == "malformed"
    with pytest.raises(MessageTooLargeError) as info:
        make_message(body="x" * MAX_MESSAGE_BYTES)
    assert info.value.code == "malformed"


def test_create_refuses_to_sign_for_another_state(make_message):
    with pytest.raises(MalformedError):
        make_message(sender="SA/MOI")


def test_peek_message_id(make_message):
    msg = make_message()
    assert peek_message_id(msg.jws) == msg.id
    assert peek_message_id(b"garbage") is None
    assert peek_message_id(b"a." + b64url(b'{"id": 5}') + b".c") is None


@pytest.mark.parametrize("delta,code", [(-1, None), (0, "directory_expired"), (1, "directory_expired")])
def test_an_expired_directory_vouches_for_no_message(world, make_message, delta, code):
    """TUF freeze protection: a node stuck on an old directory stops trusting, even valid messages."""
    at = world.directory.expires_at + timedelta(seconds=delta)
    msg = make_message(now=at, ttl_seconds=60)
    assert code_of(msg.jws, world, now=at) == code
