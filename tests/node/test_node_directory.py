"""Directory refresh: a new member state joins without restarting the running nodes."""

from __future__ import annotations

import pytest
import requests

from nodeharness import wait_until

pytestmark = pytest.mark.slow


def test_new_member_joins_without_restart(make_cluster):
    cluster = make_cluster(["KW", "SA"], overrides={"directory_refresh_seconds": 0.5})
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
