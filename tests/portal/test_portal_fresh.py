"""A fresh production instance (``portal init`` without ``--demo``) can take its first content.

Member states and the default sector vocabulary come with every instance;
sectors are records with Arabic and English labels; importers turn unknown
states and sectors into line-numbered errors, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from gcc_link.cli import main

PRACTICE = {
    "id": "sa-first",
    "state": "SA",
    "sector": "government",
    "year": 2016,
    "title_ar": "أول تجربة",
    "title_en": "A first practice",
    "summary_en": "First content of a fresh instance.",
}


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _jsonl(path: Path, objs: list) -> Path:
    path.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in objs) + "\n", encoding="utf-8")
    return path


def test_init_without_demo_creates_states_and_sectors(tmp_path):
    inst = tmp_path / "inst"
    assert _run("portal", "init", "--instance", str(inst)).exit_code == 0
    from knowledge_portal import create_app
    from knowledge_portal.db import get_session
    from knowledge_portal.models import Sector, State

    app = create_app({"INSTANCE_DIR": str(inst)})
    with app.app_context():
        db = get_session()
        states = {s.code: s for s in db.query(State)}
        assert sorted(states) == ["AE", "BH", "KW", "OM", "QA", "SA"]
        assert states["KW"].name_ar == "الكويت" and "Central Agency" in states["KW"].agency_en
        sectors = {s.code: s for s in db.query(Sector)}
        for code in ("government", "security", "social", "customs", "health", "interior"):
            assert code in sectors, code
            assert sectors[code].label_ar and sectors[code].label_en
    # a second init does not duplicate anything
    assert _run("portal", "init", "--instance", str(inst)).exit_code == 0


def test_first_practice_imports_into_a_fresh_instance(tmp_path):
    inst = tmp_path / "inst"
    assert _run("portal", "init", "--instance", str(inst)).exit_code == 0
    bad_state = dict(PRACTICE, id="xx-1", state="XX")
    bad_sector = dict(PRACTICE, id="sa-2", sector="astrology")
    result = CliRunner().invoke(
        main,
        [
            "portal",
            "import-practices",
            str(_jsonl(tmp_path / "p.jsonl", [PRACTICE, bad_state, bad_sector])),
            "--instance",
            str(inst),
            "--publish",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "imported 1" in result.output
    assert "line 2:" in result.stderr and "XX" in result.stderr
    assert "line 3:" in result.stderr and "astrology" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_a_sector_added_as_a_record_is_accepted_and_labelled(tmp_path):
    inst = tmp_path / "inst"
    assert _run("portal", "init", "--instance", str(inst)).exit_code == 0
    from knowledge_portal import create_app
    from knowledge_portal.db import get_session
    from knowledge_portal.importer import import_practices
    from knowledge_portal.models import Sector

    app = create_app({"INSTANCE_DIR": str(inst)})
    with app.app_context():
        db = get_session()
        db.add(Sector(code="tourism", label_ar="السياحة", label_en="Tourism", sort_order=99))
        db.commit()
        report = import_practices(db, [json.dumps(dict(PRACTICE, sector="tourism"))], publish=True)
        assert report.errors == [] and report.imported == 1
    client = app.test_client()
    page = client.get("/ar/practices/sa-first").get_data(as_text=True)
    assert "السياحة" in page
    assert "Tourism" in client.get("/en/practices/?sector=tourism").get_data(as_text=True)


def test_service_csv_with_unknown_state_or_sector_is_line_numbered(tmp_path):
    inst = tmp_path / "inst"
    assert _run("portal", "init", "--instance", str(inst)).exit_code == 0
    from knowledge_portal import create_app
    from knowledge_portal.db import get_session
    from knowledge_portal.importer import import_services_csv

    header = "name_ar,name_en,agency_ar,agency_en,sector,maturity\n"
    rows = (
        "خدمة,Customs declaration,الجمارك,Customs,customs,transactional\nخدمة,Horoscope,جهة,Agency,astrology,emerging\n"
    )
    app = create_app({"INSTANCE_DIR": str(inst)})
    with app.app_context():
        db = get_session()
        report = import_services_csv(db, (header + rows).encode(), "OM")
        assert report.imported == 1
        assert [n for n, _ in report.errors] == [3] and "astrology" in report.errors[0][1]
        bad = import_services_csv(db, (header + rows).encode(), "ZZ")
        assert bad.imported == 0 and bad.errors and "ZZ" in bad.errors[0][1]


def test_migration_0007_keeps_existing_sources_and_seeds_sectors(tmp_path):
    """A database at revision 0002 with content: after the upgrade its English sources are in source_en,
    source_ar is empty, and the default sectors exist (so existing services keep their labels)."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from knowledge_portal.db import _alembic_config, migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.execute(
            text(
                "INSERT INTO states (code, name_ar, name_en, programme_ar, programme_en, agency_ar, "
                "agency_en, agency_url, readiness_ar, readiness_en, network_status, sort_order) VALUES "
                "('KW', 'الكويت', 'Kuwait', '', '', '', '', '', '', '', 'active', 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO achievements (state_code, date, category, title_ar, title_en, body_ar, "
                "body_en, source, is_demo, status, review_comment, updated_at) VALUES ('KW', '2014-01-01', "
                "'network', 'ع', 'E', '', '', 'Reported by KUNA', 0, 'published', '', '2014-01-01')"
            )
        )
    engine.dispose()
    result = migrate(url)
    assert result.before == ("0002",) and result.changed and result.after[0] >= "0007"
    engine = create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT source_ar, source_en FROM achievements")).one()
        assert tuple(row) == ("", "Reported by KUNA")
        sectors = dict(conn.execute(text("SELECT code, label_ar FROM sectors")).all())
        assert sectors["health"] == "الصحة" and sectors["customs"] == "الجمارك والمنافذ"
    engine.dispose()
