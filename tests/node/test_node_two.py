"""Two real nodes over HTTP: send, deliver, read, ack; receipts, idempotency, log and evidence."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import requests

from gcc_link.protocol.message import Message
from gcc_link.protocol.receipt import Receipt
from tests.node.nodeharness import gcc_link, wait_until

pytestmark = pytest.mark.slow


def _delivered(agency, mid):
    return lambda: agency.status(mid)["status"] == "delivered"


def test_send_deliver_read_ack(pair):
    kw, sa = pair.agency("KW/MOI"), pair.agency("SA/MOI")
    r = kw.send("SA/MOI", {"plate": "12345", "note": "مرحبا"})
    assert r.status_code == 202, r.text
    mid = r.json()["id"]
    assert r.json()["status"] == "queued"
    wait_until(_delivered(kw, mid), 20, what="delivery")
    status = kw.status(mid)
    assert status["attempts"] == 1 and status["last_error"] is None
    now = datetime.now(timezone.utc)
    receipt = Receipt.from_jws(status["receipt"].encode(), directory=pair.directory(), now=now, expected_node="SA")
    assert receipt.accepted and receipt.receipt_for == mid

    items = [i for i in sa.all_inbox() if i["id"] == mid]
    assert len(items) == 1
    item = items[0]
    assert item["sender"] == "KW/MOI" and item["body"] == {"plate": "12345", "note": "مرحبا"}
    # the inbox holds the message exactly as signed: the agency can verify it itself
    msg = Message.from_jws(item["jws"].encode(), directory=pair.directory(), now=now)
    assert msg.id == mid and receipt.message_sha256 == msg.sha256

    assert sa.ack(mid).status_code == 200
    assert mid not in [i["id"] for i in sa.all_inbox()]
    assert sa.ack(mid).status_code == 200  # acking twice is harmless
    # another agency of the same node cannot see or ack it
    assert pair.agency("SA/MOH").ack(mid).status_code == 404


def test_inbox_cursor_pages(pair):
    kw, sa = pair.agency("KW/MOH"), pair.agency("SA/MOH")
    ids = [kw.send("SA/MOH", {"n": n}).json()["id"] for n in range(7)]
    wait_until(lambda: all(kw.status(i)["status"] == "delivered" for i in ids), 20, what="delivery")
    seen, after = [], None
    for _ in range(10):
        page = sa.inbox(after, limit=3)
        assert len(page["items"]) <= 3
        if not page["items"]:
            break
        seen += [i["id"] for i in page["items"]]
        after = page["next"]
    assert seen == ids  # arrival order, each once


def test_duplicate_delivery_is_idempotent(pair):
    kw, sa = pair.agency("KW/MOCI"), pair.agency("SA/MC")
    mid = kw.send("SA/MC", {"cr": "1010"}).json()["id"]
    wait_until(_delivered(kw, mid), 20, what="delivery")
    original = kw.status(mid)["receipt"]
    jws = [i for i in sa.all_inbox() if i["id"] == mid][0]["jws"]
    # replaying the same message to the peer API returns the original receipt and stores nothing new
    for _ in range(2):
        r = requests.post(
            pair.nodes["SA"].url + "/peer/v1/messages",
            data=jws,
            headers={"Content-Type": "application/jose"},
            timeout=10,
        )
        assert r.status_code == 202 and r.text == original
    r = requests.post(pair.nodes["SA"].url + "/peer/v1/messages:batch", json=[jws, jws], timeout=10)
    assert r.json() == [original, original]
    assert [i["id"] for i in sa.all_inbox()].count(mid) == 1


def test_log_verify_and_evidence(pair, tmp_path):
    kw = pair.agency("KW/PACI")
    mid = kw.send("SA/NIC", {"civil_id": "280010100001"}).json()["id"]
    wait_until(_delivered(kw, mid), 20, what="delivery")
    for cc in ("KW", "SA"):
        out = gcc_link("log", "verify", "--config", str(pair.fed.configs[cc]), "--json")
        result = json.loads(out.stdout)
        assert result["valid"] and result["entries"] >= 2
    for cc in ("KW", "SA"):
        bundle = tmp_path / f"ev-{cc}.json"
        gcc_link("evidence", "export", mid, "--config", str(pair.fed.configs[cc]), "--out", str(bundle))
        out = gcc_link("evidence", "verify", str(bundle), "--root", str(pair.fed.root_cert), "--json")
        result = json.loads(out.stdout)
        assert result["valid"] and result["message_id"] == mid and result["receipt_status"] == "accepted"
        # tampering with the body breaks it
        data = json.loads(bundle.read_text())
        data["log"]["entries"][0]["kind"] = (
            "message_received" if data["log"]["entries"][0]["kind"] != "message_received" else "message_sent"
        )
        bundle.write_text(json.dumps(data))
        bad = gcc_link("evidence", "verify", str(bundle), "--root", str(pair.fed.root_cert), "--json", check=False)
        assert bad.returncode == 1 and not json.loads(bad.stdout)["valid"]


def test_ops_endpoints(pair):
    url = pair.nodes["KW"].url
    assert requests.get(url + "/healthz", timeout=5).json()["status"] == "ok"
    ready = requests.get(url + "/readyz", timeout=5).json()
    assert ready["ready"] and ready["checks"] == {"key": "ok", "database": "ok", "directory": "ok"}
    kw = pair.agency("KW/CAIT")
    mid = kw.send("SA/YESSER", {"hello": 1}).json()["id"]
    wait_until(_delivered(kw, mid), 20, what="delivery")
    text = requests.get(url + "/metrics", timeout=5).text
    assert 'gcc_link_messages_total{peer="SA",status="delivered"}' in text
    assert "gcc_link_delivery_latency_seconds_bucket" in text and "gcc_link_queue_depth" in text
    sa_metrics = requests.get(pair.nodes["SA"].url + "/metrics", timeout=5).text
    assert "gcc_link_received_total" in sa_metrics


def test_openapi_document_is_valid(pair):
    from openapi_spec_validator import validate

    doc = requests.get(pair.nodes["KW"].url + "/openapi.json", timeout=5).json()
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    for path in ("/api/v1/messages", "/api/v1/inbox", "/peer/v1/messages:batch", "/peer/v1/calls", "/oauth/token"):
        assert path in doc["paths"]


def test_signed_status(pair):
    from gcc_link.protocol import jose

    r = requests.get(pair.nodes["SA"].url + "/peer/v1/status", timeout=5)
    env = jose.parse(r.content, "gcc-link-status+jws", 256 * 1024)
    env.verify_signature()
    assert env.payload["node"] == "SA" and env.payload["directory_version"] == pair.directory().version
    member = pair.directory().member("SA")
    assert env.fingerprint in member.cert_fingerprints


def test_signed_status_reports_24h_traffic_uptime_and_the_catalogue(make_cluster):
    """What the node attests about its traffic comes from what it really settled, per peer and outcome."""
    from gcc_link.protocol.status import NodeStatus

    cluster = make_cluster(["KW", "SA"])
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    ids = [kw.send("SA/MOI", {"n": n}).json()["id"] for n in range(3)]
    back = sa.send("KW/MOI", {"reply": True}).json()["id"]
    refused = kw.send("SA/NOSUCH", {}).json()["id"]  # SA rejects: wrong_recipient
    wait_until(
        lambda: (
            all(kw.status(i)["status"] == "delivered" for i in ids)
            and sa.status(back)["status"] == "delivered"
            and kw.status(refused)["status"] == "failed"
        ),
        30,
        what="settled",
    )

    def status(cc: str) -> NodeStatus:
        r = requests.get(cluster.nodes[cc].url + "/peer/v1/status", timeout=5)
        return NodeStatus.from_jws(
            r.content, directory=cluster.directory(), now=datetime.now(timezone.utc), expected_node=cc
        )

    kw_status, sa_status = status("KW"), status("SA")
    kw_sa = kw_status.extra["traffic"]["peers"]["SA"]
    assert (kw_sa["sent"], kw_sa["received"], kw_sa["failed"]) == (4, 1, {"wrong_recipient": 1})
    sa_kw = sa_status.extra["traffic"]["peers"]["KW"]
    assert (sa_kw["received"], sa_kw["sent"], sa_kw["failed"]) == (4, 1, {"wrong_recipient": 1})
    assert kw_status.extra["traffic"]["window_hours"] == 24 and kw_status.extra["uptime_seconds"] >= 0
    catalogue = {item["id"]: item for item in kw_status.extra["catalogue"]}
    assert catalogue["KW/PACI/civil-id-verify"]["stage"] == "connected"
    assert catalogue["KW/PACI/civil-id-verify"]["grants"] == 8 and catalogue["KW/PACI/civil-id-verify"]["cross_border"]
    assert set(catalogue) == set(kw_status.services)
