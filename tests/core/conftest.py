"""Fixtures for the protocol core: a small GCC PKI and directory built in memory at a fixed time."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from gcc_link import jose, pki
from gcc_link.canonical import canonical_json
from gcc_link.directory import Directory, DirectoryContent, DirectoryKey, Member, load_directory
from gcc_link.message import MESSAGE_TYP, Message

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=timezone.utc)


@dataclass
class World:
    """Everything a test needs: roots, node identities, directory keys and the directory."""

    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    ids: dict[str, pki.NodeIdentity]          # KW, SA, QA (trial), OM (suspended)
    revoked: pki.NodeIdentity                 # a KW certificate whose serial is revoked
    unlisted: pki.NodeIdentity                # a KW certificate not listed in the directory
    foreign: pki.NodeIdentity                 # KW certificate from another root, listed for KW
    dir_keys: list[ec.EllipticCurvePrivateKey]
    content: DirectoryContent
    directory: Directory

    def sign_directory(self, content: DirectoryContent, keys: list[ec.EllipticCurvePrivateKey]) -> bytes:
        return content.sign(keys)


def _identity(root_key: ec.EllipticCurvePrivateKey, root_cert: x509.Certificate, cc: str) -> pki.NodeIdentity:
    key = pki.generate_key()
    return pki.NodeIdentity(cc, pki.issue_node_certificate(root_key, root_cert, cc, key.public_key(), NOW - timedelta(days=1)), key)


@pytest.fixture(scope="session")
def world() -> World:
    root_key, root_cert = pki.create_root(NOW - timedelta(days=10))
    ids = {cc: _identity(root_key, root_cert, cc) for cc in ("KW", "SA", "QA", "OM")}
    revoked = _identity(root_key, root_cert, "KW")
    unlisted = _identity(root_key, root_cert, "KW")
    other_root_key, other_root_cert = pki.create_root(NOW - timedelta(days=10))
    foreign = _identity(other_root_key, other_root_cert, "KW")
    dir_keys = [pki.generate_key() for _ in range(5)]
    status = {"KW": "active", "SA": "active", "QA": "trial", "OM": "suspended"}
    members = []
    for cc, identity in ids.items():
        fps = [identity.fingerprint]
        if cc == "KW":
            fps += [revoked.fingerprint, foreign.fingerprint]
        members.append(Member(cc, cc, cc, status[cc], f"http://127.0.0.1:81{len(members)}", tuple(fps),
                              (f"{cc}/MOI/vehicle-record",)))
    content = DirectoryContent(
        version=1, issued_at=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=30), threshold=3,
        keys=tuple(DirectoryKey.from_public_key(k.public_key(), f"holder-{i}") for i, k in enumerate(dir_keys)),
        root_certificate=root_cert, revoked_serials=frozenset({revoked.certificate.serial_number}),
        members=tuple(members),
    )
    directory = load_directory(content.sign(dir_keys[:3]), NOW)
    return World(root_key, root_cert, ids, revoked, unlisted, foreign, dir_keys, content, directory)


@pytest.fixture
def make_message(world: World) -> Callable[..., Message]:
    def make(identity: pki.NodeIdentity | None = None, **kw: Any) -> Message:
        args: dict[str, Any] = dict(sender="KW/MOI", recipient="SA/MOI", body={"plate": "12345", "ar": "مرحبا"}, now=NOW)
        args.update(kw)
        return Message.create(identity or world.ids["KW"], **args)
    return make


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def resign(payload: dict[str, Any], signer_key: ec.EllipticCurvePrivateKey, cert: x509.Certificate,
           *, canonical: bool = True, typ: str = MESSAGE_TYP) -> bytes:
    """The change-and-re-sign helper: sign ``payload`` with ``signer_key`` while presenting ``cert``."""
    body = canonical_json(payload) if canonical else json.dumps(payload, indent=1).encode()
    der = cert.public_bytes(Encoding.DER)
    return jose.sign(body, typ, signer_key, der, pki.cert_fingerprint(cert))


def raw_jws(header: dict[str, Any], payload: bytes, signature: bytes = b"\x01" * 64) -> bytes:
    """A compact JWS assembled by hand (for headers no library would sign)."""
    return b".".join([b64url(json.dumps(header).encode()), b64url(payload), b64url(signature)])
