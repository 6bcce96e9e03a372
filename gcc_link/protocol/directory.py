"""The member directory: the federation's trust anchor, signed by several parties.

The file is a JWS in General JSON Serialization (RFC 7515 §7.2.1): one
payload (RFC 8785 canonical JSON of the directory) and one signature per
directory key that signed it, each with ``kid`` = the key's RFC 7638 JWK
thumbprint. As in TUF's root role, a new version is trusted only when signed
by ``threshold`` distinct keys of the version already trusted AND by
``threshold`` distinct keys of its own, so no single party can rewrite the
federation and keys rotate without re-installing anything. Versions only go
up (rollback is refused) and an expired directory is refused (freeze).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from .canonical import canonical_json
from .errors import (
    DirectoryExpiredError,
    DirectoryFormatError,
    DirectoryRollbackError,
    DirectoryThresholdError,
    GccLinkError,
    SenderNotAuthorisedError,
    UntrustedCertificateError,
)
from .identifiers import ServiceId, parse_state
from .pki import cert_fingerprint, is_p256, load_certificate, verify_node_certificate
from .timefmt import format_time, parse_time, require_aware

__all__ = [
    "AUTHORISED_STATUSES",
    "Directory",
    "DirectoryContent",
    "DirectoryKey",
    "FORMAT_VERSION",
    "MAX_CHAIN_STEPS",
    "MAX_DIRECTORY_BYTES",
    "Member",
    "SIGNATURE_TYP",
    "STATUSES",
    "add_signatures",
    "is_expired",
    "load_directory",
    "peek_directory_version",
    "require_unexpired",
    "update_directory",
    "update_directory_chain",
]

FORMAT_VERSION = 1
SIGNATURE_TYP = "gcc-link-dir+jws"
STATUSES = ("trial", "active", "suspended")
AUTHORISED_STATUSES = frozenset({"trial", "active"})
MAX_DIRECTORY_BYTES = 4 * 1024 * 1024
MAX_CHAIN_STEPS = 1000  # versions walked in one refresh; a bound on work, far above any real history

_REGISTRY = jws.JWSRegistry(algorithms=["ES256"])
_REGISTRY.max_payload_length = MAX_DIRECTORY_BYTES


@dataclass(frozen=True)
class DirectoryKey:
    """A public key allowed to sign the directory, and who holds it."""

    kid: str
    holder: str
    public_key: ec.EllipticCurvePublicKey = field(repr=False)

    @classmethod
    def from_public_key(cls, public_key: ec.EllipticCurvePublicKey, holder: str) -> DirectoryKey:
        return cls(ECKey.import_key(public_key).thumbprint(), holder, public_key)

    def to_dict(self) -> dict[str, Any]:
        jwk = ECKey.import_key(self.public_key).as_dict(private=False)
        return {"kid": self.kid, "holder": self.holder, "jwk": {k: jwk[k] for k in ("kty", "crv", "x", "y")}}


@dataclass(frozen=True)
class Member:
    """One member state as the directory lists it."""

    cc: str
    name_ar: str
    name_en: str
    status: str
    node_url: str
    cert_fingerprints: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    @property
    def authorised(self) -> bool:
        """Whether this state's nodes may send messages (``trial`` or ``active``)."""
        return self.status in AUTHORISED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return {
            "cc": self.cc,
            "name": {"ar": self.name_ar, "en": self.name_en},
            "status": self.status,
            "node_url": self.node_url,
            "node_certificates": sorted(self.cert_fingerprints),
            "services": sorted(self.services),
        }


@dataclass(frozen=True)
class DirectoryContent:
    """The signed part of a directory version (what the parties agree on)."""

    version: int
    issued_at: datetime
    expires_at: datetime
    threshold: int
    keys: tuple[DirectoryKey, ...]
    root_certificate: x509.Certificate
    revoked_serials: frozenset[int]
    members: tuple[Member, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.version, int) or isinstance(self.version, bool) or self.version < 1:
            raise DirectoryFormatError("version must be a positive integer")
        if not self.keys:
            raise DirectoryFormatError("a directory needs at least one key")
        if len({k.kid for k in self.keys}) != len(self.keys):
            raise DirectoryFormatError("directory keys must be distinct")
        if not 1 <= self.threshold <= len(self.keys):
            raise DirectoryFormatError(f"threshold must be 1..{len(self.keys)}; got {self.threshold}")
        if len({m.cc for m in self.members}) != len(self.members):
            raise DirectoryFormatError("each member state may be listed once")
        if self.expires_at <= self.issued_at:
            raise DirectoryFormatError("expires_at must be after issued_at")

    def to_payload(self) -> bytes:
        """The canonical JSON the keys sign."""
        return canonical_json(
            {
                "gcc_link_directory": FORMAT_VERSION,
                "version": self.version,
                "issued_at": format_time(self.issued_at),
                "expires_at": format_time(self.expires_at),
                "threshold": self.threshold,
                "keys": [k.to_dict() for k in sorted(self.keys, key=lambda k: k.kid)],
                "root_certificate": base64.b64encode(self.root_certificate.public_bytes(Encoding.DER)).decode(),
                "revoked_serials": sorted(f"{s:x}" for s in self.revoked_serials),
                "members": [m.to_dict() for m in sorted(self.members, key=lambda m: m.cc)],
            }
        )

    def sign(self, private_keys: Iterable[ec.EllipticCurvePrivateKey]) -> bytes:
        """Serialise this version signed by each of ``private_keys`` (they need not be listed)."""
        return add_signatures(_general_json(self.to_payload(), []), private_keys)


@dataclass(frozen=True)
class Directory(DirectoryContent):
    """A verified directory version, with the exact bytes it was read from."""

    raw: bytes = field(default=b"", repr=False, compare=False)
    signer_kids: frozenset[str] = frozenset()
    _verified_chains: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, data: bytes, now: datetime) -> Directory:
        """Same as :func:`load_directory`."""
        return load_directory(data, now)

    def member(self, cc: str) -> Member | None:
        for m in self.members:
            if m.cc == cc:
                return m
        return None

    def member_for_fingerprint(self, fingerprint: str) -> Member | None:
        for m in self.members:
            if fingerprint in m.cert_fingerprints:
                return m
        return None

    def is_expired(self, now: datetime) -> bool:
        return is_expired(self.expires_at, now)

    def content(self) -> DirectoryContent:
        """The signed part, e.g. to build the next version with ``dataclasses.replace``."""
        return DirectoryContent(
            self.version,
            self.issued_at,
            self.expires_at,
            self.threshold,
            self.keys,
            self.root_certificate,
            self.revoked_serials,
            self.members,
        )

    def check_certificate(self, cert: x509.Certificate, now: datetime, fingerprint: str | None = None) -> str:
        """Chain ``cert`` to this directory's root at ``now``, not revoked; return its state.

        Raises ``DirectoryExpiredError`` once the directory itself has
        expired: it must be refreshed before it is trusted again.

        The chain signature check is cached per certificate; the validity
        periods and the revocation list are checked on every call.
        """
        require_aware(now)
        # TUF freeze protection: an expired trust anchor vouches for nobody
        require_unexpired(self.version, self.expires_at, now)
        fingerprint = fingerprint or cert_fingerprint(cert)
        state = self._verified_chains.get(fingerprint)
        if state is None:
            state = verify_node_certificate(cert, self.root_certificate, now, self.revoked_serials)
            self._verified_chains[fingerprint] = state
            return state
        if cert.serial_number in self.revoked_serials:
            raise UntrustedCertificateError(f"certificate serial {cert.serial_number:x} is revoked")
        for c in (cert, self.root_certificate):
            if not c.not_valid_before_utc <= now <= c.not_valid_after_utc:
                raise UntrustedCertificateError("certificate is not valid at this time")
        return state

    def authorise_node(
        self, cert: x509.Certificate, state: str, now: datetime, fingerprint: str | None = None
    ) -> Member:
        """The member ``state`` if ``cert`` is a trusted node certificate listed for it.

        Raises ``UntrustedCertificateError`` (chain, time, revocation) or
        ``SenderNotAuthorisedError`` (not listed for that state, unknown or
        suspended state).
        """
        fingerprint = fingerprint or cert_fingerprint(cert)
        cert_state = self.check_certificate(cert, now, fingerprint)
        member = self.member(state)
        if member is None:
            raise SenderNotAuthorisedError(f"{state} is not a member of the directory")
        if cert_state != state or fingerprint not in member.cert_fingerprints:
            raise SenderNotAuthorisedError(f"the certificate is not listed for {state}")
        if not member.authorised:
            raise SenderNotAuthorisedError(f"{state} is {member.status}")
        return member


# --- expiry (the one rule: a directory is expired from its expires_at on) -----------


def is_expired(expires_at: datetime, now: datetime) -> bool:
    """Whether a directory that expires at ``expires_at`` has expired at ``now``."""
    return require_aware(now) >= expires_at


def require_unexpired(version: int, expires_at: datetime, now: datetime) -> None:
    """Raise ``DirectoryExpiredError`` if version ``version`` has expired at ``now``."""
    if is_expired(expires_at, now):
        raise DirectoryExpiredError(f"directory version {version} expired at {format_time(expires_at)}")


# --- serialisation -----------------------------------------------------------


def _general_json(payload: bytes, signatures: list[dict[str, str]]) -> dict[str, Any]:
    return {"payload": base64.urlsafe_b64encode(payload).rstrip(b"=").decode(), "signatures": signatures}


def _dump(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"


def add_signatures(document: Mapping[str, Any] | bytes, private_keys: Iterable[ec.EllipticCurvePrivateKey]) -> bytes:
    """Add one signature per key to a directory document (multi-party co-signing).

    Each party can sign in turn on its own machine; a key that already signed
    is not added twice.
    """
    doc = _load_document(document) if isinstance(document, bytes) else dict(document)
    payload = _b64url_decode(doc["payload"])
    signatures = list(doc["signatures"])
    present = {_protected(s).get("kid") for s in signatures}
    for key in private_keys:
        jwk = ECKey.import_key(key)
        kid = jwk.thumbprint()
        if kid in present:
            continue
        signed = jws.serialize_json(
            {"protected": {"alg": "ES256", "typ": SIGNATURE_TYP, "kid": kid}}, payload, jwk, registry=_REGISTRY
        )
        signatures.append({"protected": signed["protected"], "signature": signed["signature"]})
        present.add(kid)
    return _dump(_general_json(payload, signatures))


def _b64url_decode(value: object) -> bytes:
    if not isinstance(value, str):
        raise DirectoryFormatError("base64url value expected")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DirectoryFormatError("bad base64url") from exc


def _protected(signature: Mapping[str, Any]) -> dict[str, Any]:
    try:
        header = json.loads(_b64url_decode(signature.get("protected")))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DirectoryFormatError("bad protected header") from exc
    if not isinstance(header, dict):
        raise DirectoryFormatError("bad protected header")
    return header


def _load_document(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_DIRECTORY_BYTES:
        raise DirectoryFormatError("directory file is too large")
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DirectoryFormatError(f"directory is not JSON: {exc}") from exc
    if (
        not isinstance(doc, dict)
        or set(doc) != {"payload", "signatures"}
        or not isinstance(doc["signatures"], list)
        or not all(isinstance(s, dict) for s in doc["signatures"])
    ):
        raise DirectoryFormatError("directory must be a JWS General JSON Serialization")
    return doc


def _parse_key(item: Any) -> DirectoryKey:
    if not isinstance(item, dict) or not isinstance(item.get("jwk"), dict):
        raise DirectoryFormatError("bad directory key entry")
    try:
        jwk = ECKey.import_key(item["jwk"])
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise DirectoryFormatError(f"bad directory key: {exc}") from exc
    public = jwk.get_op_key("verify")
    if jwk.is_private or not is_p256(public):
        raise DirectoryFormatError("directory keys are public P-256 keys")
    assert isinstance(public, ec.EllipticCurvePublicKey)
    key = DirectoryKey(jwk.thumbprint(), str(item.get("holder", "")), public)
    if item.get("kid") != key.kid:
        raise DirectoryFormatError("directory key kid is not its JWK thumbprint")
    return key


def _parse_member(item: Any) -> Member:
    try:
        cc = parse_state(item["cc"])
        status = item["status"]
        if status not in STATUSES:
            raise DirectoryFormatError(f"unknown member status {status!r}")
        names = item["name"]
        fingerprints = tuple(item["node_certificates"])
        services = tuple(item["services"])
        for s in services:
            if ServiceId.parse(s).state != cc:
                raise DirectoryFormatError(f"{cc} lists a service of another state: {s}")
        if not all(isinstance(f, str) and len(f) == 64 for f in fingerprints):
            raise DirectoryFormatError("node certificate fingerprints are hex SHA-256")
        if not isinstance(item["node_url"], str):
            raise DirectoryFormatError("node_url must be a string")
        return Member(cc, str(names["ar"]), str(names["en"]), status, item["node_url"], fingerprints, services)
    except DirectoryFormatError:
        raise
    except (KeyError, TypeError, GccLinkError) as exc:
        raise DirectoryFormatError(f"bad member entry: {exc}") from exc


def _parse_content(payload: bytes) -> DirectoryContent:
    try:
        body = json.loads(payload)
        if not isinstance(body, dict) or body.get("gcc_link_directory") != FORMAT_VERSION:
            raise DirectoryFormatError("not a GCC Link directory (gcc_link_directory: 1)")
        root = load_certificate(base64.b64decode(body["root_certificate"], validate=True))
        revoked = frozenset(int(s, 16) for s in body["revoked_serials"])
        threshold = body["threshold"]
        if not isinstance(threshold, int) or isinstance(threshold, bool):
            raise DirectoryFormatError("threshold must be an integer")
        return DirectoryContent(
            version=body["version"],
            issued_at=parse_time(body["issued_at"]),
            expires_at=parse_time(body["expires_at"]),
            threshold=threshold,
            keys=tuple(_parse_key(k) for k in body["keys"]),
            root_certificate=root,
            revoked_serials=revoked,
            members=tuple(_parse_member(m) for m in body["members"]),
        )
    except DirectoryFormatError:
        raise
    except (KeyError, TypeError, ValueError, RecursionError, binascii.Error, GccLinkError) as exc:
        raise DirectoryFormatError(f"bad directory content: {exc}") from exc


def _valid_signers(doc: Mapping[str, Any], keys: Iterable[DirectoryKey]) -> frozenset[str]:
    """The distinct kids among ``keys`` whose signature over the payload verifies."""
    by_kid = {k.kid: k for k in keys}
    valid: set[str] = set()
    for signature in doc["signatures"]:
        kid = _protected(signature).get("kid")
        key = by_kid.get(kid) if isinstance(kid, str) else None
        if key is None or key.kid in valid:
            continue  # unknown keys and repeats by one key never count
        flattened: jws.FlattenedJSONSerialization = {
            "payload": doc["payload"],
            "protected": signature.get("protected", ""),
            "signature": signature.get("signature", ""),
        }
        try:
            jws.deserialize_json(flattened, ECKey.import_key(key.public_key), registry=_REGISTRY)
        except (JoseError, ValueError, TypeError, KeyError):
            continue
        valid.add(key.kid)
    return frozenset(valid)


def _read(data: bytes) -> tuple[dict[str, Any], DirectoryContent]:
    doc = _load_document(data)
    return doc, _parse_content(_b64url_decode(doc["payload"]))


def _require_threshold(signers: frozenset[str], threshold: int, whose: str) -> None:
    if len(signers) < threshold:
        raise DirectoryThresholdError(f"signed by {len(signers)} distinct {whose} key(s); {threshold} required")


def _finish(data: bytes, content: DirectoryContent, signers: frozenset[str]) -> Directory:
    return Directory(
        content.version,
        content.issued_at,
        content.expires_at,
        content.threshold,
        content.keys,
        content.root_certificate,
        content.revoked_serials,
        content.members,
        raw=data,
        signer_kids=signers,
    )


def load_directory(data: bytes, now: datetime, *, allow_expired: bool = False) -> Directory:
    """Trust a directory given by configuration: its own threshold of signatures, not expired.

    This is the bootstrap step (TUF's shipped root); later versions go
    through :func:`update_directory`. ``allow_expired`` is for the signing
    side only: an expired version is still the base the next one must be
    signed against (a node never verifies messages with it).
    """
    require_aware(now)
    doc, content = _read(data)
    signers = _valid_signers(doc, content.keys)
    _require_threshold(signers, content.threshold, "of its own")
    if not allow_expired:
        require_unexpired(content.version, content.expires_at, now)
    return _finish(data, content, signers)


def update_directory(trusted: Directory, data: bytes, now: datetime) -> Directory:
    """Accept ``data`` as the next trusted directory, or raise with the reason.

    Rules (TUF root rotation): signed by ``trusted.threshold`` of the trusted
    keys AND by its own threshold of its own keys; version not lower than the
    trusted one (the same version is accepted only byte-for-byte unchanged);
    not expired at ``now``.
    """
    return _update(trusted, data, now, final=True)


def update_directory_chain(trusted: Directory, chain: Iterable[bytes], now: datetime) -> Directory:
    """Walk consecutive versions ``trusted.version + 1 …`` to the last of ``chain`` (TUF root walk).

    Each step needs both thresholds, as in :func:`update_directory`, so a
    node that missed several key rotations catches up without re-installing
    anything. Intermediate versions may have expired since; the last must
    not. Versions must follow one another without gaps.
    """
    require_aware(now)
    items = list(chain)
    if not items:
        raise DirectoryFormatError("an empty directory chain")
    if len(items) > MAX_CHAIN_STEPS:
        raise DirectoryFormatError(f"a chain of {len(items)} versions; at most {MAX_CHAIN_STEPS} are walked")
    current = trusted
    for n, data in enumerate(items):
        version = peek_directory_version(data)
        if version != current.version + 1:
            raise DirectoryRollbackError(
                f"chain step {n + 1} is version {version}; version {current.version + 1} was expected"
            )
        current = _update(current, data, now, final=n == len(items) - 1)
    return current


def peek_directory_version(data: bytes) -> int:
    """The version a directory document claims, before any signature is checked (to plan a walk)."""
    return _read(data)[1].version


def _update(trusted: Directory, data: bytes, now: datetime, *, final: bool) -> Directory:
    require_aware(now)
    doc, content = _read(data)
    if content.version < trusted.version:
        raise DirectoryRollbackError(f"version {content.version} is older than trusted version {trusted.version}")
    if content.version == trusted.version:
        if content.to_payload() != trusted.to_payload():
            raise DirectoryRollbackError(f"version {content.version} differs from the trusted one of the same number")
        return trusted
    _require_threshold(_valid_signers(doc, trusted.keys), trusted.threshold, "previously trusted")
    signers = _valid_signers(doc, content.keys)
    _require_threshold(signers, content.threshold, "of its own")
    if final:
        require_unexpired(content.version, content.expires_at, now)
    return _finish(data, content, signers)
