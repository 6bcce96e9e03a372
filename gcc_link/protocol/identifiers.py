"""Protocol v1 identifiers: member state, agency and service addresses.

``KW`` (ISO 3166-1 alpha-2), ``KW/MOI`` (agency) and ``SA/MOI/vehicle-record``
(service). Parsing validates; the dataclasses are frozen so a parsed identifier
is always valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidIdentifierError, MalformedError

__all__ = [
    "AGENCY_NAME_PATTERN",
    "AGENCY_PATTERN",
    "GCC_STATES",
    "SERVICE_CODE_PATTERN",
    "HEX64_PATTERN",
    "SERVICE_PATTERN",
    "STATE_NAMES",
    "STATE_PATTERN",
    "UUID4_PATTERN",
    "AgencyId",
    "ServiceId",
    "parse_hex64",
    "parse_state",
    "parse_uuid4",
    "state_of",
]

GCC_STATES: tuple[str, ...] = ("KW", "SA", "QA", "AE", "BH", "OM")

#: Official short names of the member states, (Arabic, English).
STATE_NAMES: dict[str, tuple[str, str]] = {
    "KW": ("الكويت", "Kuwait"),
    "SA": ("المملكة العربية السعودية", "Saudi Arabia"),
    "QA": ("قطر", "Qatar"),
    "AE": ("الإمارات العربية المتحدة", "United Arab Emirates"),
    "BH": ("البحرين", "Bahrain"),
    "OM": ("عُمان", "Oman"),
}

#: The identifier grammar of protocol v1, as regular expressions (also published in the OpenAPI documents).
STATE_PATTERN = r"[A-Z]{2}"
AGENCY_NAME_PATTERN = r"[A-Z0-9][A-Z0-9-]{1,31}"
SERVICE_CODE_PATTERN = r"[a-z0-9][a-z0-9-]{1,63}"
AGENCY_PATTERN = rf"{STATE_PATTERN}/{AGENCY_NAME_PATTERN}"
SERVICE_PATTERN = rf"{AGENCY_PATTERN}/{SERVICE_CODE_PATTERN}"
UUID4_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
HEX64_PATTERN = r"[0-9a-f]{64}"

_STATE_RE = re.compile(STATE_PATTERN)
_AGENCY_RE = re.compile(AGENCY_NAME_PATTERN)
_CODE_RE = re.compile(SERVICE_CODE_PATTERN)
_UUID4_RE = re.compile(UUID4_PATTERN)
_HEX64_RE = re.compile(HEX64_PATTERN)


def parse_state(value: object) -> str:
    """Return ``value`` if it is an upper-case ISO 3166-1 alpha-2 code."""
    if not isinstance(value, str) or not _STATE_RE.fullmatch(value):
        raise InvalidIdentifierError(f"not a member state code: {value!r}")
    return value


def parse_uuid4(value: object, what: str) -> str:
    """``value`` if it is a lower-case UUID4 (message, conversation and request ids)."""
    if not isinstance(value, str) or not _UUID4_RE.fullmatch(value):
        raise MalformedError(f"{what} must be a lower-case UUID4: {value!r}")
    return value


def parse_hex64(value: object, what: str) -> str:
    """``value`` if it is 64 lower-case hex digits (SHA-256 digests, certificate fingerprints)."""
    if not isinstance(value, str) or not _HEX64_RE.fullmatch(value):
        raise MalformedError(f"{what} must be 64 lower-case hex digits")
    return value


def state_of(address: str) -> str:
    """The member state of a valid agency or service address (``KW`` of ``KW/MOI/x``)."""
    return address.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class AgencyId:
    """An agency address ``CC/AGENCY``."""

    state: str
    agency: str

    @classmethod
    def parse(cls, value: object) -> AgencyId:
        if not isinstance(value, str) or value.count("/") != 1:
            raise InvalidIdentifierError(f"not an agency address (CC/AGENCY): {value!r}")
        state, agency = value.split("/")
        parse_state(state)
        if not _AGENCY_RE.fullmatch(agency):
            raise InvalidIdentifierError(f"not an agency address (CC/AGENCY): {value!r}")
        return cls(state, agency)

    def __str__(self) -> str:
        return f"{self.state}/{self.agency}"


@dataclass(frozen=True, slots=True)
class ServiceId:
    """A service address ``CC/AGENCY/code``."""

    state: str
    agency: str
    code: str

    @classmethod
    def parse(cls, value: object) -> ServiceId:
        if not isinstance(value, str) or value.count("/") != 2:
            raise InvalidIdentifierError(f"not a service address (CC/AGENCY/code): {value!r}")
        state, agency, code = value.split("/")
        AgencyId.parse(f"{state}/{agency}")
        if not _CODE_RE.fullmatch(code):
            raise InvalidIdentifierError(f"not a service address (CC/AGENCY/code): {value!r}")
        return cls(state, agency, code)

    @property
    def provider(self) -> AgencyId:
        """The agency that provides this service."""
        return AgencyId(self.state, self.agency)

    def __str__(self) -> str:
        return f"{self.state}/{self.agency}/{self.code}"
