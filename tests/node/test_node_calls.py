"""Synchronous service calls through two nodes to a real backend; grants, timeouts, clear errors."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gcc_link.protocol.canonical import sha256_hex
from gcc_link.protocol.message import Message
from tests.node.nodeharness import free_port_base

pytestmark = pytest.mark.slow


class Backend(BaseHTTPRequestHandler):
    calls = 0  # how many requests reached the backend

    def do_POST(self):  # noqa: N802
        Backend.calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("slow"):
            time.sleep(4)
        if self.path.endswith("broken"):
            self.send_response(500)
            self.end_headers()
            return
        data = json.dumps(
            {"plate": body.get("plate"), "owner": "DEMONSTRATION", "asked_by": self.headers["X-GCC-Link-Sender"]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def calls_pair(tmp_path_factory):
    from tests.node.nodeharness import Cluster

    port = free_port_base(1)
    server = ThreadingHTTPServer(("127.0.0.1", port), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cluster = Cluster(
        tmp_path_factory.mktemp("calls"),
        ["KW", "SA"],
        backend_base=f"http://127.0.0.1:{port}",
        overrides={
            "calls.timeout_seconds": 2.0,
            "node.backend_allowlist": [f"http://127.0.0.1:{port}/", "http://127.0.0.1:9/"],
        },
    )
    try:
        cluster.start()
        yield cluster, port
    finally:
        cluster.stop()
        server.shutdown()


def test_call_returns_signed_bound_response(calls_pair):
    cluster, _ = calls_pair
    kw = cluster.agency("KW/MOI")
    r = kw.call("SA/MUROOR/vehicle-record", {"plate": "KW-1234"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["body"] == {"plate": "KW-1234", "owner": "DEMONSTRATION", "asked_by": "KW/MOI"}
    now = datetime.now(timezone.utc)
    response = Message.from_jws(data["jws"].encode(), directory=cluster.directory(), now=now, local_state="KW")
    request = Message.from_jws(data["request_jws"].encode(), directory=cluster.directory(), now=now)
    assert response.sender == "SA/MUROOR" and response.recipient == "KW/MOI"
    assert response.in_reply_to == request.id and response.request_sha256 == sha256_hex(request.jws)


def test_call_without_grant_is_403(calls_pair):
    cluster, _ = calls_pair
    r = cluster.agency("KW/MOCI").call("SA/MUROOR/vehicle-record", {"plate": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "access_denied"


def test_call_unknown_service_and_state(calls_pair):
    cluster, _ = calls_pair
    kw = cluster.agency("KW/MOI")
    r = kw.call("SA/MUROOR/no-such", {})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_service"
    r = kw.call("QA/MOI/qid-verify", {})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_state"
    r = kw.call("SA/MUROOR/BAD", {})
    assert r.status_code == 400


def test_backend_down_slow_or_broken(calls_pair):
    cluster, port = calls_pair
    sa_admin = cluster.service_admin("SA/MUROOR")
    url = cluster.nodes["SA"].url + "/api/v1/services/vehicle-record"
    kw = cluster.agency("KW/MOI")

    def point_to(backend: str) -> None:
        r = sa_admin.http.put(
            url, headers=sa_admin.headers, timeout=5, json={"backend_url": backend, "grants": ["KW/MOI"]}
        )
        assert r.status_code == 200

    try:
        point_to("http://127.0.0.1:9/down")  # nothing listens on the discard port
        r = kw.call("SA/MUROOR/vehicle-record", {"plate": "x"})
        assert r.status_code == 502 and r.json()["error"]["code"] == "backend_unavailable"
        point_to(f"http://127.0.0.1:{port}/backend/slow")
        started = time.monotonic()
        r = kw.call("SA/MUROOR/vehicle-record", {"plate": "x"})
        assert r.status_code == 504 and r.json()["error"]["code"] == "backend_timeout"
        assert time.monotonic() - started < 4
        point_to(f"http://127.0.0.1:{port}/backend/broken")
        r = kw.call("SA/MUROOR/vehicle-record", {"plate": "x"})
        assert r.status_code == 502 and r.json()["error"]["code"] == "backend_error"
    finally:
        point_to(f"http://127.0.0.1:{port}/backend/SA/MUROOR/vehicle-record")


def test_peer_down_is_502(calls_pair):
    cluster, _ = calls_pair
    kw = cluster.agency("KW/MOI")
    cluster.nodes["SA"].stop()
    try:
        r = kw.call("SA/MUROOR/vehicle-record", {"plate": "x"})
        assert r.status_code == 502 and r.json()["error"]["code"] == "peer_unavailable"
    finally:
        cluster.nodes["SA"].start()


def test_a_replayed_call_request_does_not_run_the_backend_twice(calls_pair):
    """The provider answers a repeated signed request with the response it already signed."""
    import requests

    from gcc_link.protocol import pki
    from gcc_link.protocol.receipt import Receipt

    cluster, _ = calls_pair
    d = cluster.fed.pki_dir / "nodes" / "KW"
    kw = pki.NodeIdentity.from_pem((d / "node.pem").read_bytes(), (d / "node.key").read_bytes())
    url = cluster.nodes["SA"].url + "/peer/v1/calls"
    t = datetime.now(timezone.utc)
    request = Message.create(
        kw, sender="KW/MOI", recipient="SA/MUROOR", body={"plate": "R-1"}, now=t, service="SA/MUROOR/vehicle-record"
    )
    before = Backend.calls
    first = requests.post(url, data=request.jws, headers={"Content-Type": "application/jose"}, timeout=10)
    assert first.status_code == 200 and Backend.calls == before + 1
    replay = requests.post(url, data=request.jws, headers={"Content-Type": "application/jose"}, timeout=10)
    assert replay.status_code == 200 and replay.content == first.content
    assert Backend.calls == before + 1  # the backend ran once
    other = Message.create(
        kw,
        sender="KW/MOI",
        recipient="SA/MUROOR",
        body={"plate": "R-2"},
        now=t,
        service="SA/MUROOR/vehicle-record",
        message_id=request.id,
    )
    clash = requests.post(url, data=other.jws, headers={"Content-Type": "application/jose"}, timeout=10)
    receipt = Receipt.from_jws(clash.content, directory=cluster.directory(), now=datetime.now(timezone.utc))
    assert clash.status_code == 409 and receipt.code == "id_conflict" and Backend.calls == before + 1


def _call_entries(cluster, cc: str, refs: tuple[str, ...]) -> list[tuple]:
    import sqlite3

    path = cluster.fed.data_dir / "nodes" / cc / "data" / "node.sqlite"
    marks = ",".join("?" * len(refs))
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute(
            f"SELECT seq, kind, ref, prev_hash, entry_hash, data FROM message_log WHERE ref IN ({marks}) "
            "AND kind IN ('call_request', 'call_response') ORDER BY seq",
            refs,
        ).fetchall()


def test_a_call_is_logged_once_per_side_request_and_response_chained(calls_pair):
    """Each node writes the request and the response in one commit: adjacent entries, the response chained on."""
    cluster, _ = calls_pair
    r = cluster.agency("KW/MOI").call("SA/MUROOR/vehicle-record", {"plate": "LOG-1"})
    assert r.status_code == 200, r.text
    data = r.json()
    request_id, response_id = data["in_reply_to"], data["id"]
    for cc in ("SA", "KW"):
        entries = _call_entries(cluster, cc, (request_id, response_id))
        assert [e[1] for e in entries] == ["call_request", "call_response"], cc
        (seq1, _k1, ref1, _p1, hash1, data1), (seq2, _k2, ref2, prev2, _h2, data2) = entries
        assert seq2 == seq1 + 1 and prev2 == hash1, cc  # nothing between them: one transaction
        assert bytes(data1) == data["request_jws"].encode() and bytes(data2) == data["jws"].encode(), cc
        assert ref1 == request_id and ref2 == (request_id if cc == "SA" else response_id), cc


def test_a_failed_call_logs_its_request_alone(calls_pair):
    """A backend that fails leaves the request in both logs (evidence it was asked) and no response."""
    cluster, port = calls_pair
    sa_admin = cluster.service_admin("SA/MUROOR")
    url = cluster.nodes["SA"].url + "/api/v1/services/vehicle-record"

    def point_to(backend: str) -> None:
        r = sa_admin.http.put(
            url, headers=sa_admin.headers, timeout=5, json={"backend_url": backend, "grants": ["KW/MOI"]}
        )
        assert r.status_code == 200

    point_to(f"http://127.0.0.1:{port}/backend/broken")
    try:
        r = cluster.agency("KW/MOI").call("SA/MUROOR/vehicle-record", {"plate": "LOG-2"})
        assert r.status_code == 502 and r.json()["error"]["code"] == "backend_error"
    finally:
        point_to(f"http://127.0.0.1:{port}/backend/SA/MUROOR/vehicle-record")
    path = cluster.fed.data_dir / "nodes" / "SA" / "data" / "node.sqlite"
    import sqlite3

    with sqlite3.connect(path, timeout=30) as conn:
        last = conn.execute(
            "SELECT kind, data FROM message_log WHERE kind IN ('call_request', 'call_response') ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    request = Message.unverified(bytes(last[1]))
    assert last[0] == "call_request" and request.body == {"plate": "LOG-2"}
    assert _call_entries(cluster, "KW", (request.id,))[-1][1] == "call_request"
