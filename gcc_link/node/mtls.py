"""Peer authentication by mutual TLS: the client certificate must be a listed node's.

TLS itself (the server socket) already requires a certificate chaining to
the GCC root; here the certificate is also checked against the directory
(fingerprint listed for a member, not revoked, valid now), and the state it
belongs to is returned so the peer API can refuse a node relaying another
state's messages. With ``dev_insecure_http`` there is no TLS and no peer
identity.
"""

from __future__ import annotations

import ssl

from cryptography import x509
from flask import request

from ..protocol.errors import DirectoryExpiredError, GccLinkError
from ..protocol.pki import cert_fingerprint
from .apierrors import ApiError
from .context import NodeContext


def _peer_der() -> bytes | None:
    pem = request.environ.get("SSL_CLIENT_CERT")
    if pem:
        return ssl.PEM_cert_to_DER_cert(pem)
    for key in ("werkzeug.socket", "gunicorn.socket"):
        sock = request.environ.get(key)
        if sock is not None and hasattr(sock, "getpeercert"):
            try:
                return sock.getpeercert(binary_form=True)
            except (ValueError, OSError):
                return None
    return None


def peer_state(ctx: NodeContext) -> str | None:
    """The calling node's state (mTLS), ``None`` in insecure development mode."""
    if not ctx.config.tls:
        return None
    der = _peer_der()
    if not der:
        raise ApiError(401, "client_certificate_required", "the peer API requires a GCC node client certificate")
    cert = x509.load_der_x509_certificate(der)
    directory = ctx.directory()
    fingerprint = cert_fingerprint(cert)
    try:
        state = directory.check_certificate(cert, ctx.now(), fingerprint)
    except DirectoryExpiredError as exc:
        raise ApiError(
            503, exc.code, f"this node cannot check peers until its directory is refreshed: {exc.message}"
        ) from None
    except GccLinkError as exc:
        raise ApiError(403, "untrusted_client", f"client certificate refused: {exc.message}") from None
    member = directory.member(state)
    if member is None or fingerprint not in member.cert_fingerprints:
        raise ApiError(403, "untrusted_client", "the client certificate is not listed in the directory")
    return state
