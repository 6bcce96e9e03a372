"""Helpers for the protocol-core tests: the fixed time, the test world, change-and-re-sign."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from gcc_link.protocol import jose, pki
from gcc_link.protocol.canonical import canonical_json
from gcc_link.protocol.directory import Directory, DirectoryContent, DirectoryKey, Member, load_directory  # noqa: F401
from gcc_link.protocol.message import MESSAGE_TYP

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=timezone.utc)


@dataclass
class World:
    """Everything a test needs: roots, node identities, directory keys and the directory."""

    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    ids: dict[str, pki.NodeIdentity]  # KW, SA, QA (trial), OM (suspended)
    revoked: pki.NodeIdentity  # a KW certificate whose serial is revoked
    unlisted: pki.NodeIdentity  # a KW certificate not listed in the directory
    foreign: pki.NodeIdentity  # KW certificate from another root, listed for KW
    dir_keys: list[ec.EllipticCurvePrivateKey]
    content: DirectoryContent
    directory: Directory

    def sign_directory(self, content: DirectoryContent, keys: list[ec.EllipticCurvePrivateKey]) -> bytes:
        return content.sign(keys)


def make_identity(root_key: ec.EllipticCurvePrivateKey, root_cert: x509.Certificate, cc: str) -> pki.NodeIdentity:
    key = pki.generate_key()
    return pki.NodeIdentity(
        cc, pki.issue_node_certificate(root_key, root_cert, cc, key.public_key(), NOW - timedelta(days=1)), key
    )


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def resign(
    payload: dict[str, Any],
    signer_key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    *,
    canonical: bool = True,
    typ: str = MESSAGE_TYP,
) -> bytes:
    """The change-and-re-sign helper: sign ``payload`` with ``signer_key`` while presenting ``cert``."""
    body = canonical_json(payload) if canonical else json.dumps(payload, indent=1).encode()
    der = cert.public_bytes(Encoding.DER)
    return jose.sign(body, typ, signer_key, der, pki.cert_fingerprint(cert))


def raw_jws(header: dict[str, Any], payload: bytes, signature: bytes = b"\x01" * 64) -> bytes:
    """A compact JWS assembled by hand (for headers no library would sign)."""
    return b".".join([b64url(json.dumps(header).encode()), b64url(payload), b64url(signature)])
