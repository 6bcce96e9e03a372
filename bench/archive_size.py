"""How big is one day's archive? 10,000 messages KW → SA, settled, archived on both sides.

In process, on the nodes' own clocks (no HTTP: the archive's content does not
depend on the transport). KW signs and queues each message exactly as the
agency API does (``sending.queue``); SA receives them through the real
receiving path (``receiving.receive_many``: verify, inbox, log, signed
receipt); KW settles each with SA's receipt the way the delivery worker does;
SA's agency acknowledges them. Then both nodes archive with one day of
retention, two days later, and the script prints the files' sizes (and
gzip-compressed sizes, for cold storage).

    .venv/bin/python bench/archive_size.py [N]
"""

from __future__ import annotations

import dataclasses
import gzip
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from gcc_link.cli.provision import build
from gcc_link.node import logstore
from gcc_link.node.archive import run_archive
from gcc_link.node.config import load_config
from gcc_link.node.context import NodeContext
from gcc_link.node.db import migrate
from gcc_link.node.models import InboxMessage, OutboxMessage
from gcc_link.node.receiving import receive_many
from gcc_link.node.sending import queue


def main(n: int = 10_000) -> None:
    base = Path(tempfile.mkdtemp(prefix="gcc-archive-size-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    try:
        measure(base, n)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def measure(base: Path, n: int) -> None:
    fed = build(base / "fed", ["KW", "SA"], 45000, create_clients=False)
    ctxs = {}
    t0 = datetime.now(UTC)
    clock = {"now": t0}
    for cc in ("KW", "SA"):
        config = load_config(fed.configs[cc])
        config.data_dir.mkdir(parents=True, exist_ok=True)
        migrate(config.db_url)
        ctx = NodeContext.create(dataclasses.replace(config))
        ctx.clock = lambda: clock["now"]
        ctxs[cc] = ctx
    kw, sa = ctxs["KW"], ctxs["SA"]
    started = time.monotonic()
    body = {
        "plate": "KW-123456",
        "vin": "1HGCM82633A004352",
        "owner": {"civil_id": "289010112345", "name_ar": "محمد عبدالله", "name_en": "Mohammed Abdullah"},
        "requested_by": "KW/MOI/traffic-desk",
    }
    for start in range(0, n, 500):
        batch = []
        for i in range(start, min(n, start + 500)):
            clock["now"] = t0 + timedelta(milliseconds=10 * i)
            batch.append(queue(kw, "KW/MOI", {"recipient": "SA/MOI", "body": {**body, "seq": i}}))
        outcomes = receive_many(sa, [m.jws for m in batch], push=False)
        assert all(o.accepted for o in outcomes), [o.code for o in outcomes if not o.accepted][:3]
        now = clock["now"]

        def settle(s, batch=batch, outcomes=outcomes, now=now) -> None:
            for m, o in zip(batch, outcomes, strict=True):
                s.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == m.id)
                    .values(status="delivered", receipt=o.receipt, delivered_at=now.timestamp(), attempts=1)
                )
                logstore.append(s, "receipt_received", m.id, o.receipt, now)

        kw.db.retrying(settle)
        sa.db.retrying(
            lambda s, now=now: s.execute(
                update(InboxMessage).where(InboxMessage.acked_at.is_(None)).values(acked_at=now.timestamp())
            )
        )
    made = time.monotonic() - started
    later = t0 + timedelta(days=2, minutes=1)
    print(f"{n} messages sent, received, settled and acknowledged in {made:.1f} s")
    for cc, ctx in ctxs.items():
        started = time.monotonic()
        result = run_archive(ctx.db, ctx.identity, ctx.config.data_dir, later, 1.0)
        took = time.monotonic() - started
        for day in result["archived"]:
            raw = Path(day["file"]).read_bytes()
            packed = len(gzip.compress(raw, 6))
            print(
                f"{cc}: {Path(day['file']).name}: {day['entries']} log entries, {day['outbox']} outbox rows, "
                f"{day['inbox']} inbox rows: {len(raw) / 1e6:.1f} MB ({len(raw) / max(1, day['outbox'] + day['inbox']):.0f} "
                f"bytes/message), gzip -6 {packed / 1e6:.1f} MB; archived in {took:.1f} s"
            )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
