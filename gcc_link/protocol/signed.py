"""One way to sign and one way to verify every JWS the project makes.

Messages, receipts, node statuses, webhook pushes, log checkpoints and
call requests/responses are all the same thing on the wire: a compact JWS
(``alg`` ES256 only, header exactly ``alg``/``typ``/``kid``/``x5c``) over
RFC 8785 canonical JSON, signed by a member-state node. :func:`sign` makes
one; :func:`verify` runs the checks every type shares, in the protocol's
order, and hands the payload to the type's own field validator:

1. format and header allow-list, canonical payload (``malformed``);
2. the type's fields (``malformed``), so a signature is never checked on
   a document that could not be valid;
3. the signature with the ``x5c`` certificate (``bad_signature``);
4. trust: the certificate chains to the GCC root, is valid and not
   revoked (``untrusted_certificate``), and is listed for the state the
   document speaks for, which must be allowed to send
   (``sender_not_authorised``);
5. optionally, the document's own time within the clock-skew window of
   ``now`` (``stale``).

Trust comes in two forms. A :class:`~gcc_link.protocol.directory.Directory`
is the live trust anchor: the certificate is checked at ``now`` and must
be listed for the state. A bare root certificate (:class:`RootTrust`) is
for offline evidence: each certificate is checked at the time the document
says it was signed, since a receipt stays proof after the certificate that
signed it has expired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from cryptography import x509

from . import jose
from .canonical import canonical_json
from .directory import Directory, Member
from .errors import MalformedError, SenderNotAuthorisedError, StaleError, UntrustedCertificateError
from .pki import NodeIdentity, verify_node_certificate
from .timefmt import format_time, require_aware

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "RESIGN_AFTER_SECONDS",
    "RootTrust",
    "Signer",
    "Trust",
    "Verified",
    "check_window",
    "open_unverified",
    "sign",
    "verify",
]

#: How far a signed document's own time may be from the verifier's clock (protocol v1: ±300 s).
CLOCK_SKEW_SECONDS = 300
#: A sender re-signs a retried message once its signature is this old, so it still arrives inside the
#: receiver's window with 100 s to spare for transit and clock difference.
RESIGN_AFTER_SECONDS = CLOCK_SKEW_SECONDS - 100

T = TypeVar("T")


@dataclass(frozen=True)
class RootTrust:
    """Offline trust: only the GCC root certificate, each signer checked at its signing time."""

    root: x509.Certificate


Trust = Directory | RootTrust


@dataclass(frozen=True)
class Signer:
    """Who signed a verified document: the certificate, its fingerprint and its state."""

    certificate: x509.Certificate
    fingerprint: str
    state: str
    member: Member | None  # the directory's entry (None under offline trust)


@dataclass(frozen=True)
class Verified(Generic[T]):
    """A document whose every shared check passed: the typed fields, the exact bytes and the signer."""

    document: T
    jws: bytes
    payload: dict[str, Any]
    signer: Signer


def sign(identity: NodeIdentity, typ: str, payload: Mapping[str, Any], now: datetime) -> bytes:
    """Sign ``payload`` (its RFC 8785 form) as a compact JWS of type ``typ`` by ``identity``'s node.

    ``now`` is when the signature is made; the node's certificate must be
    valid then, so a node never signs what every peer would refuse.
    """
    require_aware(now)
    cert = identity.certificate
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise UntrustedCertificateError(
            f"the {identity.state} node certificate is not valid at {format_time(now)}; renew it before signing"
        )
    return jose.sign(canonical_json(dict(payload)), typ, identity.private_key, identity.der, identity.fingerprint)


def open_unverified(data: bytes, typ: str, max_bytes: int) -> dict[str, Any]:
    """The payload of a well-formed JWS of type ``typ``, WITHOUT checking signature or trust.

    For a node re-reading what it signed itself (its outbox) and for
    naming a document in a rejection; never for accepting anything.
    """
    return jose.parse(data, typ, max_bytes).payload


def check_window(moment: datetime, now: datetime, what: str, seconds: int = CLOCK_SKEW_SECONDS) -> None:
    """Raise ``StaleError`` unless ``moment`` is within ``seconds`` of ``now`` (the one clock-skew rule)."""
    require_aware(now)
    if abs(now - moment) > timedelta(seconds=seconds):
        raise StaleError(f"{what} {format_time(moment)} is more than {seconds} s from now ({format_time(now)})")


def verify(
    data: bytes,
    typ: str,
    trust: Trust,
    now: datetime,
    *,
    fields: Callable[[dict[str, Any]], T],
    state_of: Callable[[T], str],
    max_bytes: int,
    signed_at: Callable[[T], datetime] | None = None,
    window_seconds: int | None = None,
    require_authorised: bool = True,
) -> Verified[T]:
    """Run the shared checks on ``data`` (see the module docstring) and return the verified document.

    ``fields`` validates the payload and builds the type's dataclass
    (raising ``MalformedError``); ``state_of`` names the state the document
    speaks for, whose listed node must have signed it; ``signed_at`` gives
    the document's own time, used for the window check when
    ``window_seconds`` is set, and as the validity time under
    :class:`RootTrust`. ``require_authorised`` (directory trust only) also
    refuses states that are ``suspended``: a suspended state may still
    prove what it received before (receipts), not send anything new.
    """
    require_aware(now)
    envelope = jose.parse(data, typ, max_bytes)
    document = fields(envelope.payload)
    envelope.verify_signature()
    state = state_of(document)
    if isinstance(trust, RootTrust):
        if signed_at is None:
            raise ValueError("offline verification needs the document's signing time")
        cert_state = verify_node_certificate(envelope.certificate, trust.root, signed_at(document))
        if cert_state != state:
            raise SenderNotAuthorisedError(f"signed by a {cert_state} node, not by {state}")
        member = None
    elif require_authorised:
        member = trust.authorise_node(envelope.certificate, state, now, envelope.fingerprint)
    else:
        cert_state = trust.check_certificate(envelope.certificate, now, envelope.fingerprint)
        member = trust.member(state)
        if member is None or cert_state != state or envelope.fingerprint not in member.cert_fingerprints:
            raise SenderNotAuthorisedError(f"not signed by a listed node of {state}")
    if window_seconds is not None:
        if signed_at is None:
            raise ValueError("a time window needs the document's signing time")
        check_window(signed_at(document), now, f"{typ} time", window_seconds)
    signer = Signer(envelope.certificate, envelope.fingerprint, state, member)
    return Verified(document, envelope.raw, envelope.payload, signer)


def require_fields(payload: Mapping[str, Any], required: frozenset[str], optional: frozenset[str], what: str) -> None:
    """Refuse a payload that lacks a required field or carries an unknown one (``malformed``)."""
    keys = set(payload)
    if not required <= keys or keys - required - optional:
        missing, extra = sorted(required - keys), sorted(keys - required - optional)
        raise MalformedError(f"{what} fields wrong (missing {missing}, unexpected {extra})")
