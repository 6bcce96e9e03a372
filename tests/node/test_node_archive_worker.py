"""Archiving from the delivery worker (``retention.archive_in_worker``), in process, on the node's own clock."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from gcc_link.cli.provision import build
from gcc_link.node.archive import ArchiveSchedule, archive_files
from gcc_link.node.audit import verify_log
from gcc_link.node.config import load_config
from gcc_link.node.context import NodeContext
from gcc_link.node.db import migrate
from gcc_link.node.sending import queue


def test_worker_archives_hourly_on_the_node_clock(tmp_path):
    fed = build(tmp_path / "fed", ["KW", "SA"], 41000, create_clients=False)
    config = load_config(fed.configs["KW"])
    config.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(config.db_url)
    t0 = datetime.now(UTC)  # the certificates were just made around this time
    clock = {"now": t0}
    ctx = NodeContext.create(dataclasses.replace(config, archive_in_worker=True, retention_days=1.0))
    ctx.clock = lambda: clock["now"]
    ids = [queue(ctx, "KW/MOI", {"recipient": "SA/MOI", "body": {"n": i}}).id for i in range(3)]
    schedule = ArchiveSchedule(ctx)
    assert schedule.tick()["archived"] == []  # nothing is a day old yet
    clock["now"] = t0 + timedelta(minutes=30)
    assert schedule.tick() is None  # at most once an hour
    clock["now"] = t0 + timedelta(days=2, minutes=1)
    result = schedule.tick()
    assert sum(d["entries"] for d in result["archived"]) == 3
    assert sum(d["outbox"] for d in result["archived"]) == 0  # still queued: the rows stay, entries go
    assert len(archive_files(config.data_dir)) == len(result["archived"])
    checked = verify_log(config, ctx.db)
    assert checked["valid"] and checked["archived_entries"] == 3, checked
    off = NodeContext.create(config)  # archive_in_worker off: the schedule never runs
    assert ArchiveSchedule(off).tick() is None
    assert ids
