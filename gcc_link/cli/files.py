"""File helpers for the CLI: private keys are written 0600 from the first byte."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import click

from ..protocol.errors import GccLinkError
from ..protocol.timefmt import parse_time

__all__ = [
    "now_or",
    "write_private",
    "write_public",
]


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only: created 0600 (never wider), replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)


def write_public(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def now_or(at: str | None) -> datetime:
    """The time a command works at: ``--at`` if given, else the clock (edges may read it)."""
    if at is None:
        return datetime.now(timezone.utc)
    try:
        return parse_time(at)
    except GccLinkError:
        pass  # not the protocol's own form: try ISO 8601 in general
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO 8601 time: {at}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


at_option = click.option("--at", "at", metavar="TIME", help="Work at this UTC time (ISO 8601) instead of now.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON result.")
