"""The node's trusted directory: bootstrapped from configuration, refreshed on an interval.

The newest trusted version is kept in ``DATA_DIR/directory.trusted.jws`` so a
restart never goes back to an older version (rollback). Refreshes read the
configured file or URL and go through ``update_directory`` (TUF rules); a
node that missed key rotations walks the versions in between, published
beside the latest as ``directory.vN.jws`` (what ``gcc-link directory sign``
writes). A refused update is logged and the trusted version stays. A background thread
per process refreshes every ``directory_refresh_seconds``, so a new member
state is picked up without restarting the node.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import requests

from ..protocol.directory import (
    MAX_CHAIN_STEPS,
    Directory,
    load_directory,
    peek_directory_version,
    update_directory,
    update_directory_chain,
)
from ..protocol.errors import ConfigError, DirectoryThresholdError, GccLinkError
from .clock import utcnow

log = logging.getLogger("gcc_link.node.directory")
TRUSTED_FILE = "directory.trusted.jws"


def fetch(source: str, timeout: float = 10.0) -> bytes:
    """The bytes at ``source`` (a file path or an http(s) URL)."""
    if source.startswith(("http://", "https://")):
        response = requests.get(source, timeout=timeout)
        response.raise_for_status()
        return response.content
    return Path(source).read_bytes()


def version_source(source: str, version: int) -> str:
    """Where version ``version`` is published beside ``source`` (``…/directory.jws`` → ``…/directory.vN.jws``)."""
    folder, sep, name = source.rpartition("/")
    stem = name[:-4] if name.endswith(".jws") else name
    return f"{folder}{sep}{stem}.v{version}.jws"


def update_from(source: str, current: Directory, data: bytes, now: datetime) -> Directory:
    """``data`` as the next trusted version; walks the versions in between when a rotation was missed."""
    try:
        return update_directory(current, data, now)
    except DirectoryThresholdError:
        latest = peek_directory_version(data)
        if not current.version + 1 < latest <= current.version + MAX_CHAIN_STEPS:
            raise
        log.info("directory %s -> %s: walking the versions in between", current.version, latest)
        steps = []
        for v in range(current.version + 1, latest):
            where = version_source(source, v)
            try:
                steps.append(fetch(where))
            except (OSError, requests.RequestException) as exc:
                raise DirectoryThresholdError(
                    f"version {latest} is not signed by the trusted keys and version {v}, needed to walk "
                    f"to it, cannot be read at {where}: {type(exc).__name__}"
                ) from exc
        return update_directory_chain(current, [*steps, data], now)


class DirectoryHolder:
    """Thread-safe holder of the trusted directory of one node process."""

    def __init__(
        self, source: str, data_dir: Path, refresh_seconds: float, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.source = source
        self._clock = clock
        self.trusted_path = data_dir / TRUSTED_FILE
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._directory: Directory | None = None
        self._thread_pid: int | None = None
        self.last_refresh: float = 0.0
        self.last_error: str | None = None
        self._load(clock())

    def _load(self, now: datetime) -> None:
        """Start from the stored directory if there is one, else bootstrap from the configured source.

        Once a node has trusted a directory, that version is its root of
        trust for good (TUF): even expired, only versions that chain from it
        by both thresholds are accepted, and an expired one keeps vouching
        for nobody until such a successor arrives. The configured source is
        trusted on its own signatures only on the very first start.
        """
        trusted: Directory | None = None
        if self.trusted_path.exists():
            try:
                trusted = load_directory(self.trusted_path.read_bytes(), now, allow_expired=True)
            except GccLinkError as exc:
                raise ConfigError(
                    f"the stored trusted directory {self.trusted_path} is not valid ({exc.code}: "
                    f"{exc.message}); restore it, or remove it to bootstrap from "
                    f"{self.source} again"
                ) from None
        self._directory = trusted
        try:
            self.refresh(now)
        except (OSError, requests.RequestException) as exc:
            self.last_error = str(exc)
        if self._directory is None:
            raise ConfigError(f"no valid directory: {self.last_error}")

    def refresh(self, now: datetime | None = None) -> bool:
        """Fetch the source and adopt it if it is a valid newer version; True if changed."""
        now = now or self._clock()
        data = fetch(self.source)
        with self._lock:
            current = self._directory
            try:
                new = update_from(self.source, current, data, now) if current else load_directory(data, now)
            except GccLinkError as exc:
                self.last_error = f"{exc.code}: {exc.message}"
                log.warning("directory update refused: %s", self.last_error)
                self.last_refresh = now.timestamp()
                return False
            self.last_refresh = now.timestamp()
            self.last_error = None
            if current is not None and new.version == current.version:
                return False
            self._directory = new
            tmp = self.trusted_path.with_name(self.trusted_path.name + f".{os.getpid()}.tmp")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(new.raw)
            tmp.replace(self.trusted_path)
            log.info("directory version %s adopted", new.version)
            return True

    def current(self) -> Directory:
        """The trusted directory; starts this process's refresh thread on first use."""
        if self._thread_pid != os.getpid():
            self._thread_pid = os.getpid()
            threading.Thread(target=self._loop, name="directory-refresh", daemon=True).start()
        assert self._directory is not None
        return self._directory

    def _loop(self) -> None:
        while True:
            time.sleep(self.refresh_seconds)
            try:
                self.refresh()
            except (OSError, requests.RequestException) as exc:
                self.last_error = f"fetch failed: {exc}"
                log.warning("directory fetch failed: %s", exc)
