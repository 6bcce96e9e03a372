"""Edges an attacker or a careless client reaches: each case was a reproduced defect (issue 9)."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from gcc_link.protocol import jose, pki
from gcc_link.protocol.canonical import canonical_json
from gcc_link.protocol.message import MAX_TTL_SECONDS, MESSAGE_TYP, Message
from gcc_link.protocol.receipt import Receipt
from gcc_link.protocol.timefmt import format_time
from tests.node.nodeharness import gcc_link, wait_until

pytestmark = pytest.mark.slow


def now() -> datetime:
    return datetime.now(timezone.utc)


def identity_of(pair, cc: str) -> pki.NodeIdentity:
    d = pair.fed.pki_dir / "nodes" / cc
    return pki.NodeIdentity.from_pem((d / "node.pem").read_bytes(), (d / "node.key").read_bytes())


def post(pair, data: bytes, path: str = "/peer/v1/messages") -> requests.Response:
    return requests.post(
        pair.nodes["SA"].url + path, data=data, headers={"Content-Type": "application/jose"}, timeout=30
    )


def receipt_of(pair, r: requests.Response) -> Receipt:
    return Receipt.from_jws(r.content, directory=pair.directory(), now=now(), expected_node="SA")


def error_code(r: requests.Response) -> str:
    return r.json()["error"]["code"]


# --- 3. numbers the protocol cannot carry ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"1e17",
        b"12345678901234567.0",
        b"9007199254740992",
        b"-9007199254740993",
        b'{"n": [1, 1e300, 100000000000000000000]}',
    ],
)
def test_numbers_outside_i_json_are_refused_before_signing(pair, body):
    kw = pair.agency("KW/MOI")
    r = requests.post(
        pair.nodes["KW"].url + "/api/v1/messages",
        data=b'{"recipient": "SA/MOI", "body": ' + body + b"}",
        headers={**kw.headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 400 and error_code(r) == "invalid_request", r.text
    assert "I-JSON" in r.json()["error"]["message"] or "RFC 8785" in r.json()["error"]["message"]


def test_the_largest_exact_integer_is_carried_and_the_log_stays_valid(pair):
    kw, sa = pair.agency("KW/MOI"), pair.agency("SA/MOI")
    mid = kw.send("SA/MOI", {"n": 9007199254740991, "f": 0.1, "big": 1e300}).json()["id"]
    wait_until(lambda: kw.status(mid)["status"] == "delivered", 30, what="delivery")
    got = next(i for i in sa.all_inbox() if i["id"] == mid)
    assert got["body"] == {"n": 9007199254740991, "f": 0.1, "big": 1e300}
    for cc in ("KW", "SA"):
        result = json.loads(gcc_link("log", "verify", "--config", str(pair.fed.configs[cc]), "--json").stdout)
        assert result["valid"] is True, result


# --- 4. one nesting limit everywhere ------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth, status", [(64, 202), (65, 400), (972, 400), (5000, 400)])
def test_agency_api_nesting_limit(pair, depth, status):
    kw = pair.agency("KW/MOI")
    # the body sits one level inside the request object
    r = requests.post(
        pair.nodes["KW"].url + "/api/v1/messages",
        data=b'{"recipient": "SA/MOI", "body": ' + nested(depth) + b"}",
        headers={**kw.headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == status, r.text


def test_deep_nesting_at_the_peer_api_is_malformed_with_a_receipt(pair):
    segment = base64.urlsafe_b64encode(nested(5000)).rstrip(b"=")
    for data in (nested(5000), b"eyJhbGciOiJFUzI1NiJ9." + segment + b".AAAA"):
        r = post(pair, data)
        assert r.status_code == 400 and receipt_of(pair, r).code == "malformed"
    r = post(pair, nested(5000), "/peer/v1/messages:batch")
    assert r.status_code == 400 and error_code(r) == "malformed"
    r = post(pair, b'["' + b"a" * 10 + b'", ' + nested(5000) + b"]", "/peer/v1/messages:batch")
    assert r.status_code == 400 and error_code(r) == "malformed"


def test_a_body_nested_beyond_the_limit_signed_by_a_peer_is_malformed(pair):
    kw = identity_of(pair, "KW")
    payload = Message.create(kw, sender="KW/MOI", recipient="SA/MOI", body=[], now=now()).payload()
    body = json.loads(nested(70))
    payload["body"] = body
    payload["body_sha256"] = hashlib.sha256(canonical_json(body)).hexdigest()
    data = jose.sign(canonical_json(payload), MESSAGE_TYP, kw.private_key, kw.der, kw.fingerprint)
    r = post(pair, data)
    assert r.status_code == 400 and receipt_of(pair, r).code == "malformed"


# --- 5. one id, two senders ----------------------------------------------------------------------


def test_an_id_reused_by_another_sender_is_rejected_not_answered_with_the_first_receipt(make_cluster):
    cluster = make_cluster(["KW", "SA", "QA"])
    kw, qa = identity_of(cluster, "KW"), identity_of(cluster, "QA")
    shared = str(uuid.uuid4())
    first = Message.create(kw, sender="KW/MOI", recipient="SA/MOI", body={"from": "KW"}, now=now(), message_id=shared)
    r1 = post(cluster, first.jws)
    assert r1.status_code == 202 and receipt_of(cluster, r1).accepted
    again = post(cluster, first.jws)  # the same sender retrying: the original receipt, byte for byte
    assert again.status_code == 202 and again.content == r1.content
    intruder = Message.create(
        qa, sender="QA/MOI", recipient="SA/MOI", body={"from": "QA"}, now=now(), message_id=shared
    )
    r2 = post(cluster, intruder.jws)
    receipt = receipt_of(cluster, r2)
    assert r2.status_code == 409 and receipt.code == "id_conflict" and receipt.message_sha256 == intruder.sha256
    inbox = cluster.agency("SA/MOI").all_inbox()
    assert [i["sender"] for i in inbox if i["id"] == shared] == ["KW/MOI"]


# --- 6. bounded times ------------------------------------------------------------------------------


def test_expiry_beyond_the_maximum_ttl_is_malformed(pair):
    kw = identity_of(pair, "KW")
    payload = Message.create(kw, sender="KW/MOI", recipient="SA/MOI", body={}, now=now()).payload()
    created = now()
    for seconds, code in (
        (MAX_TTL_SECONDS, None),
        (MAX_TTL_SECONDS + 1, "malformed"),
        (100 * 365 * 86400, "malformed"),
    ):
        payload.update(
            id=str(uuid.uuid4()),
            created_at=format_time(created),
            expires_at=format_time(created + timedelta(seconds=seconds)),
        )
        data = jose.sign(canonical_json(payload), MESSAGE_TYP, kw.private_key, kw.der, kw.fingerprint)
        receipt = receipt_of(pair, post(pair, data))
        assert receipt.code == code, seconds


# --- 12. no storage for garbage ------------------------------------------------------------------


def _data_size(pair, cc: str) -> int:
    data = pair.fed.data_dir / "nodes" / cc / "data"
    return sum(p.stat().st_size for p in data.rglob("*") if p.is_file())


def test_garbage_from_nobody_is_answered_but_not_stored(make_cluster):
    cluster = make_cluster(["KW", "SA"], overrides={"node.max_peer_rejections_per_minute": 100_000})
    sa_db = cluster.fed.data_dir / "nodes" / "SA" / "data" / "node.sqlite"

    def counts() -> tuple[int, int]:
        with sqlite3.connect(sa_db, timeout=30) as conn:
            return (
                conn.execute("SELECT count(*) FROM rejections").fetchone()[0],
                conn.execute("SELECT count(*) FROM message_log").fetchone()[0],
            )

    before = counts()
    batch = json.dumps([f"garbage-{n}.x.y" for n in range(400)]).encode()
    for _ in range(5):
        r = post(cluster, batch, "/peer/v1/messages:batch")
        assert r.status_code == 200 and len(r.json()) == 400
    assert counts() == before
    # a rejection of a message that names its sender is still kept as evidence
    kw = identity_of(cluster, "KW")
    msg = Message.create(kw, sender="KW/MOI", recipient="SA/NOSUCH", body={}, now=now())
    assert receipt_of(cluster, post(cluster, msg.jws)).code == "wrong_recipient"
    assert counts() == (before[0] + 1, before[1] + 1)


def test_an_address_sending_mostly_garbage_is_throttled(make_cluster):
    cluster = make_cluster(["KW", "SA"], overrides={"node.max_peer_rejections_per_minute": 20})
    statuses = [post(cluster, b"junk").status_code for _ in range(25)]
    assert statuses[:20] == [400] * 20
    assert statuses[-1] == 429
    r = post(cluster, b"junk")
    assert r.status_code == 429 and error_code(r) == "rate_limited"


# --- 11. backends from the operator's allow-list only ---------------------------------------------

BACKENDS = [
    ("http://127.0.0.1:9/backend/x", 200),
    ("http://127.0.0.1:9/other", 403),  # outside the allowed path
    ("http://127.0.0.1:90/backend/x", 403),  # another port
    ("http://127.0.0.1:9@169.254.169.254/backend/", 403),  # userinfo trick
    ("http://169.254.169.254/latest/meta-data", 403),
    ("https://127.0.0.1:9/backend/x", 403),  # another scheme
]


def test_service_backends_come_from_the_operator_allowlist(make_cluster):
    cluster = make_cluster(["KW", "SA"], overrides={"node.backend_allowlist": ["http://127.0.0.1:9/backend/"]})
    admin = cluster.service_admin("SA/NIC")
    for backend, status in BACKENDS:
        r = requests.put(
            cluster.nodes["SA"].url + "/api/v1/services/identity-verify",
            headers=admin.headers,
            timeout=5,
            json={"backend_url": backend, "grants": ["KW/MOI"]},
        )
        assert r.status_code == status, (backend, r.text)
        if status == 403:
            assert error_code(r) == "backend_not_allowed"
