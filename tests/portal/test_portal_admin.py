"""Admin: login, rate limit, CSRF, roles, state isolation of editors, moderation, revisions, audit, imports."""

from __future__ import annotations

import logging
import re

import pytest
from portalkit import PASSWORDS, build_instance, csrf_from, login
from sqlalchemy import select


@pytest.fixture()
def env(tmp_path):
    """A function-scoped instance: these tests change data."""
    return build_instance(tmp_path / "inst")


def _db(env):
    from knowledge_portal.db import get_session

    return get_session()


def _practice_form(token: str, **overrides):
    data = {
        "csrf_token": token,
        "public_id": "test-practice",
        "state_code": "KW",
        "sector": "health",
        "year": "2016",
        "tags": "telehealth, pilot",
        "title_ar": "الطب عن بعد",
        "title_en": "Telehealth pilot",
        "summary_ar": "ملخص",
        "summary_en": "A telehealth pilot summary",
        "body_ar": "<p>نص</p>",
        "body_en": '<p>Body <script>alert(1)</script><a href="javascript:x()">x</a></p>',
        "outcomes_ar": "",
        "outcomes_en": "",
        "source": "",
        "related": "kw-social-loan",
    }
    data.update(overrides)
    return data


def test_login_page_and_wrong_password(env):
    client = env.client()
    token = csrf_from(client, "/en/login")
    response = client.post("/en/login", data={"username": "admin", "password": "wrong", "csrf_token": token})
    assert response.status_code == 401 and "Wrong user name or password." in response.get_data(as_text=True)
    assert client.get("/en/admin/").status_code == 302


def test_login_sets_secure_session_cookie_flags(env):
    client = env.client()
    token = csrf_from(client, "/en/login")
    response = client.post("/en/login", data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/en/admin/").status_code == 200


def test_https_instance_marks_cookies_secure(tmp_path):
    env = build_instance(tmp_path / "tls", demo=False, PREFERRED_URL_SCHEME="https")
    client = env.client()
    page = client.get("/en/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(
        "/en/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/en/login"},
        data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token},
    )
    assert response.status_code == 302
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "Secure" in session_cookie and "HttpOnly" in session_cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_login_is_rate_limited(env):
    client = env.client(ip="10.0.0.9")
    token = csrf_from(client, "/en/login")
    for _ in range(5):
        assert (
            client.post("/en/login", data={"username": "reviewer", "password": "nope", "csrf_token": token}).status_code
            == 401
        )
    blocked = client.post(
        "/en/login", data={"username": "reviewer", "password": PASSWORDS["reviewer"], "csrf_token": token}
    )
    assert blocked.status_code == 429  # even the right password waits
    # another address and user are not affected
    other = env.client(ip="10.0.0.10")
    login(other, "admin")


def test_forms_require_csrf(env):
    client = env.client()
    login(client, "admin")
    response = client.post("/en/admin/practices/new", data=_practice_form("forged"))
    assert response.status_code == 400 and "csrf_failed" in response.get_data(as_text=True)
    assert client.post("/en/login", data={"username": "admin", "password": PASSWORDS["admin"]}).status_code == 400


def test_passwords_never_reach_logs_or_audit(env, caplog):
    caplog.set_level(logging.DEBUG)
    client = env.client()
    token = csrf_from(client, "/en/login")
    client.post("/en/login", data={"username": "admin", "password": "Sup3r-secret-guess", "csrf_token": token})
    login(client, "admin")
    assert "Sup3r-secret-guess" not in caplog.text and PASSWORDS["admin"] not in caplog.text
    with env.app.app_context():
        from knowledge_portal.models import AuditEntry

        entries = _db(env).scalars(select(AuditEntry)).all()
        assert {"login_failed", "login"} <= {e.action for e in entries}
        assert all("Sup3r" not in str(e.details) for e in entries)
    secret_file = env.instance / "secret_key"
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    assert secret_file.read_text().strip() not in caplog.text


def test_editor_never_reaches_another_states_records(env):
    client = env.client()
    login(client, "kw-editor")
    with env.app.app_context():
        from knowledge_portal.models import Achievement, Practice, Service

        db = _db(env)
        sa_service = db.scalar(select(Service).where(Service.state_code == "SA"))
        sa_practice = db.scalar(select(Practice).where(Practice.state_code == "SA"))
        sa_achievement = db.scalar(select(Achievement).where(Achievement.state_code == "SA"))
        kw_service = db.scalar(select(Service).where(Service.state_code == "KW"))
        regional = db.scalar(select(Practice).where(Practice.state_code.is_(None)))
    # lists show only Kuwait's records
    listing = client.get("/en/admin/services/").get_data(as_text=True)
    assert "<td>KW</td>" in listing and "<td>SA</td>" not in listing
    # every route to another state's record answers as if it did not exist
    token = csrf_from(client, f"/en/admin/services/{kw_service.id}")
    for slug, obj in (
        ("services", sa_service),
        ("practices", sa_practice),
        ("achievements", sa_achievement),
        ("practices", regional),
    ):
        assert client.get(f"/en/admin/{slug}/{obj.id}").status_code == 404
        assert client.get(f"/en/admin/{slug}/{obj.id}/history").status_code == 404
        assert client.post(f"/en/admin/{slug}/{obj.id}", data={"csrf_token": token}).status_code == 404
        assert client.post(f"/en/admin/{slug}/{obj.id}/delete", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/en/admin/practices/{sa_practice.id}/submit", data={"csrf_token": token}).status_code == 404
    import io

    upload = client.post(
        f"/en/admin/practices/{sa_practice.id}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"%PDF"), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 404
    # secretariat-only resources are forbidden
    assert client.get("/en/admin/states/").status_code == 403
    assert client.get("/en/admin/audit").status_code == 403
    assert client.get("/en/admin/users/").status_code == 403
    # creating a record for another state still lands in the editor's own state
    token = csrf_from(client, "/en/admin/practices/new")
    response = client.post("/en/admin/practices/new", data=_practice_form(token, state_code="SA"))
    assert response.status_code in (302, 400)
    with env.app.app_context():
        from knowledge_portal.models import Practice

        created = _db(env).scalar(select(Practice).where(Practice.public_id == "test-practice"))
        assert created is None or created.state_code == "KW"


def test_editor_cannot_publish_and_reviewer_cannot_edit(env):
    editor = env.client()
    login(editor, "kw-editor")
    token = csrf_from(editor, "/en/admin/practices/new")
    response = editor.post("/en/admin/practices/new", data=_practice_form(token))
    assert response.status_code == 302
    practice_url = response.headers["Location"]
    record_id = practice_url.rstrip("/").split("/")[-1]
    assert editor.post(f"/en/admin/practices/{record_id}/publish", data={"csrf_token": token}).status_code == 403
    reviewer = env.client()
    login(reviewer, "reviewer")
    rtoken = csrf_from(reviewer, "/en/admin/")
    assert reviewer.get("/en/admin/practices/new").status_code == 403
    assert reviewer.post(f"/en/admin/practices/{record_id}", data=_practice_form(rtoken)).status_code == 403
    # a reviewer may not publish a draft that was never submitted
    assert reviewer.post(f"/en/admin/practices/{record_id}/publish", data={"csrf_token": rtoken}).status_code == 409


def test_moderation_workflow_publishes_to_site_and_search(env):
    editor = env.client()
    login(editor, "kw-editor")
    token = csrf_from(editor, "/en/admin/practices/new")
    response = editor.post("/en/admin/practices/new", data=_practice_form(token))
    record_id = response.headers["Location"].rstrip("/").split("/")[-1]
    public = env.client()
    assert public.get("/en/practices/test-practice").status_code == 404  # draft is not public
    assert editor.post(f"/en/admin/practices/{record_id}/submit", data={"csrf_token": token}).status_code == 302

    reviewer = env.client()
    login(reviewer, "reviewer")
    rtoken = csrf_from(reviewer, "/en/admin/")
    queue = reviewer.get("/en/admin/").get_data(as_text=True)
    assert "Telehealth pilot" in queue
    # returning needs a comment
    reviewer.post(f"/en/admin/practices/{record_id}/return", data={"csrf_token": rtoken, "comment": ""})
    assert (
        "Returned"
        not in reviewer.get(f"/en/admin/practices/{record_id}").get_data(as_text=True).split("Status:")[1][:200]
    )
    reviewer.post(
        f"/en/admin/practices/{record_id}/return", data={"csrf_token": rtoken, "comment": "Please add outcomes"}
    )
    page = editor.get(f"/en/admin/practices/{record_id}").get_data(as_text=True)
    assert "Please add outcomes" in page and "status-returned" in page
    editor.post(f"/en/admin/practices/{record_id}/submit", data={"csrf_token": token})
    assert reviewer.post(f"/en/admin/practices/{record_id}/publish", data={"csrf_token": rtoken}).status_code == 302

    html = public.get("/en/practices/test-practice").get_data(as_text=True)
    assert "Telehealth pilot" in html
    assert "<script" not in html and "javascript:" not in html  # sanitised rich text
    assert 'href="/en/practices/kw-social-loan"' in html  # related practice kept
    hits = public.get("/api/v1/search?q=telehealth&lang=en").get_json()
    assert [r["id"] for r in hits["results"]] == ["test-practice"]

    reviewer.post(f"/en/admin/practices/{record_id}/unpublish", data={"csrf_token": rtoken})
    assert public.get("/en/practices/test-practice").status_code == 404
    assert public.get("/api/v1/search?q=telehealth&lang=en").get_json()["total"] == 0

    # revision history and audit log recorded every step
    admin = env.client()
    login(admin, "admin")
    history = admin.get(f"/en/admin/practices/{record_id}/history").get_data(as_text=True)
    for step in (
        "Created",
        "Submitted for review",
        "Returned with comment: Please add outcomes",
        "Published",
        "Unpublished",
    ):
        assert step in history
    # each moderation step shows what it changed, by the field's label
    assert 'Changed: <span class="field-name" data-field="status">Status</span>' in history
    audit = admin.get("/en/admin/audit").get_data(as_text=True)
    for action in ("create", "submit", "return", "publish", "unpublish"):
        assert f'data-code="{action}"' in audit
    assert "kw-editor" in audit and "reviewer" in audit


def test_editor_change_to_published_record_goes_back_to_review(env):
    admin = env.client()
    login(admin, "admin")
    with env.app.app_context():
        from knowledge_portal.models import Practice

        p = _db(env).scalar(select(Practice).where(Practice.public_id == "kw-fire-kiosks"))
        record_id = p.id
    editor = env.client()
    login(editor, "kw-editor")
    form = editor.get(f"/en/admin/practices/{record_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    data = _practice_form(
        token, public_id="kw-fire-kiosks", sector="interior", title_en="Fire kiosks (edited)", related=""
    )
    assert editor.post(f"/en/admin/practices/{record_id}", data=data).status_code == 302
    with env.app.app_context():
        from knowledge_portal.models import Practice

        p = _db(env).get(Practice, record_id)
        assert p.status == "submitted" and p.title_en == "Fire kiosks (edited)" and "<script" not in p.body_en
    assert env.client().get("/en/practices/kw-fire-kiosks").status_code == 404


def test_admin_crud_on_secretariat_resources(env):
    admin = env.client()
    login(admin, "admin")
    token = csrf_from(admin, "/en/admin/standards/new")
    response = admin.post(
        "/en/admin/standards/new",
        data={
            "csrf_token": token,
            "code": "GCC-TEST-01",
            "category": "security",
            "year": "2016",
            "title_ar": "معيار اختبار",
            "title_en": "Test standard",
            "body_ar": "",
            "body_en": "",
        },
    )
    assert response.status_code == 302
    assert "Test standard" in env.client().get("/en/standards/").get_data(as_text=True)
    # invalid input: a clear form error, not a 500
    bad = admin.post(
        "/en/admin/standards/new",
        data={"csrf_token": token, "code": "", "category": "nope", "year": "x", "title_ar": "", "title_en": ""},
    )
    assert bad.status_code == 400 and 'class="error"' in bad.get_data(as_text=True)
    # duplicate identifier
    dup = admin.post(
        "/en/admin/standards/new",
        data={
            "csrf_token": token,
            "code": "GCC-TEST-01",
            "category": "security",
            "year": "2016",
            "title_ar": "x",
            "title_en": "y",
        },
    )
    assert dup.status_code == 409
    # state edit with EGDI ranks
    page = admin.get("/en/admin/states/KW").get_data(as_text=True)
    assert "2014: 49" in page
    award = admin.get("/en/admin/awards/").get_data(as_text=True)
    assert "2015" in award
    edit_bad = admin.post(
        "/en/admin/awards/1",
        data={"csrf_token": token, "year": "2010", "host_code": "OM", "winners": "only | three | parts"},
    )
    assert edit_bad.status_code == 400


def test_service_csv_import_reports_rows(env):
    editor = env.client()
    login(editor, "kw-editor")
    token = csrf_from(editor, "/en/admin/services/import")
    header = "state,agency_ar,agency_en,sector,name_ar,name_en,maturity,channels,e_payment,end_to_end,ministry_priority,launch_phase,cross_border,evidence_url,as_of\n"
    rows = (
        "KW,وزارة الصحة,Ministry of Health,health,تجديد البطاقة الصحية,Health card renewal,transactional,web;mobile,true,true,false,2,false,https://example.org/x,2016-01-31\n"
        "KW,وزارة العدل,Ministry of Justice,justice,توكيل,Power of attorney,galactic,web,true,true,false,1,false,,\n"
        "SA,وزارة,Ministry,health,خدمة,Some service,emerging,web,false,false,false,1,false,,\n"
        "KW,وزارة,Ministry,health,خدمة,Bad date,emerging,web,false,false,false,1,false,,31/01/2016\n"
    )
    import io

    response = editor.post(
        "/en/admin/services/import",
        data={"csrf_token": token, "file": (io.BytesIO((header + rows).encode()), "kw.csv")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "1 service added" in html and "3 rows rejected" in html
    assert "<td>3</td>" in html and "maturity must be one of" in html
    assert "<td>4</td>" in html and "is not &#39;KW&#39;" in html
    assert "<td>5</td>" in html and "as_of must be a date" in html
    services = env.client().get("/api/v1/services?state=KW&per_page=100").get_json()
    assert "Health card renewal" in [s["name"]["en"] for s in services["results"]]
    # re-import updates instead of duplicating
    again = editor.post(
        "/en/admin/services/import",
        data={"csrf_token": token, "file": (io.BytesIO((header + rows.splitlines()[0] + "\n").encode()), "kw.csv")},
        content_type="multipart/form-data",
    )
    assert again.status_code == 200 and "1 service updated" in again.get_data(as_text=True)


def test_attachment_upload_and_download(env):
    import io

    admin = env.client()
    login(admin, "admin")
    with env.app.app_context():
        from knowledge_portal.models import Practice

        record_id = _db(env).scalar(select(Practice.id).where(Practice.public_id == "kw-social-loan"))
    token = csrf_from(admin, f"/en/admin/practices/{record_id}")
    response = admin.post(
        f"/en/admin/practices/{record_id}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"%PDF-1.4 demo"), "../../report.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    refused = admin.post(
        f"/en/admin/practices/{record_id}/attachments",
        data={"csrf_token": token, "file": (io.BytesIO(b"<html>"), "x.html")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 302
    page = env.client().get("/en/practices/kw-social-loan").get_data(as_text=True)
    link = re.search(r'href="(/en/practices/kw-social-loan/attachments/\d+)">report.pdf', page)
    assert link and "x.html" not in page
    download = env.client().get(link.group(1))
    assert download.data == b"%PDF-1.4 demo" and "attachment" in download.headers["Content-Disposition"]


def test_logout_requires_post_with_csrf(env):
    client = env.client()
    login(client, "admin")
    assert client.get("/en/logout").status_code == 405
    token = csrf_from(client, "/en/admin/")
    assert client.post("/en/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/en/admin/").status_code == 302


def test_secretariat_manages_accounts(env):
    admin = env.client()
    login(admin, "admin")
    token = csrf_from(admin, "/en/admin/users/new")
    # an editor without a state is refused with a form error
    bad = admin.post(
        "/en/admin/users/new",
        data={"csrf_token": token, "username": "om-editor", "role": "editor", "state_code": "", "active": "y"},
    )
    assert bad.status_code == 400 and "needs a member state" in bad.get_data(as_text=True)
    created = admin.post(
        "/en/admin/users/new",
        data={
            "csrf_token": token,
            "username": "om-editor",
            "role": "editor",
            "state_code": "OM",
            "email": "om@example.org",
            "active": "y",
        },
    )
    assert created.status_code == 302
    page = admin.get(created.headers["Location"]).get_data(as_text=True)
    password = re.search(r"Generated password, shown only now: ([A-Za-z0-9_-]+)<", page).group(1)
    editor = env.client(ip="10.1.1.1")
    token2 = csrf_from(editor, "/en/login")
    ok = editor.post("/en/login", data={"username": "om-editor", "password": password, "csrf_token": token2})
    assert ok.status_code == 302
    assert "<td>OM</td>" in editor.get("/en/admin/services/").get_data(as_text=True)
    # deactivating the account ends its access at once
    user_id = created.headers["Location"].rstrip("/").split("/")[-1]
    admin.post(
        f"/en/admin/users/{user_id}",
        data={
            "csrf_token": token,
            "username": "om-editor",
            "role": "editor",
            "state_code": "OM",
            "email": "om@example.org",
        },
    )
    assert editor.get("/en/admin/").status_code == 302
    audit = admin.get("/en/admin/audit").get_data(as_text=True)
    assert 'data-code="user_create"' in audit and 'data-code="user_update"' in audit and password not in audit
    # only the secretariat manages accounts
    reviewer = env.client()
    login(reviewer, "reviewer")
    assert reviewer.get("/en/admin/users/new").status_code == 403


def test_login_redirect_stays_on_this_site(env):
    client = env.client()
    for target, expected in (
        ("/en/admin/audit", "/en/admin/audit"),
        ("//evil.example/x", "/en/admin/"),
        ("/\\evil.example", "/en/admin/"),
        ("https://evil.example/", "/en/admin/"),
    ):
        token = csrf_from(client, "/en/login")
        response = client.post(
            "/en/login",
            query_string={"next": target},
            data={"username": "admin", "password": PASSWORDS["admin"], "csrf_token": token},
        )
        assert response.headers["Location"] == expected, target


def test_behind_a_tls_proxy_hsts_and_secure_cookies(tmp_path):
    env = build_instance(tmp_path / "proxy", demo=False, PROXY_COUNT=1, SESSION_COOKIE_SECURE=True)
    response = env.client().get("/en/", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in response.headers["Set-Cookie"]  # the language cookie too


def test_achievements_are_moderated_too(env):
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
            "title_ar": "خدمة جديدة",
            "title_en": "A new moderated service",
            "body_ar": "",
            "body_en": "",
            "source": "",
        },
    )
    assert response.status_code == 302
    record_id = response.headers["Location"].rstrip("/").split("/")[-1]
    public = env.client()
    assert "A new moderated service" not in public.get("/en/achievements/").get_data(as_text=True)
    editor.post(f"/en/admin/achievements/{record_id}/submit", data={"csrf_token": token})
    reviewer = env.client()
    login(reviewer, "reviewer")
    rtoken = csrf_from(reviewer, "/en/admin/")
    assert reviewer.post(f"/en/admin/achievements/{record_id}/publish", data={"csrf_token": rtoken}).status_code == 302
    assert "A new moderated service" in public.get("/en/achievements/?state=KW&year=2016").get_data(as_text=True)
    feed = public.get("/en/feeds/achievements.atom?state=KW").get_data(as_text=True)
    assert "A new moderated service" in feed


def test_oversized_upload_is_refused_cleanly(tmp_path):
    import io

    env = build_instance(tmp_path / "small", MAX_CONTENT_LENGTH=1024)
    admin = env.client()
    login(admin, "admin")
    token = csrf_from(admin, "/en/admin/services/import")
    response = admin.post(
        "/en/admin/services/import",
        data={"csrf_token": token, "state": "KW", "file": (io.BytesIO(b"x" * 5000), "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413 and "too_large" in response.get_data(as_text=True)


def test_editor_updates_own_service_with_channels(env):
    editor = env.client()
    login(editor, "kw-editor")
    with env.app.app_context():
        from knowledge_portal.models import Service

        service = _db(env).scalar(
            select(Service).where(Service.state_code == "KW", Service.name_en == "Health card renewal")
        ) or _db(env).scalar(select(Service).where(Service.state_code == "KW"))
        service_id = service.id
    page = editor.get(f"/en/admin/services/{service_id}").get_data(as_text=True)
    assert 'type="checkbox"' in page and 'name="channels"' in page
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = editor.post(
        f"/en/admin/services/{service_id}",
        data={
            "csrf_token": token,
            "state_code": "KW",
            "agency_ar": "جهة",
            "agency_en": "Agency",
            "sector": "health",
            "name_ar": "خدمة محدثة",
            "name_en": "Updated service",
            "maturity": "connected",
            "channels": ["web", "kiosk"],
            "e_payment": "y",
            "launch_phase": "2",
            "cross_border": "y",
            "evidence_url": "https://example.org/evidence",
            "as_of": "2016-03-01",
            "source": "",
        },
    )
    assert response.status_code == 302
    data = env.client().get("/api/v1/services?state=KW&per_page=100").get_json()
    updated = next(s for s in data["results"] if s["id"] == service_id)
    assert updated["channels"] == ["web", "kiosk"] and updated["cross_border"] and updated["e_payment"]
    assert updated["end_to_end"] is False and updated["as_of"] == "2016-03-01"
    bad = editor.post(
        f"/en/admin/services/{service_id}",
        data={
            "csrf_token": token,
            "state_code": "KW",
            "agency_ar": "x",
            "agency_en": "x",
            "sector": "health",
            "name_ar": "x",
            "name_en": "x",
            "maturity": "mythical",
            "channels": ["telepathy"],
            "as_of": "yesterday",
            "evidence_url": "not a url",
            "launch_phase": "-3",
        },
    )
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert html.count('class="error"') >= 4
