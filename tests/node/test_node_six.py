"""Six member-state nodes over real HTTP: every state's agency sends to every other state."""

from __future__ import annotations

import pytest

from gcc_link.protocol.identifiers import GCC_STATES
from tests.node.nodeharness import wait_until

pytestmark = pytest.mark.slow
HEALTH = {"KW": "KW/MOH", "SA": "SA/MOH", "QA": "QA/MOPH", "AE": "AE/MOHAP", "BH": "BH/MOH", "OM": "OM/MOH"}


def test_six_nodes_all_pairs(make_cluster):
    cluster = make_cluster(list(GCC_STATES))
    agencies = {cc: cluster.agency(HEALTH[cc]) for cc in GCC_STATES}
    sent: dict[str, list[tuple[str, str]]] = {}
    for src in GCC_STATES:
        for dst in GCC_STATES:
            if src != dst:
                r = agencies[src].send(
                    HEALTH[dst], {"from": src, "licence": f"{src}-{dst}-001"}, service=f"{HEALTH[dst]}/nurse-licence"
                )
                assert r.status_code == 202, r.text
                sent.setdefault(dst, []).append((src, r.json()["id"]))
    for src in GCC_STATES:
        agency = agencies[src]
        ids = [mid for dst in sent for s, mid in sent[dst] if s == src]
        wait_until(
            lambda: all(agency.status(i)["status"] == "delivered" for i in ids), 30, 0.2, what=f"{src} deliveries"
        )
    for dst in GCC_STATES:
        inbox = agencies[dst].all_inbox()
        assert sorted((i["sender"].split("/")[0], i["id"]) for i in inbox) == sorted(sent[dst])
        assert all(i["service"] == f"{HEALTH[dst]}/nurse-licence" for i in inbox)
