"""The network view: node statuses are shown only when their signature verifies against the directory.

Builds a real GCC PKI and signed member directory with the ``gcc-link`` CLI,
serves signed ``/peer/v1/status`` answers from an in-process HTTP server on
127.0.0.1 (stopped by the test), and checks what the portal attests.
"""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, Response
from werkzeug.serving import make_server

from gcc_link.protocol import jose
from gcc_link.protocol.canonical import canonical_json
from gcc_link.cli import main
from gcc_link.protocol.pki import NodeIdentity
from portalkit import build_instance


def _cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    """KW answers with its own signed status; SA's URL answers with KW's signature; QA is down."""
    pki_dir = tmp_path_factory.mktemp("pki")
    port, down = _free_port(), _free_port()
    _cli("pki", "init-root", "--dir", str(pki_dir))
    for cc in ("KW", "SA", "QA"):
        _cli("pki", "issue-node", cc, "--dir", str(pki_dir))
    _cli("directory", "init", "--dir", str(pki_dir), "--keys", "1", "--threshold", "1")
    _cli("directory", "add-member", "KW", "--url", f"http://127.0.0.1:{port}/kw", "--status", "active",
         "--dir", str(pki_dir), "--name-ar", "الكويت", "--name-en", "Kuwait", "--service", "KW/MOI/civil-id")
    _cli("directory", "add-member", "SA", "--url", f"http://127.0.0.1:{port}/sa", "--status", "trial",
         "--dir", str(pki_dir), "--name-ar", "السعودية", "--name-en", "Saudi Arabia")
    _cli("directory", "add-member", "QA", "--url", f"http://127.0.0.1:{down}", "--status", "trial",
         "--dir", str(pki_dir), "--name-ar", "قطر", "--name-en", "Qatar")
    _cli("directory", "sign", "--dir", str(pki_dir))
    kw = NodeIdentity.from_pem((pki_dir / "nodes/KW/node.pem").read_bytes(), (pki_dir / "nodes/KW/node.key").read_bytes())
    calls = {"n": 0}

    def signed_status(node: str) -> Response:
        calls["n"] += 1
        payload = {"gcc_link": 1, "node": node, "software_version": "test", "directory_version": 1,
                   "queue_depth": 0, "services": [f"{node}/MOI/civil-id"], "agencies": [f"{node}/MOI"],
                   "at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        body = jose.sign(canonical_json(payload), "gcc-link-status+jws", kw.private_key, kw.der, kw.fingerprint)
        return Response(body, mimetype="application/jose")

    app = Flask("fake-nodes")
    app.add_url_rule("/kw/peer/v1/status", "kw", lambda: signed_status("KW"))
    app.add_url_rule("/sa/peer/v1/status", "sa", lambda: signed_status("SA"))  # signed with KW's certificate
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"dir": pki_dir, "calls": calls}
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_network_api_shows_only_verified_statuses(federation, tmp_path):
    env = build_instance(tmp_path / "inst", DIRECTORY_FILE=str(federation["dir"] / "directory.jws"),
                         ROOT_CERT=str(federation["dir"] / "gcc-root.pem"))
    data = env.client().get("/api/v1/network").get_json()
    assert data["directory_version"] == 1
    states = {s["cc"]: s for s in data["states"]}
    assert states["KW"]["online"] is True and states["KW"]["services"] == ["KW/MOI/civil-id"]
    assert states["KW"]["last_seen"] and states["KW"]["status"] == "active"
    assert states["SA"]["online"] is False and states["SA"]["error"] == "sender_not_authorised"
    assert states["QA"]["online"] is False and states["QA"]["error"] == "unreachable"
    html = env.client().get("/en/").get_data(as_text=True)
    assert html.count("Connected and answering") == 1
    assert html.count("Not reachable at the moment") == 2
    assert "member directory version 1" in html
    # cached: a second page view does not ask the nodes again
    before = federation["calls"]["n"]
    env.client().get("/ar/")
    assert federation["calls"]["n"] == before


def test_directory_from_another_root_is_not_trusted(federation, tmp_path):
    other = tmp_path / "other"
    _cli("pki", "init-root", "--dir", str(other))
    env = build_instance(tmp_path / "inst", DIRECTORY_FILE=str(federation["dir"] / "directory.jws"),
                         ROOT_CERT=str(other / "gcc-root.pem"))
    data = env.client().get("/api/v1/network").get_json()
    assert data["directory_version"] is None
    assert all(s["online"] is None and s["error"] == "directory_unavailable" for s in data["states"])
    assert env.client().get("/en/").status_code == 200


def test_without_a_directory_the_typed_statuses_are_shown(portal_env):
    data = portal_env.client().get("/api/v1/network").get_json()
    assert data["directory_version"] is None and len(data["states"]) == 6
    assert {s["cc"]: s["status"] for s in data["states"]}["KW"] == "active"
    assert all(s["online"] is None for s in data["states"])


def test_home_network_map_reflects_verified_status(federation, tmp_path):
    env = build_instance(tmp_path / "inst", DIRECTORY_FILE=str(federation["dir"] / "directory.jws"))
    html = env.client().get("/en/").get_data(as_text=True)
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart network-map"'):]
    svg = svg[:svg.index("</svg>")]
    assert svg.count("<circle") == 3  # the directory's members
    assert 'stroke-dasharray="4 3"><title>Saudi Arabia</title>' in svg  # not verified: drawn hollow
    assert 'fill="#047857" stroke="#047857" stroke-width="3"><title>Kuwait</title>' in svg
    assert "<line" not in svg  # only one node is up: no links to draw


def test_a_status_listing_services_that_are_not_the_members_own_is_refused(federation):
    """The portal shows only what a node may attest: its own well-formed services (the core refuses the rest)."""
    from gcc_link.protocol.errors import MalformedError
    from gcc_link.protocol.status import _fields

    base = {"gcc_link": 1, "node": "KW", "software_version": "t", "directory_version": 1, "queue_depth": 0,
            "agencies": ["KW/MOI"], "at": "2026-11-22T10:00:00.000Z"}
    assert _fields({**base, "services": ["KW/MOI/civil-id", "KW/MOH/booking"]}).services == \
        ("KW/MOI/civil-id", "KW/MOH/booking")
    for bad in (["SA/MOI/vehicle-record"], ["KW/moi/x"], ["KW/MOI"], [42], ["KW/MOI/Bad_Code"], "KW/MOI/civil-id"):
        with pytest.raises(MalformedError):
            _fields({**base, "services": bad})
