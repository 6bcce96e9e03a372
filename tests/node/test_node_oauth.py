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
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": str(uuid.uuid4()),
        **extra,
    }
    return jwt.encode({"alg": "ES256"}, claims, ECKey.import_key(key))


def token_request(url: str, signed: str) -> requests.Response:
    return requests.post(
        url,
        timeout=10,
        data={
            "grant_type": "client_credentials",
            "scope": "messages:read",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        },
    )


def test_private_key_jwt_and_replay(pair, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "pub.pem"
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    out = gcc_link(
        "client",
        "create",
        "--config",
        str(pair.fed.configs["KW"]),
        "--agency",
        "KW/MOI",
        "--public-key",
        str(pub),
        "--json",
    )
    client = json.loads(out.stdout)
    assert client["auth_method"] == "private_key_jwt" and "client_secret" not in client
    url = pair.nodes["KW"].url + "/oauth/token"
    signed = assertion(key, client["client_id"], url)
    r = token_request(url, signed)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert r.json()["scope"] == "messages:read"
    inbox = requests.get(
        pair.nodes["KW"].url + "/api/v1/inbox", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert inbox.status_code == 200
    # the same assertion again: its jti was used
    replay = token_request(url, signed)
    assert replay.status_code in (400, 401) and replay.json()["error"] == "invalid_client"
    # another key, another audience, an expired assertion: all refused
    other = ec.generate_private_key(ec.SECP256R1())
    for bad in (
        assertion(other, client["client_id"], url),
        assertion(key, client["client_id"], "https://elsewhere.example/token"),
        assertion(key, client["client_id"], url, exp=int(time.time()) - 600, iat=int(time.time()) - 700),
    ):
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


def _jwt_client(pair, tmp_path, cc: str = "KW", agency: str = "KW/MOI"):
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / f"pub-{cc}.pem"
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    out = gcc_link(
        "client",
        "create",
        "--config",
        str(pair.fed.configs[cc]),
        "--agency",
        agency,
        "--public-key",
        str(pub),
        "--json",
    )
    return key, json.loads(out.stdout)["client_id"]


def test_assertion_audience_is_the_configured_url_never_the_host_header(pair, tmp_path):
    """An assertion made for SA's token endpoint is refused by KW even when sent with SA's Host header."""
    key, client_id = _jwt_client(pair, tmp_path)
    kw_url, sa_url = pair.nodes["KW"].url + "/oauth/token", pair.nodes["SA"].url + "/oauth/token"
    sa_host = sa_url.split("//")[1].split("/")[0]
    r = requests.post(
        kw_url,
        timeout=10,
        headers={"Host": sa_host},
        data={
            "grant_type": "client_credentials",
            "scope": "messages:read",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(key, client_id, sa_url),
        },
    )
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client", r.text
    assert token_request(kw_url, assertion(key, client_id, kw_url)).status_code == 200


def test_a_foreign_host_header_is_a_400_not_a_500(pair):
    kw = pair.agency("KW/MOI")
    r = requests.post(
        pair.nodes["KW"].url + "/oauth/token",
        headers={"Host": "evil.example"},
        timeout=10,
        data={"grant_type": "client_credentials"},
        auth=(kw.client_id, kw.secret),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_long_lived_assertions_are_refused(pair, tmp_path):
    key, client_id = _jwt_client(pair, tmp_path)
    url = pair.nodes["KW"].url + "/oauth/token"
    three_years = assertion(key, client_id, url, exp=int(time.time()) + 3 * 365 * 86400)
    r = token_request(url, three_years)
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"
    assert token_request(url, assertion(key, client_id, url, exp=int(time.time()) + 290)).status_code == 200


def test_unknown_and_known_client_ids_fail_alike_and_failures_are_throttled(make_cluster):
    cluster = make_cluster(["KW", "SA"], overrides={"oauth.max_failures_per_minute": 5})
    kw = cluster.agency("KW/MOI")
    url = cluster.nodes["KW"].url + "/oauth/token"

    def attempt(client_id: str, secret: str) -> tuple[requests.Response, float]:
        start = time.perf_counter()
        r = requests.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10)
        return r, time.perf_counter() - start

    unknown, t_unknown = attempt("no-such-client", "x")
    known, t_known = attempt(kw.client_id, "wrong")
    assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
    assert unknown.json()["error"] == "invalid_client"
    assert t_unknown > 0.3 * t_known  # both run scrypt (bounded, noisy machine: a generous factor)
    for _ in range(4):
        attempt(kw.client_id, "wrong")
    blocked, _ = attempt(kw.client_id, kw.secret)  # even the right secret waits once the client id is throttled
    assert blocked.status_code == 429 and blocked.json()["error"] == "rate_limited"
    # another client from the same address is not locked out by these five failures
    moh = cluster.agency("KW/MOH")
    ok, _ = attempt(moh.client_id, moh.secret)
    assert ok.status_code == 200
