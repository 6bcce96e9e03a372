"""Controlled vocabularies (sectors, maturity stages, channels...) with translated labels.

Codes are stored in the database and used in URLs and the API; labels are
translated through the Babel catalogs (``lazy_gettext`` so they are extracted).
Member-state codes are not declared here: they are the protocol core's
(:mod:`gcc_link.protocol.identifiers`), so portal and network agree.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from gcc_link.protocol.identifiers import GCC_STATES

#: The member states, in the protocol core's order (an alias of ``GCC_STATES``).
STATE_CODES: tuple[str, ...] = GCC_STATES

#: The default sector vocabulary (code: English label through the catalogs). Sectors are records
#: (:class:`knowledge_portal.models.Sector`) that the secretariat edits; this list seeds them
#: (migration 0003 and ``portal init``) with the Arabic and English labels of :data:`DEFAULT_SECTOR_LABELS`.
SECTORS = {
    "interior": _l("Interior and residency"),
    "health": _l("Health"),
    "education": _l("Education"),
    "commerce": _l("Commerce and industry"),
    "justice": _l("Justice"),
    "housing": _l("Housing"),
    "municipal": _l("Municipal services"),
    "finance": _l("Finance and payments"),
    "labour": _l("Labour and social affairs"),
    "transport": _l("Transport"),
    "ict": _l("ICT and digital government"),
    "government": _l("Government administration"),
    "security": _l("Security and civil defence"),
    "social": _l("Social development"),
    "customs": _l("Customs and borders"),
}

#: The seed labels of the default sectors: (Arabic, English), in display order.
DEFAULT_SECTOR_LABELS: dict[str, tuple[str, str]] = {
    "government": ("الإدارة الحكومية", "Government administration"),
    "interior": ("الداخلية والإقامة", "Interior and residency"),
    "security": ("الأمن والدفاع المدني", "Security and civil defence"),
    "justice": ("العدل", "Justice"),
    "health": ("الصحة", "Health"),
    "education": ("التعليم", "Education"),
    "social": ("التنمية الاجتماعية", "Social development"),
    "labour": ("العمل والشؤون الاجتماعية", "Labour and social affairs"),
    "housing": ("الإسكان", "Housing"),
    "municipal": ("الخدمات البلدية", "Municipal services"),
    "commerce": ("التجارة والصناعة", "Commerce and industry"),
    "customs": ("الجمارك والمنافذ", "Customs and borders"),
    "finance": ("المالية والمدفوعات", "Finance and payments"),
    "transport": ("النقل", "Transport"),
    "ict": ("الاتصالات والحكومة الرقمية", "ICT and digital government"),
}

# UN E-Government Survey online-service stages, from least to most mature.
MATURITY = {
    "emerging": _l("Emerging"),
    "enhanced": _l("Enhanced"),
    "transactional": _l("Transactional"),
    "connected": _l("Connected"),
}
MATURITY_ORDER = tuple(MATURITY)

CHANNELS = {
    "web": _l("Web"),
    "mobile": _l("Mobile"),
    "kiosk": _l("Kiosk"),
    "contact_centre": _l("Contact centre"),
}

ACHIEVEMENT_CATEGORIES = {
    "network": _l("GCC network"),
    "services": _l("E-services"),
    "portal": _l("Portals"),
    "infrastructure": _l("Infrastructure"),
    "ranking": _l("Rankings"),
    "capacity": _l("Capacity building"),
    "policy": _l("Policy and regulation"),
}

STANDARD_CATEGORIES = {
    "portals": _l("Official portals"),
    "interoperability": _l("Interoperability"),
    "security": _l("Information security"),
    "accessibility": _l("Accessibility"),
}

STATUS_LABELS = {
    "draft": _l("Draft"),
    "submitted": _l("Submitted"),
    "published": _l("Published"),
    "returned": _l("Returned"),
}

#: A member state's status in the signed member directory, in plain words.
MEMBERSHIP_LABELS = {
    "active": _l("Connected to the network"),
    "trial": _l("Trial connection"),
    "suspended": _l("Suspended"),
}

ROLE_LABELS = {
    "admin": _l("Secretariat administrator"),
    "editor": _l("State editor"),
    "reviewer": _l("Reviewer"),
}


def label(vocab: dict, code: str | None) -> str:
    """The translated label of ``code`` in ``vocab`` (the code itself when unknown)."""
    if code is None:
        return ""
    value = vocab.get(code)
    return str(value) if value is not None else code
