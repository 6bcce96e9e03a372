"""Compact JWS envelopes carrying the signer's certificate (``x5c``), via joserfc.

Only ``ES256`` is accepted (``none``, ``HS*``, ``EdDSA`` and everything else is
``malformed``); the protected header must hold exactly ``alg``, ``typ``,
``kid`` and ``x5c``; every base64url segment must be in canonical form, so the
signature covers exactly the bytes received. Parsing and signature checking
are separate steps so callers can report ``malformed`` before
``bad_signature``, as the protocol orders its checks.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from .canonical import canonical_json
from .errors import BadSignatureError, MalformedError
from .identifiers import parse_hex64
from .pki import cert_fingerprint, is_p256

__all__ = [
    "b64url_decode_canonical",
    "ALGORITHM",
    "Envelope",
    "HEADER_KEYS",
    "MAX_HEADER_BYTES",
    "parse",
    "sign",
]

ALGORITHM = "ES256"
HEADER_KEYS = frozenset({"alg", "typ", "kid", "x5c"})
MAX_HEADER_BYTES = 8192


def _registry(max_payload: int) -> jws.JWSRegistry:
    """A joserfc registry that allows ES256 only, with room for an ``x5c`` header."""
    registry = jws.JWSRegistry(algorithms=[ALGORITHM])
    registry.max_header_length = MAX_HEADER_BYTES
    registry.max_payload_length = max_payload * 4 // 3 + 4
    return registry


@lru_cache(maxsize=16)
def _registry_for(max_bytes: int) -> jws.JWSRegistry:
    return _registry(max_bytes)


@lru_cache(maxsize=256)
def _certificate_from_x5c(entry: str) -> tuple[x509.Certificate, str, ECKey]:
    """Parse one ``x5c`` entry (standard base64 DER), cached: peers reuse their certificate."""
    try:
        der = base64.b64decode(entry, validate=True)
        cert = x509.load_der_x509_certificate(der)
        public = cert.public_key()
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"x5c does not hold a DER certificate: {exc}") from exc
    if not is_p256(public):
        raise MalformedError("x5c certificate key is not ECDSA P-256")
    assert isinstance(public, ec.EllipticCurvePublicKey)
    return cert, cert_fingerprint(cert), ECKey.import_key(public)


@lru_cache(maxsize=64)
def _signing_key(key: ec.EllipticCurvePrivateKey) -> ECKey:
    return ECKey.import_key(key)


@dataclass(frozen=True)
class Envelope:
    """A parsed, not yet signature-checked compact JWS with its signer certificate."""

    raw: bytes
    header: dict[str, Any]
    payload_bytes: bytes
    payload: dict[str, Any]
    certificate: x509.Certificate
    fingerprint: str
    _compact: Any
    _key: ECKey

    def verify_signature(self) -> None:
        """Check the ES256 signature with the ``x5c`` key, or raise ``BadSignatureError``."""
        try:
            ok = jws.validate_compact(self._compact, self._key, registry=_registry_for(len(self.raw)))
        except JoseError as exc:
            raise BadSignatureError(f"signature check failed: {exc}") from exc
        if not ok:
            raise BadSignatureError("signature does not verify with the x5c certificate")


def sign(payload: bytes, typ: str, key: ec.EllipticCurvePrivateKey, cert_der: bytes, kid: str) -> bytes:
    """Sign ``payload`` (already canonical JSON) as a compact JWS with ``x5c`` and ``kid``."""
    header = {
        "alg": ALGORITHM,
        "typ": typ,
        "kid": kid,
        "x5c": [base64.b64encode(cert_der).decode("ascii")],
    }
    registry = _registry_for(max(len(payload), 1 << 20))
    return jws.serialize_compact(header, payload, _signing_key(key), registry=registry).encode("ascii")


def _strict_json_object(data: bytes, what: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            raise MalformedError(f"{what} has duplicate keys")
        return obj

    def no_constant(name: str) -> Any:
        raise MalformedError(f"{what} holds {name}, which is not JSON")

    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedError(f"{what} is not a JSON object")
    return value


def b64url_decode_canonical(segment: bytes, what: str) -> bytes:
    """Decode a base64url segment, refusing padding, stray characters and non-canonical trailing bits."""
    try:
        decoded = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedError(f"{what} is not base64url") from exc
    _require_canonical(decoded, segment, what)
    return decoded


def _require_canonical(decoded: bytes, segment: bytes, what: str) -> None:
    # Re-encoding catches everything the lenient decoder let through: padding,
    # characters outside the alphabet, and set unused bits in the last character.
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != segment:
        raise MalformedError(f"{what} is not canonical base64url")


def parse(data: bytes, typ: str, max_bytes: int) -> Envelope:
    """Parse a compact JWS of type ``typ``; raise ``MalformedError`` on anything off-format.

    The payload must be a JSON object in RFC 8785 canonical form, so every
    conforming implementation hashes and signs the same bytes.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise MalformedError("a JWS must be bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise MalformedError(f"JWS is {len(data)} bytes; the limit is {max_bytes}")
    parts = data.split(b".")
    if len(parts) != 3 or not all(parts):
        raise MalformedError("not a compact JWS (three non-empty base64url parts)")
    try:
        compact = jws.extract_compact(data, registry=_registry_for(max_bytes))
    except JoseError as exc:
        raise MalformedError(f"not a valid JWS: {exc}") from exc
    header_bytes = b64url_decode_canonical(parts[0], "protected header")
    payload_bytes = compact.payload
    _require_canonical(payload_bytes, parts[1], "payload")
    b64url_decode_canonical(parts[2], "signature")
    header = _strict_json_object(header_bytes, "protected header")
    if header.get("alg") != ALGORITHM:
        raise MalformedError(f"alg must be {ALGORITHM}; got {header.get('alg')!r}")
    if set(header) != HEADER_KEYS:
        raise MalformedError(f"protected header must hold exactly {sorted(HEADER_KEYS)}")
    if header["typ"] != typ:
        raise MalformedError(f"typ must be {typ}; got {header['typ']!r}")
    x5c = header["x5c"]
    if not isinstance(x5c, list) or len(x5c) != 1 or not isinstance(x5c[0], str):
        raise MalformedError("x5c must hold exactly the signer's certificate")
    kid = header["kid"]
    parse_hex64(kid, "kid (the hex SHA-256 of the certificate)")
    cert, fingerprint, key = _certificate_from_x5c(x5c[0])
    if kid != fingerprint:
        raise MalformedError("kid does not match the x5c certificate")
    payload = _strict_json_object(payload_bytes, "payload")
    if payload_bytes != canonical_json(payload):
        raise MalformedError("payload is not RFC 8785 canonical JSON")
    return Envelope(data, header, payload_bytes, payload, cert, fingerprint, compact, key)
