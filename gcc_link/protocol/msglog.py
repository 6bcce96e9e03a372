"""The hash-chained message log, pure part: entry hashing and chain verification.

Each entry commits to the previous entry's hash, its own kind, reference
(message id), time, and the SHA-256 of the item (the exact JWS bytes), so
changing, dropping or reordering any entry breaks every later hash. No I/O
here: the store (``logstore``) and the CLI feed entries in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .canonical import canonical_json, sha256_hex

__all__ = [
    "ChainEntry",
    "ChainProblem",
    "GENESIS",
    "KINDS",
    "entry_hash",
    "item_digest",
    "next_entry",
    "verify_chain",
]

GENESIS = "0" * 64
KINDS = (
    "message_sent",  # a message this node signed for one of its agencies
    "message_received",  # a message this node accepted for one of its agencies
    "receipt_signed",  # a receipt (accept or reject) this node signed
    "receipt_received",  # a peer's receipt for a message this node sent
    "call_request",  # a service call request (sent or received)
    "call_response",  # a service call response (signed or received)
)


@dataclass(frozen=True)
class ChainEntry:
    """The hashed fields of one log entry (the data itself is kept beside it)."""

    seq: int
    kind: str
    ref: str | None
    at: str
    item_sha256: str
    prev_hash: str
    entry_hash: str = ""

    def header(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "ref": self.ref,
            "at": self.at,
            "item_sha256": self.item_sha256,
            "prev_hash": self.prev_hash,
        }

    def to_dict(self) -> dict[str, object]:
        return {**self.header(), "entry_hash": self.entry_hash}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> ChainEntry:
        ref = data.get("ref")
        return cls(
            int(str(data["seq"])),
            str(data["kind"]),
            None if ref is None else str(ref),
            str(data["at"]),
            str(data["item_sha256"]),
            str(data["prev_hash"]),
            str(data["entry_hash"]),
        )


def entry_hash(seq: int, kind: str, ref: str | None, at: str, item_sha256: str, prev_hash: str) -> str:
    """SHA-256 of the canonical JSON of the entry header."""
    return sha256_hex(
        canonical_json(
            {"seq": seq, "kind": kind, "ref": ref, "at": at, "item_sha256": item_sha256, "prev_hash": prev_hash}
        )
    )


def item_digest(kind: str, item: bytes) -> str:
    """The ``item_sha256`` of an entry of ``kind`` (``ValueError`` for a kind the log does not know)."""
    if kind not in KINDS:
        raise ValueError(f"unknown log entry kind {kind!r}")
    return sha256_hex(item)


def next_entry(prev_seq: int, prev_hash: str, kind: str, ref: str | None, at: str, item: bytes) -> ChainEntry:
    """The entry following ``(prev_seq, prev_hash)`` for ``item``."""
    seq = prev_seq + 1
    digest = item_digest(kind, item)
    return ChainEntry(seq, kind, ref, at, digest, prev_hash, entry_hash(seq, kind, ref, at, digest, prev_hash))


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


def verify_chain(
    entries: Iterable[tuple[ChainEntry, bytes | None]], *, start_hash: str = GENESIS, start_seq: int = 0
) -> list[ChainProblem]:
    """Check a run of entries (with their data, or None when only headers are known).

    Returns the problems found (empty list: the chain is intact): sequence
    gaps, a wrong ``prev_hash``, a recomputed hash that differs, or data
    whose SHA-256 is not the recorded ``item_sha256``.
    """
    problems: list[ChainProblem] = []
    prev_hash, prev_seq = start_hash, start_seq
    for entry, data in entries:
        if entry.seq != prev_seq + 1:
            problems.append(ChainProblem(entry.seq, f"sequence gap after {prev_seq}"))
        if entry.prev_hash != prev_hash:
            problems.append(ChainProblem(entry.seq, "prev_hash does not match the previous entry"))
        if (
            entry_hash(entry.seq, entry.kind, entry.ref, entry.at, entry.item_sha256, entry.prev_hash)
            != entry.entry_hash
        ):
            problems.append(ChainProblem(entry.seq, "entry hash does not match its contents"))
        if data is not None and sha256_hex(data) != entry.item_sha256:
            problems.append(ChainProblem(entry.seq, "item data does not match item_sha256"))
        prev_hash, prev_seq = entry.entry_hash, entry.seq
    return problems
