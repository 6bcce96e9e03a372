"""Backup and restore of a node: one consistent, passphrase-encrypted archive taken while the node runs.

What a backup holds (a tar inside the encryption envelope):

* ``manifest.json`` — format, node state, when it was taken, the store kind,
  the message-log head *of the copied store* (``seq``, ``entry_hash``) and
  the list of members;
* ``db/node.sqlite`` (SQLite's online backup API: a consistent copy while
  writers keep writing) or ``db/node.pgdump`` (``pg_dump --format=custom``
  run on a snapshot exported by the same transaction that reads the log
  head, so head and dump agree);
* ``config/node.toml`` (the configuration file as it is on disk),
  ``data/directory.trusted.jws`` (the stored trusted directory, so a
  restored node never accepts an older directory version), every archive
  file under ``data/archive/`` (the log prefix retention moved out of the
  store), ``keys/node.pem`` (public certificate) and — only with
  ``include_key`` — ``keys/node.key`` (the node's private key).

Encryption (no home-made cipher): the key is derived from the passphrase
with scrypt (RFC 7914; ``n=2**15, r=8, p=1``, 16-byte random salt, 32-byte
key) and the tar is sealed with AES-256-GCM (12-byte random nonce) from
``cryptography``; the clear-text header line (format, KDF parameters, salt,
nonce) is the GCM associated data, so it cannot be altered either. A wrong
passphrase or any flipped bit fails authentication: nothing is restored.

Restore refuses to touch the store of a node that is running (something
answers on its configured port, or its SQLite store is write-locked),
moves an existing SQLite store aside instead of deleting it, restores,
migrates, verifies the log chain, and records ``restored.json`` in the
data directory: the window between the backup and the restore is where
messages can have been accepted and lost, which ``gcc-link node
check-gap`` then asks the peers about.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import text

from ..dburl import is_sqlite
from ..protocol.errors import GccLinkError
from ..protocol.timefmt import format_time
from .config import NodeConfig
from .directory_source import TRUSTED_FILE

__all__ = ["BackupError", "NodeRunningError", "create_backup", "read_backup", "restore_backup", "RESTORED_FILE"]

MAGIC = b"GCCLINK-BACKUP\n"
FORMAT = 1
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
RESTORED_FILE = "restored.json"
ARCHIVE_DIR = "archive"
_MAX_MEMBER = 8 * 1024 * 1024 * 1024


class BackupError(GccLinkError):
    """A backup cannot be written, read, decrypted or restored."""

    code = "backup_error"


class NodeRunningError(BackupError):
    """Restore was asked to overwrite the store of a node that is running."""

    code = "node_running"


# --- encryption envelope ------------------------------------------------------


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    if not passphrase:
        raise BackupError("an empty passphrase is not allowed")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


def seal(plain: bytes, passphrase: str) -> bytes:
    """``MAGIC`` + JSON header line + AES-256-GCM ciphertext (header as associated data)."""
    salt, nonce = os.urandom(16), os.urandom(12)
    header = (
        json.dumps(
            {
                "format": FORMAT,
                "kdf": "scrypt",
                "n": SCRYPT_N,
                "r": SCRYPT_R,
                "p": SCRYPT_P,
                "salt": base64.b64encode(salt).decode(),
                "cipher": "AES-256-GCM",
                "nonce": base64.b64encode(nonce).decode(),
            },
            sort_keys=True,
        ).encode()
        + b"\n"
    )
    key = _derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return MAGIC + header + AESGCM(key).encrypt(nonce, plain, MAGIC + header)


def unseal(data: bytes, passphrase: str) -> bytes:
    """The tar inside a backup file; ``BackupError`` on a wrong passphrase or a damaged file."""
    if not data.startswith(MAGIC):
        raise BackupError("not a GCC Link node backup")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise BackupError("the backup header is damaged")
    header_line = data[len(MAGIC) : end + 1]
    try:
        header = json.loads(header_line)
        if header.get("format") != FORMAT or header.get("kdf") != "scrypt" or header.get("cipher") != "AES-256-GCM":
            raise BackupError(f"unsupported backup format {header.get('format')!r}")
        n, r, p = int(header["n"]), int(header["r"]), int(header["p"])
        if not (2**10 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise BackupError("the backup's scrypt parameters are out of range")
        salt, nonce = base64.b64decode(header["salt"]), base64.b64decode(header["nonce"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"the backup header is damaged: {exc}") from None
    key = _derive(passphrase, salt, n, r, p)
    try:
        return AESGCM(key).decrypt(nonce, data[end + 1 :], MAGIC + header_line)
    except InvalidTag:
        raise BackupError("wrong passphrase, or the backup file is damaged") from None


# --- taking a backup -------------------------------------------------------------


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o600) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _sqlite_file(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


def _pg_conninfo(url: str) -> str:
    """A libpq URL for pg_dump/pg_restore/psycopg (without SQLAlchemy's ``+driver``)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest


def _snapshot_sqlite(url: str, into: Path) -> tuple[int, str]:
    """Copy the store with SQLite's online backup API; returns the log head of the copy."""
    src = sqlite3.connect(_sqlite_file(url), timeout=30)
    dst = sqlite3.connect(into)
    try:
        src.backup(dst)
    finally:
        src.close()
    try:
        dst.execute("PRAGMA journal_mode=DELETE")
        seq, head = dst.execute("SELECT seq, entry_hash FROM message_log_head WHERE id = 1").fetchone()
    finally:
        dst.close()
    return int(seq), str(head)


def _snapshot_postgres(url: str, into: Path) -> tuple[int, str]:
    """``pg_dump`` of a snapshot exported by the transaction that reads the log head (they agree)."""
    import psycopg

    conninfo = _pg_conninfo(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:  # we issue BEGIN ourselves, with its isolation
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        seq, head = conn.execute("SELECT seq, entry_hash FROM message_log_head WHERE id = 1").fetchone()  # type: ignore[misc]
        result = subprocess.run(
            [
                _pg_tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                f"--snapshot={snapshot}",
                "--file",
                str(into),
                "--dbname",
                conninfo,
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        conn.execute("ROLLBACK")
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[-500:]}")
    return int(seq), str(head)


def _pg_tool(name: str) -> str:
    """The PostgreSQL client tool ``name``: ``GCC_PG_BIN`` first (match the server's version), then PATH."""
    folder = os.environ.get("GCC_PG_BIN")
    if folder and (Path(folder) / name).exists():
        return str(Path(folder) / name)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed (set GCC_PG_BIN to the PostgreSQL bin folder)")
    return found


def create_backup(
    config: NodeConfig, out: Path, passphrase: str, now: datetime, *, include_key: bool = False
) -> dict[str, Any]:
    """Write an encrypted backup of the (possibly running) node to ``out`` (0600); returns the manifest."""
    url = config.db_url
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="gcc-backup-") as tmp:
        if is_sqlite(url):
            db_name, db_path = "db/node.sqlite", Path(tmp) / "node.sqlite"
            seq, head = _snapshot_sqlite(url, db_path)
        else:
            db_name, db_path = "db/node.pgdump", Path(tmp) / "node.pgdump"
            seq, head = _snapshot_postgres(url, db_path)
        members: list[str] = []
        with tarfile.open(fileobj=buf, mode="w") as tar:

            def add(name: str, data: bytes) -> None:
                members.append(name)
                _add(tar, name, data)

            add(db_name, db_path.read_bytes())
            if config.source is not None and config.source.exists():
                add("config/node.toml", config.source.read_bytes())
            trusted = config.data_dir / TRUSTED_FILE
            if trusted.exists():
                add(f"data/{TRUSTED_FILE}", trusted.read_bytes())
            archive_dir = config.data_dir / ARCHIVE_DIR
            if archive_dir.is_dir():
                for path in sorted(archive_dir.glob("*.jsonl")):
                    add(f"data/{ARCHIVE_DIR}/{path.name}", path.read_bytes())
            if config.certificate.exists():
                add("keys/node.pem", config.certificate.read_bytes())
            if include_key:
                add("keys/node.key", config.private_key.read_bytes())
            manifest = {
                "gcc_link_backup": FORMAT,
                "node": config.state,
                "created_at": format_time(now),
                "store": "sqlite" if is_sqlite(url) else "postgresql",
                "log_head": {"seq": seq, "entry_hash": head},
                "includes_private_key": include_key,
                "members": members,
            }
            _add(tar, "manifest.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
    sealed = seal(buf.getvalue(), passphrase)
    _write(out, sealed, private=True)
    return {**manifest, "file": str(out), "bytes": len(sealed)}


# --- reading and restoring -----------------------------------------------------------


def read_backup(path: Path, passphrase: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Decrypt ``path``: its manifest and its members by name (only regular files with safe names)."""
    plain = unseal(path.read_bytes(), passphrase)
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(plain), mode="r") as tar:
            for info in tar.getmembers():
                name = info.name
                if not info.isfile() or name.startswith("/") or ".." in name.split("/") or info.size > _MAX_MEMBER:
                    raise BackupError(f"unexpected member {name!r} in the backup")
                fh = tar.extractfile(info)
                assert fh is not None
                files[name] = fh.read()
        manifest = json.loads(files.pop("manifest.json"))
    except (tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"the backup content is damaged: {exc}") from None
    if manifest.get("gcc_link_backup") != FORMAT:
        raise BackupError("unsupported backup manifest")
    return manifest, files


def node_running(config: NodeConfig) -> str | None:
    """Why the node looks alive (something listens on its port, or its store is locked), or None."""
    host = "127.0.0.1" if config.host in ("0.0.0.0", "") else config.host
    try:
        with socket.create_connection((host, config.port), timeout=1):
            return f"something is listening on {host}:{config.port} (stop the node first)"
    except OSError:
        pass
    if is_sqlite(config.db_url):
        db = _sqlite_file(config.db_url)
        if db.exists():
            conn = sqlite3.connect(db, timeout=0.5)
            try:
                conn.execute("BEGIN EXCLUSIVE")
                conn.rollback()
            except sqlite3.OperationalError:
                return f"the store {db} is in use by another process (stop the node first)"
            finally:
                conn.close()
    return None


def _write(path: Path, data: bytes, private: bool = False) -> None:
    """Write ``data`` atomically (readers never see half a file); ``private``: 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        if private:
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def _newer_trusted_kept(path: Path, restored: bytes, now: datetime) -> bool:
    """True if the trusted directory already on disk is a newer version than the backup's (never roll back)."""
    from ..protocol.directory import load_directory

    if not path.exists():
        return False
    try:
        held = load_directory(path.read_bytes(), now, allow_expired=True).version
    except GccLinkError:
        return False  # unreadable: the backup's copy replaces it
    try:
        return held > load_directory(restored, now, allow_expired=True).version
    except GccLinkError:
        return True


def restore_backup(path: Path, config_path: Path, passphrase: str, now: datetime) -> dict[str, Any]:
    """Restore ``path`` for the node configured at ``config_path`` (written from the backup if missing).

    Returns what was restored and the result of verifying the log chain.
    """
    from .audit import verify_log
    from .config import load_config
    from .db import Database, migrate

    manifest, files = read_backup(path, passphrase)
    if not config_path.exists():
        if "config/node.toml" not in files:
            raise BackupError(f"{config_path} does not exist and the backup holds no configuration")
        _write(config_path, files["config/node.toml"])
    config = load_config(config_path)
    if config.state != manifest.get("node"):
        raise BackupError(f"the backup is of node {manifest.get('node')}, the configuration of {config.state}")
    why = node_running(config)
    if why:
        raise NodeRunningError(f"refusing to restore over a running node: {why}")
    config.data_dir.mkdir(parents=True, exist_ok=True)
    moved_aside: str | None = None
    if is_sqlite(config.db_url):
        if "db/node.sqlite" not in files:
            raise BackupError("the backup holds a PostgreSQL dump; this node's store is SQLite")
        db = _sqlite_file(config.db_url)
        if db.exists():
            aside = db.with_name(f"{db.name}.before-restore-{now.strftime('%Y%m%dT%H%M%SZ')}")
            db.replace(aside)
            moved_aside = str(aside)
        for suffix in ("-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        _write(db, files["db/node.sqlite"], private=True)
    else:
        if "db/node.pgdump" not in files:
            raise BackupError("the backup holds an SQLite store; this node's store is PostgreSQL")
        with tempfile.TemporaryDirectory(prefix="gcc-restore-") as tmp:
            dump = Path(tmp) / "node.pgdump"
            dump.write_bytes(files["db/node.pgdump"])
            result = subprocess.run(
                [
                    _pg_tool("pg_restore"),
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--dbname",
                    _pg_conninfo(config.db_url),
                    str(dump),
                ],
                capture_output=True,
                text=True,
                timeout=3600,
            )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()[-500:]}")
    trusted = files.get(f"data/{TRUSTED_FILE}")
    if trusted is not None and not _newer_trusted_kept(config.data_dir / TRUSTED_FILE, trusted, now):
        _write(config.data_dir / TRUSTED_FILE, trusted)
    for name, data in files.items():
        if name.startswith(f"data/{ARCHIVE_DIR}/") and name.endswith(".jsonl"):
            _write(config.data_dir / ARCHIVE_DIR / name.rsplit("/", 1)[1], data)
    if "keys/node.key" in files and not config.private_key.exists():
        _write(config.private_key, files["keys/node.key"], private=True)
    if "keys/node.pem" in files and not config.certificate.exists():
        _write(config.certificate, files["keys/node.pem"])
    migrate(config.db_url)
    database = Database(config.db_url)
    try:
        with database.read() as s:
            seq, head = s.execute(text("SELECT seq, entry_hash FROM message_log_head WHERE id = 1")).one()
        verification = verify_log(config, database)
    finally:
        database.dispose()
    expected = manifest["log_head"]
    if (seq, head) != (expected["seq"], expected["entry_hash"]):
        raise BackupError(f"the restored log head ({seq}) is not the one the backup recorded ({expected['seq']})")
    restored = {
        "backup_created_at": manifest["created_at"],
        "restored_at": format_time(now),
        "log_head": expected,
        "backup_file": str(path),
    }
    _write(config.data_dir / RESTORED_FILE, json.dumps(restored, indent=1, sort_keys=True).encode())
    return {
        "node": config.state,
        "store": manifest["store"],
        "backup_created_at": manifest["created_at"],
        "log_head": expected,
        "moved_aside": moved_aside,
        "log_verify": verification,
        "private_key_restored": "keys/node.key" in files and config.private_key.exists(),
    }
