"""Directory refresh: a new member state joins without restarting the running nodes."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from gcc_link.protocol.timefmt import format_time
from tests.node.nodeharness import gcc_link, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def directory_server(tmp_path):
    """An HTTP server publishing a folder (the federation's pki dir, once it exists)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from tests.node.nodeharness import free_port_base

    folder = tmp_path / "fed0" / "pki"
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    port = free_port_base(1)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/directory.jws"
    server.shutdown()


@pytest.mark.parametrize("source", ["file", "url"])
def test_new_member_joins_without_restart(make_cluster, directory_server, source):
    overrides = {"directory_refresh_seconds": 0.5}
    if source == "url":
        overrides["directory"] = directory_server  # nodes fetch the directory over HTTP
    cluster = make_cluster(["KW", "SA"], overrides=overrides)
    if source == "url":
        assert 'directory = "http://' in cluster.fed.configs["KW"].read_text()
    kw = cluster.agency("KW/MOI")
    r = kw.send("QA/MOI", {"early": True})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_state"
    kw_pid = cluster.nodes["KW"].proc.pid
    cluster.add_member("QA")  # directory version 2 lists QA; KW and SA keep running
    assert cluster.directory().version == 2

    def ready_v2() -> bool:
        return requests.get(cluster.nodes["KW"].url + "/readyz", timeout=5).json()["directory_version"] == 2

    wait_until(ready_v2, 15, 0.2, what="KW adopts directory v2")
    mid = kw.send("QA/MOI", {"welcome": "QA"}).json()["id"]
    wait_until(lambda: kw.status(mid)["status"] == "delivered", 20, what="delivery to the new member")
    assert cluster.nodes["KW"].proc.pid == kw_pid and cluster.nodes["KW"].proc.poll() is None
    assert [i["id"] for i in cluster.agency("QA/MOI").all_inbox()] == [mid]


def test_an_expired_directory_holds_messages_until_a_fresh_one_arrives(make_cluster):
    """TUF freeze protection end to end: past its directory's expiry a node trusts no peer, answers
    503 ``directory_expired`` (transient), senders keep the message queued, and a fresh version
    picked up by the refresher lets it through. Nothing is lost or delivered twice."""
    cluster = make_cluster(["KW", "SA"], start=False, overrides={"directory_refresh_seconds": 0.5})
    pki = str(cluster.fed.pki_dir)
    expires = datetime.now(timezone.utc) + timedelta(seconds=30)  # version 2 expires 30 s from now
    gcc_link("directory", "sign", "--dir", pki, "--expires-days", "1", "--at", format_time(expires - timedelta(days=1)))
    cluster.start()
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    first = kw.send("SA/MOI", {"n": 1}).json()["id"]
    wait_until(lambda: kw.status(first)["status"] == "delivered", 20, what="delivery before expiry")
    time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.5)

    ready = requests.get(cluster.nodes["SA"].url + "/readyz", timeout=5)
    assert ready.status_code == 503 and ready.json()["checks"]["directory"] == "expired"
    held = kw.send("SA/MOI", {"n": 2})
    assert held.status_code == 202  # store-and-forward: the agency's message is kept
    mid = held.json()["id"]
    wait_until(lambda: kw.status(mid)["attempts"] >= 2, 20, what="retries against the expired directory")
    status = kw.status(mid)
    assert status["status"] == "queued" and "503" in status["last_error"], status
    assert [m["id"] for m in sa.all_inbox()] == [first]

    gcc_link("directory", "sign", "--dir", pki)  # version 3, valid for a year
    wait_until(lambda: kw.status(mid)["status"] == "delivered", 30, what="delivery after the refresh")
    assert [m["id"] for m in sa.all_inbox()] == [first, mid]
    assert requests.get(cluster.nodes["SA"].url + "/readyz", timeout=5).json()["directory_version"] == 3
