"""Evidence bundles: a message, its receipt, and the log proof, verifiable offline.

A bundle holds the message JWS, the receipt JWS, the run of log entry
headers from the message's entry to the receipt's entry, and a checkpoint
(the node's signature over the last entry's hash). ``verify_bundle`` needs
only the GCC root certificate: every signature is checked with the
certificate it carries, each certificate is chained to the root at the time
of signing, and the hash chain is recomputed. Pure: no I/O, no clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography import x509

from . import signed
from .canonical import sha256_hex
from .errors import GccLinkError, MalformedError
from .identifiers import state_of
from .message import MESSAGE_TYP, body_digest
from .msglog import ChainEntry, verify_chain
from .pki import NodeIdentity
from .receipt import RECEIPT_TYP
from .timefmt import format_time, parse_time

__all__ = ["BUNDLE_FORMAT", "CHECKPOINT_TYP", "build_bundle", "sign_checkpoint", "verify_bundle", "verify_signed_at"]

BUNDLE_FORMAT = 1
CHECKPOINT_TYP = "gcc-link-log+jws"
_MAX = 16 * 1024 * 1024

#: For each signed type: the payload field that holds its signing time, and the one naming the signer's state.
_TIME_AND_STATE: dict[str, tuple[str, str]] = {
    MESSAGE_TYP: ("created_at", "sender"),
    RECEIPT_TYP: ("received_at", "node"),
    CHECKPOINT_TYP: ("at", "node"),
}


def sign_checkpoint(identity: NodeIdentity, seq: int, entry_hash: str, now: datetime) -> bytes:
    """The node's signed statement that its log reached ``seq`` with ``entry_hash``."""
    payload = {"gcc_link_log": 1, "node": identity.state, "seq": seq, "entry_hash": entry_hash, "at": format_time(now)}
    return signed.sign(identity, CHECKPOINT_TYP, payload, now)


def verify_signed_at(data: bytes, typ: str, root: x509.Certificate) -> tuple[dict[str, Any], str]:
    """Verify a message, receipt or checkpoint offline: its signer chained to ``root`` when it signed.

    Returns the payload and the signer's state. Used by ``evidence verify``
    and ``log verify``, which hold the GCC root but no live directory.
    """
    time_field, state_field = _TIME_AND_STATE[typ]

    def fields(payload: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(payload.get(state_field), str):
            raise MalformedError(f"{typ} names no signer in {state_field}")
        parse_time(payload.get(time_field))
        return payload

    def signed_at(payload: dict[str, Any]) -> datetime:
        return parse_time(payload[time_field])

    def signer_state(payload: dict[str, Any]) -> str:
        return state_of(str(payload[state_field]))

    # offline, "now" is the moment the document says it was signed
    at = signed_at(fields(signed.open_unverified(data, typ, _MAX)))
    verified = signed.verify(
        data, typ, signed.RootTrust(root), at, fields=fields, state_of=signer_state, max_bytes=_MAX, signed_at=signed_at
    )
    return verified.payload, verified.signer.state


def build_bundle(
    message_jws: bytes, receipt_jws: bytes, entries: list[ChainEntry], checkpoint: bytes, node: str
) -> dict[str, Any]:
    return {
        "gcc_link_evidence": BUNDLE_FORMAT,
        "node": node,
        "message": message_jws.decode("ascii"),
        "receipt": receipt_jws.decode("ascii"),
        "log": {"entries": [e.to_dict() for e in entries], "checkpoint": checkpoint.decode("ascii")},
    }


def verify_bundle(bundle: Any, root: x509.Certificate) -> dict[str, Any]:
    """Check a bundle; returns ``{"valid", "message_id", "problems", ...}`` (never raises on bad input)."""
    problems: list[str] = []
    result: dict[str, Any] = {"valid": False, "problems": problems}
    try:
        if not isinstance(bundle, dict) or bundle.get("gcc_link_evidence") != BUNDLE_FORMAT:
            raise MalformedError("not a GCC Link evidence bundle")
        message = str(bundle["message"]).encode("ascii")
        receipt = str(bundle["receipt"]).encode("ascii")
        msg, msg_state = verify_signed_at(message, MESSAGE_TYP, root)
        result.update({"message_id": msg["id"], "sender": msg["sender"], "recipient": msg["recipient"]})
        if body_digest(msg["body"]) != msg["body_sha256"]:
            problems.append("the message body does not match body_sha256")
        rcpt, rcpt_state = verify_signed_at(receipt, RECEIPT_TYP, root)
        result.update({"receipt_status": rcpt["status"], "receipt_code": rcpt["code"], "received_by": rcpt["node"]})
        if rcpt["node"] != state_of(str(msg["recipient"])):
            problems.append("the receipt is not from the recipient's state")
        if rcpt["receipt_for"] != msg["id"] or rcpt["message_sha256"] != sha256_hex(message):
            problems.append("the receipt is for another message")
        log = bundle["log"]
        entries = [ChainEntry.from_dict(e) for e in log["entries"]]
        if not entries:
            raise MalformedError("the log proof is empty")
        first = entries[0]
        chain_problems = verify_chain([(e, None) for e in entries], start_hash=first.prev_hash, start_seq=first.seq - 1)
        problems += [f"log entry {p.seq}: {p.problem}" for p in chain_problems]
        digests = {e.item_sha256 for e in entries}
        if sha256_hex(message) not in digests:
            problems.append("the message is not in the log proof")
        if sha256_hex(receipt) not in digests:
            problems.append("the receipt is not in the log proof")
        cp, cp_state = verify_signed_at(str(log["checkpoint"]).encode("ascii"), CHECKPOINT_TYP, root)
        if cp_state != bundle.get("node"):
            problems.append("the checkpoint is not signed by the exporting node")
        if cp["seq"] != entries[-1].seq or cp["entry_hash"] != entries[-1].entry_hash:
            problems.append("the checkpoint does not cover the last log entry")
        if bundle.get("node") not in (msg_state, rcpt_state):
            problems.append("the exporting node is neither sender nor recipient")
    except GccLinkError as exc:
        problems.append(f"{exc.code}: {exc.message}")
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeError) as exc:
        problems.append(f"malformed: {type(exc).__name__}: {exc}")
    result["valid"] = not problems
    return result
