"""Peer outages: messages queue and back off, then all arrive; past their TTL they are ``dead``."""

from __future__ import annotations

import time

import pytest

from tests.node.nodeharness import wait_until

pytestmark = pytest.mark.slow


def test_peer_down_backoff_then_delivered(make_cluster):
    cluster = make_cluster(["KW", "SA"])
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    cluster.nodes["SA"].stop()
    ids = [kw.send("SA/MOI", {"n": n}).json()["id"] for n in range(20)]
    wait_until(lambda: all(kw.status(i)["attempts"] >= 2 for i in ids), 15, what="retries")
    time.sleep(3)
    statuses = [kw.status(i) for i in ids]
    assert all(s["status"] == "queued" for s in statuses)
    assert all(s["last_error"].startswith("network") for s in statuses)
    # backoff: base 0.2 s doubling to a 2 s cap gives a handful of attempts in ~4 s (without it: ~80 polls)
    assert all(2 <= s["attempts"] <= 12 for s in statuses), [s["attempts"] for s in statuses]
    cluster.nodes["SA"].start()
    wait_until(lambda: all(kw.status(i)["status"] == "delivered" for i in ids), 30, 0.2, what="delivery after outage")
    assert sorted(i["id"] for i in sa.all_inbox()) == sorted(ids)


def test_ttl_expiry_is_dead(make_cluster):
    cluster = make_cluster(["KW", "SA"])
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    cluster.nodes["SA"].stop()
    mid = kw.send("SA/MOI", {"short": True}, ttl_seconds=2).json()["id"]
    keep = kw.send("SA/MOI", {"long": True}, ttl_seconds=3600).json()["id"]
    wait_until(lambda: kw.status(mid)["status"] == "dead", 15, 0.2, what="dead")
    assert "ttl" in kw.status(mid)["last_error"]
    cluster.nodes["SA"].start()
    wait_until(lambda: kw.status(keep)["status"] == "delivered", 30, 0.2, what="delivery")
    assert kw.status(mid)["status"] == "dead"  # dead stays dead
    assert [i["id"] for i in sa.all_inbox()] == [keep]


def test_long_outage_retry_is_resigned_not_stale(make_cluster, tmp_path):
    """A retry later than ``resign_after_seconds`` goes out re-signed (same id), so it is not ``stale``."""
    import json
    from datetime import datetime, timezone

    from gcc_link.protocol.receipt import Receipt
    from tests.node.nodeharness import gcc_link

    cluster = make_cluster(["KW", "SA"], overrides={"delivery.resign_after_seconds": 1.0})
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    cluster.nodes["SA"].stop()
    mid = kw.send("SA/MOI", {"after": "outage"}).json()["id"]
    wait_until(lambda: kw.status(mid)["attempts"] >= 2, 15, what="retries")
    time.sleep(1.5)
    cluster.nodes["SA"].start()
    wait_until(lambda: kw.status(mid)["status"] == "delivered", 30, 0.2, what="delivery")
    item = [i for i in sa.all_inbox() if i["id"] == mid][0]
    receipt = Receipt.from_jws(
        kw.status(mid)["receipt"].encode(), directory=cluster.directory(), now=datetime.now(timezone.utc)
    )
    from gcc_link.protocol.canonical import sha256_hex

    assert receipt.accepted and receipt.message_sha256 == sha256_hex(item["jws"].encode())
    # the log holds every version signed; evidence picks the version the receipt is for
    bundle = tmp_path / "ev.json"
    gcc_link("evidence", "export", mid, "--config", str(cluster.fed.configs["KW"]), "--out", str(bundle))
    result = json.loads(
        gcc_link("evidence", "verify", str(bundle), "--root", str(cluster.fed.root_cert), "--json").stdout
    )
    assert result["valid"], result
    log = json.loads(gcc_link("log", "verify", "--config", str(cluster.fed.configs["KW"]), "--json").stdout)
    assert log["valid"] and log["entries"] >= 3  # original + re-signed version(s) + receipt
