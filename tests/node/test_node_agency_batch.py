"""``POST /api/v1/messages:batch``: per-item outcomes, one durable commit, delivered over real HTTP.

Two real node processes (KW → SA, plain HTTP, SQLite) with a small batch cap
(``node.max_batch_messages``) so the boundary is cheap to test; the store is
read directly to prove what was (and was not) committed.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.exc import OperationalError

from gcc_link.node import logstore
from gcc_link.protocol.message import Message
from tests.node.conftest import assert_no_internal_errors
from tests.node.nodeharness import Cluster, gcc_link, wait_until

pytestmark = pytest.mark.slow

CAP = 12
BATCH = "/api/v1/messages:batch"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """KW + SA in development mode; KW takes at most ``CAP`` messages per batch."""
    c = Cluster(tmp_path_factory.mktemp("batch"), ["KW", "SA"], overrides={"node.max_batch_messages": CAP})
    try:
        c.start()
        yield c
    finally:
        c.stop()
    assert_no_internal_errors(c)


def kw_db(cluster: Cluster) -> Path:
    return cluster.fed.data_dir / "nodes" / "KW" / "data" / "node.sqlite"


def counts(cluster: Cluster) -> tuple[int, int]:
    """(outbox rows, log entries) in KW's store."""
    with sqlite3.connect(kw_db(cluster), timeout=30) as conn:
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        entries = conn.execute("SELECT count(*) FROM message_log").fetchone()[0]
    return int(outbox), int(entries)


def quiet(cluster: Cluster) -> None:
    """Wait until KW has nothing queued: settling deliveries append log entries, which would move the counts."""

    def idle() -> bool:
        with sqlite3.connect(kw_db(cluster), timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM outbox WHERE status = 'queued'").fetchone()[0] == 0

    wait_until(idle, 30, what="KW outbox settled")


def post(agency, data: Any, *, raw: bytes | None = None) -> requests.Response:
    body = raw if raw is not None else json.dumps(data).encode()
    return agency.http.post(
        agency.node.url + BATCH,
        data=body,
        headers={**agency.headers, "Content-Type": "application/json"},
        timeout=60,
    )


def delivered(agency, ids: list[str]) -> bool:
    return all(agency.status(i)["status"] == "delivered" for i in ids)


def test_mixed_batch_answers_each_item_and_delivers_the_valid_ones(cluster):
    kw, sa_moi, sa_nic = cluster.agency("KW/MOI"), cluster.agency("SA/MOI"), cluster.agency("SA/NIC")
    conversation = str(uuid.uuid4())
    items: list[tuple[Any, str | None]] = [  # (item, expected error code; None = queued)
        ({"recipient": "SA/MOI", "body": {"n": 0, "note": "مرحبا"}}, None),
        (7, "invalid_request"),
        ({"recipient": "SA/MOI"}, "invalid_request"),
        ({"recipient": "sa/moi", "body": {}}, "invalid_request"),
        ({"recipient": "SA/MOI", "body": {}, "ttl_seconds": 0}, "invalid_request"),
        ({"recipient": "SA/MOI", "body": {}, "colour": "red"}, "invalid_request"),
        ({"recipient": "SA/MOI", "body": {"n": 5}, "conversation_id": conversation}, None),
        ({"recipient": "QA/MOI", "body": {}}, "unknown_state"),
        ({"recipient": "KW/NOSUCH", "body": {}}, "unknown_recipient"),
        ({"recipient": "SA/MOI", "body": {}, "service": "SA/MOI/no-such"}, "unknown_service"),
        ({"recipient": "SA/MOI", "body": {}, "sender": "KW/MOH"}, "sender_mismatch"),
        ({"recipient": "SA/MOI", "body": "x" * 800_000}, "too_large"),  # fits the request, too large once signed
        ({"recipient": "SA/NIC", "body": {"n": 12}, "service": "SA/NIC/identity-verify"}, None),
    ]
    assert len(items) > CAP  # the cap counts items, so this batch is split in two requests below
    quiet(cluster)
    outbox_before, _ = counts(cluster)
    answers = []
    for start in (0, CAP):
        r = post(kw, {"messages": [i for i, _ in items[start : start + CAP]]})
        assert r.status_code == 202, r.text
        data = r.json()
        assert [a["index"] for a in data["items"]] == list(range(len(data["items"])))
        assert data["queued"] + data["rejected"] == len(data["items"])
        answers += data["items"]
    for (_item, code), answer in zip(items, answers, strict=True):
        if code is None:
            assert answer["status"] == "queued" and set(answer) == {"index", "id", "status", "conversation_id"}
        else:
            assert answer["status"] == "rejected" and answer["error"]["code"] == code, answer
            assert answer["error"]["message"] and "id" not in answer
    queued = [a for a in answers if a["status"] == "queued"]
    assert len(queued) == 3 and queued[1]["conversation_id"] == conversation
    assert counts(cluster)[0] == outbox_before + 3  # refused items were not stored

    ids = [a["id"] for a in queued]
    wait_until(lambda: delivered(kw, ids), 30, what="batch delivery")
    now = datetime.now(timezone.utc)
    inbox = {i["id"]: i for i in sa_moi.all_inbox() + sa_nic.all_inbox()}
    assert inbox[ids[0]]["body"] == {"n": 0, "note": "مرحبا"}
    assert inbox[ids[1]]["body"] == {"n": 5} and inbox[ids[1]]["conversation_id"] == conversation
    assert inbox[ids[2]]["service"] == "SA/NIC/identity-verify" and inbox[ids[2]]["recipient"] == "SA/NIC"
    for mid in ids:  # each one signed by KW for KW/MOI, verifiable by the recipient agency itself
        msg = Message.from_jws(inbox[mid]["jws"].encode(), directory=cluster.directory(), now=now)
        assert msg.id == mid and msg.sender == "KW/MOI"


def test_the_token_agency_is_the_sender_of_every_item(cluster):
    moh, sa = cluster.agency("KW/MOH"), cluster.agency("SA/MOH")
    r = post(
        moh,
        {
            "messages": [
                {"recipient": "SA/MOH", "body": {"k": 1}},
                {"recipient": "SA/MOH", "body": {"k": 2}, "sender": "KW/MOH"},  # naming itself is allowed
                {"recipient": "SA/MOH", "body": {"k": 3}, "sender": "KW/MOI"},
                {"recipient": "SA/MOH", "body": {"k": 4}, "sender": "SA/MOH"},
                {"recipient": "SA/MOH", "body": {"k": 5}, "sender": None},
            ]
        },
    )
    assert r.status_code == 202, r.text
    outcomes = [a["status"] if a["status"] == "queued" else a["error"]["code"] for a in r.json()["items"]]
    assert outcomes == ["queued", "queued", "sender_mismatch", "sender_mismatch", "sender_mismatch"]
    ids = [a["id"] for a in r.json()["items"] if a["status"] == "queued"]
    wait_until(lambda: delivered(moh, ids), 30, what="delivery")
    got = {i["id"]: i for i in sa.all_inbox() if i["id"] in ids}
    assert [got[i]["body"]["k"] for i in ids] == [1, 2] and {got[i]["sender"] for i in ids} == {"KW/MOH"}
    # the messages are the sender agency's own: another agency of the node cannot read their status
    assert (
        requests.get(
            cluster.nodes["KW"].url + f"/api/v1/messages/{ids[0]}", headers=cluster.agency("KW/MOI").headers, timeout=10
        ).status_code
        == 404
    )


def test_the_cap_is_accepted_and_one_more_is_refused(cluster):
    kw = cluster.agency("KW/MOI")
    quiet(cluster)
    before = counts(cluster)
    r = post(kw, {"messages": [{"recipient": "SA/MOI", "body": {"i": i}} for i in range(CAP)]})
    assert r.status_code == 202 and r.json()["queued"] == CAP and r.json()["rejected"] == 0, r.text
    outbox, entries = counts(cluster)
    assert outbox == before[0] + CAP and entries >= before[1] + CAP
    quiet(cluster)
    before = counts(cluster)
    r = post(kw, {"messages": [{"recipient": "SA/MOI", "body": {"i": i}} for i in range(CAP + 1)]})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large", r.text
    assert str(CAP) in r.json()["error"]["message"]
    assert counts(cluster) == before


@pytest.mark.parametrize(
    "raw, status, code",
    [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "invalid_json"),
        (b'{"messages": [{"recipient": "SA/MOI", "body": NaN}]}', 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b'[{"recipient": "SA/MOI", "body": {}}]', 400, "invalid_request"),
        (b'"messages"', 400, "invalid_request"),
        (b"{}", 400, "invalid_request"),
        (b'{"messages": {"recipient": "SA/MOI", "body": {}}}', 400, "invalid_request"),
        (b'{"messages": null}', 400, "invalid_request"),
        (b'{"messages": []}', 400, "invalid_request"),
        (b'{"messages": [{"recipient": "SA/MOI", "body": {}}], "sender": "KW/MOI"}', 400, "invalid_request"),
        (b'{"messages": [{"recipient": "SA/MOI", "body": "' + b"x" * 1_100_000 + b'"}]}', 413, "too_large"),
    ],
)
def test_whole_request_errors_store_nothing(cluster, raw, status, code):
    kw = cluster.agency("KW/MOI")
    quiet(cluster)
    before = counts(cluster)
    r = post(kw, None, raw=raw)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and r.json()["error"]["code"] == code and r.json()["error"]["message"]
    assert counts(cluster) == before


def test_a_batch_of_only_refused_items_stores_nothing(cluster):
    kw = cluster.agency("KW/MOI")
    quiet(cluster)
    before = counts(cluster)
    r = post(kw, {"messages": [{"recipient": "QA/MOI", "body": {}}, [], {"body": 1}]})
    assert r.status_code == 202 and r.json()["queued"] == 0 and r.json()["rejected"] == 3, r.text
    assert counts(cluster) == before


def test_scope_and_token_are_required(cluster):
    kw = cluster.agency("KW/MOI")
    url = cluster.nodes["KW"].url + BATCH
    body = {"messages": [{"recipient": "SA/MOI", "body": {}}]}
    assert requests.post(url, json=body, timeout=10).json()["error"]["code"] == "unauthorized"
    read_only = kw.token(scope="messages:read")
    r = requests.post(url, json=body, headers={"Authorization": f"Bearer {read_only}"}, timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"


def test_log_chain_verifies_and_holds_the_batch_in_order(cluster):
    kw = cluster.agency("KW/MOI")
    r = post(kw, {"messages": [{"recipient": "SA/MOI", "body": {"order": i}} for i in range(CAP)]})
    assert r.status_code == 202, r.text
    ids = [a["id"] for a in r.json()["items"]]
    wait_until(lambda: delivered(kw, ids), 30, what="delivery")
    with sqlite3.connect(kw_db(cluster), timeout=30) as conn:
        rows = conn.execute(
            f"SELECT seq, ref FROM message_log WHERE kind = 'message_sent' AND ref IN ({','.join('?' * len(ids))}) "
            "ORDER BY seq",
            ids,
        ).fetchall()
    # one entry per message, in request order, consecutive: appended in the batch's one transaction
    assert [ref for _seq, ref in rows] == ids
    assert [seq for seq, _ref in rows] == list(range(rows[0][0], rows[0][0] + len(ids)))
    for cc in ("KW", "SA"):
        report = json.loads(gcc_link("log", "verify", "--config", str(cluster.fed.configs[cc]), "--json").stdout)
        assert report["valid"], report


# --- in-process: one transaction per batch, all or nothing ---------------------------------------


def _outbox_rows(app) -> int:
    with app.extensions["gcc_link"].db.read() as s:
        return int(s.connection().exec_driver_sql("SELECT count(*) FROM outbox").scalar_one())


def test_a_batch_is_one_write_transaction(inprocess_node, monkeypatch):
    app, headers = inprocess_node
    db = app.extensions["gcc_link"].db
    writes = []
    original = db.write

    def counting_write(**kwargs):
        writes.append(1)
        return original(**kwargs)

    monkeypatch.setattr(db, "write", counting_write)
    r = app.test_client().post(
        BATCH, json={"messages": [{"recipient": "SA/MOI", "body": {"i": i}} for i in range(40)]}, headers=headers
    )
    assert r.status_code == 202 and r.get_json()["queued"] == 40
    assert len(writes) == 1


def test_a_store_failure_mid_batch_stores_none_of_it(inprocess_node, monkeypatch):
    app, headers = inprocess_node
    before = _outbox_rows(app)
    appended = []
    original = logstore.next_entry  # called once per entry, inside the write transaction

    def failing_entry(seq, prev, kind, ref, at, item):
        appended.append(ref)
        if len(appended) == 3:
            raise OperationalError("INSERT INTO message_log", {}, Exception("disk I/O error"))
        return original(seq, prev, kind, ref, at, item)

    monkeypatch.setattr(logstore, "next_entry", failing_entry)
    r = app.test_client().post(
        BATCH, json={"messages": [{"recipient": "SA/MOI", "body": {"i": i}} for i in range(5)]}, headers=headers
    )
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "unavailable"
    assert len(appended) == 3 and _outbox_rows(app) == before
