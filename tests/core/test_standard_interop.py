"""Independence: a GCC Link message verifies with plain ``cryptography`` code, no GCC Link code.

This is what an integrator in another language does with any JOSE library:
split the compact JWS, take the certificate from ``x5c``, check it was signed
by the GCC root, and check the ES256 signature over the JWS signing input.
"""

from __future__ import annotations

import base64
import hashlib
import json

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding


def b64d(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def test_message_verifies_with_plain_cryptography(world, make_message):
    msg = make_message(body={"نص": "بيانات المركبة", "n": [1, 2, 3]})
    header_b64, payload_b64, sig_b64 = msg.jws.split(b".")
    header = json.loads(b64d(header_b64))
    assert header["alg"] == "ES256" and header["typ"] == "gcc-link-msg+jws"

    cert = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    assert hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() == header["kid"]
    # the certificate chains to the GCC root (one level)
    world.root_cert.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
    )
    # ES256: raw r||s (RFC 7518 §3.4) over ASCII(header.payload)
    raw = b64d(sig_b64)
    assert len(raw) == 64
    der_sig = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    cert.public_key().verify(der_sig, header_b64 + b"." + payload_b64, ec.ECDSA(hashes.SHA256()))

    payload_bytes = b64d(payload_b64)
    payload = json.loads(payload_bytes)
    assert payload_bytes == rfc8785.dumps(payload)  # canonical by the reference implementation
    assert payload["body_sha256"] == hashlib.sha256(rfc8785.dumps(payload["body"])).hexdigest()
    assert payload["sender"] == "KW/MOI" and payload["id"] == msg.id


def test_tampered_message_fails_plain_verification(world, make_message):
    import pytest
    from cryptography.exceptions import InvalidSignature

    msg = make_message()
    header_b64, payload_b64, sig_b64 = msg.jws.split(b".")
    payload = json.loads(b64d(payload_b64))
    payload["body"] = {"plate": "00000"}
    forged_payload = base64.urlsafe_b64encode(rfc8785.dumps(payload)).rstrip(b"=")
    cert = x509.load_der_x509_certificate(base64.b64decode(json.loads(b64d(header_b64))["x5c"][0]))
    raw = b64d(sig_b64)
    der_sig = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    with pytest.raises(InvalidSignature):
        cert.public_key().verify(der_sig, header_b64 + b"." + forged_payload, ec.ECDSA(hashes.SHA256()))
