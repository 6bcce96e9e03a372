"""The node's directory holder catches up across missed key rotations by walking ``directory.vN.jws``."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from gcc_link.cli import main
from gcc_link.node.directory_source import DirectoryHolder, version_source
from tests.node.nodeharness import free_port_base


def run(*args: str) -> dict:
    """The ``gcc-link`` command in-process (many calls here; subprocesses are tested elsewhere)."""
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def rotate(d: Path) -> None:
    """Hand the directory to two fresh keys; signed by the keys it replaces and the new ones only."""

    def keys() -> list[dict]:
        return json.loads((d / "directory-draft.json").read_text())["keys"]

    old = keys()
    for i in range(2):
        run("directory", "add-key", "--dir", str(d), "--holder", f"holder-{len(old) + i}")
    new = keys()[len(old) :]
    for entry in old:
        run("directory", "remove-key", "--kid", entry["kid"], "--dir", str(d))
    run("directory", "set-threshold", "2", "--dir", str(d))
    signing = [a for e in old + new for a in ("--key", str(d / "directory-keys" / e["file"]))]
    run("directory", "sign", "--dir", str(d), *signing)


@pytest.fixture
def federation(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    run("pki", "init-root", "--dir", str(d))
    run("pki", "issue-node", "KW", "--dir", str(d))
    run("directory", "init", "--dir", str(d), "--keys", "3", "--threshold", "2")
    run("directory", "add-member", "KW", "--url", "http://127.0.0.1:8101", "--status", "active", "--dir", str(d))
    run("directory", "sign", "--dir", str(d))
    return d


@pytest.fixture
def served(federation: Path):
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(federation))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", free_port_base(1)), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/directory.jws"
    server.shutdown()
    server.server_close()


def test_version_sources_sit_beside_the_latest():
    assert version_source("https://gcc.example/dir/directory.jws", 7) == "https://gcc.example/dir/directory.v7.jws"
    assert version_source("/srv/pki/directory.jws", 2) == "/srv/pki/directory.v2.jws"


@pytest.mark.parametrize("over_http", [False, True])
def test_a_node_that_missed_two_rotations_walks_to_the_latest(federation, served, tmp_path, over_http):
    source = served if over_http else str(federation / "directory.jws")
    holder = DirectoryHolder(source, tmp_path / "data", refresh_seconds=3600)
    assert holder.current().version == 1
    rotate(federation)
    rotate(federation)  # version 3 carries no signature by a key version 1 knows
    assert holder.refresh() is True
    assert holder.current().version == 3 and holder.last_error is None
    # the adopted version survives a restart (no rollback to the configured bootstrap)
    again = DirectoryHolder(source, tmp_path / "data", refresh_seconds=3600)
    assert again.current().version == 3


def test_a_missing_intermediate_version_is_refused_with_the_reason(federation, tmp_path):
    holder = DirectoryHolder(str(federation / "directory.jws"), tmp_path / "data", refresh_seconds=3600)
    rotate(federation)
    rotate(federation)
    (federation / "directory.v2.jws").unlink()
    assert holder.refresh() is False
    assert holder.current().version == 1
    assert holder.last_error and "directory_threshold" in holder.last_error and "directory.v2.jws" in holder.last_error


def test_after_expiry_a_restarted_node_accepts_no_directory_that_does_not_chain(federation, tmp_path):
    """An expired stored directory stays the root of trust: an unrelated root's directory is refused."""
    from datetime import timedelta

    from gcc_link.protocol.directory import load_directory

    data = tmp_path / "data"
    holder = DirectoryHolder(str(federation / "directory.jws"), data, refresh_seconds=3600)
    trusted = holder.current()
    later = trusted.expires_at + timedelta(days=1)
    evil = tmp_path / "evil"
    run("pki", "init-root", "--dir", str(evil))
    run("pki", "issue-node", "KW", "--dir", str(evil))
    run("directory", "init", "--dir", str(evil), "--keys", "1", "--threshold", "1", "--expires-days", "3650")
    run("directory", "add-member", "KW", "--url", "http://evil", "--status", "active", "--dir", str(evil))
    run("directory", "sign", "--dir", str(evil), "--at", later.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert load_directory((evil / "directory.jws").read_bytes(), later).version == 1  # valid on its own
    restarted = DirectoryHolder(str(evil / "directory.jws"), data, refresh_seconds=3600, clock=lambda: later)
    assert restarted.current().raw == trusted.raw  # still the version it trusted, expired
    assert restarted.current().is_expired(later)
    assert restarted.last_error and "directory_" in restarted.last_error
    assert restarted.current().member("KW").node_url == "http://127.0.0.1:8101"


def test_a_corrupt_stored_directory_stops_the_node_instead_of_bootstrapping_again(federation, tmp_path):
    from gcc_link.protocol.errors import ConfigError

    data = tmp_path / "data"
    DirectoryHolder(str(federation / "directory.jws"), data, refresh_seconds=3600)
    stored = next(data.iterdir())
    doc = json.loads(stored.read_bytes())
    doc["payload"] = doc["payload"][:-2] + ("AA" if doc["payload"][-2:] != "AA" else "BB")  # no signature holds
    stored.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="remove it to bootstrap"):
        DirectoryHolder(str(federation / "directory.jws"), data, refresh_seconds=3600)
