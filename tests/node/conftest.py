"""Fixtures for node tests: clusters of real node processes, always stopped in teardown."""

from __future__ import annotations

import pytest

from tests.node.nodeharness import Cluster  # noqa: E402


def assert_no_internal_errors(cluster: Cluster) -> None:
    """No request ended in the catch-all 500 handler (bad input must be 4xx); no secret was logged."""
    secrets = [
        c["client_secret"]
        for agencies in cluster.fed.clients.values()
        for c in agencies.values()
        if "client_secret" in c
    ]
    for cc, node in cluster.nodes.items():
        text = node.log_path.read_text(errors="replace") if node.log_path.exists() else ""
        assert '"msg": "unexpected error"' not in text, f"{cc} answered a 500:\n{text[-3000:]}"
        # structured logs never carry secrets or tokens
        assert "Bearer " not in text and not any(secret in text for secret in secrets), f"{cc} logged a secret"


@pytest.fixture
def make_cluster(tmp_path):
    """Factory: ``make_cluster(["KW", "SA"], mode=..., tls=...)`` → started ``Cluster``."""
    clusters: list[Cluster] = []

    def make(states, *, start: bool = True, **kwargs) -> Cluster:
        cluster = Cluster(tmp_path / f"fed{len(clusters)}", list(states), **kwargs)
        clusters.append(cluster)
        if start:
            cluster.start()
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()
    for cluster in clusters:
        assert_no_internal_errors(cluster)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A module-wide KW + SA pair in development mode (plain HTTP)."""
    cluster = Cluster(tmp_path_factory.mktemp("pair"), ["KW", "SA"])
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
    assert_no_internal_errors(cluster)


@pytest.fixture(scope="module")
def inprocess_node(tmp_path_factory):
    """KW's node app in-process (WSGI) on a real provisioned federation and SQLite store, and an agency token."""
    from gcc_link.cli.provision import build
    from gcc_link.node.app import create_app
    from gcc_link.node.config import load_config
    from gcc_link.node.db import prepare_store
    from tests.node.nodeharness import free_port_base

    fed = build(tmp_path_factory.mktemp("inprocess"), ["KW", "SA"], free_port_base(2))
    config = load_config(fed.configs["KW"])
    prepare_store(config.data_dir, config.db_url)
    app = create_app(config)
    creds = fed.clients["KW"]["KW/MOI"]
    token = (
        app.test_client()
        .post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(creds["client_id"], creds["client_secret"])
        )
        .get_json()["access_token"]
    )
    return app, {"Authorization": f"Bearer {token}"}
