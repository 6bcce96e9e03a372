"""The rollout, live: the portal hosts the directory, three states start on trial, three join, one is suspended.

Mirrors the real GCC rollout (Kuwait, Qatar and Saudi Arabia first, the UAE,
Bahrain and Oman weeks later) with real processes on 127.0.0.1: a portal
(``gcc-link portal run``, with its network collector) and one node per
state, every node refreshing the member directory from the portal's URL.
The secretariat publishes each new version through the portal's admin, over
HTTP, exactly as a person would; no node is restarted. A real Chromium
checks the network page at each step and saves screenshots.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from gcc_link.cli import directory as dirfiles
from gcc_link.cli.provision import build
from gcc_link.protocol.identifiers import GCC_STATES
from tests.node.nodeharness import Cluster, NodeProc, wait_until

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "portal"
CLI = [sys.executable, "-c", "from gcc_link.cli import main; main()"]
FIRST, LATER = ["KW", "QA", "SA"], ["AE", "BH", "OM"]
HEALTH = {"KW": "KW/MOH", "SA": "SA/MOH", "QA": "QA/MOPH", "AE": "AE/MOHAP", "BH": "BH/MOH", "OM": "OM/MOH"}
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()), None)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Portal:
    """A real portal process whose admin the secretariat uses over HTTP."""

    def __init__(self, instance: Path, port: int, pki: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        subprocess.run(
            [*CLI, "portal", "init", "--instance", str(instance)], check=True, capture_output=True, timeout=120
        )
        shutil.copy(pki / "directory.v1.jws", instance / "directory-v1.jws")
        (instance / "portal.toml").write_text(
            f'directory_file = "{instance / "directory-v1.jws"}"\nroot_cert = "{pki / "gcc-root.pem"}"\n'
            "network_cache_seconds = 1.0\nnetwork_offline_after_seconds = 6.0\n",
            encoding="utf-8",
        )
        self.admin = json.loads((instance / "admin.json").read_text())
        self.log = open(instance.parent / "portal.log", "wb")
        self.proc = subprocess.Popen(
            [*CLI, "portal", "run", "--instance", str(instance), "--port", str(port), "--no-reindex"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._up, 60, 0.2, what="portal up")
        self.http = requests.Session()
        self._login()

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError("the portal exited")
        try:
            return requests.get(self.url + "/directory.jws", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def _csrf(self, path: str) -> str:
        html = self.http.get(self.url + path, timeout=10).text
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
        assert match, f"no form on {path}"
        return match.group(1)

    def _login(self) -> None:
        r = self.http.post(
            self.url + "/en/login",
            timeout=10,
            allow_redirects=False,
            data={
                "username": self.admin["username"],
                "password": self.admin["password"],
                "csrf_token": self._csrf("/en/login"),
            },
        )
        assert r.status_code == 302, r.text[:300]

    def publish(self, file: Path) -> None:
        """The secretariat uploads a version signed offline; the portal must accept it."""
        token = self._csrf("/en/admin/directory/")
        r = self.http.post(
            self.url + "/en/admin/directory/",
            timeout=30,
            allow_redirects=False,
            data={"csrf_token": token},
            files={"file": (file.name, file.read_bytes())},
        )
        assert r.status_code == 302, r.text[-800:]

    def network(self) -> dict:
        return requests.get(self.url + "/api/v1/network", timeout=10).json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def _send_all_pairs(cluster: Cluster, states: list[str]) -> dict[str, list[tuple[str, str]]]:
    sent: dict[str, list[tuple[str, str]]] = {}
    agencies = {cc: cluster.agency(HEALTH[cc]) for cc in states}
    for src in states:
        for dst in states:
            if src != dst:
                r = agencies[src].send(HEALTH[dst], {"from": src, "to": dst})
                assert r.status_code == 202, (src, dst, r.text)
                sent.setdefault(src, []).append((dst, r.json()["id"]))
    for src, items in sent.items():
        wait_until(
            lambda: all(agencies[src].status(mid)["status"] == "delivered" for _d, mid in items),
            60,
            0.2,
            what=f"{src} delivered to {len(items)} states",
        )
    return sent


def _screenshot(page, portal: Portal, step: str) -> dict[str, str]:
    """The network page in both languages; returns each state's node cell text (English)."""
    cells: dict[str, str] = {}
    for lang in ("ar", "en"):
        page.goto(f"{portal.url}/{lang}/network")
        assert page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
        page.screenshot(path=str(ARTIFACTS / f"network-{step}-{lang}.png"), full_page=True)
        if lang == "en":
            for row in page.locator("table.data").first.locator("tbody tr").all():
                cells[row.locator("th").inner_text().strip()] = " | ".join(
                    c.strip() for c in row.locator("td").all_inner_texts()
                )
    return cells


@pytest.fixture
def browser_page():
    if CHROMIUM is None:
        pytest.skip("Debian chromium not found (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1000})
        finally:
            browser.close()


def test_the_rollout_from_three_trial_states_to_six_with_a_suspension(tmp_path, browser_page):
    cluster = Cluster(tmp_path / "fed", FIRST, overrides={"node.directory_refresh_seconds": 1.0})
    portal_port = cluster.base + len(GCC_STATES)  # inside the cluster's reserved range, after the six nodes
    cluster.overrides["node.directory"] = f"http://127.0.0.1:{portal_port}/directory.jws"
    cluster.fed = build(cluster.root, FIRST, cluster.base, tls=False, node_overrides=cluster.overrides)
    pki = cluster.fed.pki_dir
    for cc in FIRST:  # the trial interconnection: every first state on trial
        dirfiles.add_member(pki, cc, cluster.fed.urls[cc], "trial")
    # build() signed version 1 with KW, SA, QA; re-sign as v2 with all three on trial, and host from v1
    portal = Portal(tmp_path / "portal", portal_port, pki)
    later_nodes: list[NodeProc] = []
    try:
        dirfiles.sign(pki, _now())
        portal.publish(pki / "directory.v2.jws")
        cluster.start()
        _send_all_pairs(cluster, FIRST)
        wait_until(
            lambda: {s["cc"]: s["online"] for s in portal.network()["states"]} == {cc: True for cc in FIRST},
            30,
            0.5,
            what="three trial nodes online on the portal",
        )
        cells = _screenshot(browser_page, portal, "1-trial")
        assert len(cells) == 3 and all("Trial connection" in c and "Online" in c for c in cells.values())

        # the secretariat signs a version adding AE, BH and OM offline and publishes it through the portal
        cluster.fed = build(cluster.root, FIRST + LATER, cluster.base, tls=False, node_overrides=cluster.overrides)
        newest = max(int(p.name.split(".")[1][1:]) for p in pki.glob("directory.v*.jws") if "pending" not in p.name)
        portal.publish(pki / f"directory.v{newest}.jws")
        for cc in LATER:
            node = NodeProc(cc, cluster.fed.configs[cc], cluster.fed.urls[cc], tmp_path / f"{cc}.log")
            cluster.nodes[cc] = node
            later_nodes.append(node.start())
        # every running node picks the new version up from the portal, without a restart
        for cc in FIRST:
            wait_until(
                lambda: (
                    requests.get(cluster.nodes[cc].url + "/readyz", timeout=5).json()["directory_version"] == newest
                ),
                30,
                0.3,
                what=f"{cc} on directory v{newest}",
            )
        _send_all_pairs(cluster, list(GCC_STATES))  # all 30 ordered pairs
        wait_until(
            lambda: sum(1 for s in portal.network()["states"] if s["online"]) == 6,
            30,
            0.5,
            what="six nodes online on the portal",
        )
        cells = _screenshot(browser_page, portal, "2-six")
        assert len(cells) == 6 and all("Online" in c for c in cells.values())

        # a state is suspended in the next version: its messages are then refused
        dirfiles.add_member(pki, "OM", cluster.fed.urls["OM"], "suspended")
        dirfiles.sign(pki, _now())
        portal.publish(pki / f"directory.v{newest + 1}.jws")
        wait_until(
            lambda: (
                requests.get(cluster.nodes["KW"].url + "/readyz", timeout=5).json()["directory_version"] == newest + 1
            ),
            30,
            0.3,
            what="KW on the suspension version",
        )
        om = cluster.agency("OM/MOH")
        mid = om.send("KW/MOH", {"after": "suspension"}).json()["id"]
        wait_until(lambda: om.status(mid)["status"] == "failed", 30, 0.3, what="OM's message refused")
        assert om.status(mid)["last_error"] == "sender_not_authorised"
        wait_until(
            lambda: {s["cc"]: s["status"] for s in portal.network()["states"]}["OM"] == "suspended",
            30,
            0.5,
            what="the portal shows the suspension",
        )
        wait_until(
            lambda: {s["cc"]: s["online"] for s in portal.network()["states"]}["OM"] is False,
            30,
            0.5,
            what="the portal no longer verifies OM's status",
        )
        cells = _screenshot(browser_page, portal, "3-suspended")
        oman = next(v for k, v in cells.items() if "Oman" in k)
        assert "Suspended" in oman and "Offline" in oman
        versions = requests.get(portal.url + "/api/v1/network/directory", timeout=10).json()["versions"]
        assert [v["version"] for v in versions] == list(range(newest + 1, 0, -1))
    finally:
        cluster.stop()
        portal.stop()


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)
