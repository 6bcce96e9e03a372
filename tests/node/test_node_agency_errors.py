"""Every bad input to the agency API is a 4xx JSON error with a stable code (never a 500)."""

from __future__ import annotations

import sqlite3
import time

import pytest
import requests

from tests.node.nodeharness import wait_until

pytestmark = pytest.mark.slow


def code_of(r: requests.Response) -> str:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    return r.json()["error"]["code"]


def raw_post(agency, path: str, data: bytes, content_type: str = "application/json") -> requests.Response:
    return requests.post(
        agency.node.url + path, data=data, timeout=10, headers={**agency.headers, "Content-Type": content_type}
    )


@pytest.fixture(scope="module")
def kw(pair):
    return pair.agency("KW/MOI")


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b'{"recipient": "SA/MOI", "body": NaN}', 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_request"),
        (b'"text"', 400, "invalid_request"),
        (b'{"body": {}}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI"}', 400, "invalid_request"),
        (b'{"recipient": 42, "body": {}}', 400, "invalid_request"),
        (b'{"recipient": "sa/moi", "body": {}}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "ttl_seconds": "60"}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "ttl_seconds": 0}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "ttl_seconds": true}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "conversation_id": "abc"}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "in_reply_to": 7}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "service": 5}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "service": "SA/MOH/nurse-licence"}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "colour": "red"}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": {}, "content_type": "not a type"}', 400, "invalid_request"),
        (b'{"recipient": "SA/MOI", "body": 1e400}', 400, "invalid_request"),
        (b'{"recipient": "QA/MOI", "body": {}}', 422, "unknown_state"),
        (b'{"recipient": "XX/MOI", "body": {}}', 422, "unknown_state"),
        (b'{"recipient": "KW/NOSUCH", "body": {}}', 422, "unknown_recipient"),
        (b'{"recipient": "SA/MOI", "body": {}, "service": "SA/MOI/no-such"}', 404, "unknown_service"),
        (b'{"recipient": "SA/MOI", "body": {}, "sender": "KW/MOH"}', 403, "sender_mismatch"),
    ],
)
def test_send_bad_input(kw, body, status, code):
    r = raw_post(kw, "/api/v1/messages", body)
    assert r.status_code == status, r.text
    assert code_of(r) == code
    assert r.json()["error"]["message"]


def test_oversize_body_is_413(kw):
    big = b'{"recipient": "SA/MOI", "body": "' + b"x" * 1_100_000 + b'"}'
    r = raw_post(kw, "/api/v1/messages", big)
    assert r.status_code == 413 and code_of(r) == "too_large"
    # just under the HTTP limit but too large once signed: still 413
    near = b'{"recipient": "SA/MOI", "body": "' + b"x" * 1_000_000 + b'"}'
    r = raw_post(kw, "/api/v1/messages", near)
    assert r.status_code == 413 and code_of(r) == "too_large"


def test_tokens(pair, kw):
    url = pair.nodes["KW"].url + "/api/v1/inbox"
    assert code_of(requests.get(url, timeout=5)) == "unauthorized"
    assert code_of(requests.get(url, headers={"Authorization": "Basic abc"}, timeout=5)) == "unauthorized"
    r = requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=5)
    assert r.status_code == 401 and code_of(r) == "invalid_token"
    # wrong scope
    read_only = kw.token(scope="messages:read")
    r = requests.post(
        pair.nodes["KW"].url + "/api/v1/messages",
        json={"recipient": "SA/MOI", "body": {}},
        headers={"Authorization": f"Bearer {read_only}"},
        timeout=5,
    )
    assert r.status_code == 403 and code_of(r) == "insufficient_scope"
    assert requests.get(url, headers={"Authorization": f"Bearer {read_only}"}, timeout=5).status_code == 200
    # expired: age the token in the node's store
    token = kw.token()
    db = pair.fed.data_dir / "nodes" / "KW" / "data" / "node.sqlite"
    with sqlite3.connect(db, timeout=30) as conn:
        import hashlib

        conn.execute(
            "UPDATE oauth_tokens SET expires_at = ? WHERE token_sha256 = ?",
            (time.time() - 1, hashlib.sha256(token.encode()).hexdigest()),
        )
    r = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 401 and code_of(r) == "token_expired"


def test_token_endpoint_errors(pair, kw):
    url = pair.nodes["KW"].url + "/oauth/token"
    r = requests.post(url, data={"grant_type": "client_credentials"}, auth=(kw.client_id, "wrong"), timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = requests.post(url, data={"grant_type": "password"}, auth=(kw.client_id, kw.secret), timeout=5)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = requests.post(
        url, data={"grant_type": "client_credentials", "scope": "root"}, auth=(kw.client_id, kw.secret), timeout=5
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = requests.post(url, data={"grant_type": "client_credentials"}, auth=(kw.client_id, kw.secret), timeout=5)
    assert r.status_code == 200 and r.json()["expires_in"] == 900


def test_read_only_own_messages(pair, kw):
    mid = kw.send("SA/MOI", {"own": True}).json()["id"]
    other = pair.agency("KW/MOH")
    r = requests.get(pair.nodes["KW"].url + f"/api/v1/messages/{mid}", headers=other.headers, timeout=5)
    assert r.status_code == 404 and code_of(r) == "not_found"
    r = requests.get(pair.nodes["KW"].url + "/api/v1/messages/nope", headers=kw.headers, timeout=5)
    assert r.status_code == 404


def test_inbox_params(pair, kw):
    url = pair.nodes["KW"].url + "/api/v1/inbox"
    for params in (
        {"after": "abc"},
        {"after": "-1"},
        {"limit": "0"},
        {"limit": "9999"},
        {"limit": "x"},
        {"limit": "²"},
        {"after": "₉"},
        {"after": "١٢"},
        {"limit": " 5"},
    ):
        r = requests.get(url, params=params, headers=kw.headers, timeout=5)
        assert r.status_code == 400, params
        assert code_of(r) in ("invalid_cursor", "invalid_request")


def test_no_grant_fails_with_access_denied(pair):
    moci = pair.agency("KW/MOCI")  # SA/NIC/identity-verify grants KW/MOI and KW/PACI only
    mid = moci.send("SA/NIC", {"q": 1}, service="SA/NIC/identity-verify").json()["id"]
    wait_until(lambda: moci.status(mid)["status"] == "failed", 20, what="failed status")
    st = moci.status(mid)
    assert st["last_error"] == "access_denied" and st["receipt"]


def test_unknown_routes_and_methods_are_json(pair, kw):
    r = requests.get(pair.nodes["KW"].url + "/api/v1/nothing", timeout=5)
    assert r.status_code == 404 and code_of(r) == "not_found"
    r = requests.delete(pair.nodes["KW"].url + "/api/v1/messages", headers=kw.headers, timeout=5)
    assert r.status_code == 405 and code_of(r) == "method_not_allowed"


def test_services_admin(pair):
    url = pair.nodes["SA"].url + "/api/v1/services"
    plain = pair.agency("SA/NIC")  # an agency's default client: no services:admin (least privilege)
    r = requests.put(url + "/identity-verify", headers=plain.headers, json={"grants": []}, timeout=5)
    assert r.status_code == 403 and code_of(r) == "insufficient_scope"
    sa = pair.service_admin("SA/NIC")
    listed = requests.get(url, headers=sa.headers, timeout=5).json()["services"]
    assert [s["id"] for s in listed] == ["SA/NIC/identity-verify"]
    r = requests.put(
        url + "/identity-verify",
        headers=sa.headers,
        timeout=5,
        json={"description": "d", "grants": ["KW/MOI", "KW/MOCI"]},
    )
    assert r.status_code == 200 and r.json()["grants"] == ["KW/MOCI", "KW/MOI"]
    for bad in ({"grants": ["nope"]}, {"grants": "KW/MOI"}, {"backend_url": "ftp://x"}, {"x": 1}, []):
        r = requests.put(url + "/identity-verify", headers=sa.headers, json=bad, timeout=5)
        assert r.status_code == 400 and code_of(r) == "invalid_request"
    # this node's operator allowed no backend addresses: an agency cannot aim the node anywhere
    r = requests.put(
        url + "/identity-verify",
        headers=sa.headers,
        timeout=5,
        json={"backend_url": "http://127.0.0.1:9/x", "grants": []},
    )
    assert r.status_code == 403 and code_of(r) == "backend_not_allowed"
    r = requests.put(url + "/BAD_CODE", headers=sa.headers, json={}, timeout=5)
    assert r.status_code == 400
    # restore the original grants for other tests
    requests.put(
        url + "/identity-verify",
        headers=sa.headers,
        timeout=5,
        json={"description": "d", "grants": ["KW/MOI", "KW/PACI"]},
    )
