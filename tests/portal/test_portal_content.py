"""Demo content reads like a published portal: no one-line placeholders, bilingual sources, demo data marked."""

from __future__ import annotations

import re

from sqlalchemy import select

PLACEHOLDERS = ("بيانات توضيحية.", "Demonstration data.", "(بيانات توضيحية)", "(demonstration data)")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html or "").strip()


def test_no_record_is_a_one_line_placeholder(portal_env):
    from knowledge_portal.db import get_session
    from knowledge_portal.models import Achievement, AwardWinner, Practice

    with portal_env.app.app_context():
        db = get_session()
        for a in db.scalars(select(Achievement)):
            for body in (a.body_ar, a.body_en):
                assert len(_text(body)) >= 80, (a.title_en, body)
                assert _text(body) not in PLACEHOLDERS
            # a conjunction ("و" + article) or a lower-case letter opens the second half of a sentence
            assert not re.match(r"و(ال|قد|لا)", a.body_ar), f"starts mid-sentence: {a.body_ar[:30]}"
            assert not a.body_en[:1].islower(), f"starts mid-sentence: {a.body_en[:30]}"
        for p in db.scalars(select(Practice)):
            for body in (p.body_ar, p.body_en):
                assert len(_text(body)) >= 80, (p.public_id, body)
        for w in db.scalars(select(AwardWinner)):
            assert not any(mark in (w.winner_ar + w.winner_en) for mark in PLACEHOLDERS)


def test_sources_are_bilingual_and_invented_records_are_marked(portal_env):
    from knowledge_portal.db import get_session
    from knowledge_portal.models import Achievement, Practice, Service

    with portal_env.app.app_context():
        db = get_session()
        for model in (Achievement, Practice, Service):
            for r in db.scalars(select(model)):
                assert bool(r.source_ar) == bool(r.source_en), r
                assert r.source_ar or r.is_demo, f"{r} has neither a source nor the demo flag"


def test_arabic_pages_show_arabic_sources(portal_env):
    client = portal_env.client()
    ar = client.get("/ar/achievements/?state=KW").get_data(as_text=True)
    assert "ذكرته وكالة الأنباء الكويتية (كونا)" in ar and "Reported by the Kuwait News Agency" not in ar
    en = client.get("/en/achievements/?state=KW").get_data(as_text=True)
    assert "Reported by the Kuwait News Agency (KUNA)" in en
    api = client.get("/api/v1/practices/kw-social-loan").get_json()
    assert api["source_ar"].startswith("ذكرته") and api["source_en"].startswith("Reported")


def test_award_winners_name_the_state_when_the_body_is_unknown(portal_env):
    ar = portal_env.client().get("/ar/award/").get_data(as_text=True)
    assert "جهة حكومية من" not in ar and "(بيانات توضيحية)" not in ar
    assert "قطر" in ar


def test_records_show_when_they_were_last_updated(portal_env):
    page = portal_env.client().get("/en/practices/kw-social-loan").get_data(as_text=True)
    assert "Last updated:" in page
