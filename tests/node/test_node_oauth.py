"""OAuth: private_key_jwt client authentication (RFC 7523) with jti replay refused; client CLI."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.node.nodeharness import gcc_link

pytestmark = pytest.mark.slow


def assertion(key, client_id: str, aud: str, **extra) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": int(time.time()),
              "exp": int(time.time()) + 60, "jti": str(uuid.uuid4()), **extra}
    return jwt.encode({"alg": "ES256"}, claims, ECKey.import_key(key))


def token_request(url: str, signed: str) -> requests.Response:
    return requests.post(url, timeout=10, data={
        "grant_type": "client_credentials", "scope": "messages:read",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed})


def test_private_key_jwt_and_replay(pair, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "pub.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    out = gcc_link("client", "create", "--config", str(pair.fed.configs["KW"]), "--agency", "KW/MOI",
                   "--public-key", str(pub), "--json")
    client = json.loads(out.stdout)
    assert client["auth_method"] == "private_key_jwt" and "client_secret" not in client
    url = pair.nodes["KW"].url + "/oauth/token"
    signed = assertion(key, client["client_id"], url)
    r = token_request(url, signed)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["scope"] == "messages:read"
    inbox = requests.get(pair.nodes["KW"].url + "/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert inbox.status_code == 200
    # the same assertion again: its jti was used
    replay = token_request(url, signed)
    assert replay.status_code in (400, 401) and replay.json()["error"] == "invalid_client"
    # another key, another audience, an expired assertion: all refused
    other = ec.generate_private_key(ec.SECP256R1())
    for bad in (assertion(other, client["client_id"], url),
                assertion(key, client["client_id"], "https://elsewhere.example/token"),
                assertion(key, client["client_id"], url, exp=int(time.time()) - 600, iat=int(time.time()) - 700)):
        r = token_request(url, bad)
        assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client", r.text
    # a secret client cannot use an assertion, and this one has no secret
    r = requests.post(url, data={"grant_type": "client_credentials"}, auth=(client["client_id"], "x"), timeout=5)
    assert r.status_code == 401


def test_client_cli_rejects_foreign_agency(pair):
    bad = gcc_link("client", "create", "--config", str(pair.fed.configs["KW"]), "--agency", "SA/MOI", check=False)
    assert bad.returncode != 0 and "not an agency of this node" in bad.stderr
    listed = json.loads(gcc_link("client", "list", "--config", str(pair.fed.configs["KW"]), "--json").stdout)
    assert {c["agency"] for c in listed} >= {"KW/MOI", "KW/MOH"}
    secrets = [c["client_secret"] for c in pair.fed.clients["KW"].values()]
    assert all("client_secret" not in c for c in listed)
    assert not any(secret in json.dumps(listed) for secret in secrets)
