"""Reference data every instance needs, demo or not: the six member states and the sector vocabulary.

``portal init`` calls :func:`ensure_reference_data` so a fresh production
instance can take its first practice or service catalogue (content refers to
states and sectors by code). Existing records are never overwritten: what the
secretariat edited stays as they left it; only missing records are added.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gcc_link.protocol.identifiers import STATE_NAMES

from .models import Sector, State
from .vocab import DEFAULT_SECTOR_LABELS, STATE_CODES

#: The e-government body of each member state (Arabic, English) and its membership of the network
#: as first reported: Kuwait, Qatar and Saudi Arabia were interconnected first (active), the others
#: were to join within weeks (trial) — the live node status on the home page supersedes this.
STATE_AGENCIES: dict[str, tuple[str, str, str]] = {
    "KW": ("الجهاز المركزي لتكنولوجيا المعلومات", "Central Agency for Information Technology (CAIT)", "active"),
    "SA": ("برنامج التعاملات الإلكترونية الحكومية (يسّر)", "E-government transactions programme (Yesser)", "active"),
    "QA": ("وزارة الاتصالات وتكنولوجيا المعلومات", "Ministry of Information and Communications Technology", "active"),
    "AE": (
        "هيئة تنظيم الاتصالات – الحكومة الإلكترونية",
        "Telecommunications Regulatory Authority – e-government",
        "trial",
    ),
    "BH": ("هيئة الحكومة الإلكترونية", "eGovernment Authority", "trial"),
    "OM": ("هيئة تقنية المعلومات", "Information Technology Authority", "trial"),
}


def state_defaults(code: str) -> dict[str, Any]:
    """The reference fields of one member state (names from the protocol core, agency, membership, order)."""
    agency_ar, agency_en, membership = STATE_AGENCIES[code]
    return dict(
        code=code,
        name_ar=STATE_NAMES[code][0],
        name_en=STATE_NAMES[code][1],
        agency_ar=agency_ar,
        agency_en=agency_en,
        network_status=membership,
        sort_order=STATE_CODES.index(code) + 1,
    )


def ensure_reference_data(session: Session) -> dict[str, int]:
    """Add the member states and default sectors that are missing; commit; return how many were added."""
    added = {"states": 0, "sectors": 0}
    for code in STATE_CODES:
        if session.get(State, code) is None:
            session.add(State(**state_defaults(code)))
            added["states"] += 1
    known = set(session.scalars(select(Sector.code)))
    for order, (code, (label_ar, label_en)) in enumerate(DEFAULT_SECTOR_LABELS.items(), start=1):
        if code not in known:
            session.add(Sector(code=code, label_ar=label_ar, label_en=label_en, sort_order=order))
            added["sectors"] += 1
    session.commit()
    return added
