"""``gcc-link directory``: build, sign (by several parties) and verify the member directory.

State kept under ``--dir D``: ``directory-keys/key-N.pem`` (0600, one per
key holder), ``directory-draft.json`` (keys, threshold, members: what the
next version will say), ``directory.jws`` (the latest signed version) and
``directory.vN.jws`` (every version, so nodes can walk the chain).
"""

from __future__ import annotations

import json

from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from .. import pki as core
from ..directory import (
    STATUSES,
    DirectoryContent,
    DirectoryKey,
    Member,
    add_signatures,
    load_directory,
    update_directory,
)
from ..errors import GccLinkError
from ..identifiers import GCC_STATES, STATE_NAMES, ServiceId, parse_state
from .files import at_option, json_option, now_or, write_private, write_public
from .output import emit, fail, fail_on
from .pki import ROOT_CERT, node_paths, read_revoked

DRAFT = "directory-draft.json"
KEYS_DIR = "directory-keys"
SIGNED = "directory.jws"



def _read_draft(directory: Path) -> dict[str, Any]:
    path = directory / DRAFT
    if not path.exists():
        fail(f"{path} not found; run 'gcc-link directory init --dir {directory}' first")
    return json.loads(path.read_text())


def _write_draft(directory: Path, draft: dict[str, Any]) -> None:
    write_public(directory / DRAFT, json.dumps(draft, indent=1, ensure_ascii=False, sort_keys=True).encode())


def _key_files(directory: Path) -> list[Path]:
    return sorted((directory / KEYS_DIR).glob("key-*.pem"), key=lambda p: int(p.stem.split("-")[1]))


@click.group("directory")
def directory() -> None:
    """The member directory: the federation's multi-party signed trust anchor."""


@directory.command("init")
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@click.option("--keys", "n_keys", type=click.IntRange(1, 32), default=3, show_default=True)
@click.option("--threshold", type=click.IntRange(1, 32), default=2, show_default=True)
@click.option("--holders", help="Comma-separated key holders (default: secretariat, then the states).")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=365, show_default=True)
@json_option
def init(workdir: Path, n_keys: int, threshold: int, holders: str | None, expires_days: int, as_json: bool) -> None:
    """Create N directory keys (one per holder) and a draft with the threshold."""
    if threshold > n_keys:
        fail(f"threshold {threshold} is more than the {n_keys} keys")
    if (workdir / DRAFT).exists():
        fail(f"{workdir / DRAFT} exists; the directory is already initialised")
    names = holders.split(",") if holders else ["secretariat", *GCC_STATES]
    if len(names) < n_keys:
        fail(f"{n_keys} keys need {n_keys} holders; got {len(names)}")
    entries = []
    for i in range(1, n_keys + 1):
        key = core.generate_key()
        path = workdir / KEYS_DIR / f"key-{i}.pem"
        write_private(path, core.key_pem(key))
        dk = DirectoryKey.from_public_key(key.public_key(), names[i - 1])
        entries.append({"kid": dk.kid, "holder": dk.holder, "file": path.name})
    _write_draft(workdir, {"threshold": threshold, "keys": entries, "members": {}, "expires_days": expires_days})
    emit({"keys": entries, "threshold": threshold}, as_json,
         f"{n_keys} directory keys in {workdir / KEYS_DIR}, threshold {threshold}")


@directory.command("add-member")
@click.argument("cc")
@click.option("--url", required=True, help="The node's peer API base URL.")
@click.option("--status", type=click.Choice(STATUSES), required=True)
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@click.option("--cert", "cert_path", type=click.Path(path_type=Path), help="Node certificate (default DIR/nodes/CC/node.pem).")
@click.option("--name-ar")
@click.option("--name-en")
@click.option("--service", "services", multiple=True, help="A published service CC/AGENCY/code (repeatable).")
@click.option("--keep-certs", is_flag=True, help="Keep already listed certificates (rotation overlap).")
@json_option
def add_member(cc: str, url: str, status: str, workdir: Path, cert_path: Path | None, name_ar: str | None,
               name_en: str | None, services: tuple[str, ...], keep_certs: bool, as_json: bool) -> None:
    """Add or update member state CC in the draft (signed by the next 'directory sign')."""
    try:
        parse_state(cc)
        for s in services:
            if ServiceId.parse(s).state != cc:
                fail(f"service {s} is not a service of {cc}")
        cert = core.load_certificate((cert_path or node_paths(workdir, cc)[0]).read_bytes())
    except FileNotFoundError as exc:
        fail(f"{exc.filename} not found; issue the node certificate first")
    except GccLinkError as exc:
        fail_on(exc)
    draft = _read_draft(workdir)
    old = draft["members"].get(cc, {})
    fingerprints = list(old.get("node_certificates", [])) if keep_certs else []
    fp = core.cert_fingerprint(cert)
    if fp not in fingerprints:
        fingerprints.append(fp)
    default_ar, default_en = STATE_NAMES.get(cc, (cc, cc))
    draft["members"][cc] = {
        "name": {"ar": name_ar or old.get("name", {}).get("ar", default_ar),
                 "en": name_en or old.get("name", {}).get("en", default_en)},
        "status": status,
        "node_url": url,
        "node_certificates": fingerprints,
        "services": sorted(set(services) or set(old.get("services", []))),
    }
    _write_draft(workdir, draft)
    emit({"cc": cc, **draft["members"][cc]}, as_json, f"{cc} ({status}) {url} in the draft")


def _draft_content(workdir: Path, draft: dict[str, Any], version: int, now: Any, expires_days: int) -> DirectoryContent:
    keys = []
    for entry in draft["keys"]:
        key = core.load_private_key((workdir / KEYS_DIR / entry["file"]).read_bytes())
        keys.append(DirectoryKey.from_public_key(key.public_key(), entry["holder"]))
    members = tuple(
        Member(cc, m["name"]["ar"], m["name"]["en"], m["status"], m["node_url"],
               tuple(m["node_certificates"]), tuple(m["services"]))
        for cc, m in sorted(draft["members"].items())
    )
    return DirectoryContent(
        version=version, issued_at=now, expires_at=now + timedelta(days=expires_days),
        threshold=draft["threshold"], keys=tuple(keys),
        root_certificate=core.load_certificate((workdir / ROOT_CERT).read_bytes()),
        revoked_serials=frozenset(read_revoked(workdir)), members=members,
    )


@directory.command("sign")
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@click.option("--key", "key_paths", type=click.Path(path_type=Path, exists=True), multiple=True,
              help="Sign with these key files only (default: every key in DIR/directory-keys).")
@click.option("--expires-days", type=click.IntRange(1, 3650))
@at_option
@json_option
def sign(workdir: Path, key_paths: tuple[Path, ...], expires_days: int | None, at: str | None, as_json: bool) -> None:
    """Sign the draft as the next version: DIR/directory.jws and DIR/directory.vN.jws.

    The new version must be acceptable to a node holding the previous one
    (threshold of the old keys and of the new), or nothing is written.
    """
    now = now_or(at)
    draft = _read_draft(workdir)
    previous_path = workdir / SIGNED
    try:
        previous = load_directory(previous_path.read_bytes(), now) if previous_path.exists() else None
        version = previous.version + 1 if previous else 1
        content = _draft_content(workdir, draft, version, now, expires_days or draft.get("expires_days", 365))
        files = key_paths or tuple(_key_files(workdir))
        data = content.sign(core.load_private_key(p.read_bytes()) for p in files)
        new = update_directory(previous, data, now) if previous else load_directory(data, now)
    except FileNotFoundError as exc:
        fail(f"{exc.filename} not found")
    except GccLinkError as exc:
        fail_on(exc)
    write_public(workdir / f"directory.v{version}.jws", data)
    write_public(previous_path, data)
    emit({"version": version, "file": str(previous_path), "signers": len(new.signer_kids),
          "members": [m.cc for m in new.members]}, as_json,
         f"directory version {version} signed by {len(new.signer_kids)} key(s): {previous_path}")


@directory.command("cosign")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--key", "key_paths", type=click.Path(path_type=Path, exists=True), multiple=True, required=True)
@json_option
def cosign(file: Path, key_paths: tuple[Path, ...], as_json: bool) -> None:
    """Add this party's signature(s) to a directory file (multi-party signing)."""
    try:
        data = add_signatures(file.read_bytes(), [core.load_private_key(p.read_bytes()) for p in key_paths])
    except GccLinkError as exc:
        fail_on(exc)
    write_public(file, data)
    count = len(json.loads(data)["signatures"])
    emit({"file": str(file), "signatures": count}, as_json, f"{file} now carries {count} signature(s)")


@directory.command("verify")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--root", "root_path", type=click.Path(path_type=Path, exists=True), required=True,
              help="The GCC root certificate the directory must carry.")
@click.option("--trusted", "trusted_path", type=click.Path(path_type=Path, exists=True),
              help="A previously trusted version: check FILE as an update of it (threshold of both, no rollback).")
@at_option
@json_option
def verify(file: Path, root_path: Path, trusted_path: Path | None, at: str | None, as_json: bool) -> None:
    """Verify a signed directory (threshold, expiry, root, and optionally as an update)."""
    now = now_or(at)
    try:
        root = core.load_certificate(root_path.read_bytes())
        if trusted_path:
            result = update_directory(load_directory(trusted_path.read_bytes(), now), file.read_bytes(), now)
        else:
            result = load_directory(file.read_bytes(), now)
        if core.cert_fingerprint(result.root_certificate) != core.cert_fingerprint(root):
            fail("directory_root_mismatch: the directory carries another root certificate")
    except GccLinkError as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "code": exc.code, "message": exc.message}))
        fail_on(exc)
    members = {m.cc: m.status for m in result.members}
    summary = {"valid": True, "code": None, "version": result.version, "threshold": result.threshold,
               "signers": len(result.signer_kids), "expires_at": result.expires_at.isoformat(),
               "members": members}
    emit(summary, as_json, f"directory version {result.version} valid: "
         f"{len(result.signer_kids)}/{result.threshold} signatures, members {', '.join(members)}")



