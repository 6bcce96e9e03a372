"""Portal security regressions: one test (or more) per item of the security issue, each written to fail first.

Items: 10 number parsing, 13 login redirect, 14 CSV formula injection, 15 login throttling and timing,
16 revocable sessions, 17 moderation bypass by editors, 18 bidi controls and upload names, 19 Atom base URL,
20 OpenID Connect account linking; plus a permission matrix over every admin route.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from portalkit import PASSWORDS, build_instance, csrf_from, login


@pytest.fixture()
def env(tmp_path):
    """A function-scoped instance for tests that change data."""
    return build_instance(tmp_path / "inst")


def _db():
    from knowledge_portal.db import get_session

    return get_session()


# --- 10: numbers are ASCII digits only ----------------------------------------------------------

NOT_NUMBERS = ("²", "₉", "٣", "1²", "9" * 5000, "-1", "+3", " ", "0x10", "1e3")


@pytest.mark.parametrize("raw", NOT_NUMBERS)
def test_api_number_parameters_answer_400_not_500(portal_env, raw):
    client = portal_env.client()
    for path, name in (("/api/v1/achievements", "year"), ("/api/v1/achievements", "page"),
                       ("/api/v1/services", "per_page"), ("/api/v1/practices", "per_page"),
                       ("/api/v1/practices", "page"), ("/api/v1/search", "per_page"), ("/api/v1/search", "year")):
        response = client.get(path, query_string={name: raw, "q": "loan"})
        if raw == " ":
            assert response.status_code in (200, 400), (path, name)  # blank: absent or refused, never 500
            continue
        assert response.status_code == 400, (path, name, raw[:10], response.status_code)
        assert response.get_json()["error"]["code"].startswith("invalid_"), (path, name)


@pytest.mark.parametrize("raw", NOT_NUMBERS)
def test_html_pages_and_feeds_never_500_on_bad_numbers(portal_env, raw):
    client = portal_env.client()
    for path in ("/en/achievements/?year=", "/en/practices/?page=", "/en/practices/?year=",
                 "/en/feeds/achievements.atom?year=", "/en/feeds/practices.atom?page="):
        response = client.get(path + raw)
        assert response.status_code in (200, 400), (path, raw[:10], response.status_code)


def test_admin_numbers_are_ascii_digits(portal_env):
    client = portal_env.client()
    login(client, "admin")
    for path in ("/en/admin/practices/²", "/en/admin/practices/₉/history", "/en/admin/achievements/" + "9" * 5000):
        assert client.get(path).status_code == 404, path
    assert client.get("/en/admin/audit?page=²").status_code == 200
    assert client.get("/en/admin/audit?page=" + "9" * 5000).status_code == 200


def test_parse_int_accepts_ascii_digits_only():
    from knowledge_portal.inputs import parse_int

    assert parse_int("42") == 42 and parse_int(" 7 ") == 7
    for raw in NOT_NUMBERS + ("", None):
        assert parse_int(raw) is None, raw
    from knowledge_portal.resources import parse_ranks

    with pytest.raises(ValueError):
        parse_ranks("2020: ²")


def test_service_import_refuses_superscript_launch_phase():
    from knowledge_portal.importer import validate_service_row

    row = {"name_ar": "خدمة", "name_en": "Service", "agency_ar": "جهة", "agency_en": "Agency", "sector": "health",
           "maturity": "emerging", "launch_phase": "²"}
    with pytest.raises(ValueError, match="launch_phase"):
        validate_service_row(row, "KW")


# --- 13: the login redirect stays on this site -----------------------------------------------------

@pytest.mark.parametrize("target", [
    "/\t/evil.example", "/\n/evil.example", "/x\r\nSet-Cookie: a=b", "//evil.example",
    "/\\evil.example", "\\\\evil.example", "https://evil.example/", "http:/evil.example", "javascript:alert(1)",
    "/\x00", " //evil.example", "evil.example", "/\u3000/evil.example", "/\u202e/lpt.evil",
])
def test_login_next_only_accepts_same_site_paths(env, target):
    client = env.client()
    token = csrf_from(client, "/en/login")
    response = client.post("/en/login", query_string={"next": target}, data={
        "username": "admin", "password": PASSWORDS["admin"], "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/en/admin/"


def test_login_next_keeps_a_plain_local_path(env):
    client = env.client()
    token = csrf_from(client, "/en/login")
    response = client.post("/en/login", query_string={"next": "/en/admin/audit?page=2"}, data={
        "username": "admin", "password": PASSWORDS["admin"], "csrf_token": token})
    assert response.headers["Location"] == "/en/admin/audit?page=2"


def test_safe_next_rule():
    from knowledge_portal.auth import is_safe_next

    for bad in ("/\t/evil.example", "/\n/x", "//x", "/\\x", "https://x/", "x", "", None, "/\u202e/x", "/\x7f"):
        assert not is_safe_next(bad), repr(bad)
    for good in ("/", "/en/admin/", "/ar/admin/practices/?status=submitted", "/en/practices/%D8%A7"):
        assert is_safe_next(good), good


# --- 14: CSV formula injection -----------------------------------------------------------------------

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def test_csv_cells_cannot_start_a_formula(env):
    from knowledge_portal.models import Achievement, Practice

    with env.app.app_context():
        db = _db()
        ach = db.scalar(select(Achievement).where(Achievement.status == "published"))
        prac = db.scalar(select(Practice).where(Practice.status == "published"))
        ach.title_en = "=HYPERLINK(\"http://evil.example\",\"x\")"
        ach.source = "@SUM(1+1)"
        ach.title_ar = "\rعنوان"
        prac.title_en = "+cmd|' /C calc'!A0"
        prac.summary_en = "-2+3"
        prac.tags = ["\tlead-tab", "\rlead-cr", "ok"]
        db.commit()
    client = env.client()
    seen = set()
    for path in ("/api/v1/achievements.csv", "/api/v1/practices.csv", "/api/v1/services.csv"):
        text = client.get(path).get_data(as_text=True).lstrip("\ufeff")
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                assert not cell.startswith(DANGEROUS), (path, cell)
                if cell.startswith("'") and cell[1:2] in DANGEROUS:
                    seen.add(cell[1])
    assert seen == set(DANGEROUS)


@pytest.mark.parametrize("lead", DANGEROUS)
def test_csv_cell_neutraliser(lead):
    from knowledge_portal.serialize import csv_cell

    assert csv_cell(lead + "1+1") == "'" + lead + "1+1"
    assert csv_cell("a" + lead) == "a" + lead
    assert csv_cell(3) == 3 and csv_cell(True) is True and csv_cell("") == ""
