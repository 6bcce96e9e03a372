"""The one exception tree of GCC Link.

Every error carries a stable, machine-readable ``code``: the rejection codes of
protocol v1 (DESIGN.md) for message checks, and further codes for directory,
PKI and configuration problems. Foreign exceptions are wrapped where they
enter (``raise MalformedError(...) from exc``) so callers only ever catch
``GccLinkError``.
"""

from __future__ import annotations


class GccLinkError(Exception):
    """Root of all GCC Link errors; ``code`` is stable, ``message`` is for humans.

    Each cause is its own subclass carrying its code as a class attribute;
    code is never chosen at the raise site.
    """

    code: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The JSON error body every API returns: ``{"error": {"code", "message"}}``."""
        return {"error": {"code": self.code, "message": self.message}}


# --- message rejection codes (protocol v1, normative) -----------------------


class RejectionError(GccLinkError):
    """A message or receipt failed one of the receiving checks."""


class MalformedError(RejectionError):
    code = "malformed"


class BadSignatureError(RejectionError):
    code = "bad_signature"


class UntrustedCertificateError(RejectionError):
    code = "untrusted_certificate"


class SenderNotAuthorisedError(RejectionError):
    code = "sender_not_authorised"


class WrongRecipientError(RejectionError):
    code = "wrong_recipient"


class StaleError(RejectionError):
    code = "stale"


class DigestMismatchError(RejectionError):
    code = "digest_mismatch"


class AccessDeniedError(RejectionError):
    code = "access_denied"


class IdConflictError(RejectionError):
    """Another sender already used this message id at this node: never answered with their receipt."""

    code = "id_conflict"


#: The rejection classes of protocol v1, in the order a receiver checks them.
REJECTIONS: tuple[type[RejectionError], ...] = (
    MalformedError,
    BadSignatureError,
    UntrustedCertificateError,
    SenderNotAuthorisedError,
    WrongRecipientError,
    StaleError,
    DigestMismatchError,
    AccessDeniedError,
    IdConflictError,
)

#: The codes a ``rejected`` receipt may carry, derived from the classes above.
REJECTION_CODES: tuple[str, ...] = tuple(cls.code for cls in REJECTIONS)


class BadReceiptError(GccLinkError):
    """A peer answered with a receipt that does not verify or is for other message bytes."""

    code = "bad_receipt"


# --- identifiers -------------------------------------------------------------


class InvalidIdentifierError(MalformedError):
    """A state, agency or service identifier does not match protocol v1."""


# --- member directory --------------------------------------------------------


class DirectoryError(GccLinkError):
    code = "directory_invalid"


class DirectoryFormatError(DirectoryError):
    code = "directory_malformed"


class DirectoryThresholdError(DirectoryError):
    """Not enough distinct, known keys signed the new version."""

    code = "directory_threshold"


class DirectoryRollbackError(DirectoryError):
    code = "directory_rollback"


class DirectoryExpiredError(DirectoryError):
    code = "directory_expired"


class UnknownMemberError(DirectoryError):
    code = "unknown_state"


# --- PKI and configuration ---------------------------------------------------


class PkiError(GccLinkError):
    code = "pki_error"


class ConfigError(GccLinkError):
    code = "config_error"


class NotFoundError(GccLinkError):
    """An operator asked about a message, client or record this node does not hold."""

    code = "not_found"


__all__ = [name for name, value in globals().items() if isinstance(value, type) and issubclass(value, GccLinkError)] + [
    "REJECTIONS",
    "REJECTION_CODES",
]
