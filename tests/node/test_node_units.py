"""Unit tests of the node's pure parts: log hash chain, evidence bundles, config, backoff."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from gcc_link.node.config import load_config
from gcc_link.node.delivery import backoff
from gcc_link.protocol import pki
from gcc_link.protocol.errors import ConfigError
from gcc_link.protocol.evidence import build_bundle, sign_checkpoint, verify_bundle
from gcc_link.protocol.message import Message
from gcc_link.protocol.msglog import GENESIS, next_entry, verify_chain
from gcc_link.protocol.receipt import Receipt

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


def chain(items: list[bytes]):
    entries, seq, prev = [], 0, GENESIS
    for i, item in enumerate(items):
        e = next_entry(seq, prev, "message_sent", f"id-{i}", "2026-11-22T10:00:00.000Z", item)
        entries.append(e)
        seq, prev = e.seq, e.entry_hash
    return entries


def test_chain_intact_and_tampering_detected():
    items = [b"a", b"b", b"c", b"d"]
    entries = chain(items)
    assert verify_chain(zip(entries, items)) == []
    assert verify_chain(zip(entries, [b"a", b"X", b"c", b"d"]))  # changed data
    assert verify_chain(zip(entries[:1] + entries[2:], items[:1] + items[2:]))  # dropped entry
    swapped = [entries[0], entries[2], entries[1], entries[3]]
    assert verify_chain(zip(swapped, [items[0], items[2], items[1], items[3]]))  # reordered
    forged = replace(entries[1], kind="message_received")
    assert verify_chain(zip([entries[0], forged, *entries[2:]], items))  # header edited


@pytest.fixture(scope="module")
def pki_pair():
    root_key, root = pki.create_root(NOW - timedelta(days=1))
    ids = {}
    for cc in ("KW", "SA"):
        key = pki.generate_key()
        cert = pki.issue_node_certificate(root_key, root, cc, key.public_key(), NOW - timedelta(days=1))
        ids[cc] = pki.NodeIdentity(cc, cert, key)
    return root, ids


def make_bundle(ids, checkpoint_by="SA"):
    msg = Message.create(ids["KW"], sender="KW/MOI", recipient="SA/MOI", body={"x": 1}, now=NOW)
    rcpt = Receipt.create(ids["SA"], message_jws=msg.jws, message_id=msg.id, status="accepted", code=None, now=NOW)
    entries = chain([msg.jws, rcpt.jws])
    cp = sign_checkpoint(ids[checkpoint_by], entries[-1].seq, entries[-1].entry_hash, NOW)
    return build_bundle(msg.jws, rcpt.jws, entries, cp, "SA")


def test_evidence_valid_offline(pki_pair):
    root, ids = pki_pair
    result = verify_bundle(make_bundle(ids), root)
    assert result["valid"], result["problems"]


def test_evidence_problems(pki_pair):
    root, ids = pki_pair
    other_root = pki.create_root(NOW)[1]
    assert not verify_bundle(make_bundle(ids), other_root)["valid"]  # another root
    assert not verify_bundle(make_bundle(ids, checkpoint_by="KW"), root)["valid"]  # wrong checkpoint signer
    bundle = make_bundle(ids)
    bundle["log"]["entries"] = bundle["log"]["entries"][1:]  # message missing from the proof
    assert not verify_bundle(bundle, root)["valid"]
    bundle = make_bundle(ids)
    other = Message.create(ids["KW"], sender="KW/MOI", recipient="SA/MOI", body={"x": 2}, now=NOW)
    bundle["message"] = other.jws.decode()  # receipt is for another message
    assert not verify_bundle(bundle, root)["valid"]
    for junk in (None, [], {"gcc_link_evidence": 1}, {"gcc_link_evidence": 1, "message": "x", "receipt": "y"}):
        assert verify_bundle(junk, root)["valid"] is False


def test_config_env_overrides_and_errors(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text(
        '[node]\nstate = "KW"\ndata_dir = "d"\ncertificate = "c.pem"\nprivate_key = "k.pem"\n'
        'directory = "dir.jws"\nport = 8101\n[[agencies]]\nid = "KW/MOI"\n'
    )
    cfg = load_config(
        path,
        env={
            "GCC_NODE__PORT": "9000",
            "GCC_DELIVERY__BATCH_SIZE": "7",
            "GCC_NODE__DATABASE_URL": "postgresql://u@h/db",
        },
    )
    assert cfg.port == 9000 and cfg.batch_size == 7 and cfg.db_url == "postgresql://u@h/db"
    assert cfg.data_dir == (tmp_path / "d").resolve() and cfg.tls  # mTLS unless explicitly insecure
    with pytest.raises(ConfigError):
        load_config(path, env={"GCC_NODE__PORT": '"high"'})
    path.write_text(path.read_text() + '[[services]]\nid = "SA/MOI/x-y"\n')
    with pytest.raises(ConfigError, match="not provided by an agency"):
        load_config(path, env={})
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.toml", env={})


def test_config_batch_cap_default_override_and_floor(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text(
        '[node]\nstate = "KW"\ndata_dir = "d"\ncertificate = "c.pem"\nprivate_key = "k.pem"\n'
        'directory = "dir.jws"\nmax_batch_messages = 50\n[[agencies]]\nid = "KW/MOI"\n'
    )
    assert load_config(path, env={}).max_batch_messages == 50
    assert load_config(path, env={"GCC_NODE__MAX_BATCH_MESSAGES": "2"}).max_batch_messages == 2
    path.write_text(path.read_text().replace("max_batch_messages = 50\n", ""))
    assert load_config(path, env={}).max_batch_messages == 500
    for bad in ("0", '"many"'):
        with pytest.raises(ConfigError, match="(?i)max_batch_messages"):
            load_config(path, env={"GCC_NODE__MAX_BATCH_MESSAGES": bad})


def test_backoff_grows_with_jitter_and_cap():
    rng = random.Random(1)
    values = [backoff(n, 1.0, 60.0, rng) for n in range(1, 12)]
    for n, v in enumerate(values, start=1):
        ceiling = min(60.0, 2 ** (n - 1))
        assert ceiling / 2 <= v <= ceiling
    assert max(values) <= 60.0


def test_migrations_match_models(tmp_path):
    """The alembic head creates exactly the tables and columns the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    from gcc_link.node.db import migrate
    from gcc_link.node.models import Base

    url = f"sqlite:///{tmp_path / 'm.sqlite'}"
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        head = conn.exec_driver_sql("SELECT seq, entry_hash FROM message_log_head").all()
    engine.dispose()
    assert diff == []
    assert head == [(0, "0" * 64)]


def test_concurrent_duplicate_falls_back_to_original_receipt(tmp_path, monkeypatch):
    """Two workers racing on one id: the loser hits the unique index and answers the winner's receipt."""
    from datetime import datetime, timezone

    from gcc_link.cli.provision import build
    from gcc_link.node import receiving
    from gcc_link.node.config import load_config
    from gcc_link.node.context import NodeContext
    from gcc_link.node.db import migrate

    fed = build(tmp_path / "fed", ["KW", "SA"], 1, create_clients=False)
    cfg = load_config(fed.configs["SA"])
    cfg.data_dir.mkdir(parents=True)
    migrate(cfg.db_url)
    ctx = NodeContext.create(cfg)
    kw_dir = fed.pki_dir / "nodes" / "KW"
    kw = pki.NodeIdentity.from_pem((kw_dir / "node.pem").read_bytes(), (kw_dir / "node.key").read_bytes())
    now = datetime.now(timezone.utc)
    first = Message.create(kw, sender="KW/MOI", recipient="SA/MOI", body={"v": 1}, now=now)
    again = Message.create(
        kw,
        sender="KW/MOI",
        recipient="SA/MOI",
        body={"v": 1},
        now=now,
        message_id=first.id,
        conversation_id=first.conversation_id,
    )  # re-signed: other bytes, same id
    [won] = receiving.receive_many(ctx, [first.jws])
    assert won.accepted and not won.duplicate
    original_existing = receiving._existing
    calls: list[int] = []

    def racing_existing(session, ids):
        calls.append(1)  # the first look misses the row another worker has just committed
        return {} if len(calls) == 1 else original_existing(session, ids)

    monkeypatch.setattr(receiving, "_existing", racing_existing)
    [lost] = receiving.receive_many(ctx, [again.jws])
    assert lost.accepted and lost.duplicate and lost.receipt == won.receipt
    with ctx.db.read() as s:
        from sqlalchemy import func, select

        from gcc_link.node.models import InboxMessage

        assert s.execute(select(func.count()).select_from(InboxMessage)).scalar_one() == 1
    ctx.db.dispose()


def test_cli_failures_are_one_line(tmp_path):
    """Operators get one reason, not a traceback, and nothing is started."""
    from tests.node.nodeharness import gcc_link

    path = tmp_path / "node.toml"
    path.write_text(
        '[node]\nstate = "KW"\ndata_dir = "d"\ncertificate = "missing.pem"\nprivate_key = "missing.key"\n'
        'directory = "missing.jws"\n[[agencies]]\nid = "KW/MOI"\n'
    )
    for args in (
        ["node", "run", "--config", str(path)],
        ["log", "verify", "--config", str(path)],
        ["evidence", "export", "x", "--config", str(path), "--out", str(tmp_path / "e.json")],
    ):
        result = gcc_link(*args, check=False)
        assert result.returncode == 1, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[node\n")
    result = gcc_link("node", "run", "--config", str(bad), check=False)
    assert result.returncode == 1 and "not valid TOML" in result.stderr
