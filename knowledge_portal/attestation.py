"""What each state's node attests about its services, beside what editors entered.

The collector stores every verified signed status; its ``catalogue`` lists
the services the node publishes with their readiness (stage, channels,
e-payment). A catalogue entry that names its network address
(``Service.network_service``) is shown as "published by the node,
verified", and any disagreement between the two (stage, e-payment) is
spelled out rather than hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .models import Service

__all__ = ["Attestation", "attest", "attested_catalogues"]


@dataclass(frozen=True)
class Attestation:
    """How one catalogue entry stands against its node's signed catalogue."""

    attested: bool
    stage: str | None = None
    differences: tuple[str, ...] = field(default=())


def attested_catalogues(session: Session) -> dict[str, dict[str, dict[str, Any]]]:
    """Per state, the services its latest verified status published: ``{cc: {service id: item}}``."""
    from .network import _latest_samples

    _any, verified = _latest_samples(session)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for cc, sample in verified.items():
        items = (sample.extra or {}).get("catalogue")
        if isinstance(items, list):
            out[cc] = {str(i["id"]): i for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)}
    return out


def attest(service: Service, catalogues: dict[str, dict[str, dict[str, Any]]]) -> Attestation | None:
    """None when the entry names no network service or its node has no verified catalogue yet; else whether the
    node attests it, and what differs."""
    if not service.network_service or service.state_code not in catalogues:
        return None
    item = catalogues[service.state_code].get(service.network_service)
    if item is None:
        return Attestation(False)
    differences = []
    stage = item.get("stage") if isinstance(item.get("stage"), str) else None
    if stage and stage != service.maturity:
        differences.append("stage")
    if isinstance(item.get("e_payment"), bool) and item["e_payment"] != service.e_payment:
        differences.append("e_payment")
    return Attestation(True, stage, tuple(differences))
