"""Single sign-on against a real OpenID Connect provider (npm ``oidc-provider`` on 127.0.0.1).

The provider is installed with npm into ``.venv/oidc-provider/`` when missing and
started by the test, which stops it by PID. Skips only where node or npm are absent.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from portalkit import build_instance, stop_process

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".venv" / "oidc-provider"
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
CLIENT_ID, CLIENT_SECRET = "gcc-portal", "portal-test-secret-0123456789abcdef"
REDIRECT_URI = "http://localhost/auth/oidc/callback"  # the Flask test client's external URL

if not (shutil.which("node") and shutil.which("npm")):
    pytest.skip("node/npm not found: the OIDC test needs the npm package oidc-provider", allow_module_level=True)


def _ensure_provider_package() -> None:
    if (CACHE / "node_modules" / "oidc-provider" / "package.json").exists():
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (CACHE / "package.json").exists():
        (CACHE / "package.json").write_text('{"private": true, "type": "module"}\n')
    result = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "oidc-provider@9"],
        cwd=CACHE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.skip(f"could not install oidc-provider with npm: {result.stderr.strip()[-300:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def provider():
    _ensure_provider_package()
    port = _free_port()
    script = CACHE / SCRIPT.name
    shutil.copyfile(SCRIPT, script)  # resolve 'oidc-provider' from the cache's node_modules
    env = dict(
        os.environ,
        OIDC_PORT=str(port),
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_REDIRECT_URI=REDIRECT_URI,
        NODE_ENV="test",
    )
    proc = subprocess.Popen(
        ["node", str(script)], cwd=CACHE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        issuer = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(issuer + "/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("oidc-provider did not start: " + (proc.stderr.read() if proc.poll() is not None else ""))
            time.sleep(0.2)
        yield issuer
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def sso_env(provider, tmp_path_factory):
    return build_instance(
        tmp_path_factory.mktemp("sso"), OIDC_ISSUER=provider, OIDC_CLIENT_ID=CLIENT_ID, OIDC_CLIENT_SECRET=CLIENT_SECRET
    )


def _sign_in_at_provider(start_url: str, login: str, issuer: str) -> str:
    """Walk the provider's login and consent forms like a browser; return the redirect back to the portal."""
    browser = requests.Session()
    url, method, data = start_url, "GET", None
    for _ in range(20):  # bounded: authorize, login, resume, consent, resume
        response = browser.request(method, url, data=data, allow_redirects=False, timeout=10)
        if response.is_redirect:
            location = urljoin(url, response.headers["Location"])
            if location.startswith(REDIRECT_URI):
                return location
            url, method, data = location, "GET", None
            continue
        assert response.status_code == 200, response.text[:500]
        form = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post">(.*?)</form>', response.text, re.S)
        assert form, response.text[:500]
        fields = dict(re.findall(r'<input[^>]*type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
        if 'name="login"' in form.group(2):
            fields.update(login=login, password="any-password")
        url, method, data = urljoin(issuer, form.group(1)), "POST", fields
    raise AssertionError("no redirect back to the portal")


def test_sso_login_for_a_provisioned_account(sso_env, provider):
    client = sso_env.client()
    assert "Log in with single sign-on" in client.get("/en/login").get_data(as_text=True)
    start = client.get("/en/login/sso")
    assert start.status_code == 302 and start.headers["Location"].startswith(provider + "/auth")
    assert "code_challenge=" in start.headers["Location"]  # PKCE
    callback = _sign_in_at_provider(start.headers["Location"], "reviewer", provider)
    parts = urlsplit(callback)
    done = client.get(parts.path + "?" + parts.query)
    assert done.status_code == 302 and done.headers["Location"].endswith("/en/admin/")
    page = client.get("/en/admin/").get_data(as_text=True)
    assert "Logged in as reviewer" in page
    with sso_env.app.app_context():
        from sqlalchemy import select

        from knowledge_portal.db import get_session
        from knowledge_portal.models import AuditEntry, User

        user = get_session().scalar(select(User).where(User.username == "reviewer"))
        assert user.oidc_subject == "reviewer"
        assert get_session().scalar(select(AuditEntry).where(AuditEntry.action == "login_sso")) is not None


def test_sso_refuses_unknown_accounts_and_forged_callbacks(sso_env, provider):
    client = sso_env.client()
    start = client.get("/ar/login/sso")
    callback = _sign_in_at_provider(start.headers["Location"], "stranger", provider)
    parts = urlsplit(callback)
    refused = client.get(parts.path + "?" + parts.query)
    assert refused.status_code == 403
    assert client.get("/ar/admin/").status_code == 302
    forged = sso_env.client().get("/auth/oidc/callback?code=abc&state=forged")
    assert forged.status_code == 400
