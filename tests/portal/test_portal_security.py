"""Portal security regressions: one test (or more) per item of the security issue, each written to fail first.

Items: 10 number parsing, 13 login redirect, 14 CSV formula injection, 15 login throttling and timing,
16 revocable sessions, 17 moderation bypass by editors, 18 bidi controls and upload names, 19 Atom base URL,
20 OpenID Connect account linking; plus a permission matrix over every admin route.
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from portalkit import PASSWORDS, build_instance, csrf_from, login
from sqlalchemy import select

SECTOR_CODES = ("health", "interior", "finance", "justice", "education", "commerce")


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
    for path, name in (
        ("/api/v1/achievements", "year"),
        ("/api/v1/achievements", "page"),
        ("/api/v1/services", "per_page"),
        ("/api/v1/practices", "per_page"),
        ("/api/v1/practices", "page"),
        ("/api/v1/search", "per_page"),
        ("/api/v1/search", "year"),
    ):
        response = client.get(path, query_string={name: raw, "q": "loan"})
        if raw == " ":
            assert response.status_code in (200, 400), (path, name)  # blank: absent or refused, never 500
            continue
        assert response.status_code == 400, (path, name, raw[:10], response.status_code)
        assert response.get_json()["error"]["code"].startswith("invalid_"), (path, name)


@pytest.mark.parametrize("raw", NOT_NUMBERS)
def test_html_pages_and_feeds_never_500_on_bad_numbers(portal_env, raw):
    client = portal_env.client()
    for path in (
        "/en/achievements/?year=",
        "/en/practices/?page=",
        "/en/practices/?year=",
        "/en/feeds/achievements.atom?year=",
        "/en/feeds/practices.atom?page=",
    ):
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

    row = {
        "name_ar": "خدمة",
        "name_en": "Service",
        "agency_ar": "جهة",
        "agency_en": "Agency",
        "sector": "health",
        "maturity": "emerging",
        "launch_phase": "²",
    }
    with pytest.raises(ValueError, match="launch_phase"):
        validate_service_row(row, "KW", SECTOR_CODES)


# --- 13: the login redirect stays on this site -----------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n/evil.example",
        "/x\r\nSet-Cookie: a=b",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "/\x00",
        " //evil.example",
        "evil.example",
        "/\u3000/evil.example",
        "/\u202e/lpt.evil",
    ],
)
def test_login_next_only_accepts_same_site_paths(env, target):
    client = env.client()
    token = csrf_from(client, "/en/login")
    response = client.post(
        "/en/login",
        query_string={"next": target},
        data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/en/admin/"


def test_login_next_keeps_a_plain_local_path(env):
    client = env.client()
    token = csrf_from(client, "/en/login")
    response = client.post(
        "/en/login",
        query_string={"next": "/en/admin/audit?page=2"},
        data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token},
    )
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
        ach.title_en = '=HYPERLINK("http://evil.example","x")'
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


# --- 15: login throttling per (user, address), and no timing oracle for user names ---------------------


def _try_login(client, username: str, password: str) -> int:
    token = csrf_from(client, "/en/login")
    return client.post("/en/login", data={"username": username, "password": password, "csrf_token": token}).status_code


def test_attacker_address_is_locked_but_the_victim_still_logs_in(env):
    attacker = env.client(ip="10.66.0.1")
    for _ in range(5):
        assert _try_login(attacker, "reviewer", "wrong-guess") == 401
    assert _try_login(attacker, "reviewer", PASSWORDS["reviewer"]) == 429  # the attacker's address waits
    victim = env.client(ip="10.66.0.2")
    assert _try_login(victim, "reviewer", PASSWORDS["reviewer"]) == 302  # the real user is not locked out
    # and the attacker may still try other accounts (the per-address limit is looser)
    assert _try_login(attacker, "admin", "wrong-guess") == 401


def test_one_address_guessing_many_names_hits_the_address_limit(tmp_path):
    env = build_instance(tmp_path / "addr", demo=False, LOGIN_MAX_ATTEMPTS_PER_ADDRESS=6)
    client = env.client(ip="10.67.0.1")
    for n in range(6):
        assert _try_login(client, f"nobody-{n}", "wrong-guess") == 401
    assert _try_login(client, "admin", PASSWORDS["admin"]) == 429
    assert _try_login(env.client(ip="10.67.0.2"), "admin", PASSWORDS["admin"]) == 302


def test_lockout_grows_with_further_failures():
    from datetime import datetime, timedelta

    from knowledge_portal.security import lockout_until

    t0 = datetime(2020, 1, 1, 12, 0, 0)
    times = [t0 + timedelta(seconds=10 * i) for i in range(8)]  # oldest first
    assert lockout_until(list(reversed(times[:4])), limit=5, base=60, cap=3600) is None
    assert lockout_until(list(reversed(times[:5])), limit=5, base=60, cap=3600) == times[4] + timedelta(seconds=60)
    assert lockout_until(list(reversed(times[:6])), limit=5, base=60, cap=3600) == times[5] + timedelta(seconds=120)
    assert lockout_until(list(reversed(times[:8])), limit=5, base=60, cap=3600) == times[7] + timedelta(seconds=480)
    many = [t0 - timedelta(seconds=i) for i in range(40)]
    assert lockout_until(many, limit=5, base=60, cap=3600) == many[0] + timedelta(seconds=3600)


def test_unknown_and_known_user_names_answer_in_similar_time(env):
    import statistics
    import time

    def timed(username: str, ip: str) -> float:
        client = env.client(ip=ip)
        token = csrf_from(client, "/en/login")
        start = time.perf_counter()
        status = client.post(
            "/en/login", data={"username": username, "password": "wrong-guess", "csrf_token": token}
        ).status_code
        elapsed = time.perf_counter() - start
        assert status == 401
        return elapsed

    known, unknown = [], []
    for i in range(5):  # bounded; a fresh address each time so no limit is reached
        known.append(timed("reviewer", f"10.68.1.{i}"))
        unknown.append(timed(f"no-such-user-{i}", f"10.68.2.{i}"))
    assert statistics.median(unknown) >= 0.5 * statistics.median(known), (known, unknown)


# --- 16: sessions end on the server at logout -------------------------------------------------------------


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_copied_session_cookie_is_dead_after_logout(env):
    client = env.client()
    login(client, "admin")
    stolen = _session_cookie(client)
    token = csrf_from(client, "/en/admin/")
    assert client.post("/en/logout", data={"csrf_token": token}).status_code == 302
    replay = env.client()
    replay.set_cookie("session", stolen)
    response = replay.get("/en/admin/")
    assert response.status_code == 302 and "/en/login" in response.headers["Location"]


def test_a_password_change_ends_the_users_other_sessions(env):
    editor = env.client(ip="10.69.0.1")
    login(editor, "kw-editor")
    assert editor.get("/en/admin/").status_code == 200
    admin = env.client()
    login(admin, "admin")
    with env.app.app_context():
        from knowledge_portal.models import User

        user_id = _db().scalar(select(User.id).where(User.username == "kw-editor"))
    token = csrf_from(admin, f"/en/admin/users/{user_id}")
    changed = admin.post(
        f"/en/admin/users/{user_id}",
        data={
            "csrf_token": token,
            "username": "kw-editor",
            "role": "editor",
            "state_code": "KW",
            "email": "kw-editor@example.org",
            "active": "y",
            "password": "a-brand-new-password-42",
        },
    )
    assert changed.status_code == 302
    assert editor.get("/en/admin/").status_code == 302
    # the admin's own session is untouched by a change to another account
    assert admin.get("/en/admin/").status_code == 200


# --- 17: editors cannot bypass moderation ------------------------------------------------------------------


def _published(env, model_name: str, state: str = "KW") -> int:
    from knowledge_portal import models

    model = getattr(models, model_name)
    with env.app.app_context():
        return _db().scalar(
            select(model.id).where(model.status == "published", model.state_code == state).order_by(model.id)
        )


def test_editor_cannot_delete_a_published_achievement(env):
    record_id = _published(env, "Achievement")
    editor = env.client()
    login(editor, "kw-editor")
    token = csrf_from(editor, f"/en/admin/achievements/{record_id}")
    public_before = env.client().get("/api/v1/achievements?state=KW&per_page=100").get_json()["total"]
    assert editor.post(f"/en/admin/achievements/{record_id}/delete", data={"csrf_token": token}).status_code == 403
    assert env.client().get("/api/v1/achievements?state=KW&per_page=100").get_json()["total"] == public_before
    # nor after sending it back to review with an edit (it was published once: the secretariat decides)
    with env.app.app_context():
        from knowledge_portal.models import Achievement

        _db().get(Achievement, record_id).status = "submitted"
        _db().commit()
    assert editor.post(f"/en/admin/achievements/{record_id}/delete", data={"csrf_token": token}).status_code == 403
    # the secretariat may
    admin = env.client()
    login(admin, "admin")
    atoken = csrf_from(admin, f"/en/admin/achievements/{record_id}")
    assert admin.post(f"/en/admin/achievements/{record_id}/delete", data={"csrf_token": atoken}).status_code == 302


def test_editor_may_delete_their_own_never_published_draft(env):
    editor = env.client()
    login(editor, "kw-editor")
    token = csrf_from(editor, "/en/admin/achievements/new")
    response = editor.post(
        "/en/admin/achievements/new",
        data={
            "csrf_token": token,
            "state_code": "KW",
            "date": "2016-02-01",
            "category": "services",
            "title_ar": "مسودة",
            "title_en": "A draft",
            "body_ar": "",
            "body_en": "",
            "source": "",
        },
    )
    record_id = response.headers["Location"].rstrip("/").split("/")[-1]
    assert editor.post(f"/en/admin/achievements/{record_id}/delete", data={"csrf_token": token}).status_code == 302


def test_editor_attachment_on_a_published_practice_is_not_public_until_reviewed(env):
    with env.app.app_context():
        from knowledge_portal.models import Practice

        record_id = _db().scalar(select(Practice.id).where(Practice.public_id == "kw-social-loan"))
    editor = env.client()
    login(editor, "kw-editor")
    token = csrf_from(editor, f"/en/admin/practices/{record_id}")
    response = editor.post(
        f"/en/admin/practices/{record_id}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"%PDF-1.4 unreviewed"), "unreviewed.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code in (302, 403)
    public = env.client()
    with env.app.app_context():
        from knowledge_portal.models import Attachment

        attachments = _db().scalars(select(Attachment).where(Attachment.filename == "unreviewed.pdf")).all()
    for att in attachments:  # whatever was stored is not downloadable
        assert public.get(f"/en/practices/kw-social-loan/attachments/{att.id}").status_code == 404
    page = public.get("/en/practices/kw-social-loan")
    assert "unreviewed.pdf" not in page.get_data(as_text=True)
    assert "unreviewed" not in str(public.get("/api/v1/practices/kw-social-loan").get_json())
    if attachments:  # accepted for review: a reviewer's publication makes it public
        reviewer = env.client()
        login(reviewer, "reviewer")
        rtoken = csrf_from(reviewer, "/en/admin/")
        assert reviewer.post(f"/en/admin/practices/{record_id}/publish", data={"csrf_token": rtoken}).status_code == 302
        assert (
            public.get(f"/en/practices/kw-social-loan/attachments/{attachments[0].id}").data == b"%PDF-1.4 unreviewed"
        )


# --- 20: OpenID Connect accounts are linked by the provider's subject only -----------------------------------


def _users(env) -> dict[str, int]:
    from knowledge_portal.models import User

    with env.app.app_context():
        return {u.username: u.id for u in _db().scalars(select(User))}


def _sso(env, claims: dict):
    """Run the linking rule on ``claims``; return the linked user name (or None) and every user's subject."""
    from knowledge_portal.auth import sso_account
    from knowledge_portal.models import User

    with env.app.test_request_context("/auth/oidc/callback"):
        db = _db()
        user = sso_account(db, claims)
        db.commit()
        subjects = {u.username: u.oidc_subject for u in db.scalars(select(User))}
        return (user.username if user else None), subjects


def test_sso_never_links_by_user_name(env):
    name, subjects = _sso(env, {"sub": "attacker-1", "preferred_username": "admin"})
    assert name is None and subjects["admin"] is None
    name, _ = _sso(env, {"sub": "admin"})  # a sub that equals a user name is not a binding either
    assert name is None


@pytest.mark.parametrize("verified", [None, False, "true", 1, "yes"])
def test_sso_needs_an_explicitly_verified_email_for_the_first_binding(env, verified):
    claims = {"sub": "idp-42", "email": "reviewer@example.org"}
    if verified is not None:
        claims["email_verified"] = verified
    name, subjects = _sso(env, claims)
    assert name is None and subjects["reviewer"] is None


def test_sso_first_verified_login_binds_the_subject_once(env):
    name, subjects = _sso(env, {"sub": "idp-42", "email": "Reviewer@Example.org", "email_verified": True})
    assert name == "reviewer" and subjects["reviewer"] == "idp-42"
    # afterwards the subject alone decides, whatever the e-mail says now
    assert _sso(env, {"sub": "idp-42", "email": "changed@elsewhere.example"})[0] == "reviewer"
    # another subject with the same verified e-mail cannot take the account over
    name, subjects = _sso(env, {"sub": "idp-99", "email": "reviewer@example.org", "email_verified": True})
    assert name is None and subjects["reviewer"] == "idp-42"
    # no subject, no login
    assert _sso(env, {"email": "admin@example.org", "email_verified": True})[0] is None
    assert _sso(env, {"sub": "", "email": "admin@example.org", "email_verified": True})[0] is None


def test_sso_refuses_inactive_or_ambiguous_accounts(env):
    from knowledge_portal.models import User

    with env.app.app_context():
        db = _db()
        db.scalar(select(User).where(User.username == "sa-editor")).active = False
        db.scalar(select(User).where(User.username == "kw-editor")).email = "shared@example.org"
        db.scalar(select(User).where(User.username == "admin")).email = "shared@example.org"
        db.commit()
    assert _sso(env, {"sub": "s-1", "email": "sa-editor@example.org", "email_verified": True})[0] is None
    assert _sso(env, {"sub": "s-2", "email": "shared@example.org", "email_verified": True})[0] is None


def test_secretariat_binds_a_subject_by_hand(env):
    admin = env.client()
    login(admin, "admin")
    user_id = _users(env)["sa-editor"]
    token = csrf_from(admin, f"/en/admin/users/{user_id}")
    response = admin.post(
        f"/en/admin/users/{user_id}",
        data={
            "csrf_token": token,
            "username": "sa-editor",
            "role": "editor",
            "state_code": "SA",
            "email": "sa-editor@example.org",
            "active": "y",
            "oidc_subject": "corp-sa-7",
        },
    )
    assert response.status_code == 302
    assert _sso(env, {"sub": "corp-sa-7"})[0] == "sa-editor"


# --- 19: feeds never build links from the Host header ----------------------------------------------------------


def _feed_urls(body: bytes) -> list[str]:
    from xml.etree import ElementTree as ET

    atom = "{http://www.w3.org/2005/Atom}"
    root = ET.fromstring(body)
    urls = [link.get("href") for link in root.iter(f"{atom}link")]
    urls += [el.text for el in root.iter(f"{atom}id")]
    urls += [c.get("scheme") for c in root.iter(f"{atom}category") if c.get("scheme")]
    return urls


FEEDS = ("/en/feeds/practices.atom", "/ar/feeds/achievements.atom?state=KW", "/en/feeds/services.atom?state=KW")


def test_feeds_use_the_configured_site_url_not_a_forged_host(tmp_path):
    env = build_instance(tmp_path / "site", SITE_URL="https://portal.gcc.example/")
    client = env.client()
    for path in FEEDS:
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 200, path
        assert b"evil.example" not in response.data, path
        urls = _feed_urls(response.data)
        assert len(urls) > 3 and all(u.startswith("https://portal.gcc.example/") for u in urls), (path, urls[:5])
        assert "https://portal.gcc.example" + path in urls, path  # the self link


def test_feeds_without_a_site_url_still_ignore_the_host_header(portal_env):
    client = portal_env.client()
    for path in FEEDS:
        response = client.get(path, headers={"Host": "evil.example"})
        assert response.status_code == 200, path
        assert b"evil.example" not in response.data, path
        assert all(u.startswith("/") and not u.startswith("//") for u in _feed_urls(response.data)), path


def test_sso_redirect_uri_uses_the_site_url(tmp_path):
    from unittest import mock

    env = build_instance(
        tmp_path / "sso-site",
        demo=False,
        SITE_URL="https://portal.gcc.example",
        OIDC_ISSUER="http://127.0.0.1:9",
        OIDC_CLIENT_ID="x",
        OIDC_CLIENT_SECRET="y",
    )
    oauth = env.app.extensions["portal_oauth"]
    with mock.patch.object(oauth.sso, "authorize_redirect", return_value="ok") as redirect:
        env.client().get("/en/login/sso", headers={"Host": "evil.example"})
    assert redirect.call_args.args[0] == "https://portal.gcc.example/auth/oidc/callback"


# --- 18: bidi controls are stripped from user text; user text is isolated; Arabic file names are kept ----------

RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"
ALL_BIDI = "".join(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def test_strip_bidi_removes_every_embedding_override_and_isolate():
    from knowledge_portal.inputs import strip_bidi

    assert strip_bidi("a" + ALL_BIDI + "b") == "ab"
    assert strip_bidi("مرحبا\u200fworld\u200e") == "مرحبا\u200fworld\u200e"  # marks (RLM/LRM) stay
    assert strip_bidi(None) is None and strip_bidi(5) == 5


def test_admin_form_strips_bidi_controls_everywhere_they_show(env):
    admin = env.client()
    login(admin, "admin")
    token = csrf_from(admin, "/en/admin/practices/new")
    response = admin.post(
        "/en/admin/practices/new",
        data={
            "csrf_token": token,
            "public_id": "bidi-test",
            "state_code": "KW",
            "sector": "health",
            "year": "2016",
            "tags": f"{LRI}gpj.exe{PDI}, safe",
            "title_ar": f"عنوان{RLO}",
            "title_en": f"Invoice {RLO}fdp.exe",
            "summary_ar": "ملخص",
            "summary_en": f"Summary {RLO}x",
            "body_ar": "",
            "body_en": f"<p>{RLO}body</p>",
            "outcomes_ar": "",
            "outcomes_en": "",
            "source": "",
            "related": "",
        },
    )
    assert response.status_code == 302
    record_id = response.headers["Location"].rstrip("/").split("/")[-1]
    with env.app.app_context():
        from knowledge_portal.models import Practice

        p = _db().get(Practice, int(record_id))
        stored = " ".join([p.title_ar, p.title_en, p.summary_en, p.body_en, *p.tags])
    assert not any(ch in stored for ch in ALL_BIDI), stored
    assert "Invoice fdp.exe" in stored
    rtoken = csrf_from(admin, f"/en/admin/practices/{record_id}")
    admin.post(f"/en/admin/practices/{record_id}/publish", data={"csrf_token": rtoken})
    client = env.client()
    for path in (
        "/en/practices/bidi-test",
        "/en/practices/",
        "/en/feeds/practices.atom",
        "/api/v1/practices.csv",
        "/api/v1/practices/bidi-test",
    ):
        text = client.get(path).get_data(as_text=True)
        assert "fdp.exe" in text and not any(ch in text for ch in ALL_BIDI), path


def test_imports_strip_bidi_controls():
    from knowledge_portal.importer import validate_practice, validate_service_row

    values = validate_practice(
        {
            "id": "imp-1",
            "state": "KW",
            "sector": "health",
            "year": 2016,
            "tags": [f"{RLO}tag"],
            "title_ar": f"{RLO}عنوان",
            "title_en": f"T{LRI}itle{PDI}",
            "summary_en": f"{RLO}s",
            "body_en": f"<p>{RLO}b</p>",
        },
        ("KW",),
        SECTOR_CODES,
    )
    assert not any(ch in json.dumps(values, ensure_ascii=False) for ch in ALL_BIDI), values
    row = validate_service_row(
        {
            "name_ar": f"{RLO}خدمة",
            "name_en": f"Ser{RLO}vice",
            "agency_ar": "جهة",
            "agency_en": f"{LRI}Agency",
            "sector": "health",
            "maturity": "emerging",
        },
        "KW",
        SECTOR_CODES,
    )
    assert not any(ch in json.dumps(row, ensure_ascii=False, default=str) for ch in ALL_BIDI), row


def test_user_text_is_isolated_in_pages(portal_env):
    client = portal_env.client()
    page = client.get("/en/practices/").get_data(as_text=True)
    # every practice title link is a direction-isolated island
    titles = re.findall(r'<h3><a ([^>]*)href="/en/practices/[^"]+">', page)
    assert titles and all('dir="auto"' in attrs for attrs in titles), titles[:3]
    detail = client.get("/en/practices/kw-social-loan").get_data(as_text=True)
    assert re.search(r'<h1 dir="auto">', detail)
    tags = re.findall(r'<a class="tag"([^>]*)>', detail)
    assert tags and all('dir="auto"' in attrs for attrs in tags)
    home = client.get("/en/").get_data(as_text=True)
    links = re.findall(r'<a ([^>]*)href="/en/practices/[a-z0-9-]+">', home)
    assert links and all('dir="auto"' in attrs for attrs in links)
    achievements = client.get("/en/achievements/").get_data(as_text=True)
    assert re.search(r'<h3 dir="auto">', achievements)
    services = client.get("/en/services/?state=KW").get_data(as_text=True)
    names = re.findall(r'<tr><td class="service-name">(<a dir="auto" |<bdi>)', services)
    rows = re.findall(r'<tr><td class="service-name">', services)
    assert names and len(names) == len(rows), (len(names), len(rows))  # every service name (editors import them)


def test_arabic_upload_names_are_kept_and_dangerous_parts_dropped(env):
    from knowledge_portal.inputs import clean_filename

    assert clean_filename("تقرير الأداء ٢٠٢٤.pdf") == "تقرير الأداء ٢٠٢٤.pdf"
    assert clean_filename(f"../../x{RLO}fdp.exe") == "xfdp.exe"
    assert clean_filename("C:\\dir\\..\\.hidden.pdf") == "hidden.pdf"
    assert clean_filename("a\x00b\nc.pdf") == "abc.pdf"
    assert clean_filename("<script>.pdf") == "script.pdf"
    long = clean_filename("ا" * 400 + ".pdf")
    assert long.endswith(".pdf") and len(long) <= 200

    with env.app.app_context():
        from knowledge_portal.models import Practice

        record_id = _db().scalar(select(Practice.id).where(Practice.public_id == "kw-social-loan"))
    admin = env.client()
    login(admin, "admin")
    token = csrf_from(admin, f"/en/admin/practices/{record_id}")
    response = admin.post(
        f"/en/admin/practices/{record_id}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"%PDF-1.4 ar"), "تقرير ٢٠٢٤.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with env.app.app_context():
        from knowledge_portal.models import Attachment

        att = _db().scalar(select(Attachment).where(Attachment.practice_id == record_id))
        assert att.filename == "تقرير ٢٠٢٤.pdf"
        assert re.fullmatch(r"[0-9a-f]{32}\.pdf", att.stored_name)  # on disk under a random name
    page = env.client().get("/en/practices/kw-social-loan").get_data(as_text=True)
    assert "تقرير ٢٠٢٤.pdf" in page
    download = env.client().get(f"/en/practices/kw-social-loan/attachments/{att.id}")
    assert download.data == b"%PDF-1.4 ar"
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]


# --- permission matrix over every admin route --------------------------------------------------------------------

ROLES = ("anonymous", "reviewer", "other-editor", "editor", "admin")
ROLE_USER = {"reviewer": "reviewer", "other-editor": "sa-editor", "editor": "kw-editor", "admin": "admin"}
OK, LOGIN, DENY, HIDDEN = "ok", "login", "deny", "hidden"


def _expected(role: str, endpoint: str, method: str, slug: str | None, scope: str | None, action: str | None) -> str:
    """What ``role`` gets on one admin route (KeyError for a route nobody thought about: add it here).

    ``scope`` is whose record the URL names: ``"KW"`` (the editor's state) or ``"SA"`` (another state);
    the "other-editor" role is an SA editor, for whom the KW records are another state's.
    The moderated records used are published ones, so deletes by editors are refused.
    """
    from knowledge_portal.resources import RESOURCES
    from knowledge_portal.views.admin import TRANSITIONS

    if role == "anonymous":
        return LOGIN
    is_admin = role == "admin"
    is_editor = role in ("editor", "other-editor")
    own = scope is None or (role == "editor" and scope == "KW") or (role == "other-editor" and scope == "SA")
    resource = RESOURCES.get(slug) if slug else None
    state_scoped = resource is not None and resource.is_state_scoped()
    if endpoint == "admin.dashboard":
        return OK
    if endpoint in ("admin.audit_log", "admin.users", "admin.user_form", "admin.directory_upload"):
        return OK if is_admin else DENY
    if endpoint == "admin.import_services":
        return OK if is_admin or is_editor else DENY
    if resource is not None and resource.admin_only and not is_admin:
        return DENY
    hidden = is_editor and state_scoped and not own  # another state's record does not exist for an editor
    if endpoint == "admin.list_records":
        return OK
    if endpoint == "admin.create":
        return OK if is_admin or (is_editor and state_scoped) else DENY
    if endpoint in ("admin.edit", "admin.history"):
        if hidden:
            return HIDDEN
        if method == "POST" and endpoint == "admin.edit":
            return OK if is_admin or is_editor else DENY
        return OK
    if endpoint == "admin.delete":  # GET: the confirmation page; POST: the (soft) delete; same rule
        if not (is_admin or is_editor):
            return DENY
        if hidden:
            return HIDDEN
        if is_editor and resource is not None and resource.workflow:
            return DENY  # the demo records are published: only the secretariat deletes them
        return OK
    if endpoint == "admin.restore":  # POST only; the matrix's records are not deleted: allowed means 409
        if slug == "states":
            return HIDDEN  # member states are not soft-deleted, so there is nothing to restore
        if not (is_admin or is_editor):
            return DENY
        if hidden:
            return HIDDEN
        if is_editor and resource is not None and resource.workflow:
            return DENY  # restore follows the delete rule: published records are the secretariat's
        return OK
    if endpoint == "admin.moderate":
        if resource is None or not resource.workflow:
            return HIDDEN
        roles = TRANSITIONS[action][0]
        if role.replace("other-", "") not in roles:
            return DENY
        return HIDDEN if hidden else OK
    if endpoint == "admin.upload_attachment":
        if not (is_admin or is_editor):
            return DENY
        return HIDDEN if hidden else OK
    raise KeyError(endpoint)


def _record_ids(env) -> dict[tuple[str, str | None], str]:
    """(slug, scope) -> a record id in the URL: KW's and SA's record for state-scoped resources."""
    from knowledge_portal.models import User
    from knowledge_portal.resources import RESOURCES

    out: dict[tuple[str, str | None], str] = {}
    with env.app.app_context():
        db = _db()
        for slug, resource in RESOURCES.items():
            model = resource.model
            if slug == "states":
                out[(slug, None)] = "KW"
            elif resource.state_field:
                for cc in ("KW", "SA"):
                    query = select(model.id).where(getattr(model, resource.state_field) == cc)
                    if resource.workflow:
                        query = query.where(model.status == "published")  # what _expected assumes
                    rid = db.scalar(query.order_by(model.id))
                    assert rid is not None, (slug, cc)
                    out[(slug, cc)] = str(rid)
            else:
                rid = db.scalar(select(model.id).order_by(model.id))
                if rid is None:  # e.g. no tag labels in the demo: make one
                    obj = model(slug="matrix-tag", label_ar="وسم", label_en="tag")
                    db.add(obj)
                    db.commit()
                    rid = obj.id
                out[(slug, None)] = str(rid)
        out[("user", None)] = str(db.scalar(select(User.id).where(User.username == "sa-editor")))
    return out


def _admin_requests(env) -> list[tuple[str, str, str, str | None, str | None, str | None]]:
    """Every (url, method, endpoint, slug, scope, action) for every admin rule; deletes last."""
    from knowledge_portal.resources import RESOURCES
    from knowledge_portal.views.admin import TRANSITIONS

    ids = _record_ids(env)
    out = []
    rules = [r for r in env.app.url_map.iter_rules() if r.endpoint.startswith("admin.")]
    assert len(rules) >= 12
    for rule in rules:
        args = rule.arguments - {"lang"}
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        variants: list[dict] = [{}]
        if "slug" in args:
            variants = [{"slug": s} for s in RESOURCES]
        if "record_id" in args:
            expanded = []
            for v in variants:
                slug = v.get("slug", "practices")
                scopes = ("KW", "SA") if RESOURCES[slug].state_field else (None,)
                expanded += [{**v, "record_id": ids[(slug, sc)], "_scope": sc, "_slug": slug} for sc in scopes]
            variants = expanded
        if "action" in args:
            variants = [{**v, "action": a} for v in variants for a in TRANSITIONS]
        if "user_id" in args:
            variants = [{**v, "user_id": ids[("user", None)]} for v in variants]
        unknown = args - {"slug", "record_id", "action", "user_id"}
        assert not unknown, f"{rule.rule}: teach the matrix about {unknown}"
        for v in variants:
            values = {k: val for k, val in v.items() if not k.startswith("_")}
            url = rule.build({"lang": "en", **values}, append_unknown=False)[1]
            for method in methods:
                out.append(
                    (url, method, rule.endpoint, v.get("_slug", v.get("slug")), v.get("_scope"), v.get("action"))
                )
    out.sort(key=lambda r: r[2] == "admin.delete")
    return out


@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix_over_every_admin_route(tmp_path, role):
    env = build_instance(tmp_path / role)
    client = env.client(ip=f"10.70.0.{ROLES.index(role)}")
    if role == "anonymous":
        token = csrf_from(client, "/en/login")
    else:
        login(client, ROLE_USER[role])
        token = csrf_from(client, "/en/admin/")
    wrong = []
    requests_made = 0
    for url, method, endpoint, slug, scope, action in _admin_requests(env):
        want = _expected(role, endpoint, method, slug, scope, action)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token})
        requests_made += 1
        status = response.status_code
        location = response.headers.get("Location", "")
        got = (
            LOGIN
            if status == 302 and "/login" in location
            else DENY
            if status == 403
            else HIDDEN
            if status == 404
            else OK
            if status in (200, 302, 400, 409, 422)
            else f"status {status}"
        )
        if got != want:
            wrong.append(f"{role} {method} {url} ({endpoint}): expected {want}, got {got} ({status})")
    assert requests_made > 100
    assert not wrong, "\n".join(wrong[:30])


@pytest.mark.parametrize("year", ["٢٠١٦", "²", "2016²", "9" * 5000, "2_016", " 2016x"])
def test_admin_integer_fields_take_ascii_digits_only(env, year):
    admin = env.client()
    login(admin, "admin")
    token = csrf_from(admin, "/en/admin/standards/new")
    data = {
        "csrf_token": token,
        "code": "STD-X",
        "category": "portals",
        "title_ar": "معيار",
        "title_en": "Standard",
        "body_ar": "",
        "body_en": "",
    }
    response = admin.post("/en/admin/standards/new", data={**data, "year": year})
    assert response.status_code == 400, year[:10]
    assert admin.post("/en/admin/standards/new", data={**data, "year": "2016"}).status_code == 302


def test_neutralised_service_csv_round_trips_through_the_import():
    from knowledge_portal.importer import validate_service_row
    from knowledge_portal.serialize import csv_cell

    row = {
        "name_ar": csv_cell("-خدمة"),
        "name_en": csv_cell("=Service"),
        "agency_ar": "جهة",
        "agency_en": csv_cell("@Agency"),
        "sector": "health",
        "maturity": "emerging",
    }
    values = validate_service_row(row, "KW", SECTOR_CODES)
    assert (values["name_ar"], values["name_en"], values["agency_en"]) == ("-خدمة", "=Service", "@Agency")
    # a quote the author meant stays
    assert validate_service_row({**row, "name_en": "'quoted'"}, "KW", SECTOR_CODES)["name_en"] == "'quoted'"
