"""Imports: best practices from JSON Lines, a state's service catalogue from CSV.

Both report invalid input line by line and import the valid rest (free text
loses bidi override/isolate controls, as in the admin forms; member states
and sectors are checked against their records, so an unknown code is a
line-numbered error, never a database traceback); re-importing
updates records by their identifier (practice ``id``; service state and
English name), so imports can be repeated safely.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .inputs import parse_int, strip_bidi, unquote_formula
from .models import Practice, Service, State, utcnow
from .sanitize import clean_html
from .sectors import load_sectors, load_state_codes
from .vocab import CHANNELS, MATURITY

PUBLIC_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


@dataclass
class ImportReport:
    imported: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "errors": [{"line": n, "message": m} for n, m in self.errors],
        }


def _text(obj: dict[str, Any], key: str, required: bool, max_len: int) -> str:
    value = obj.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    value = strip_bidi(value).strip()
    if required and not value:
        raise ValueError(f"{key} is required")
    if len(value) > max_len:
        raise ValueError(f"{key} is longer than {max_len} characters")
    return value


def _one_of(kind: str, value: Any, known: Any, allow_null: bool = False) -> None:
    """Raise a readable ValueError unless ``value`` is one of ``known`` (or null when allowed)."""
    if value is None and allow_null:
        return
    if not isinstance(value, str) or value not in known:
        listed = ", ".join(known) or "none defined"
        shown = repr(value)[:40]
        raise ValueError(f"unknown {kind} {shown}: must be one of {listed}" + (" or null" if allow_null else ""))


def validate_practice(obj: Any, states: Any, sectors: Any) -> dict[str, Any]:
    """Check one JSONL object against the known state and sector codes; return clean values or raise ValueError."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    pid = obj.get("id")
    if not isinstance(pid, str) or not PUBLIC_ID_RE.fullmatch(pid):
        raise ValueError("id must be 1-80 letters, digits, '.', '-' or '_'")
    state = obj.get("state")
    _one_of("member state", state, states, allow_null=True)
    sector = obj.get("sector")
    _one_of("sector", sector, sectors)
    year = obj.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1950 <= year <= 2100:
        raise ValueError("year must be an integer between 1950 and 2100")
    tags = obj.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 60 for t in tags):
        raise ValueError("tags must be a list of short strings")
    values = {
        "public_id": pid,
        "state_code": state,
        "sector": sector,
        "year": year,
        "tags": [t for t in (strip_bidi(t).strip() for t in tags) if t][:30],
    }
    for lang in ("ar", "en"):
        values[f"title_{lang}"] = _text(obj, f"title_{lang}", True, 500)
        values[f"summary_{lang}"] = _text(obj, f"summary_{lang}", False, 5000)
        values[f"body_{lang}"] = clean_html(_text(obj, f"body_{lang}", False, 200_000))
        values[f"outcomes_{lang}"] = clean_html(_text(obj, f"outcomes_{lang}", False, 50_000))
    values["source_ar"] = _text(obj, "source_ar", False, 500)
    values["source_en"] = _text(obj, "source_en", False, 500) or _text(obj, "source", False, 500)
    if "demo" in obj:
        values["is_demo"] = bool(obj["demo"])
    else:
        values["is_demo"] = False
    return values


def import_practices(session: Session, lines: list[str], publish: bool) -> ImportReport:
    """Import JSONL lines (1-based line numbers in the report); commit once at the end."""
    report = ImportReport()
    seen: set[str] = set()
    states, sectors = load_state_codes(session), list(load_sectors(session))
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            values = validate_practice(json.loads(line), states, sectors)
        except json.JSONDecodeError as exc:
            report.errors.append((number, f"invalid JSON: {exc.msg}"))
            continue
        except ValueError as exc:
            report.errors.append((number, str(exc)))
            continue
        if values["public_id"] in seen:
            report.errors.append((number, f"duplicate id {values['public_id']!r} in this file"))
            continue
        seen.add(values["public_id"])
        practice = session.scalar(select(Practice).where(Practice.public_id == values["public_id"]))
        if practice is None:
            practice = Practice(status="draft")
            session.add(practice)
            report.imported += 1
        else:
            report.updated += 1
        for key, value in values.items():
            setattr(practice, key, value)
        if publish:
            practice.status = "published"
            practice.published_at = practice.published_at or utcnow()
        report.ids.append(values["public_id"])
    session.commit()
    return report


_TRUE = {"true", "yes", "1", "y", "نعم"}
_FALSE = {"false", "no", "0", "n", "", "لا"}


def _bool(row: dict[str, str], key: str) -> bool:
    value = (row.get(key) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{key} must be true or false")


def validate_service_row(row: dict[str, str], state: str, sectors: Any) -> dict[str, Any]:
    """Check one CSV row of a state's catalogue against the known sectors; return field values or raise ValueError."""
    row_state = (row.get("state") or state).strip().upper()
    if row_state != state:
        raise ValueError(f"state {row_state!r} is not {state!r}: a catalogue is imported for one state")
    out: dict[str, Any] = {"state_code": state}
    for key in ("name_ar", "name_en", "agency_ar", "agency_en"):
        value = unquote_formula(strip_bidi(row.get(key) or "")).strip()
        if not value:
            raise ValueError(f"{key} is required")
        if len(value) > 300:
            raise ValueError(f"{key} is longer than 300 characters")
        out[key] = value
    sector = (row.get("sector") or "").strip()
    _one_of("sector", sector, sectors)
    maturity = (row.get("maturity") or "").strip()
    if maturity not in MATURITY:
        raise ValueError(f"maturity must be one of {', '.join(MATURITY)}")
    channels = [c.strip() for c in re.split(r"[;,|]", row.get("channels") or "") if c.strip()]
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise ValueError(f"unknown channel {bad[0]!r}")
    phase = parse_int((row.get("launch_phase") or "1").strip())
    if phase is None or not 1 <= phase <= 20:
        raise ValueError("launch_phase must be a number from 1 to 20")
    as_of_raw = (row.get("as_of") or "").strip()
    try:
        as_of = date.fromisoformat(as_of_raw) if as_of_raw else None
    except ValueError:
        raise ValueError("as_of must be a date YYYY-MM-DD") from None
    url = strip_bidi(row.get("evidence_url") or "").strip()
    if url and not re.match(r"https?://", url):
        raise ValueError("evidence_url must start with http:// or https://")
    out.update(
        source_ar=strip_bidi(row.get("source_ar") or "").strip()[:500],
        source_en=strip_bidi(row.get("source_en") or "").strip()[:500],
    )
    out.update(
        sector=sector,
        maturity=maturity,
        channels=",".join(channels),
        launch_phase=phase,
        as_of=as_of,
        evidence_url=url,
        e_payment=_bool(row, "e_payment"),
        end_to_end=_bool(row, "end_to_end"),
        ministry_priority=_bool(row, "ministry_priority"),
        cross_border=_bool(row, "cross_border"),
    )
    return out


def import_services_csv(session: Session, raw: bytes, state: str) -> ImportReport:
    """Import a state's catalogue; row numbers count the header as line 1."""
    report = ImportReport()
    if session.get(State, state) is None:
        known = ", ".join(load_state_codes(session)) or "none defined: run gcc-link portal init"
        report.errors.append((0, f"unknown member state {state[:10]!r}: must be one of {known}"))
        return report
    sectors = list(load_sectors(session))
    if len(raw) > 2 * 1024 * 1024:
        report.errors.append((0, "the file is larger than 2 MiB"))
        return report
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.errors.append((0, "the file is not UTF-8 text"))
        return report
    reader = csv.DictReader(io.StringIO(text))
    required = {"name_ar", "name_en", "agency_ar", "agency_en", "sector", "maturity"}
    missing = required - set(reader.fieldnames or [])
    if missing:
        report.errors.append((1, "missing columns: " + ", ".join(sorted(missing))))
        return report
    for row in reader:
        line = reader.line_num
        try:
            values = validate_service_row(row, state, sectors)
        except ValueError as exc:
            report.errors.append((line, str(exc)))
            continue
        service = session.scalar(
            select(Service).where(Service.state_code == state, Service.name_en == values["name_en"])
        )
        if service is None:
            service = Service(is_demo=False)
            session.add(service)
            report.imported += 1
        else:
            report.updated += 1
        for key, value in values.items():
            setattr(service, key, value)
    session.flush()
    return report
