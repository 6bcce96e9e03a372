"""Running a node: development (one process) or production (gunicorn + delivery processes).

Development: the werkzeug server (threaded) and one delivery thread in one
process. Production: gunicorn with ``workers`` web workers, plus
``delivery_workers`` delivery processes (one on SQLite, where a single
writer is the rule; several on PostgreSQL, which claim with SKIP LOCKED).
Both serve mTLS unless ``dev_insecure_http`` is set: the server asks for a
client certificate chaining to the GCC root (optional at the TLS layer so
agencies can reach the agency API; the peer API requires and checks it).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .config import NodeConfig
from .db import describe_db_error, prepare_store

log = logging.getLogger("gcc_link.node")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; messages never include secrets or tokens."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            # the cause in one line: the driver's own message for database errors, not SQLAlchemy's help link
            data["exc"] = describe_db_error(record.exc_info[1])
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def die_with_parent() -> None:
    """Linux: get SIGTERM when the parent process dies (no orphaned workers)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def server_ssl_context(config: NodeConfig, root_pem: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(config.certificate), str(config.private_key))
    ctx.load_verify_locations(str(root_pem))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def run_delivery(config: NodeConfig, name: str = "delivery") -> None:
    """A delivery worker process: loop until SIGTERM/SIGINT."""
    from .context import NodeContext
    from .delivery import DeliveryWorker

    die_with_parent()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ctx = NodeContext.create(config)
    start_sequencer(ctx, stop)
    DeliveryWorker(ctx, name).run_forever(stop)


def start_sequencer(ctx: Any, stop: threading.Event) -> threading.Thread:
    """Chain recorded log entries in the background (PostgreSQL; the thread ends at once on SQLite)."""
    from .logstore import LogSequencer

    thread = threading.Thread(target=LogSequencer(ctx.db).run_forever, args=(stop,), name="log-sequencer", daemon=True)
    thread.start()
    return thread


def run_development(config: NodeConfig) -> None:
    from werkzeug.serving import make_server

    from .app import create_app
    from .delivery import DeliveryWorker
    from .transport import root_pem_path

    app = create_app(config)
    ctx = app.extensions["gcc_link"]
    stop = threading.Event()
    worker = threading.Thread(target=DeliveryWorker(ctx).run_forever, args=(stop,), name="delivery", daemon=True)
    ssl_context = None if not config.tls else server_ssl_context(config, root_pem_path(ctx))
    server = make_server(config.host, config.port, app, threaded=True, ssl_context=ssl_context)

    def shutdown(*_: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    worker.start()
    start_sequencer(ctx, stop)
    log.info(
        "node %s (development) on %s:%s %s",
        config.state,
        config.host,
        config.port,
        "mTLS" if config.tls else "plain HTTP (dev_insecure_http)",
    )
    server.serve_forever()
    worker.join(timeout=10)


def run_production(config: NodeConfig, config_path: Path | None) -> None:
    from gunicorn.app.base import BaseApplication

    from .app import create_app
    from .context import NodeContext
    from .transport import root_pem_path

    # SQLite: exactly one delivery worker; PostgreSQL: as configured (0 = workers run elsewhere)
    n_delivery = config.delivery_workers if not config.db_url.startswith("sqlite") else 1
    children: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ)
    for i in range(n_delivery):
        children.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from gcc_link.cli import main; main()",
                    "node",
                    "deliver",
                    "--config",
                    str(config_path),
                    "--name",
                    f"delivery-{i}",
                ],
                env=env,
            )
        )

    options: dict[str, Any] = {
        "bind": f"{config.host}:{config.port}",
        "workers": config.workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }
    if config.tls:
        root = root_pem_path(NodeContext.create(config))
        options.update(
            {
                "certfile": str(config.certificate),
                "keyfile": str(config.private_key),
                "ca_certs": str(root),
                "cert_reqs": ssl.CERT_OPTIONAL,
            }
        )

    class NodeApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(config)

    try:
        log.info(
            "node %s (production: %d web, %d delivery) on %s:%s",
            config.state,
            config.workers,
            n_delivery,
            config.host,
            config.port,
        )
        NodeApplication().run()
    finally:
        for child in children:
            child.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


def preflight(config: NodeConfig) -> None:
    """Fail fast, in the parent, with one clear reason: key and certificate, directory."""
    from ..protocol.directory import load_directory
    from ..protocol.errors import ConfigError, GccLinkError
    from .clock import utcnow
    from .context import load_identity
    from .directory_source import fetch

    load_identity(config)
    try:
        load_directory(fetch(config.directory), utcnow())
    except OSError as exc:
        raise ConfigError(f"directory {config.directory} cannot be read: {exc}") from None
    except GccLinkError as exc:
        trusted = config.data_dir / "directory.trusted.jws"
        if not trusted.exists():
            raise ConfigError(f"directory {config.directory}: {exc.code}: {exc.message}") from None


def run(config: NodeConfig, mode: str | None = None, *, initialise: bool = False) -> None:
    """Migrate the store (refusing a vanished one), then serve in the configured (or given) mode."""
    setup_logging()
    preflight(config)
    prepare_store(config.data_dir, config.db_url, initialise=initialise)
    if (mode or config.mode) == "production":
        run_production(config, config.source)
    else:
        run_development(config)
