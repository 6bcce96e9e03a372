"""Protocol v1 identifiers: member state, agency and service addresses.

``KW`` (ISO 3166-1 alpha-2), ``KW/MOI`` (agency) and ``SA/MOI/vehicle-record``
(service). Parsing validates; the dataclasses are frozen so a parsed identifier
is always valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidIdentifierError

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

_STATE_RE = re.compile(r"[A-Z]{2}")
_AGENCY_RE = re.compile(r"[A-Z0-9][A-Z0-9-]{1,31}")
_CODE_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")


def parse_state(value: object) -> str:
    """Return ``value`` if it is an upper-case ISO 3166-1 alpha-2 code."""
    if not isinstance(value, str) or not _STATE_RE.fullmatch(value):
        raise InvalidIdentifierError(f"not a member state code: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class AgencyId:
    """An agency address ``CC/AGENCY``."""

    state: str
    agency: str

    @classmethod
    def parse(cls, value: object) -> "AgencyId":
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
    def parse(cls, value: object) -> "ServiceId":
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
