"""``gcc-link directory``: build, sign (by several parties) and verify the member directory.

State kept under ``--dir D``: ``directory-keys/key-N.pem`` (0600, one per
key holder held here), ``directory-draft.json`` (keys, threshold, members:
what the next version will say; keys held by other parties appear there as
public keys only), ``directory.jws`` (the latest signed version) and
``directory.vN.jws`` (every version, so nodes can walk the chain).

Multi-party signing: ``sign --partial`` writes ``directory.vN.pending.jws``
with this party's signatures, each other holder adds theirs with
``cosign``, and ``publish`` installs it once the thresholds are met. Keys
rotate with ``add-key`` / ``remove-key`` / ``set-threshold``: the next
version must still be signed by the threshold of the keys it replaces.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..protocol import pki as core
from ..protocol.directory import (
    STATUSES,
    Directory,
    DirectoryContent,
    DirectoryKey,
    Member,
    add_signatures,
    load_directory,
    update_directory,
)
from ..protocol.errors import ConfigError, GccLinkError, PkiError
from ..protocol.identifiers import GCC_STATES, STATE_NAMES, ServiceId, parse_state
from .files import at_option, json_option, now_or, write_private, write_public
from .output import emit, fail, fail_on, guarded
from .pki import ROOT_CERT, node_paths, read_revoked

DRAFT = "directory-draft.json"
KEYS_DIR = "directory-keys"
SIGNED = "directory.jws"


def _read_draft(directory: Path) -> dict[str, Any]:
    path = directory / DRAFT
    if not path.exists():
        raise ConfigError(f"{path} not found; run 'gcc-link directory init --dir {directory}' first")
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
@guarded
def init_command(
    workdir: Path, n_keys: int, threshold: int, holders: str | None, expires_days: int, as_json: bool
) -> None:
    """Create N directory keys (one per holder) and a draft with the threshold."""
    result = init(workdir, n_keys, threshold, holders.split(",") if holders else None, expires_days)
    emit(result, as_json, f"{n_keys} directory keys in {workdir / KEYS_DIR}, threshold {threshold}")


def init(
    workdir: Path, n_keys: int = 3, threshold: int = 2, holders: list[str] | None = None, expires_days: int = 365
) -> dict[str, Any]:
    """Create the directory keys (0600) and an empty draft under ``workdir``."""
    if threshold > n_keys:
        raise ConfigError(f"threshold {threshold} is more than the {n_keys} keys")
    if (workdir / DRAFT).exists():
        raise ConfigError(f"{workdir / DRAFT} exists; the directory is already initialised")
    names = holders or ["secretariat", *GCC_STATES]
    if len(names) < n_keys:
        raise ConfigError(f"{n_keys} keys need {n_keys} holders; got {len(names)}")
    entries = []
    for i in range(1, n_keys + 1):
        key = core.generate_key()
        path = workdir / KEYS_DIR / f"key-{i}.pem"
        write_private(path, core.key_pem(key))
        dk = DirectoryKey.from_public_key(key.public_key(), names[i - 1])
        entries.append({"kid": dk.kid, "holder": dk.holder, "file": path.name})
    _write_draft(workdir, {"threshold": threshold, "keys": entries, "members": {}, "expires_days": expires_days})
    return {"keys": entries, "threshold": threshold}


@directory.command("add-member")
@click.argument("cc")
@click.option("--url", required=True, help="The node's peer API base URL.")
@click.option("--status", type=click.Choice(STATUSES), required=True)
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@click.option(
    "--cert", "cert_path", type=click.Path(path_type=Path), help="Node certificate (default DIR/nodes/CC/node.pem)."
)
@click.option("--name-ar")
@click.option("--name-en")
@click.option("--service", "services", multiple=True, help="A published service CC/AGENCY/code (repeatable).")
@click.option("--keep-certs", is_flag=True, help="Keep already listed certificates (rotation overlap).")
@json_option
@guarded
def add_member_command(
    cc: str,
    url: str,
    status: str,
    workdir: Path,
    cert_path: Path | None,
    name_ar: str | None,
    name_en: str | None,
    services: tuple[str, ...],
    keep_certs: bool,
    as_json: bool,
) -> None:
    """Add or update member state CC in the draft (signed by the next 'directory sign')."""
    result = add_member(
        workdir,
        cc,
        url,
        status,
        cert_path=cert_path,
        name_ar=name_ar,
        name_en=name_en,
        services=services,
        keep_certs=keep_certs,
    )
    emit(result, as_json, f"{cc} ({status}) {url} in the draft")


def add_member(
    workdir: Path,
    cc: str,
    url: str,
    status: str,
    *,
    cert_path: Path | None = None,
    name_ar: str | None = None,
    name_en: str | None = None,
    services: tuple[str, ...] = (),
    keep_certs: bool = False,
) -> dict[str, Any]:
    """Add or update member ``cc`` in the draft under ``workdir``; returns its draft entry."""
    parse_state(cc)
    if status not in STATUSES:
        raise ConfigError(f"status must be one of {', '.join(STATUSES)}")
    for s in services:
        if ServiceId.parse(s).state != cc:
            raise ConfigError(f"service {s} is not a service of {cc}")
    try:
        cert = core.load_certificate((cert_path or node_paths(workdir, cc)[0]).read_bytes())
    except FileNotFoundError as exc:
        raise PkiError(f"{exc.filename} not found; issue the node certificate first") from None
    draft = _read_draft(workdir)
    old = draft["members"].get(cc, {})
    fingerprints = list(old.get("node_certificates", [])) if keep_certs else []
    fp = core.cert_fingerprint(cert)
    if fp not in fingerprints:
        fingerprints.append(fp)
    default_ar, default_en = STATE_NAMES.get(cc, (cc, cc))
    draft["members"][cc] = {
        "name": {
            "ar": name_ar or old.get("name", {}).get("ar", default_ar),
            "en": name_en or old.get("name", {}).get("en", default_en),
        },
        "status": status,
        "node_url": url,
        "node_certificates": fingerprints,
        "services": sorted(set(services) or set(old.get("services", []))),
    }
    _write_draft(workdir, draft)
    return {"cc": cc, **draft["members"][cc]}


def _entry_key(workdir: Path, entry: dict[str, Any]) -> DirectoryKey:
    if "public_key" in entry:  # held by another party: only its public half is here
        public = serialization.load_pem_public_key(entry["public_key"].encode())
        if not core.is_p256(public) or not isinstance(public, ec.EllipticCurvePublicKey):
            raise PkiError(f"the key of {entry['holder']} is not a P-256 public key")
        return DirectoryKey.from_public_key(public, entry["holder"])
    key = core.load_private_key((workdir / KEYS_DIR / entry["file"]).read_bytes())
    return DirectoryKey.from_public_key(key.public_key(), entry["holder"])


def _draft_content(workdir: Path, draft: dict[str, Any], version: int, now: Any, expires_days: int) -> DirectoryContent:
    keys = [_entry_key(workdir, entry) for entry in draft["keys"]]
    members = tuple(
        Member(
            cc,
            m["name"]["ar"],
            m["name"]["en"],
            m["status"],
            m["node_url"],
            tuple(m["node_certificates"]),
            tuple(m["services"]),
        )
        for cc, m in sorted(draft["members"].items())
    )
    return DirectoryContent(
        version=version,
        issued_at=now,
        expires_at=now + timedelta(days=expires_days),
        threshold=draft["threshold"],
        keys=tuple(keys),
        root_certificate=core.load_certificate((workdir / ROOT_CERT).read_bytes()),
        revoked_serials=frozenset(read_revoked(workdir)),
        members=members,
    )


def _previous(workdir: Path, now: Any) -> Directory | None:
    """The latest published version; it may have expired, the next one is still signed against it."""
    path = workdir / SIGNED
    return load_directory(path.read_bytes(), now, allow_expired=True) if path.exists() else None


def _install(workdir: Path, data: bytes, now: Any) -> Directory:
    """Check ``data`` as the next version after the published one and publish it (latest + vN)."""
    previous = _previous(workdir, now)
    new = update_directory(previous, data, now) if previous else load_directory(data, now)
    if previous and new.version == previous.version:
        raise ConfigError(f"version {new.version} is already published")
    write_public(workdir / f"directory.v{new.version}.jws", data)
    write_public(workdir / SIGNED, data)
    return new


@directory.command("sign")
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@click.option(
    "--key",
    "key_paths",
    type=click.Path(path_type=Path, exists=True),
    multiple=True,
    help="Sign with these key files only (default: every key in DIR/directory-keys).",
)
@click.option("--expires-days", type=click.IntRange(1, 3650))
@click.option(
    "--partial",
    is_flag=True,
    help="Write DIR/directory.vN.pending.jws for the other key holders to cosign; publish it later.",
)
@at_option
@json_option
@guarded
def sign_command(
    workdir: Path, key_paths: tuple[Path, ...], expires_days: int | None, partial: bool, at: str | None, as_json: bool
) -> None:
    """Sign the draft as the next version: DIR/directory.jws and DIR/directory.vN.jws.

    The new version must be acceptable to a node holding the previous one
    (threshold of the old keys and of the new), or nothing is written. With
    ``--partial`` the thresholds are not checked yet and nothing is published.
    """
    result = sign(workdir, now_or(at), key_paths=key_paths, expires_days=expires_days, partial=partial)
    if partial:
        emit(
            result,
            as_json,
            f"directory version {result['version']} awaits cosigning: {result['file']} "
            f"({result['signatures']} signature(s))",
        )
    else:
        emit(
            result,
            as_json,
            f"directory version {result['version']} signed by {result['signers']} key(s): {result['file']}",
        )


def sign(
    workdir: Path,
    now: datetime,
    *,
    key_paths: tuple[Path, ...] = (),
    expires_days: int | None = None,
    partial: bool = False,
) -> dict[str, Any]:
    """Sign the draft under ``workdir`` as the next version and publish it (or leave it pending with ``partial``)."""
    draft = _read_draft(workdir)
    try:
        previous = _previous(workdir, now)
        version = previous.version + 1 if previous else 1
        content = _draft_content(workdir, draft, version, now, expires_days or draft.get("expires_days", 365))
        files = key_paths or tuple(_key_files(workdir))
        data = content.sign(core.load_private_key(p.read_bytes()) for p in files)
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc.filename} not found") from None
    if partial:
        pending = workdir / f"directory.v{version}.pending.jws"
        write_public(pending, data)
        return {"version": version, "file": str(pending), "signatures": len(json.loads(data)["signatures"])}
    new = _install(workdir, data, now)
    return {
        "version": version,
        "file": str(workdir / SIGNED),
        "signers": len(new.signer_kids),
        "members": [m.cc for m in new.members],
    }


@directory.command("publish")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@at_option
@json_option
@guarded
def publish(file: Path, workdir: Path, at: str | None, as_json: bool) -> None:
    """Publish a cosigned version (from 'sign --partial') once it meets both thresholds."""
    now = now_or(at)
    try:
        new = _install(workdir, file.read_bytes(), now)
    except GccLinkError as exc:
        fail_on(exc)
    emit(
        {"version": new.version, "file": str(workdir / SIGNED), "signers": len(new.signer_kids)},
        as_json,
        f"directory version {new.version} published ({len(new.signer_kids)} signatures): {workdir / SIGNED}",
    )


@directory.command("add-key")
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@click.option("--holder", required=True, help="Who holds the key (a state or the secretariat).")
@click.option(
    "--public-key",
    "public_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The holder's P-256 public key (PEM), when the private key is kept elsewhere.",
)
@json_option
@guarded
def add_key(workdir: Path, holder: str, public_path: Path | None, as_json: bool) -> None:
    """Add a directory key to the draft: generated here (0600) or another party's public key."""
    draft = _read_draft(workdir)
    if public_path:
        entry: dict[str, Any] = {"holder": holder, "public_key": public_path.read_text()}
        try:
            dk = _entry_key(workdir, entry)
        except ValueError:
            fail(f"{public_path} is not a PEM public key")
    else:
        files = _key_files(workdir)
        n = int(files[-1].stem.split("-")[1]) + 1 if files else 1
        key = core.generate_key()
        write_private(workdir / KEYS_DIR / f"key-{n}.pem", core.key_pem(key))
        dk = DirectoryKey.from_public_key(key.public_key(), holder)
        entry = {"holder": holder, "file": f"key-{n}.pem"}
    if any(e["kid"] == dk.kid for e in draft["keys"]):
        fail(f"key {dk.kid} is already in the draft")
    draft["keys"].append({"kid": dk.kid, **entry})
    _write_draft(workdir, draft)
    emit(
        {"kid": dk.kid, "holder": holder, "keys": len(draft["keys"])},
        as_json,
        f"key {dk.kid} ({holder}) added; the draft lists {len(draft['keys'])} keys",
    )


@directory.command("remove-key")
@click.option("--kid", required=True, help="The key's id (an option: ids may start with '-').")
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@json_option
@guarded
def remove_key(kid: str, workdir: Path, as_json: bool) -> None:
    """Drop a key from the draft. Its file stays: the next version still needs the old threshold."""
    draft = _read_draft(workdir)
    keys = [e for e in draft["keys"] if e["kid"] != kid]
    if len(keys) == len(draft["keys"]):
        fail(f"no key {kid} in the draft")
    if len(keys) < draft["threshold"]:
        fail(f"{len(keys)} keys would be left, fewer than the threshold {draft['threshold']}")
    draft["keys"] = keys
    _write_draft(workdir, draft)
    emit({"kid": kid, "keys": len(keys)}, as_json, f"key {kid} removed; the draft lists {len(keys)} keys")


@directory.command("set-threshold")
@click.argument("threshold", type=click.IntRange(1, 32))
@click.option("--dir", "workdir", type=click.Path(path_type=Path), required=True)
@json_option
@guarded
def set_threshold(threshold: int, workdir: Path, as_json: bool) -> None:
    """How many distinct key holders must sign the versions after the next one."""
    draft = _read_draft(workdir)
    if threshold > len(draft["keys"]):
        fail(f"threshold {threshold} is more than the {len(draft['keys'])} keys in the draft")
    draft["threshold"] = threshold
    _write_draft(workdir, draft)
    emit({"threshold": threshold}, as_json, f"threshold {threshold} in the draft")


@directory.command("cosign")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--key", "key_paths", type=click.Path(path_type=Path, exists=True), multiple=True, required=True)
@json_option
@guarded
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
@click.option(
    "--root",
    "root_path",
    type=click.Path(path_type=Path, exists=True),
    required=True,
    help="The GCC root certificate the directory must carry.",
)
@click.option(
    "--trusted",
    "trusted_path",
    type=click.Path(path_type=Path, exists=True),
    help="A previously trusted version: check FILE as an update of it (threshold of both, no rollback).",
)
@at_option
@json_option
@guarded
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
    summary = {
        "valid": True,
        "code": None,
        "version": result.version,
        "threshold": result.threshold,
        "signers": len(result.signer_kids),
        "expires_at": result.expires_at.isoformat(),
        "members": members,
    }
    emit(
        summary,
        as_json,
        f"directory version {result.version} valid: "
        f"{len(result.signer_kids)}/{result.threshold} signatures, members {', '.join(members)}",
    )
