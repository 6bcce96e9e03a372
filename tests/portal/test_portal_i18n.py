"""Bilingual behaviour: catalogs complete, language routing, dir/lang, hreflang, digits, Hijri dates."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from knowledge_portal.i18n import TRANSLATIONS_DIR

ROOT = Path(__file__).resolve().parents[2]


def _source_messages() -> set[str]:
    """Every translatable string in the portal's code and templates, extracted now."""
    method_map = [("search/**", "ignore"), ("**.py", "python"), ("templates/**.html", "jinja2")]
    found: set[str] = set()
    for _fn, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT / "knowledge_portal"),
        method_map,
        keywords={"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(lang: str):
    with (TRANSLATIONS_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def test_every_ui_string_has_a_translation_in_both_languages():
    wanted = _source_messages()
    assert len(wanted) > 200  # the extraction really ran over code and templates
    for lang in ("ar", "en"):
        catalog = _catalog(lang)
        translated = {}
        for m in catalog:
            if m.id:
                key = m.id[0] if isinstance(m.id, tuple) else m.id
                strings = m.string if isinstance(m.string, tuple) else (m.string,)
                translated[key] = all(strings) and not m.fuzzy
        missing = sorted(s for s in wanted if not translated.get(s))
        assert not missing, f"{lang}: untranslated UI strings: {missing[:10]}"


def test_arabic_plurals_have_six_forms():
    catalog = _catalog("ar")
    assert catalog.num_plurals == 6
    plurals = [m for m in catalog if m.id and isinstance(m.id, tuple)]
    assert len(plurals) >= 5
    for m in plurals:
        assert len(m.string) == 6 and all(m.string), m.id


def test_arabic_plural_forms_render(portal_env):
    from flask_babel import ngettext

    with portal_env.app.test_request_context("/ar/"):
        from flask import g

        g.lang = "ar"
        forms = [ngettext("%(num)d practice", "%(num)d practices", n) for n in (0, 1, 2, 3, 11, 100)]
    assert forms[1] == "ممارسة واحدة" and forms[2] == "ممارستان"
    assert len(set(forms)) == 6  # zero, one, two, few, many, other all differ


def test_root_redirects_by_cookie_then_accept_language_then_arabic(portal_env):
    client = portal_env.client()
    assert client.get("/").headers["Location"].endswith("/ar/")
    assert client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).headers["Location"].endswith("/en/")
    assert client.get("/", headers={"Accept-Language": "fr"}).headers["Location"].endswith("/ar/")
    client.set_cookie("lang", "en")
    assert client.get("/", headers={"Accept-Language": "ar"}).headers["Location"].endswith("/en/")


def test_visiting_a_language_sets_the_cookie(portal_env):
    client = portal_env.client()
    client.get("/en/states/")
    assert client.get("/").headers["Location"].endswith("/en/")


def test_pages_carry_dir_lang_and_hreflang(portal_env):
    client = portal_env.client()
    ar = client.get("/ar/achievements/?state=KW").get_data(as_text=True)
    en = client.get("/en/achievements/?state=KW").get_data(as_text=True)
    assert re.search(r'<html lang="ar" dir="rtl"[ >]', ar)  # (data-digits may follow: list markers)
    assert re.search(r'<html lang="en" dir="ltr"[ >]', en)
    assert '<link rel="alternate" hreflang="en" href="/en/achievements/?state=KW">' in ar
    assert '<link rel="alternate" hreflang="ar" href="/ar/achievements/?state=KW">' in en
    assert 'hreflang="x-default"' in ar


def test_language_switch_keeps_the_page_and_query(portal_env):
    html = portal_env.client().get("/ar/practices/kw-social-loan").get_data(as_text=True)
    assert re.search(r'class="lang-switch" href="/en/practices/kw-social-loan"', html)


def test_unknown_language_prefix_is_404(portal_env):
    assert portal_env.client().get("/fr/").status_code == 404


def test_arabic_indic_digits_are_configurable_per_state(tmp_path):
    from portalkit import build_instance

    env = build_instance(tmp_path / "digits", ARABIC_DIGITS="arab", STATE_DIGITS={"OM": "latn"})
    client = env.client()
    kw = client.get("/ar/states/KW").get_data(as_text=True)
    om = client.get("/ar/states/OM").get_data(as_text=True)
    en = client.get("/en/states/KW").get_data(as_text=True)
    assert "٢٠١٤" in kw and "<td>٤٩</td>" in kw
    assert "<td>2014</td>" in om  # Oman configured for Latin digits
    assert "<td>49</td>" in en


def test_gregorian_and_hijri_dates(portal_env):
    from flask import g

    from knowledge_portal.i18n import gregorian_date, hijri_date

    with portal_env.app.test_request_context("/en/"):
        g.lang = "en"
        assert gregorian_date(date(2015, 3, 10)) == "March 10, 2015"
        assert hijri_date(date(2015, 3, 10)) == "19 Jumada al-Ula 1436 AH"
        assert hijri_date(date(1800, 1, 1)) == ""  # outside Umm al-Qura's range: no made-up date
    with portal_env.app.test_request_context("/ar/"):
        g.lang = "ar"
        assert hijri_date(date(2015, 3, 10)) == "١٩ جمادى الأولى ١٤٣٦ هـ"
        assert "مارس" in gregorian_date(date(2015, 3, 10))


def test_achievement_pages_show_both_calendars(portal_env):
    html = portal_env.client().get("/en/achievements/?state=KW").get_data(as_text=True)
    assert "November 18, 2014" in html and "AH" in html
