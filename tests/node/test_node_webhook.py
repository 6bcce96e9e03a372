"""Push to an agency webhook: signed by the node, retried after a failure, acknowledged once."""

from __future__ import annotations

import threading
import tomllib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gcc_link.cli.provision import dump_toml
from gcc_link.protocol import jose
from gcc_link.protocol.message import Message
from tests.node.nodeharness import free_port_base, wait_until

pytestmark = pytest.mark.slow


def test_webhook_push_signed_retried_once(make_cluster):
    received: list[bytes] = []
    calls = {"n": 0}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            calls["n"] += 1
            if calls["n"] == 1:  # the agency's endpoint fails once
                self.send_response(503)
                self.end_headers()
                return
            received.append(body)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    port = free_port_base(1)
    server = ThreadingHTTPServer(("127.0.0.1", port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cluster = make_cluster(["KW", "SA"], start=False)
        path = cluster.fed.configs["SA"]
        cfg = tomllib.loads(path.read_text())
        for agency in cfg["agencies"]:
            if agency["id"] == "SA/MOH":
                agency["webhook_url"] = f"http://127.0.0.1:{port}/hook"
        path.write_text(dump_toml(cfg))
        cluster.start()
        kw, sa = cluster.agency("KW/MOH"), cluster.agency("SA/MOH")
        mid = kw.send("SA/MOH", {"licence": "N-1"}).json()["id"]
        wait_until(lambda: received, 20, 0.1, what="webhook push")
        env = jose.parse(received[0], "gcc-link-push+jws", 1 << 20)
        env.verify_signature()
        assert env.fingerprint in cluster.directory().member("SA").cert_fingerprints
        pushed = env.payload["item"]
        assert pushed["id"] == mid and pushed["body"] == {"licence": "N-1"}
        original = Message.from_jws(
            pushed["jws"].encode(), directory=cluster.directory(), now=datetime.now(timezone.utc)
        )
        assert original.sender == "KW/MOH"
        assert calls["n"] == 2  # one failure, one success, then no more pushes
        wait_until(lambda: sa.all_inbox() == [], 5, what="acknowledged by the push")
        import time

        time.sleep(1)
        assert calls["n"] == 2 and len(received) == 1
    finally:
        server.shutdown()
