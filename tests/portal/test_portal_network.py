"""The network view: node statuses are shown only when their signature verifies against the directory.

Builds a real GCC PKI and signed member directory with the ``gcc-link`` CLI,
serves signed ``/peer/v1/status`` answers from an in-process HTTP server on
127.0.0.1 (stopped by the test), and checks what the portal attests.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import pytest
import requests
from click.testing import CliRunner
from flask import Flask, Response
from portalkit import build_instance
from werkzeug.serving import make_server

from gcc_link.cli import main
from gcc_link.protocol import jose
from gcc_link.protocol.canonical import canonical_json
from gcc_link.protocol.pki import NodeIdentity
from gcc_link.protocol.timefmt import format_time


def _cli(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def collect(env, now: datetime | None = None) -> list:
    """One collector round, as ``gcc-link portal collect-network`` runs it."""
    from knowledge_portal.collector import collect_once

    with env.app.app_context():
        session = env.app.extensions["portal_db"].sessionmaker()
        try:
            return collect_once(session, env.app.extensions["portal_network"].config, now or datetime.now(timezone.utc))
        finally:
            session.close()


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
    _cli(
        "directory",
        "add-member",
        "KW",
        "--url",
        f"http://127.0.0.1:{port}/kw",
        "--status",
        "active",
        "--dir",
        str(pki_dir),
        "--name-ar",
        "الكويت",
        "--name-en",
        "Kuwait",
        "--service",
        "KW/MOI/civil-id",
    )
    _cli(
        "directory",
        "add-member",
        "SA",
        "--url",
        f"http://127.0.0.1:{port}/sa",
        "--status",
        "trial",
        "--dir",
        str(pki_dir),
        "--name-ar",
        "السعودية",
        "--name-en",
        "Saudi Arabia",
    )
    _cli(
        "directory",
        "add-member",
        "QA",
        "--url",
        f"http://127.0.0.1:{down}",
        "--status",
        "trial",
        "--dir",
        str(pki_dir),
        "--name-ar",
        "قطر",
        "--name-en",
        "Qatar",
    )
    _cli("directory", "sign", "--dir", str(pki_dir))
    kw = NodeIdentity.from_pem(
        (pki_dir / "nodes/KW/node.pem").read_bytes(), (pki_dir / "nodes/KW/node.key").read_bytes()
    )
    calls = {"n": 0}

    def signed_status(node: str) -> Response:
        calls["n"] += 1
        payload = {
            "gcc_link": 1,
            "node": node,
            "software_version": "test",
            "directory_version": 1,
            "queue_depth": 0,
            "services": [f"{node}/MOI/civil-id"],
            "agencies": [f"{node}/MOI"],
            "at": format_time(datetime.now(timezone.utc)),
        }
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
    env = build_instance(
        tmp_path / "inst",
        DIRECTORY_FILE=str(federation["dir"] / "directory.jws"),
        ROOT_CERT=str(federation["dir"] / "gcc-root.pem"),
    )
    before_collecting = env.client().get("/api/v1/network").get_json()
    assert all(s["online"] is None for s in before_collecting["states"])  # nothing collected yet: not claimed
    collect(env)
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
    # pages read the collected history: rendering never asks a node
    before = federation["calls"]["n"]
    env.client().get("/ar/")
    env.client().get("/api/v1/network")
    assert federation["calls"]["n"] == before


def test_a_node_that_misses_polls_goes_offline_and_a_replayed_status_is_refused(federation, tmp_path):
    from datetime import timedelta

    env = build_instance(tmp_path / "inst", DIRECTORY_FILE=str(federation["dir"] / "directory.jws"))
    t0 = datetime.now(timezone.utc)
    collect(env, t0)
    with env.app.test_request_context():
        view = env.app.extensions["portal_network"].view([], now=t0 + timedelta(seconds=60))
        assert {s.cc: s.online for s in view.states}["KW"] is True
        view = env.app.extensions["portal_network"].view([], now=t0 + timedelta(seconds=91))
        kw = {s.cc: s for s in view.states}["KW"]
        assert kw.online is False and kw.error == "missed_polls" and kw.last_seen  # last verified time kept
    # a status older than the last one accepted is a replay: refused as stale, never shown as fresh
    from knowledge_portal.collector import collect_once, http_fetch

    recorded: dict[str, bytes] = {}

    def recording(url: str, timeout: float):
        status, body = http_fetch(url, timeout)
        recorded.setdefault(url, body)
        return status, body

    def replaying(url: str, timeout: float):
        if url not in recorded:
            raise requests.ConnectionError(url)
        return 200, recorded[url]

    with env.app.app_context():
        session = env.app.extensions["portal_db"].sessionmaker()
        config = env.app.extensions["portal_network"].config
        first = collect_once(session, config, datetime.now(timezone.utc), fetch=recording)
        time.sleep(0.01)  # statuses carry milliseconds: the next one is strictly later
        second = collect_once(session, config, datetime.now(timezone.utc))
        kw_first = {p.cc: p for p in first}["KW"].status
        kw_second = {p.cc: p for p in second}["KW"].status
        assert kw_first and kw_second and kw_second.at > kw_first.at
        replayed = collect_once(session, config, datetime.now(timezone.utc), fetch=replaying)
        session.close()
    assert {p.cc: p.error for p in replayed}["KW"] == "stale"


def test_directory_from_another_root_is_not_trusted(federation, tmp_path):
    other = tmp_path / "other"
    _cli("pki", "init-root", "--dir", str(other))
    env = build_instance(
        tmp_path / "inst",
        DIRECTORY_FILE=str(federation["dir"] / "directory.jws"),
        ROOT_CERT=str(other / "gcc-root.pem"),
    )
    with pytest.raises(Exception, match="root certificate"):
        collect(env)
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
    collect(env)
    html = env.client().get("/en/").get_data(as_text=True)
    svg = html[html.index('<svg xmlns="http://www.w3.org/2000/svg" class="chart network-map"') :]
    svg = svg[: svg.index("</svg>")]
    assert svg.count("<circle") == 3  # the directory's members
    assert 'stroke-dasharray="4 3"><title>Saudi Arabia</title>' in svg  # not verified: drawn hollow
    assert 'fill="#047857" stroke="#047857" stroke-width="3"><title>Kuwait</title>' in svg
    assert "<line" not in svg  # only one node is up: no links to draw


def test_a_status_listing_services_that_are_not_the_members_own_is_refused(federation):
    """The portal shows only what a node may attest: its own well-formed services (the core refuses the rest)."""
    from gcc_link.protocol.errors import MalformedError
    from gcc_link.protocol.status import _fields

    base = {
        "gcc_link": 1,
        "node": "KW",
        "software_version": "t",
        "directory_version": 1,
        "queue_depth": 0,
        "agencies": ["KW/MOI"],
        "at": "2026-11-22T10:00:00.000Z",
    }
    assert _fields({**base, "services": ["KW/MOI/civil-id", "KW/MOH/booking"]}).services == (
        "KW/MOI/civil-id",
        "KW/MOH/booking",
    )
    for bad in (["SA/MOI/vehicle-record"], ["KW/moi/x"], ["KW/MOI"], [42], ["KW/MOI/Bad_Code"], "KW/MOI/civil-id"):
        with pytest.raises(MalformedError):
            _fields({**base, "services": bad})


def test_network_page_and_history_show_what_was_verified(federation, tmp_path):
    """Availability per hour and the traffic matrix come from collected, verified statuses only."""
    from datetime import timedelta

    from knowledge_portal.models import NodeSample

    env = build_instance(tmp_path / "inst", DIRECTORY_FILE=str(federation["dir"] / "directory.jws"))
    collect(env)
    with env.app.app_context():
        session = env.app.extensions["portal_db"].sessionmaker()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        # an earlier verified KW sample that carried a traffic block (as newer nodes sign it)
        session.add(
            NodeSample(
                cc="KW",
                polled_at=now - timedelta(minutes=5),
                online=True,
                error=None,
                status_at=now - timedelta(minutes=5),
                directory_version=1,
                queue_depth=0,
                services=[],
                extra={
                    "traffic": {
                        "window_hours": 24,
                        "peers": {"SA": {"sent": 7, "received": 3}, "QA": {"sent": 2, "received": "x"}},
                    }
                },
            )
        )
        session.commit()
        session.close()
    data = env.client().get("/api/v1/network/history?days=3").get_json()
    assert data["directory_version"] == 1 and len(data["hours"]) == 24
    kw_hours = data["availability"]["KW"]
    assert sum(h["polls"] for h in kw_hours) == 2 and sum(h["online"] for h in kw_hours) == 2
    qa_hours = data["availability"]["QA"]
    assert sum(h["polls"] for h in qa_hours) == 1 and sum(h["online"] for h in qa_hours) == 0  # QA is down
    assert data["matrix_24h"]["KW"] == {"SA": 7, "QA": 2}
    assert data["matrix_24h"]["SA"] == {"KW": 0, "QA": 0}  # SA's status never verified: no figures
    assert [d["messages"] for d in data["daily_sent"]["KW"]][-1] == 9 and len(data["daily_sent"]["KW"]) == 3
    for bad in ("0", "31", "²", "x"):
        r = env.client().get(f"/api/v1/network/history?days={bad}")
        assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
    for lang, online, offline in (("en", "Online", "Offline"), ("ar", "متصلة", "غير متصلة")):
        html = env.client().get(f"/{lang}/network").get_data(as_text=True)
        assert html.count(f'badge-online">{online}<') == 1 and html.count(f'badge-offline">{offline}<') == 2
        assert "hour-up" in html and "hour-down" in html


def test_home_map_joins_only_states_that_exchanged_messages(federation, tmp_path):
    """Lines on the home map are the traffic the nodes attest (both directions summed), not every pair."""
    from knowledge_portal.models import NodeSample

    env = build_instance(tmp_path / "inst", DIRECTORY_FILE=str(federation["dir"] / "directory.jws"))
    collect(env)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with env.app.app_context():
        session = env.app.extensions["portal_db"].sessionmaker()
        for cc, peer, sent in (("KW", "SA", 5), ("SA", "KW", 2)):
            session.add(
                NodeSample(
                    cc=cc,
                    polled_at=now,
                    online=True,
                    error=None,
                    status_at=now,
                    directory_version=1,
                    queue_depth=0,
                    services=[],
                    extra={"traffic": {"window_hours": 24, "peers": {peer: {"sent": sent, "received": 0}}}},
                )
            )
        session.commit()
        session.close()
    html = env.client().get("/en/").get_data(as_text=True)
    svg = html[html.index('class="chart network-map"') :]
    svg = svg[: svg.index("</svg>")]
    assert svg.count("<line") == 1
    assert "Kuwait – Saudi Arabia: 7 messages in 24 hours" in svg
    assert "Messages exchanged in the last 24 hours" in html and "The network in detail" in html


def test_catalogue_marks_what_the_node_attests_and_any_disagreement(federation, tmp_path):
    from sqlalchemy import select

    from knowledge_portal.models import NodeSample, Service

    env = build_instance(tmp_path / "inst", DIRECTORY_FILE=str(federation["dir"] / "directory.jws"))
    collect(env)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with env.app.app_context():
        session = env.app.extensions["portal_db"].sessionmaker()
        kw = session.scalars(select(Service).where(Service.network_service == "KW/MOCI/commercial-registration")).one()
        kw.maturity, kw.e_payment = "connected", True
        session.add(
            NodeSample(
                cc="KW",
                polled_at=now,
                online=True,
                error=None,
                status_at=now,
                directory_version=1,
                queue_depth=0,
                services=["KW/MOCI/commercial-registration"],
                extra={
                    "catalogue": [
                        {
                            "id": "KW/MOCI/commercial-registration",
                            "stage": "transactional",
                            "channels": ["web"],
                            "e_payment": True,
                            "cross_border": True,
                            "grants": 5,
                        }
                    ]
                },
            )
        )
        session.commit()
        kw_id = kw.id
        session.close()
    page = env.client().get(f"/en/services/{kw_id}").get_data(as_text=True)
    assert "Published by the node, verified" in page and "The node reports the stage: Transactional" in page
    assert "reports e-payment differently" not in page  # both say e-payment: no disagreement shown
    data = env.client().get("/api/v1/network/catalogue").get_json()["states"]
    entered = {e["network_service"]: e for e in data["KW"]["entered"]}
    assert entered["KW/MOCI/commercial-registration"]["attested"] is True
    assert entered["KW/MOCI/commercial-registration"]["differences"] == ["stage"]
    assert [i["id"] for i in data["KW"]["attested"]] == ["KW/MOCI/commercial-registration"]
    # SA's node has published no verified catalogue: nothing is claimed either way
    assert all(e["attested"] is None for e in data.get("SA", {"entered": []})["entered"])
    sa_page = env.client().get("/en/services/?state=SA").get_data(as_text=True)
    assert "Published by the node, verified" not in sa_page and "Not in its node" not in sa_page
