"""The portal hosts the member directory: verified like a node would, served to nodes, listed for people."""

from __future__ import annotations

import io
import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from portalkit import PortalEnv, build_instance, csrf_from, login
from werkzeug.serving import make_server

from gcc_link.cli import directory as dirfiles
from gcc_link.cli import pki as pkifiles
from gcc_link.node.directory_source import DirectoryHolder


def _pki(d: Path, now: datetime) -> Path:
    """A federation workdir: root, KW/SA/QA nodes, three directory keys (any two sign), version 1."""
    pkifiles.init_root(d, now)
    for cc in ("KW", "SA", "QA"):
        pkifiles.issue_node(d, cc, now)
    dirfiles.init(d, 3, 2)
    for cc in ("KW", "SA"):
        dirfiles.add_member(d, cc, f"http://127.0.0.1:81{len(cc)}", "trial")
    dirfiles.sign(d, now)
    return d


@pytest.fixture
def federation(tmp_path: Path) -> tuple[Path, datetime]:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    return _pki(tmp_path / "pki", now), now


def _portal(tmp_path: Path, pki: Path, **extra) -> PortalEnv:
    return build_instance(
        tmp_path / "inst", DIRECTORY_FILE=str(pki / "directory.v1.jws"), ROOT_CERT=str(pki / "gcc-root.pem"), **extra
    )


def _upload(env: PortalEnv, data: bytes, user: str = "admin"):
    client = env.client(ip="10.9.0.1")
    login(client, user)
    token = csrf_from(client, "/en/admin/") if user != "admin" else csrf_from(client, "/en/admin/directory/")
    return client.post(
        "/en/admin/directory/",
        data={"csrf_token": token, "file": (io.BytesIO(data), "d.jws")},
        content_type="multipart/form-data",
    )


def test_an_uploaded_version_signed_by_both_thresholds_is_served_to_nodes(federation, tmp_path):
    pki, now = federation
    env = _portal(tmp_path, pki)
    dirfiles.add_member(pki, "QA", "http://127.0.0.1:8199", "trial")
    dirfiles.sign(pki, now)
    v2 = (pki / "directory.v2.jws").read_bytes()
    r = _upload(env, v2)
    assert r.status_code == 302, r.get_data(as_text=True)[:400]
    client = env.client()
    assert client.get("/directory.jws").data == v2  # byte for byte as signed
    assert client.get("/directory.v1.jws").data == (pki / "directory.v1.jws").read_bytes()
    assert client.get("/directory.v7.jws").status_code == 404
    listed = client.get("/api/v1/network/directory").get_json()["versions"]
    assert [v["version"] for v in listed] == [2, 1]
    assert {m["cc"] for m in listed[0]["members"]} == {"KW", "SA", "QA"} and len(listed[0]["signers"]) == 3
    page = client.get("/en/directory").get_data(as_text=True)
    assert "Version 2" in page and "Qatar" in page and "secretariat" in page
    ar = client.get("/ar/directory").get_data(as_text=True)
    assert "قطر" in ar and "ربط تجريبي" in ar and 'dir="rtl"' in ar


@pytest.mark.parametrize("case", ["one_signature", "rollback", "foreign_root", "skip", "same_again", "garbage"])
def test_uploads_that_a_node_would_refuse_are_refused(federation, tmp_path, case):
    pki, now = federation
    env = _portal(tmp_path, pki)
    if case == "one_signature":
        dirfiles.sign(pki, now, key_paths=(pki / "directory-keys/key-1.pem",), partial=True)
        data, reason = (pki / "directory.v2.pending.jws").read_bytes(), "directory_threshold"
    elif case == "rollback":
        dirfiles.sign(pki, now)
        assert _upload(env, (pki / "directory.v2.jws").read_bytes()).status_code == 302
        data, reason = (pki / "directory.v1.jws").read_bytes(), "directory_rollback"
    elif case == "foreign_root":
        other = _pki(tmp_path / "other", now)
        dirfiles.sign(other, now)
        data, reason = (other / "directory.v2.jws").read_bytes(), "directory_threshold"
    elif case == "skip":
        dirfiles.sign(pki, now)
        dirfiles.sign(pki, now)
        data, reason = (pki / "directory.v3.jws").read_bytes(), "skips versions"
    elif case == "same_again":
        data, reason = (pki / "directory.v1.jws").read_bytes(), "already published"
    else:
        data, reason = b'{"payload": "x", "signatures": []}', "directory_"
    r = _upload(env, data)
    assert r.status_code == 422, r.status_code
    assert reason in r.get_data(as_text=True)
    versions = [v["version"] for v in env.client().get("/api/v1/network/directory").get_json()["versions"]]
    assert max(versions or [1]) <= (2 if case == "rollback" else 1)


def test_an_expired_version_is_refused(federation, tmp_path):
    pki, now = federation
    env = _portal(tmp_path, pki)
    dirfiles.sign(pki, now - timedelta(days=400), expires_days=1)  # a version that expired long ago
    r = _upload(env, (pki / "directory.v2.jws").read_bytes())
    assert r.status_code == 422 and "directory_expired" in r.get_data(as_text=True)


def test_only_the_secretariat_uploads(federation, tmp_path):
    pki, now = federation
    env = _portal(tmp_path, pki)
    dirfiles.sign(pki, now)
    for user in ("kw-editor", "reviewer"):
        assert _upload(env, (pki / "directory.v2.jws").read_bytes(), user=user).status_code == 403
    anonymous = env.client().post("/en/admin/directory/", data={})
    assert anonymous.status_code in (302, 400) and env.client().get("/directory.v2.jws").status_code == 404


def test_without_a_configured_root_of_trust_nothing_is_accepted(federation, tmp_path):
    pki, _now = federation
    env = build_instance(tmp_path / "bare")
    r = _upload(env, (pki / "directory.v1.jws").read_bytes())
    assert r.status_code == 422 and "root of trust" in r.get_data(as_text=True)


def test_a_node_refreshes_from_the_portal_across_a_key_rotation(federation, tmp_path):
    """A node pointed at the portal's URL walks v1 → v3 with the keys rotated in between."""
    pki, now = federation
    env = _portal(tmp_path, pki)
    # version 2 hands the directory to two new keys; version 3 is signed by the new keys only
    draft = json.loads((pki / "directory-draft.json").read_text())
    old = draft["keys"]
    from click.testing import CliRunner

    from gcc_link.cli import main

    for i in range(2):
        CliRunner().invoke(
            main, ["directory", "add-key", "--dir", str(pki), "--holder", f"new-{i}"], catch_exceptions=False
        )
    new = json.loads((pki / "directory-draft.json").read_text())["keys"][len(old) :]
    for entry in old:
        CliRunner().invoke(main, ["directory", "remove-key", "--kid", entry["kid"], "--dir", str(pki)])
    dirfiles.sign(pki, now, key_paths=tuple(pki / "directory-keys" / e["file"] for e in old[:2] + new))
    dirfiles.add_member(pki, "QA", "http://127.0.0.1:8199", "trial")
    dirfiles.sign(pki, now, key_paths=tuple(pki / "directory-keys" / e["file"] for e in new))
    server = make_server("127.0.0.1", 0, env.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/directory.jws"
        holder = DirectoryHolder(url, tmp_path / "node-data", refresh_seconds=3600)
        assert holder.current().version == 1
        for n in (2, 3):
            assert _upload(env, (pki / f"directory.v{n}.jws").read_bytes()).status_code == 302
        assert holder.refresh() is True
        assert holder.current().version == 3 and holder.current().member("QA") is not None
    finally:
        server.shutdown()
        thread.join(timeout=10)
