"""``gcc-link portal`` commands: init (idempotent), import-practices, reindex, create-user, run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from portalkit import stop_process

from gcc_link.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_is_idempotent_and_writes_admin_credentials(tmp_path):
    inst = tmp_path / "inst"
    first = _run("portal", "init", "--instance", str(inst), "--demo", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert data["admin"]["username"] == "admin" and len(data["admin"]["password"]) >= 20
    assert data["demo"]["states"] == 6 and data["indexed"] == 12
    admin_file = inst / "admin.json"
    assert oct(admin_file.stat().st_mode & 0o777) == "0o600"
    assert json.loads(admin_file.read_text()) == data["admin"]
    second = json.loads(_run("portal", "init", "--instance", str(inst), "--demo", "--json").output)
    assert second["admin"] == data["admin"]  # same credentials, nothing duplicated
    assert all(v == 0 for v in second["demo"].values())
    human = _run("portal", "init", "--instance", str(inst))
    assert human.exit_code == 0 and data["admin"]["password"] in human.output


def _jsonl(path: Path, objs: list) -> Path:
    path.write_text(
        "\n".join(o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs) + "\n", encoding="utf-8"
    )
    return path


GOOD = {
    "id": "imp-001",
    "state": "OM",
    "sector": "health",
    "year": 2016,
    "title_ar": "حجز المواعيد",
    "title_en": "Online appointment booking",
    "summary_ar": "ملخص",
    "summary_en": "Booking hospital visits online",
    "body_ar": "<p>نص</p>",
    "body_en": "<p>Patients book <b>online</b>.<script>x()</script></p>",
    "tags": ["appointments"],
}


def test_import_practices_reports_bad_lines_and_updates_by_id(tmp_path):
    inst = tmp_path / "inst"
    assert _run("portal", "init", "--instance", str(inst), "--demo").exit_code == 0
    regional = dict(GOOD, id="imp-002", state=None, title_en="Regional experience of telemedicine")
    src = _jsonl(
        tmp_path / "p.jsonl",
        [
            GOOD,
            "{not json",
            dict(GOOD, id="bad id!"),
            dict(GOOD, id="imp-x", sector="space"),
            dict(GOOD, id="imp-y", year="2016"),
            regional,
            dict(GOOD, id="imp-z", state="XX"),
        ],
    )
    result = CliRunner().invoke(main, ["portal", "import-practices", str(src), "--instance", str(inst)])
    assert result.exit_code == 0
    assert "imported 2, updated 0, rejected 5" in result.stdout
    for n in (2, 3, 4, 5, 7):
        assert f"line {n}:" in result.stderr
    # not published: not on the site, not in the index
    from knowledge_portal import create_app

    app = create_app({"INSTANCE_DIR": str(inst)})
    client = app.test_client()
    assert client.get("/en/practices/imp-001").status_code == 404
    # re-import with --publish updates by id and indexes
    src2 = _jsonl(tmp_path / "p2.jsonl", [dict(GOOD, title_en="Online appointment booking (v2)")])
    out = json.loads(
        _run("portal", "import-practices", str(src2), "--instance", str(inst), "--publish", "--json").output
    )
    assert out == {"imported": 0, "updated": 1, "errors": []}
    app = create_app({"INSTANCE_DIR": str(inst)})
    client = app.test_client()
    page = client.get("/en/practices/imp-001").get_data(as_text=True)
    assert "Online appointment booking (v2)" in page and "<script" not in page
    hits = client.get("/api/v1/search?q=appointment&lang=en").get_json()
    assert "imp-001" in [h["id"] for h in hits["results"]]


def test_import_with_only_bad_lines_fails(tmp_path):
    inst = tmp_path / "inst"
    assert _run("portal", "init", "--instance", str(inst)).exit_code == 0
    src = _jsonl(tmp_path / "bad.jsonl", ["[1, 2]"])
    result = _run("portal", "import-practices", str(src), "--instance", str(inst), "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["errors"][0]["line"] == 1
    assert result.stderr == "error: nothing imported: all 1 lines were rejected\n"


def test_every_portal_command_has_help_and_init_migrates(tmp_path):
    for command in ("migrate", "init", "run", "create-user", "import-practices", "reindex"):
        result = _run("portal", command, "--help")
        assert result.exit_code == 0 and "--instance" in result.output, command
    inst = tmp_path / "inst"
    first = json.loads(_run("portal", "init", "--instance", str(inst), "--json").stdout)
    assert first["indexed"] == 0 and first["demo"] == {}
    migrated = json.loads(_run("portal", "migrate", "--instance", str(inst), "--json").stdout)
    assert migrated["changed"] is False and migrated["before"] == migrated["after"] != []


def test_portal_package_does_not_import_click():
    """The portal is a library (Flask imports click itself); its command line lives in gcc_link.cli.portal."""
    import ast

    offenders = []
    for path in (ROOT / "knowledge_portal").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n == "click" or n.startswith("click.")]
    assert offenders == []
    assert not (ROOT / "knowledge_portal" / "cli.py").exists()


def test_reindex_rebuilds_from_published_practices(tmp_path):
    inst = tmp_path / "inst"
    _run("portal", "init", "--instance", str(inst), "--demo")
    import shutil

    shutil.rmtree(inst / "search-index")
    result = _run("portal", "reindex", "--instance", str(inst), "--json")
    assert result.exit_code == 0 and json.loads(result.output) == {"indexed": 12}


def test_create_user_validates_roles(tmp_path):
    inst = tmp_path / "inst"
    _run("portal", "init", "--instance", str(inst), "--demo")
    bad = _run("portal", "create-user", "--instance", str(inst), "ed", "--role", "editor")
    assert bad.exit_code == 1 and "needs --state" in bad.output
    ok = json.loads(
        _run(
            "portal", "create-user", "--instance", str(inst), "ed", "--role", "editor", "--state", "bh", "--json"
        ).output
    )
    assert ok["state"] == "BH" and len(ok["password"]) >= 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_portal_run_on_a_busy_port_fails_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            main, ["portal", "run", "--instance", str(tmp_path / "inst"), "--port", str(port), "--no-reindex"]
        )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}") and result.stderr.count("\n") == 1
    assert (tmp_path / "inst" / "portal.sqlite").exists()  # run migrated the fresh instance before serving


def test_portal_run_serves_demo_in_both_languages(tmp_path):
    """Done-when check: a fresh instance, ``init --demo`` then ``run``, shows the demo content in both languages."""
    inst = tmp_path / "inst"
    cli = [sys.executable, "-c", "from gcc_link.cli import main; main()"]
    subprocess.run(
        cli + ["portal", "init", "--instance", str(inst), "--demo"],
        check=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    port = _free_port()
    proc = subprocess.Popen(
        cli + ["portal", "run", "--instance", str(inst), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ar/", timeout=2) as r:
                    ar = r.read().decode()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(
                        "portal did not start: "
                        + (proc.stderr.read().decode() if proc.poll() is not None else "timeout")
                    )
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/en/", timeout=5) as r:
            en = r.read().decode()
        assert 'dir="rtl"' in ar and "الكويت" in ar and "بيانات توضيحية" in ar
        assert 'dir="ltr"' in en and "Kuwait" in en and "Demonstration data" in en
        try:
            urllib.request.urlopen(
                f"http://127.0.0.1:{port}/auth/oidc/callback?code=SECRET-CODE-42&state=S7", timeout=5
            )
        except urllib.error.HTTPError:
            pass
    finally:
        stop_process(proc)
    log = proc.stderr.read().decode()
    assert "/auth/oidc/callback?code=[redacted]&state=[redacted]" in log  # the access log is on...
    assert "SECRET-CODE-42" not in log and "S7" not in log  # ...and never shows the code
    secret = (inst / "secret_key").read_text().strip()
    assert secret not in log


def test_portal_run_with_gunicorn_workers(tmp_path):
    inst = tmp_path / "inst"
    cli = [sys.executable, "-c", "from gcc_link.cli import main; main()"]
    subprocess.run(
        cli + ["portal", "init", "--instance", str(inst), "--demo"],
        check=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
    )
    port = _free_port()
    proc = subprocess.Popen(
        cli + ["portal", "run", "--instance", str(inst), "--port", str(port), "--workers", "2", "--no-reindex"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        bodies = []
        while len(bodies) < 6:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/search?q=loan&lang=en", timeout=5) as r:
                    bodies.append(json.loads(r.read()))
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("gunicorn portal did not start")
                time.sleep(0.2)
        assert all(b["results"][0]["id"] == "kw-social-loan" for b in bodies)
    finally:
        os.kill(proc.pid, signal.SIGTERM)  # the gunicorn master stops its workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_a_portal_whose_database_vanished_refuses_to_start_empty(tmp_path):
    """Deleting the database must not turn the site into a fresh, empty portal on the next start (issue 9.21)."""
    inst = tmp_path / "inst"
    cli = [sys.executable, "-c", "from gcc_link.cli import main; main()"]
    subprocess.run(
        [*cli, "portal", "init", "--instance", str(inst), "--demo"], check=True, capture_output=True, timeout=120
    )
    (inst / "portal.sqlite").unlink()
    refused = subprocess.run(
        [*cli, "portal", "migrate", "--instance", str(inst)], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "store_missing" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    run = subprocess.run(
        [*cli, "portal", "run", "--instance", str(inst), "--port", "1"], capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0 and "store_missing" in run.stderr
    again = subprocess.run(
        [*cli, "portal", "migrate", "--instance", str(inst), "--initialise"], capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr
