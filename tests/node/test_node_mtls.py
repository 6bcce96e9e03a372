"""Mutual TLS between nodes with the GCC PKI, on 127.0.0.1 with real TLS."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from gcc_link.protocol import pki
from tests.node.nodeharness import wait_until

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", ["development", "production"])
def test_mtls_delivery_and_client_certificate_checks(make_cluster, tmp_path, mode):
    cluster = make_cluster(["KW", "SA"], tls=True, mode=mode)
    assert cluster.fed.urls["SA"].startswith("https://")
    kw, sa = cluster.agency("KW/MOI"), cluster.agency("SA/MOI")
    mid = kw.send("SA/MOI", {"over": "mTLS"}).json()["id"]
    wait_until(lambda: kw.status(mid)["status"] == "delivered", 20, what="delivery over mTLS")
    assert [i["id"] for i in sa.all_inbox()] == [mid]

    peer = cluster.fed.urls["SA"] + "/peer/v1/messages"
    root = str(cluster.fed.root_cert)
    # no client certificate: the peer API refuses
    r = requests.post(peer, data=b"x", verify=root, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "client_certificate_required"
    # a certificate of another root: the TLS handshake itself fails
    now = datetime.now(timezone.utc)
    other_key, other_root = pki.create_root(now)
    key = pki.generate_key()
    rogue = pki.issue_node_certificate(other_key, other_root, "KW", key.public_key(), now)
    (tmp_path / "rogue.pem").write_bytes(pki.cert_pem(rogue))
    (tmp_path / "rogue.key").write_bytes(pki.key_pem(key))
    with pytest.raises(requests.exceptions.SSLError):
        requests.post(
            peer, data=b"x", verify=root, cert=(str(tmp_path / "rogue.pem"), str(tmp_path / "rogue.key")), timeout=10
        )
    # a GCC certificate that the directory does not list
    root_key = pki.load_private_key((cluster.fed.pki_dir / "gcc-root.key").read_bytes())
    unlisted = pki.issue_node_certificate(root_key, cluster.directory().root_certificate, "OM", key.public_key(), now)
    (tmp_path / "om.pem").write_bytes(pki.cert_pem(unlisted))
    r = requests.post(
        peer, data=b"x", verify=root, cert=(str(tmp_path / "om.pem"), str(tmp_path / "rogue.key")), timeout=10
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "untrusted_client"
    # the server's certificate is checked by clients too: without the GCC root it is not trusted
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(cluster.fed.urls["SA"] + "/healthz", timeout=10)
    # and plain HTTP to the TLS port does not work
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(cluster.fed.urls["SA"].replace("https://", "http://") + "/healthz", timeout=5)
