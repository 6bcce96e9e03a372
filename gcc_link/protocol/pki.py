"""The GCC PKI: a P-256 root CA and one certificate per member-state node.

A node certificate carries its state twice (subject ``C=CC`` and the SAN URI
``urn:gcc-link:node:CC``) and both TLS EKUs, so the same certificate signs
messages and serves mutual TLS. Chains are checked with
``cryptography.x509.verification`` at an explicit time: nothing here reads the
clock or the file system.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from .errors import PkiError, UntrustedCertificateError
from .identifiers import parse_state
from .timefmt import require_aware

__all__ = [
    "NODE_DAYS",
    "NODE_URI_PREFIX",
    "NodeIdentity",
    "ROOT_DAYS",
    "cert_fingerprint",
    "cert_pem",
    "create_root",
    "generate_key",
    "is_p256",
    "issue_node_certificate",
    "key_pem",
    "load_certificate",
    "load_private_key",
    "node_state",
    "verify_node_certificate",
]

NODE_URI_PREFIX = "urn:gcc-link:node:"
ROOT_DAYS = 3650
NODE_DAYS = 825


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A fresh P-256 private key (the only key type GCC Link uses)."""
    return ec.generate_private_key(ec.SECP256R1())


def is_p256(key: object) -> bool:
    """Whether ``key`` is an ECDSA P-256 key, public or private (the only key type GCC Link uses)."""
    return isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)) and isinstance(
        key.curve, ec.SECP256R1
    )


def _require_p256(key: object) -> None:
    if not is_p256(key):
        raise PkiError(f"GCC Link keys are ECDSA P-256; got {getattr(getattr(key, 'curve', None), 'name', key)!r}")


def cert_fingerprint(cert: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the certificate's DER: the ``kid`` and directory listing."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 PEM, unencrypted: callers write it with 0600 permissions."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_certificate(data: bytes) -> x509.Certificate:
    """Parse a PEM or DER certificate; ``PkiError`` if it is neither."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise PkiError(f"not an X.509 certificate: {exc}") from exc


def load_private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """Parse an unencrypted PEM private key, which must be P-256."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PkiError(f"not a PEM private key: {exc}") from exc
    _require_p256(key)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _name(common_name: str, country: str | None = None) -> x509.Name:
    attrs = []
    if country:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    attrs += [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GCC Link"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    return x509.Name(attrs)


def create_root(
    now: datetime, *, days: int = ROOT_DAYS, key: ec.EllipticCurvePrivateKey | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed GCC root CA, valid from ``now`` for ``days``."""
    require_aware(now)
    key = key or generate_key()
    _require_p256(key)
    name = _name("GCC Link Root CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_node_certificate(
    root_key: ec.EllipticCurvePrivateKey,
    root_cert: x509.Certificate,
    state: str,
    public_key: ec.EllipticCurvePublicKey,
    now: datetime,
    *,
    days: int = NODE_DAYS,
    dns_names: tuple[str, ...] = ("localhost",),
    ip_addresses: tuple[str, ...] = ("127.0.0.1",),
) -> x509.Certificate:
    """A node certificate for ``state`` signed by the root, for signing and for mTLS."""
    require_aware(now)
    parse_state(state)
    _require_p256(public_key)
    not_after = min(now + timedelta(days=days), root_cert.not_valid_after_utc)
    san: list[x509.GeneralName] = [x509.UniformResourceIdentifier(NODE_URI_PREFIX + state)]
    san += [x509.DNSName(d) for d in dns_names]
    san += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(f"GCC Link node {state}", country=state))
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, hashes.SHA256())
    )


def node_state(cert: x509.Certificate) -> str | None:
    """The state named by the certificate's ``urn:gcc-link:node:CC`` SAN, if any."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(NODE_URI_PREFIX):
            return uri[len(NODE_URI_PREFIX) :]
    return None


def verify_node_certificate(
    cert: x509.Certificate,
    root_cert: x509.Certificate,
    now: datetime,
    revoked_serials: frozenset[int] = frozenset(),
) -> str:
    """Check ``cert`` chains to ``root_cert`` and is valid at ``now``; return its state.

    Raises ``UntrustedCertificateError`` when the chain, the validity period,
    the TLS-client EKU or the node SAN is wrong, or the serial is revoked.
    """
    require_aware(now)
    if cert.serial_number in revoked_serials:
        raise UntrustedCertificateError(f"certificate serial {cert.serial_number:x} is revoked")
    verifier = PolicyBuilder().store(Store([root_cert])).time(now).build_client_verifier()
    try:
        verifier.verify(cert, [])
    except VerificationError as exc:
        raise UntrustedCertificateError(f"certificate does not chain to the GCC root: {exc}") from exc
    state = node_state(cert)
    if state is None:
        raise UntrustedCertificateError("certificate has no urn:gcc-link:node SAN")
    return state


@dataclass(frozen=True)
class NodeIdentity:
    """A node's signing identity: its state, certificate and private key."""

    state: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        parse_state(self.state)
        _require_p256(self.private_key)
        if self.certificate.public_key() != self.private_key.public_key():
            raise PkiError("the private key does not match the certificate")
        if node_state(self.certificate) != self.state:
            raise PkiError(f"the certificate is not a node certificate for {self.state}")

    @classmethod
    def from_pem(cls, cert_data: bytes, key_data: bytes) -> NodeIdentity:
        cert = load_certificate(cert_data)
        state = node_state(cert)
        if state is None:
            raise PkiError("the certificate has no urn:gcc-link:node SAN")
        return cls(state, cert, load_private_key(key_data))

    @cached_property
    def fingerprint(self) -> str:
        return cert_fingerprint(self.certificate)

    @cached_property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)
