"""Retention: settled messages and their log days move into signed daily archives, across a crash.

Times are explicit: the archive runs ``--at`` two days after the day of the
node's first log entry, with one day of retention, so the test does not
depend on today's date. The crash between writing the archive file and
deleting the rows is reproduced exactly: the store is put back as it was
before the deletion committed (the file stays), the node is restarted, and
the next run must finish the job without losing or duplicating anything.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.node.nodeharness import gcc_link, wait_until


def _db(cluster, cc: str) -> Path:
    return cluster.fed.data_dir / "nodes" / cc / "data" / "node.sqlite"


def _q(cluster, cc: str, sql: str) -> list[tuple]:
    with sqlite3.connect(_db(cluster, cc), timeout=30) as conn:
        return conn.execute(sql).fetchall()


def _snapshot(src: Path, dst: Path) -> None:
    a, b = sqlite3.connect(src), sqlite3.connect(dst)
    a.backup(b)
    a.close()
    b.close()


def _archive_at(cluster, cc: str) -> str:
    first_at = _q(cluster, cc, "SELECT min(at) FROM message_log")[0][0]
    day = datetime.strptime(first_at[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    last_at = _q(cluster, cc, "SELECT max(at) FROM message_log")[0][0]
    last_day = datetime.strptime(last_at[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    assert last_day - day <= timedelta(days=1)
    return (last_day + timedelta(days=2, minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_archive_crash_between_file_and_delete(make_cluster, tmp_path):
    cluster = make_cluster(["KW", "SA"])
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    kw_cfg, sa_cfg = str(cluster.fed.configs["KW"]), str(cluster.fed.configs["SA"])
    ids = []
    for i in range(6):
        r = kw.send("SA/MOI", {"n": i})
        assert r.status_code == 202
        ids.append(r.json()["id"])
    wait_until(
        lambda: _q(cluster, "KW", "SELECT count(*) FROM outbox WHERE status='delivered'")[0][0] == 6,
        30,
        what="delivered",
    )
    for message_id in ids[:4]:
        assert sa.ack(message_id).status_code == 200
    entries_kw = _q(cluster, "KW", "SELECT count(*) FROM message_log")[0][0]
    at = _archive_at(cluster, "KW")

    # --- KW: archive, then "crash" before the deletion commits, restart, archive again
    cluster.nodes["KW"].stop()
    before = tmp_path / "kw-before.sqlite"
    _snapshot(_db(cluster, "KW"), before)
    first = json.loads(gcc_link("node", "archive", "--config", kw_cfg, "--days", "1", "--at", at, "--json").stdout)
    assert sum(d["outbox"] for d in first["archived"]) == 6
    assert sum(d["entries"] for d in first["archived"]) == entries_kw
    files = sorted((_db(cluster, "KW").parent / "archive").glob("*.jsonl"))
    assert files and _q(cluster, "KW", "SELECT count(*) FROM outbox")[0][0] == 0
    for suffix in ("", "-wal", "-shm"):
        Path(str(_db(cluster, "KW")) + suffix).unlink(missing_ok=True)
    _snapshot(before, _db(cluster, "KW"))  # the deletion never happened; the file did
    assert _q(cluster, "KW", "SELECT count(*) FROM outbox")[0][0] == 6
    cluster.nodes["KW"].start()
    second = json.loads(gcc_link("node", "archive", "--config", kw_cfg, "--days", "1", "--at", at, "--json").stdout)
    assert second["archived"] == [] and second["recovered"]["outbox"] == 6
    assert second["recovered"]["entries"] == entries_kw
    assert sorted((_db(cluster, "KW").parent / "archive").glob("*.jsonl")) == files  # no second file
    archived_ids = [x["id"] for f in files for x in _lines(f) if x["type"] == "outbox"]
    assert sorted(archived_ids) == sorted(ids)  # each exactly once
    assert _q(cluster, "KW", "SELECT count(*) FROM outbox")[0][0] == 0
    assert _q(cluster, "KW", "SELECT count(*) FROM message_log")[0][0] == 0

    verify = json.loads(gcc_link("log", "verify", "--config", kw_cfg, "--json").stdout)
    assert verify["valid"] and verify["entries"] == entries_kw == verify["archived_entries"], verify

    # evidence for an archived message, verified offline with the root only
    bundle = tmp_path / "ev.json"
    gcc_link("evidence", "export", ids[0], "--config", kw_cfg, "--out", str(bundle))
    root = str(cluster.fed.root_cert)
    assert json.loads(gcc_link("evidence", "verify", str(bundle), "--root", root, "--json").stdout)["valid"]
    offline = json.loads(gcc_link("log", "verify-archive", *map(str, files), "--root", root, "--json").stdout)
    assert offline["valid"] and offline["entries"] == entries_kw
    tampered = tmp_path / files[0].name
    lines = _lines(files[0])
    entry = next(x for x in lines if x["type"] == "entry")
    entry["ref"] = "00000000-0000-4000-8000-000000000000"
    tampered.write_text("".join(json.dumps(x) + "\n" for x in lines))
    bad = gcc_link("log", "verify-archive", str(tampered), "--root", root, "--json", check=False)
    assert bad.returncode == 1 and not json.loads(bad.stdout)["valid"]

    # an archive file lost or altered in the data dir is a broken chain for log verify
    saved = files[0].read_bytes()
    files[0].write_text("".join(json.dumps(x) + "\n" for x in lines))
    broken = gcc_link("log", "verify", "--config", kw_cfg, "--json", check=False)
    assert broken.returncode == 1 and not json.loads(broken.stdout)["valid"]
    files[0].unlink()
    missing = gcc_link("log", "verify", "--config", kw_cfg, "--json", check=False)
    assert missing.returncode == 1 and json.loads(missing.stdout)["problems"]  # the head no longer matches
    files[0].write_bytes(saved)

    # the chain goes on after the archive: new traffic, still one valid chain
    r = kw.send("SA/MOI", {"n": "after"})
    assert r.status_code == 202
    wait_until(lambda: _q(cluster, "KW", "SELECT status FROM outbox")[:1] == [("delivered",)], 30, what="new one")
    verify = json.loads(gcc_link("log", "verify", "--config", kw_cfg, "--json").stdout)
    assert verify["valid"] and verify["entries"] > entries_kw, verify

    # --- SA: acknowledged rows are archived, unacknowledged stay (their entries archived all the same)
    at_sa = _archive_at(cluster, "SA")
    result = json.loads(gcc_link("node", "archive", "--config", sa_cfg, "--days", "1", "--at", at_sa, "--json").stdout)
    assert sum(d["inbox"] for d in result["archived"]) == 4
    left = sorted(x[0] for x in _q(cluster, "SA", "SELECT id FROM inbox"))
    assert set(ids[4:]) <= set(left) and not set(ids[:4]) & set(left)
    assert json.loads(gcc_link("log", "verify", "--config", sa_cfg, "--json").stdout)["valid"]
    for message_id in (ids[0], ids[5]):  # archived row; row in the store with archived entries
        gcc_link("evidence", "export", message_id, "--config", sa_cfg, "--out", str(bundle))
        assert json.loads(gcc_link("evidence", "verify", str(bundle), "--root", root, "--json").stdout)["valid"]
    assert [i["id"] for i in sa.all_inbox()][-2:] == ids[4:] or set(ids[4:]) <= {i["id"] for i in sa.all_inbox()}
