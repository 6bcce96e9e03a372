"""The ``gcc-link`` pki / directory / message commands, run as a real subprocess."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509


def gcc(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "gcc_link.cli", *args], capture_output=True, text=True, timeout=60)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    gcc("pki", "init-root", "--dir", str(d))
    for cc in ("KW", "SA"):
        gcc("pki", "issue-node", cc, "--dir", str(d))
    gcc("directory", "init", "--dir", str(d), "--keys", "3", "--threshold", "2")
    gcc("directory", "add-member", "KW", "--url", "http://127.0.0.1:8101", "--status", "active", "--dir", str(d))
    gcc(
        "directory",
        "add-member",
        "SA",
        "--url",
        "http://127.0.0.1:8102",
        "--status",
        "trial",
        "--dir",
        str(d),
        "--service",
        "SA/MOI/vehicle-record",
    )
    gcc("directory", "sign", "--dir", str(d))
    return d


def test_private_keys_are_0600(pki_dir):
    for key in [
        pki_dir / "gcc-root.key",
        pki_dir / "nodes/KW/node.key",
        *sorted((pki_dir / "directory-keys").glob("*.pem")),
    ]:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_issued_certificates(pki_dir):
    for cc in ("KW", "SA"):
        proc = subprocess.run(
            ["openssl", "verify", "-CAfile", str(pki_dir / "gcc-root.pem"), str(pki_dir / f"nodes/{cc}/node.pem")],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0 and ": OK" in proc.stdout, proc.stdout + proc.stderr


def test_directory_verify_reports_members(pki_dir):
    out = json.loads(
        gcc(
            "directory", "verify", str(pki_dir / "directory.jws"), "--root", str(pki_dir / "gcc-root.pem"), "--json"
        ).stdout
    )
    assert out["valid"] is True and out["version"] == 1 and out["members"] == {"KW": "active", "SA": "trial"}


def test_directory_verify_rejects_another_root(pki_dir, tmp_path):
    gcc("pki", "init-root", "--dir", str(tmp_path))
    proc = gcc(
        "directory", "verify", str(pki_dir / "directory.jws"), "--root", str(tmp_path / "gcc-root.pem"), ok=False
    )
    assert proc.returncode != 0 and "root" in proc.stderr


def test_message_sign_and_verify_round_trip(pki_dir, tmp_path):
    msg = tmp_path / "m.jws"
    proc = gcc(
        "message",
        "sign",
        "--cert",
        str(pki_dir / "nodes/KW/node.pem"),
        "--key",
        str(pki_dir / "nodes/KW/node.key"),
        "--sender",
        "KW/MOI",
        "--recipient",
        "SA/MOI",
        "--body",
        '{"plate": "12345"}',
    )
    msg.write_text(proc.stdout)
    out = json.loads(gcc("message", "verify", str(msg), "--directory", str(pki_dir / "directory.jws"), "--json").stdout)
    assert out["valid"] is True and out["code"] is None and out["sender"] == "KW/MOI"
    wrong = gcc(
        "message",
        "verify",
        str(msg),
        "--directory",
        str(pki_dir / "directory.jws"),
        "--local-state",
        "KW",
        "--json",
        ok=False,
    )
    assert wrong.returncode == 1 and json.loads(wrong.stdout)["code"] == "wrong_recipient"


def _issued_at(cert_path: Path) -> datetime:
    """When the fixture's certificate became valid: explicit test times are taken from it, never from today."""
    return x509.load_pem_x509_certificate(cert_path.read_bytes()).not_valid_before_utc


@pytest.mark.parametrize(("later", "code"), [(300, None), (301, "stale")])
def test_message_verify_at_a_later_time_is_stale(pki_dir, tmp_path, later, code):
    signed_at = _issued_at(pki_dir / "nodes/KW/node.pem") + timedelta(hours=1)
    msg = tmp_path / "m.jws"
    msg.write_text(
        gcc(
            "message",
            "sign",
            "--cert",
            str(pki_dir / "nodes/KW/node.pem"),
            "--key",
            str(pki_dir / "nodes/KW/node.key"),
            "--sender",
            "KW/MOI",
            "--recipient",
            "SA/MOI",
            "--body",
            "1",
            "--at",
            signed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ).stdout
    )
    at = (signed_at + timedelta(seconds=later)).strftime("%Y-%m-%dT%H:%M:%SZ")
    proc = gcc(
        "message",
        "verify",
        str(msg),
        "--directory",
        str(pki_dir / "directory.jws"),
        "--json",
        "--at",
        at,
        ok=code is None,
    )
    assert json.loads(proc.stdout)["code"] == code


def test_revocation_published_by_the_next_version(pki_dir, tmp_path):
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    issued = json.loads(gcc("pki", "issue-node", "KW", "--dir", str(d), "--json").stdout)
    gcc("directory", "add-member", "KW", "--url", "http://127.0.0.1:8101", "--status", "active", "--dir", str(d))
    gcc("directory", "sign", "--dir", str(d))
    msg = tmp_path / "m.jws"
    msg.write_text(
        gcc(
            "message",
            "sign",
            "--cert",
            issued["cert"],
            "--key",
            issued["key"],
            "--sender",
            "KW/MOI",
            "--recipient",
            "SA/MOI",
            "--body",
            "{}",
        ).stdout
    )
    args = ("message", "verify", str(msg), "--directory", str(d / "directory.jws"), "--json")
    assert json.loads(gcc(*args).stdout)["valid"] is True
    gcc("pki", "revoke", issued["serial"], "--dir", str(d))
    signed = json.loads(gcc("directory", "sign", "--dir", str(d), "--json").stdout)
    assert signed["version"] == 3 and (d / "directory.v3.jws").exists()
    assert json.loads(gcc(*args, ok=False).stdout)["code"] == "untrusted_certificate"
    # a node holding v2 accepts v3 as an update
    upd = json.loads(
        gcc(
            "directory",
            "verify",
            str(d / "directory.v3.jws"),
            "--root",
            str(d / "gcc-root.pem"),
            "--trusted",
            str(d / "directory.v2.jws"),
            "--json",
        ).stdout
    )
    assert upd["valid"] is True and upd["version"] == 3


def test_signing_below_threshold_writes_nothing(pki_dir, tmp_path):
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    before = (d / "directory.jws").read_bytes()
    proc = gcc("directory", "sign", "--dir", str(d), "--key", str(d / "directory-keys/key-1.pem"), ok=False)
    assert proc.returncode != 0 and "directory_threshold" in proc.stderr
    assert (d / "directory.jws").read_bytes() == before and not (d / "directory.v2.jws").exists()


def test_multi_party_signing_with_a_key_held_elsewhere(pki_dir, tmp_path):
    """The secretariat signs a partial version, a state holding its own key cosigns, then it is published."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from gcc_link.protocol import pki

    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    qa_key = pki.generate_key()  # never leaves "Qatar": only its public half reaches the draft
    (tmp_path / "qa.pub").write_bytes(qa_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "qa.key").write_bytes(pki.key_pem(qa_key))
    added = json.loads(
        gcc(
            "directory",
            "add-key",
            "--dir",
            str(d),
            "--holder",
            "QA",
            "--public-key",
            str(tmp_path / "qa.pub"),
            "--json",
        ).stdout
    )
    assert added["keys"] == 4 and not (d / "directory-keys" / "key-4.pem").exists()
    keys = json.loads((d / "directory-draft.json").read_text())["keys"]
    for entry in keys[:2]:  # the secretariat and KW keys leave; key-3 and QA stay, threshold 2
        gcc("directory", "remove-key", "--kid", entry["kid"], "--dir", str(d))
    before = (d / "directory.jws").read_bytes()

    partial = json.loads(gcc("directory", "sign", "--dir", str(d), "--partial", "--json").stdout)
    pending = Path(partial["file"])
    assert partial["version"] == 2 and pending.name == "directory.v2.pending.jws" and partial["signatures"] == 3
    assert (d / "directory.jws").read_bytes() == before  # nothing published yet
    refused = gcc("directory", "publish", str(pending), "--dir", str(d), ok=False)
    assert "directory_threshold" in refused.stderr and "of its own" in refused.stderr  # only key-3 of the new keys
    assert not (d / "directory.v2.jws").exists()

    assert (
        json.loads(gcc("directory", "cosign", str(pending), "--key", str(tmp_path / "qa.key"), "--json").stdout)[
            "signatures"
        ]
        == 4
    )
    published = json.loads(gcc("directory", "publish", str(pending), "--dir", str(d), "--json").stdout)
    assert published["version"] == 2 and (d / "directory.v2.jws").read_bytes() == (d / "directory.jws").read_bytes()
    again = gcc("directory", "publish", str(pending), "--dir", str(d), ok=False)
    assert "already published" in again.stderr
    # the keys that left can no longer move the federation on their own
    old_only = gcc(
        "directory",
        "sign",
        "--dir",
        str(d),
        "--key",
        str(d / "directory-keys/key-1.pem"),
        "--key",
        str(d / "directory-keys/key-2.pem"),
        ok=False,
    )
    assert "directory_threshold" in old_only.stderr


def test_a_new_version_replaces_an_expired_one(pki_dir, tmp_path):
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    later = "2099-01-01T00:00:00Z"  # long after version 1 expired
    check = gcc(
        "directory",
        "verify",
        str(d / "directory.jws"),
        "--root",
        str(d / "gcc-root.pem"),
        "--at",
        later,
        "--json",
        ok=False,
    )
    assert json.loads(check.stdout.splitlines()[0])["code"] == "directory_expired"
    signed = json.loads(gcc("directory", "sign", "--dir", str(d), "--at", later, "--json").stdout)
    assert signed["version"] == 2
    ok = json.loads(
        gcc(
            "directory", "verify", str(d / "directory.jws"), "--root", str(d / "gcc-root.pem"), "--at", later, "--json"
        ).stdout
    )
    assert ok["valid"] is True and ok["version"] == 2


@pytest.mark.parametrize(
    "args,needle",
    [
        (("directory", "remove-key", "--kid", "nope"), "no key nope"),
        (("directory", "set-threshold", "9"), "more than the 3 keys"),
        (("directory", "add-key", "--holder", "QA", "--public-key", "directory-draft.json"), "not a PEM public key"),
    ],
)
def test_key_management_refuses_with_one_line(pki_dir, tmp_path, args, needle):
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    args = tuple(str(d / a) if a.endswith(".json") else a for a in args)
    before = (d / "directory-draft.json").read_bytes()
    proc = gcc(*args, "--dir", str(d), ok=False)
    assert proc.returncode != 0 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert (d / "directory-draft.json").read_bytes() == before


def test_removing_keys_below_the_threshold_is_refused(pki_dir, tmp_path):
    d = tmp_path / "pki"
    shutil.copytree(pki_dir, d)
    kids = [e["kid"] for e in json.loads((d / "directory-draft.json").read_text())["keys"]]
    gcc("directory", "remove-key", "--kid", kids[0], "--dir", str(d))
    proc = gcc("directory", "remove-key", "--kid", kids[1], "--dir", str(d), ok=False)
    assert "fewer than the threshold 2" in proc.stderr
    assert [e["kid"] for e in json.loads((d / "directory-draft.json").read_text())["keys"]] == kids[1:]


@pytest.mark.parametrize(
    "args,needle",
    [
        (("pki", "issue-node", "kw"), "not a member state code"),
        (("pki", "revoke", "xyz"), "not a hex serial"),
        (("message", "sign", "--sender", "SA/MOI", "--recipient", "KW/MOI", "--body", "{}"), "cannot sign for"),
        (("message", "sign", "--sender", "KW/MOI", "--recipient", "SA/MOI", "--body", "{nope"), "not JSON"),
    ],
)
def test_bad_input_fails_with_one_line_reason(pki_dir, args, needle):
    extra: tuple[str, ...] = ()
    if args[0] == "pki":
        extra = ("--dir", str(pki_dir))
    else:
        extra = ("--cert", str(pki_dir / "nodes/KW/node.pem"), "--key", str(pki_dir / "nodes/KW/node.key"))
    proc = gcc(*args, *extra, ok=False)
    assert proc.returncode != 0 and needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def _commands(group, path=()):
    import click

    for name, sub in sorted(group.commands.items()):
        if isinstance(sub, click.Group):
            yield from _commands(sub, (*path, name))
        else:
            yield (*path, name)


def test_every_command_documents_itself():
    """DESIGN: every command has --help; the stable interface of DESIGN.md is all there."""
    from click.testing import CliRunner

    from gcc_link.cli import main

    commands = set(_commands(main))
    stable = {
        ("pki", "init-root"),
        ("pki", "issue-node"),
        ("pki", "revoke"),
        ("directory", "init"),
        ("directory", "add-member"),
        ("directory", "sign"),
        ("directory", "verify"),
        ("message", "sign"),
        ("message", "verify"),
        ("node", "run"),
        ("log", "verify"),
        ("evidence", "export"),
        ("evidence", "verify"),
        ("portal", "run"),
        ("portal", "import-practices"),
        ("portal", "reindex"),
        ("demo",),
    }
    assert stable <= commands, stable - commands
    for path in sorted(commands):
        result = CliRunner().invoke(main, [*path, "--help"])
        assert result.exit_code == 0 and result.output.startswith("Usage:"), (path, result.output)
        summary = result.output.split("\n\n")[1].strip()
        assert summary and not summary.startswith("Options:"), f"{' '.join(path)} has no description"
