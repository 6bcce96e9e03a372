"""Backup and restore of a running node, end to end with real node processes.

KW sends to SA; some messages are still queued (SA paused) when KW is backed
up while running; more are sent after the backup; KW's data directory and
private key are destroyed; KW is restored and started again. Every message
accepted before the backup reaches SA exactly once, the log verifies, and
the messages accepted after the backup are reported lost by ``check-gap``;
the messages SA delivered to KW after the backup are put back by
``check-gap --recover``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import stat

from tests.node.nodeharness import gcc_link, wait_until

PASS = {"GCC_BACKUP_PASSPHRASE": "correct horse battery staple"}


def _inbox_ids(cluster, cc: str) -> list[str]:
    db = cluster.fed.data_dir / "nodes" / cc / "data" / "node.sqlite"
    with sqlite3.connect(db, timeout=30) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM inbox")]


def _outbox(cluster, cc: str) -> dict[str, str]:
    db = cluster.fed.data_dir / "nodes" / cc / "data" / "node.sqlite"
    with sqlite3.connect(db, timeout=30) as conn:
        return dict(conn.execute("SELECT id, status FROM outbox").fetchall())


def _send(agency, n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        r = agency.send("SA/MOI", {"tag": tag, "n": i})
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


def test_backup_restore_delivers_once_and_reports_the_gap(make_cluster, tmp_path):
    cluster = make_cluster(["KW", "SA"])
    kw, sa_node = cluster.agency("KW/MOI"), cluster.nodes["SA"]
    config = str(cluster.fed.configs["KW"])
    delivered_first = _send(kw, 4, "before")
    wait_until(lambda: all(s == "delivered" for s in _outbox(cluster, "KW").values()), 30, what="first delivered")

    os.killpg(sa_node.proc.pid, signal.SIGSTOP)  # SA hangs: the next messages stay queued over the backup
    try:
        queued_at_backup = _send(kw, 3, "queued")
        backup = tmp_path / "kw.backup"
        out = gcc_link("node", "backup", "--config", config, "--out", str(backup), "--include-key", "--json", env=PASS)
    finally:
        os.killpg(sa_node.proc.pid, signal.SIGCONT)
    manifest = json.loads(out.stdout)
    assert manifest["includes_private_key"] is True and manifest["store"] == "sqlite"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert b"BEGIN" not in backup.read_bytes() and b"SA/MOI" not in backup.read_bytes()  # encrypted

    after_backup = _send(kw, 3, "after")
    before = delivered_first + queued_at_backup
    wait_until(lambda: sorted(_inbox_ids(cluster, "SA")) == sorted(before + after_backup), 60, what="all at SA")
    # the other direction: SA delivers to KW after the backup; KW receipts them, then forgets them
    sa_agency = cluster.agency("SA/MOI")
    incoming = []
    for i in range(2):
        r = sa_agency.send("KW/MOI", {"reply": i})
        assert r.status_code == 202, r.text
        incoming.append(r.json()["id"])
    wait_until(lambda: set(incoming) <= set(_inbox_ids(cluster, "KW")), 30, what="SA -> KW delivered")

    # a running node's store is never overwritten
    refused = gcc_link("node", "restore", str(backup), "--config", config, check=False, env=PASS)
    assert refused.returncode == 1 and "node_running" in refused.stderr

    cluster.nodes["KW"].kill9()
    data_dir = cluster.fed.data_dir / "nodes" / "KW" / "data"
    key = cluster.fed.pki_dir / "nodes" / "KW" / "node.key"
    shutil.rmtree(data_dir)
    key.unlink()

    missing = gcc_link("node", "messages", "list", "--config", config, check=False)  # never a fresh empty store
    assert missing.returncode == 1 and "store_missing" in missing.stderr
    assert not (data_dir / "node.sqlite").exists()

    wrong = gcc_link(
        "node", "restore", str(backup), "--config", config, check=False, env={"GCC_BACKUP_PASSPHRASE": "wrong"}
    )
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr and "Traceback" not in wrong.stderr
    assert not (data_dir / "node.sqlite").exists()

    restored = json.loads(gcc_link("node", "restore", str(backup), "--config", config, "--json", env=PASS).stdout)
    assert restored["log_verify"]["valid"], restored
    assert restored["log_head"] == manifest["log_head"]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert set(_outbox(cluster, "KW")) == set(before)  # the store as it was at the backup

    cluster.nodes["KW"].start()
    wait_until(lambda: all(s == "delivered" for s in _outbox(cluster, "KW").values()), 60, what="re-sent delivered")
    received = _inbox_ids(cluster, "SA")
    assert sorted(received) == sorted(before + after_backup)  # exactly once each: re-sends were idempotent

    verify = json.loads(gcc_link("log", "verify", "--config", config, "--json").stdout)
    assert verify["valid"], verify

    gap = gcc_link("node", "check-gap", "--config", config, "--json", check=False)
    assert gap.returncode == 1, gap.stderr  # something was lost: the command says so
    report = json.loads(gap.stdout)
    assert sorted(f["id"] for f in report["lost"]) == sorted(after_backup)
    assert report["peers"]["SA"]["received_since"] >= len(after_backup) and report["complete"]
    assert sorted(f["id"] for f in report["lost_received"]) == sorted(incoming) and report["recovered"] == 0
    human = gcc_link("node", "check-gap", "--config", config, check=False)
    assert "LOST" in human.stdout and all(i in human.stdout for i in after_backup)
    assert not set(incoming) & set(_inbox_ids(cluster, "KW"))

    # --recover puts the messages SA delivered back into KW/MOI's inbox (verified, once), the log stays valid
    recovered = json.loads(gcc_link("node", "check-gap", "--config", config, "--recover", "--json", check=False).stdout)
    assert recovered["recovered"] == 2
    inbox = [i for i in cluster.agency("KW/MOI").all_inbox() if i["id"] in incoming]
    assert sorted(i["id"] for i in inbox) == sorted(incoming) and {i["body"]["reply"] for i in inbox} == {0, 1}
    again = json.loads(gcc_link("node", "check-gap", "--config", config, "--recover", "--json", check=False).stdout)
    assert again["lost_received"] == [] and again["recovered"] == 0
    assert sorted(_inbox_ids(cluster, "KW")) == sorted(incoming)
    assert json.loads(gcc_link("log", "verify", "--config", config, "--json").stdout)["valid"]
