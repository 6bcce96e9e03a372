"""Shared helpers for portal tests: a real instance folder (SQLite file, whoosh index) with demo content.

Instances are built once per module (``portal_env``) because building one
costs about a second; tests that change data use their own records or a
function-scoped instance.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from knowledge_portal import create_app

PASSWORDS = {
    "admin": "admin-pass-0123456789",
    "kw-editor": "kw-editor-pass-0123456789",
    "sa-editor": "sa-editor-pass-0123456789",
    "reviewer": "reviewer-pass-0123456789",
}


@dataclass
class PortalEnv:
    app: Flask
    instance: Path

    def client(self, ip: str = "127.0.0.1") -> FlaskClient:
        client = self.app.test_client()
        client.environ_base["REMOTE_ADDR"] = ip
        return client


def build_instance(instance: Path, demo: bool = True, **config: Any) -> PortalEnv:
    """A fresh portal on a real instance folder: migrated schema, demo data, four users, a built search index.

    Migrates explicitly, as ``gcc-link portal init``/``run`` do: ``create_app`` never changes the schema.
    """
    from knowledge_portal.config import load_config
    from knowledge_portal.db import get_session, migrate
    from knowledge_portal.demo import load_demo
    from knowledge_portal.indexing import reindex_all
    from knowledge_portal.models import User
    from knowledge_portal.security import hash_password

    settings = {"INSTANCE_DIR": str(instance), "TESTING": False}
    settings.update(config)
    portal_config = load_config(settings)
    migrate(portal_config.database_url)
    app = create_app(portal_config)
    with app.app_context():
        db = get_session()
        if demo:
            load_demo(db)
        for name, role, state in (
            ("admin", "admin", None),
            ("kw-editor", "editor", "KW"),
            ("sa-editor", "editor", "SA"),
            ("reviewer", "reviewer", None),
        ):
            if state and not demo:
                continue  # editors need their state's record
            db.add(
                User(
                    username=name,
                    role=role,
                    state_code=state,
                    password_hash=hash_password(PASSWORDS[name]),
                    email=f"{name}@example.org",
                )
            )
        db.commit()
        reindex_all(db)
    return PortalEnv(app, instance)


_CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_from(client: FlaskClient, url: str) -> str:
    """The CSRF token of the form on ``url`` (forms are CSRF-protected in tests too)."""
    response = client.get(url)
    match = _CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {url} (status {response.status_code})"
    return match.group(1)


def login(client: FlaskClient, username: str, lang: str = "en") -> None:
    token = csrf_from(client, f"/{lang}/login")
    response = client.post(
        f"/{lang}/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """Stop a server the test started, by its PID: SIGTERM, then SIGKILL after 10 s."""
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
