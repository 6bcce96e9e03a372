"""HTTP(S) transport between nodes: mTLS with the node certificate, or plain HTTP in dev.

The client presents this node's certificate and trusts only the GCC root
(written from the directory to ``DATA_DIR/gcc-root.pem``); the server's
certificate must name 127.0.0.1/localhost or the peer's host, as issued.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

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


def backend_session() -> requests.Session:
    """A per-thread pooled session for agencies' service backends (keep-alive, no new TCP connection per call).

    Unlike the peer session it presents no node certificate and trusts the
    system CAs. One session per thread, because a ``requests.Session`` is not
    documented as thread-safe. It does not read the environment on every
    request (``trust_env`` costs a scan of all environment variables per
    call): the CA bundle variables are read when the session is made, and
    ``backend_post`` passes the proxies once resolved per URL. (``~/.netrc``
    credentials, which a bare ``requests.post`` would also add, are not.)
    """
    s = getattr(_local, "backend_session", None)
    if s is None:
        s = requests.Session()
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=8, max_retries=0)
        s.mount("http://", adapter)
        s.mount("https://", adapter)
        s.trust_env = False
        # what trust_env would read per request: a CA bundle for agencies' internal CAs
        s.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        _local.backend_session = s
        _local.backend_proxies = {}
    return s


def backend_post(url: str, **kwargs: Any) -> requests.Response:
    """POST to a service backend over the thread's keep-alive session.

    Proxy settings from the environment (``HTTPS_PROXY``, ``NO_PROXY``...)
    are honoured as the bare ``requests.post`` this replaces did, resolved
    once per URL and thread.
    """
    session_ = backend_session()
    proxies: dict[str, dict[str, str]] = _local.backend_proxies
    if url not in proxies:
        if len(proxies) > 256:
            proxies.clear()
        proxies[url] = get_environ_proxies(url)
    return session_.post(url, proxies=proxies[url], **kwargs)


def peer_url(ctx: NodeContext, state: str, path: str) -> str | None:
    member = ctx.directory().member(state)
    if member is None:
        return None
    return member.node_url.rstrip("/") + path
