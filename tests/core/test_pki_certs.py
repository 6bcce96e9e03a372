"""The GCC PKI: certificate contents, chain validation at explicit times, revocation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gcc_link.protocol import pki
from gcc_link.protocol.directory import load_directory
from gcc_link.protocol.errors import PkiError, UntrustedCertificateError
from tests.core.corekit import NOW


def test_node_certificate_carries_state_and_tls_usages(world):
    cert = world.ids["SA"].certificate
    assert cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "SA"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "urn:gcc-link:node:SA" in san.get_values_for_type(x509.UniformResourceIdentifier)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert isinstance(cert.public_key().curve, type(pki.generate_key().curve))
    assert pki.verify_node_certificate(cert, world.root_cert, NOW) == "SA"


@pytest.mark.parametrize("delta,ok", [(-1, True), (0, True), (1, False)])
def test_validity_one_second_either_side_of_not_after(world, delta, ok):
    cert = world.ids["KW"].certificate
    at = cert.not_valid_after_utc + timedelta(seconds=delta)
    if ok:
        assert pki.verify_node_certificate(cert, world.root_cert, at) == "KW"
    else:
        with pytest.raises(UntrustedCertificateError):
            pki.verify_node_certificate(cert, world.root_cert, at)


def test_not_yet_valid(world):
    cert = world.ids["KW"].certificate
    with pytest.raises(UntrustedCertificateError):
        pki.verify_node_certificate(cert, world.root_cert, cert.not_valid_before_utc - timedelta(seconds=1))


def test_other_root_and_revocation(world):
    with pytest.raises(UntrustedCertificateError):
        pki.verify_node_certificate(world.foreign.certificate, world.root_cert, NOW)
    cert = world.ids["QA"].certificate
    with pytest.raises(UntrustedCertificateError, match="revoked"):
        pki.verify_node_certificate(cert, world.root_cert, NOW, frozenset({cert.serial_number}))


def test_directory_chain_cache_still_checks_time_and_revocation(world):
    cert = world.ids["SA"].certificate
    # a directory that outlives the certificate, so only the certificate's own time can refuse it
    d = load_directory(
        replace(world.content, expires_at=cert.not_valid_after_utc + timedelta(days=1)).sign(world.dir_keys[:3]), NOW
    )
    assert d.check_certificate(cert, NOW) == "SA"  # caches the chain check
    with pytest.raises(UntrustedCertificateError):
        d.check_certificate(cert, cert.not_valid_after_utc + timedelta(seconds=1))
    with pytest.raises(UntrustedCertificateError):
        d.check_certificate(world.revoked.certificate, NOW)


def test_identity_rejects_mismatched_key(world):
    with pytest.raises(PkiError):
        pki.NodeIdentity("KW", world.ids["KW"].certificate, world.ids["SA"].private_key)
    with pytest.raises(PkiError):
        pki.NodeIdentity("SA", world.ids["KW"].certificate, world.ids["KW"].private_key)
    with pytest.raises(PkiError):
        pki.load_certificate(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(PkiError):
        pki.load_private_key(b"not a key")


def test_pem_round_trip(world):
    kw = world.ids["KW"]
    again = pki.NodeIdentity.from_pem(pki.cert_pem(kw.certificate), pki.key_pem(kw.private_key))
    assert again.fingerprint == kw.fingerprint and again.state == "KW"
