"""HTTP(S) transport between nodes: mTLS with the node certificate, or plain HTTP in dev.

The client presents this node's certificate and trusts only the GCC root
(written from the directory to ``DATA_DIR/gcc-root.pem``); the server's
certificate must name 127.0.0.1/localhost or the peer's host, as issued.
"""

from __future__ import annotations

import threading
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from ..protocol.pki import cert_pem
from .context import NodeContext

_local = threading.local()


def root_pem_path(ctx: NodeContext) -> Path:
    """The GCC root certificate from the trusted directory, as a PEM file for TLS."""
    path = ctx.config.data_dir / "gcc-root.pem"
    data = cert_pem(ctx.directory().root_certificate)
    if not path.exists() or path.read_bytes() != data:
        tmp = path.with_name("gcc-root.pem.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def session(ctx: NodeContext) -> requests.Session:
    """A per-thread pooled session configured for the peer network."""
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.mount("http://", HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0))
        s.mount("https://", HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0))
        s.trust_env = False
        if ctx.config.tls:
            s.cert = (str(ctx.config.certificate), str(ctx.config.private_key))
            s.verify = str(root_pem_path(ctx))
        _local.session = s
    return s


def peer_url(ctx: NodeContext, state: str, path: str) -> str | None:
    member = ctx.directory().member(state)
    if member is None:
        return None
    return member.node_url.rstrip("/") + path
