"""Directory refresh: a new member state joins without restarting the running nodes."""

from __future__ import annotations

import pytest
import requests

from nodeharness import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def directory_server(tmp_path):
    """An HTTP server publishing a folder (the federation's pki dir, once it exists)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from nodeharness import free_port_base

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
        assert "directory = \"http://" in cluster.fed.configs["KW"].read_text()
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
