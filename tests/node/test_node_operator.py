"""Operator commands (CLI, ``--json``) and the operator API (scope ``operator``) on real node processes."""

from __future__ import annotations

import json
import time

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.node.conftest import assert_no_internal_errors
from tests.node.nodeharness import Cluster, gcc_link, wait_until


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("ops"), ["KW", "SA"])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
    assert_no_internal_errors(cluster)


def cli(*args: str, check: bool = True):
    result = gcc_link(*args, check=check)
    return json.loads(result.stdout) if check else result


def operator(cluster: Cluster, cc: str) -> dict[str, str]:
    creds = cli("client", "create", "--operator", "--config", str(cluster.fed.configs[cc]), "--json")
    assert creds["scope"] == "operator"
    r = requests.post(
        cluster.nodes[cc].url + "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "operator"},
        auth=(creds["client_id"], creds["client_secret"]),
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["scope"] == "operator", r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def status(cluster: Cluster, agency, message_id: str) -> str:
    return agency.status(message_id)["status"]


def test_operator_scope_is_not_for_agencies(ops):
    kw = ops.agency("KW/MOI")
    url = ops.nodes["KW"].url
    r = requests.get(url + "/operator/v1/messages", headers=kw.headers, timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    r = requests.post(
        url + "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "operator"},
        auth=(kw.client_id, kw.secret),
        timeout=10,
    )
    if r.status_code == 200:  # granted without the scope it may not have
        assert "operator" not in r.json().get("scope", "").split()
        token = r.json()["access_token"]
        denied = requests.get(url + "/operator/v1/messages", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert denied.status_code == 403
    else:
        assert r.status_code in (400, 401)
    bad = cli(
        "client",
        "create",
        "--agency",
        "KW/MOI",
        "--scope",
        "operator",
        "--config",
        str(ops.fed.configs["KW"]),
        check=False,
    )
    assert bad.returncode == 1 and "unknown scope" in bad.stderr
    assert requests.get(url + "/operator/v1/messages", timeout=10).status_code == 401
    doc = requests.get(url + "/openapi.json", timeout=10).json()
    assert "/operator/v1/messages/{message_id}/requeue" in doc["paths"]
    assert "operator" in json.dumps(doc["components"]["securitySchemes"])


def test_failed_message_requeued_after_grant(ops):
    kw = ops.agency("KW/MOI")
    kw_cfg, sa_cfg = str(ops.fed.configs["KW"]), str(ops.fed.configs["SA"])
    r = kw.send("SA/MOH", {"nurse": 1}, service="SA/MOH/nurse-licence")  # KW/MOI holds no grant for it
    assert r.status_code == 202
    mid = r.json()["id"]
    wait_until(lambda: status(ops, kw, mid) == "failed", 30, what="failed")
    listed = cli(
        "node",
        "messages",
        "list",
        "--status",
        "failed",
        "--peer",
        "SA",
        "--agency",
        "KW/MOI",
        "--config",
        kw_cfg,
        "--json",
    )
    assert [m["id"] for m in listed] == [mid] and listed[0]["last_error"] == "access_denied"
    created = listed[0]["created_at"]
    same = cli(
        "node",
        "messages",
        "list",
        "--since",
        created,
        "--until",
        "2999-01-01T00:00:00.000Z",
        "--status",
        "failed",
        "--config",
        kw_cfg,
        "--json",
    )
    assert [m["id"] for m in same] == [mid]
    assert cli("node", "messages", "list", "--until", created, "--status", "failed", "--config", kw_cfg, "--json") == []
    bad_time = cli("node", "messages", "list", "--since", "yesterday", "--config", kw_cfg, check=False)
    assert bad_time.returncode == 1 and "malformed" in bad_time.stderr
    shown = cli("node", "messages", "show", mid, "--config", kw_cfg, "--json")
    assert [e["kind"] for e in shown["log"]] == ["message_sent", "receipt_received"]

    added = cli("node", "grants", "add", "SA/MOH/nurse-licence", "KW/MOI", "--config", sa_cfg, "--json")
    assert added["changed"] is True
    grants = cli("node", "grants", "list", "--service", "SA/MOH/nurse-licence", "--config", sa_cfg, "--json")
    assert "KW/MOI" in grants[0]["grants"]
    requeued = cli("node", "messages", "requeue", mid, "--config", kw_cfg, "--json")
    assert requeued["status"] == "queued" and requeued["id"] == mid
    wait_until(lambda: status(ops, kw, mid) == "delivered", 30, what="delivered after requeue")
    inbox = [i for i in ops.agency("SA/MOH").all_inbox() if i["id"] == mid]
    assert len(inbox) == 1
    received = cli(
        "node",
        "messages",
        "list",
        "--direction",
        "received",
        "--status",
        "received",
        "--peer",
        "KW",
        "--agency",
        "SA/MOH",
        "--config",
        sa_cfg,
        "--json",
    )
    assert [m["id"] for m in received] == [mid] and received[0]["status"] == "received"
    shown_sa = cli("node", "messages", "show", mid, "--config", sa_cfg, "--json")
    assert shown_sa["direction"] == "received" and [e["kind"] for e in shown_sa["log"]][-2:] == [
        "message_received",
        "receipt_signed",
    ]
    again = cli("node", "messages", "requeue", mid, "--config", kw_cfg, check=False)
    assert again.returncode == 1 and "conflict" in again.stderr
    removed = cli("node", "grants", "remove", "SA/MOH/nurse-licence", "KW/MOI", "--config", sa_cfg, "--json")
    assert removed["changed"] is True
    assert cli("log", "verify", "--config", kw_cfg, "--json")["valid"]


def test_dead_requeue_and_cancel_over_the_api(ops):
    kw = ops.agency("KW/MOI")
    url = ops.nodes["KW"].url
    headers = operator(ops, "KW")
    sa = ops.nodes["SA"]
    sa.stop()  # unreachable (connection refused): nothing is in flight, so a cancel really stops it
    try:
        dead = kw.send("SA/MOI", {"short": True}, ttl_seconds=2).json()["id"]
        doomed = kw.send("SA/MOI", {"cancel": True}).json()["id"]
        wait_until(lambda: status(ops, kw, dead) == "dead", 30, what="dead after its TTL")
        r = requests.post(url + f"/operator/v1/messages/{doomed}/cancel", headers=headers, timeout=10)
        assert r.status_code == 200 and r.json()["status"] == "dead", r.text
        assert "cancelled by operator" in kw.status(doomed)["last_error"]
    finally:
        sa.start()
    r = requests.get(
        url + "/operator/v1/messages", params={"status": "dead", "peer": "SA"}, headers=headers, timeout=10
    )
    assert {dead, doomed} <= {m["id"] for m in r.json()["items"]}
    r = requests.post(
        url + f"/operator/v1/messages/{dead}/requeue", json={"ttl_seconds": 600}, headers=headers, timeout=10
    )
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    wait_until(lambda: status(ops, kw, dead) == "delivered", 30, what="requeued dead delivered")
    assert status(ops, kw, doomed) == "dead"
    received = [i["id"] for i in ops.agency("SA/MOI").all_inbox()]
    assert received.count(dead) == 1 and doomed not in received
    # refusals are 4xx with codes, never 500
    assert requests.post(url + f"/operator/v1/messages/{dead}/cancel", headers=headers, timeout=10).status_code == 409
    assert requests.get(url + "/operator/v1/messages/nope", headers=headers, timeout=10).status_code == 404
    assert (
        requests.get(url + "/operator/v1/messages", params={"status": "weird"}, headers=headers, timeout=10).status_code
        == 400
    )
    assert (
        requests.get(url + "/operator/v1/messages", params={"limit": "x"}, headers=headers, timeout=10).status_code
        == 400
    )
    assert (
        requests.post(url + f"/operator/v1/messages/{dead}/requeue", data="[1", headers=headers, timeout=10).status_code
        == 400
    )
    r = requests.post(
        url + "/operator/v1/grants", json={"service": "KW/MOI/x", "grantee": 5}, headers=headers, timeout=10
    )
    assert r.status_code == 400


def test_revoke_and_rotate(ops, tmp_path):
    kw_cfg = str(ops.fed.configs["KW"])
    url = ops.nodes["KW"].url
    headers = operator(ops, "KW")
    victim = cli("client", "create", "--agency", "KW/MOH", "--config", kw_cfg, "--json")
    auth = (victim["client_id"], victim["client_secret"])

    def token(credentials) -> requests.Response:
        return requests.post(
            url + "/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials, timeout=10
        )

    def inbox(tok: str) -> int:
        return requests.get(url + "/api/v1/inbox", headers={"Authorization": f"Bearer {tok}"}, timeout=10).status_code

    # rotate-secret by CLI (another process): the old secret is refused at once, the old token within 5 s
    old = token(auth).json()["access_token"]
    assert inbox(old) == 200  # now cached by the node
    rotated = cli("client", "rotate-secret", victim["client_id"], "--config", kw_cfg, "--json")
    assert rotated["tokens_ended"] == 1
    assert token(auth).status_code == 401
    started = time.monotonic()
    wait_until(lambda: inbox(old) == 401, 15, 0.2, what="old token refused")
    assert time.monotonic() - started < 10  # the 5 s cache, plus scheduling on a loaded machine
    auth = (victim["client_id"], rotated["client_secret"])
    live = token(auth).json()["access_token"]
    assert inbox(live) == 200

    # revoke over the API (the same process): refused at once, no new tokens
    r = requests.post(url + f"/operator/v1/clients/{victim['client_id']}/revoke", headers=headers, timeout=10)
    assert r.status_code == 200 and r.json()["tokens_ended"] == 1, r.text
    assert inbox(live) == 401
    assert token(auth).status_code == 401
    clients = requests.get(url + "/operator/v1/clients", headers=headers, timeout=10).json()["clients"]
    assert next(c for c in clients if c["client_id"] == victim["client_id"])["revoked"] is True
    listed = cli("client", "list", "--config", kw_cfg, "--json")
    assert all("secret" not in json.dumps(c) or "client_secret" not in c for c in listed)
    again = cli("client", "revoke", victim["client_id"], "--config", kw_cfg, check=False)
    assert again.returncode == 1 and "revoked" in again.stderr

    # rotate-key: a client switches to private_key_jwt; bad PEM refused
    other = cli("client", "create", "--agency", "KW/MOI", "--config", kw_cfg, "--json")
    pem = tmp_path / "k.pem"
    pem.write_bytes(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    moved = cli("client", "rotate-key", other["client_id"], "--public-key", str(pem), "--config", kw_cfg, "--json")
    assert moved["auth_method"] == "private_key_jwt"
    assert token((other["client_id"], other["client_secret"])).status_code == 401
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    bad = cli("client", "rotate-key", other["client_id"], "--public-key", str(junk), "--config", kw_cfg, check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_gap_endpoint_refuses_bad_queries(ops):
    from datetime import datetime, timezone

    from gcc_link.node.gap import GAP_TYP
    from gcc_link.protocol import signed
    from gcc_link.protocol.pki import NodeIdentity
    from gcc_link.protocol.timefmt import format_time

    url = ops.nodes["SA"].url + "/peer/v1/gap"
    junk = requests.post(url, data=b"junk", timeout=10)
    assert junk.status_code == 400 and junk.json()["error"]["code"] == "malformed"
    pki = ops.fed.pki_dir / "nodes" / "KW"
    kw = NodeIdentity.from_pem((pki / "node.pem").read_bytes(), (pki / "node.key").read_bytes())
    now = datetime.now(timezone.utc)
    payload = {"gcc_link_gap": 1, "since": format_time(now), "at": format_time(now)}
    posing = signed.sign(kw, GAP_TYP, {**payload, "node": "SA"}, now)  # KW asking about SA's traffic
    r = requests.post(url, data=posing, timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "sender_not_authorised"
    honest = requests.post(url, data=signed.sign(kw, GAP_TYP, {**payload, "node": "KW"}, now), timeout=10)
    assert honest.status_code == 200 and honest.json()["for"] == "KW"
