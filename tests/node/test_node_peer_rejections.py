"""Every rejection code through the peer API, each answered with a signed rejection receipt."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from gcc_link.protocol import jose, pki
from gcc_link.protocol.canonical import canonical_json
from gcc_link.protocol.message import MESSAGE_TYP, Message
from gcc_link.protocol.receipt import Receipt
from gcc_link.protocol.timefmt import format_time

pytestmark = pytest.mark.slow


def now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def kw_identity(pair):
    d = pair.fed.pki_dir / "nodes" / "KW"
    return pki.NodeIdentity.from_pem((d / "node.pem").read_bytes(), (d / "node.key").read_bytes())


def post(pair, data: bytes) -> requests.Response:
    return requests.post(
        pair.nodes["SA"].url + "/peer/v1/messages", data=data, headers={"Content-Type": "application/jose"}, timeout=10
    )


def assert_rejected(pair, r: requests.Response, code: str, status: int) -> Receipt:
    assert r.status_code == status, r.text
    receipt = Receipt.from_jws(r.content, directory=pair.directory(), now=now(), expected_node="SA")
    assert receipt.status == "rejected" and receipt.code == code
    return receipt


def test_accepted_control(pair, kw_identity):
    msg = Message.create(
        kw_identity, sender="KW/PACI", recipient="SA/NIC", body={"q": 1}, now=now(), service="SA/NIC/identity-verify"
    )
    r = post(pair, msg.jws)
    assert r.status_code == 202
    receipt = Receipt.from_jws(
        r.content, directory=pair.directory(), now=now(), expected_node="SA", expected_message_sha256=msg.sha256
    )
    assert receipt.accepted


def test_malformed(pair):
    receipt = assert_rejected(pair, post(pair, b"this is not a JWS"), "malformed", 400)
    assert receipt.receipt_for is None


def test_batch_item_malformed_and_batch_body_malformed(pair, kw_identity):
    good = Message.create(kw_identity, sender="KW/MOI", recipient="SA/MOI", body={}, now=now())
    r = requests.post(pair.nodes["SA"].url + "/peer/v1/messages:batch", json=[good.jws.decode(), "junk"], timeout=10)
    assert r.status_code == 200
    first, second = (Receipt.from_jws(x.encode(), directory=pair.directory(), now=now()) for x in r.json())
    assert first.accepted and second.code == "malformed"
    r = requests.post(pair.nodes["SA"].url + "/peer/v1/messages:batch", data=b"{not json", timeout=10)
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed"


def test_bad_signature(pair, kw_identity):
    msg = Message.create(kw_identity, sender="KW/MOI", recipient="SA/MOI", body={"a": 1}, now=now())
    head, payload, sig = msg.jws.split(b".")
    flipped = bytes([sig[5] ^ 0x01]) if chr(sig[5] ^ 0x01).isalnum() else b"A" if sig[5:6] != b"A" else b"B"
    tampered = head + b"." + payload + b"." + sig[:5] + flipped + sig[6:]
    receipt = assert_rejected(pair, post(pair, tampered), "bad_signature", 403)
    assert receipt.receipt_for == msg.id


def test_untrusted_certificate(pair):
    t = now()
    other_root_key, other_root = pki.create_root(t)
    key = pki.generate_key()
    cert = pki.issue_node_certificate(other_root_key, other_root, "KW", key.public_key(), t)
    rogue = pki.NodeIdentity("KW", cert, key)
    msg = Message.create(rogue, sender="KW/MOI", recipient="SA/MOI", body={}, now=t)
    assert_rejected(pair, post(pair, msg.jws), "untrusted_certificate", 403)


def test_sender_not_authorised(pair):
    t = now()
    root_key = pki.load_private_key((pair.fed.pki_dir / "gcc-root.key").read_bytes())
    key = pki.generate_key()
    cert = pki.issue_node_certificate(root_key, pair.directory().root_certificate, "OM", key.public_key(), t)
    unlisted = pki.NodeIdentity("OM", cert, key)  # chains to the GCC root, but OM is not in this directory
    msg = Message.create(unlisted, sender="OM/ROP", recipient="SA/MOI", body={}, now=t)
    assert_rejected(pair, post(pair, msg.jws), "sender_not_authorised", 403)


def test_wrong_recipient(pair, kw_identity):
    to_kw = Message.create(kw_identity, sender="KW/MOI", recipient="KW/MOH", body={}, now=now())
    assert_rejected(pair, post(pair, to_kw.jws), "wrong_recipient", 400)
    unknown_agency = Message.create(kw_identity, sender="KW/MOI", recipient="SA/NOSUCH", body={}, now=now())
    assert_rejected(pair, post(pair, unknown_agency.jws), "wrong_recipient", 400)


def _signed_at(identity, moment) -> bytes:
    """A valid message whose created_at is ``moment`` (possibly outside the certificate's validity),
    signed with the listed certificate: the node's own signer refuses such times, an attacker's need not."""
    payload = Message.create(identity, sender="KW/MOI", recipient="SA/MOI", body={}, now=now()).payload()
    payload["created_at"] = format_time(moment)
    payload["expires_at"] = format_time(moment + timedelta(hours=24))
    return jose.sign(canonical_json(payload), MESSAGE_TYP, identity.private_key, identity.der, identity.fingerprint)


def test_stale(pair, kw_identity):
    assert_rejected(pair, post(pair, _signed_at(kw_identity, now() - timedelta(hours=1))), "stale", 400)
    assert_rejected(pair, post(pair, _signed_at(kw_identity, now() + timedelta(hours=1))), "stale", 400)


def test_digest_mismatch(pair, kw_identity):
    msg = Message.create(kw_identity, sender="KW/MOI", recipient="SA/MOI", body={"x": 1}, now=now())
    payload = msg.payload()
    payload["body"] = {"x": 2}  # body changed, digest kept, then properly signed
    data = jose.sign(
        canonical_json(payload), MESSAGE_TYP, kw_identity.private_key, kw_identity.der, kw_identity.fingerprint
    )
    assert_rejected(pair, post(pair, data), "digest_mismatch", 400)


def test_access_denied(pair, kw_identity):
    no_grant = Message.create(
        kw_identity, sender="KW/MOCI", recipient="SA/NIC", body={}, now=now(), service="SA/NIC/identity-verify"
    )
    assert_rejected(pair, post(pair, no_grant.jws), "access_denied", 403)
    unknown_service = Message.create(
        kw_identity, sender="KW/MOI", recipient="SA/NIC", body={}, now=now(), service="SA/NIC/no-such-service"
    )
    assert_rejected(pair, post(pair, unknown_service.jws), "access_denied", 403)


def test_oversize_is_413_with_receipt(pair):
    r = post(pair, b"A" * (1_048_576 + 10))
    assert_rejected(pair, r, "malformed", 413)


def test_rejections_counted_in_metrics(pair):
    post(pair, b"junk")
    text = requests.get(pair.nodes["SA"].url + "/metrics", timeout=5).text
    assert 'gcc_link_rejections_total{code="malformed"}' in text
