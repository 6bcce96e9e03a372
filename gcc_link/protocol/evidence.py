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

from . import jose
from .canonical import canonical_json, sha256_hex
from .errors import GccLinkError
from .message import MESSAGE_TYP, body_digest
from .pki import NodeIdentity, verify_node_certificate
from .receipt import RECEIPT_TYP
from .timefmt import format_time, parse_time
from .msglog import ChainEntry, verify_chain

BUNDLE_FORMAT = 1
CHECKPOINT_TYP = "gcc-link-log+jws"
_MAX = 16 * 1024 * 1024


def sign_checkpoint(identity: NodeIdentity, seq: int, entry_hash: str, now: datetime) -> bytes:
    """The node's signed statement that its log reached ``seq`` with ``entry_hash``."""
    payload = {"gcc_link_log": 1, "node": identity.state, "seq": seq, "entry_hash": entry_hash,
               "at": format_time(now)}
    return jose.sign(canonical_json(payload), CHECKPOINT_TYP, identity.private_key, identity.der,
                     identity.fingerprint)


def build_bundle(message_jws: bytes, receipt_jws: bytes, entries: list[ChainEntry], checkpoint: bytes,
                 node: str) -> dict[str, Any]:
    return {
        "gcc_link_evidence": BUNDLE_FORMAT,
        "node": node,
        "message": message_jws.decode("ascii"),
        "receipt": receipt_jws.decode("ascii"),
        "log": {"entries": [e.to_dict() for e in entries], "checkpoint": checkpoint.decode("ascii")},
    }


def _signed(data: bytes, typ: str, root: x509.Certificate, at_field: str) -> tuple[dict[str, Any], str]:
    """Parse, check the signature, chain the signer to ``root`` at the signing time; (payload, state)."""
    env = jose.parse(data, typ, _MAX)
    env.verify_signature()
    at = parse_time(env.payload.get(at_field))
    state = verify_node_certificate(env.certificate, root, at)
    return env.payload, state


def verify_bundle(bundle: Any, root: x509.Certificate) -> dict[str, Any]:
    """Check a bundle; returns ``{"valid", "message_id", "problems", ...}`` (never raises on bad input)."""
    problems: list[str] = []
    result: dict[str, Any] = {"valid": False, "problems": problems}
    try:
        if not isinstance(bundle, dict) or bundle.get("gcc_link_evidence") != BUNDLE_FORMAT:
            raise GccLinkError("not a GCC Link evidence bundle", code="malformed")
        message = str(bundle["message"]).encode("ascii")
        receipt = str(bundle["receipt"]).encode("ascii")
        msg, msg_state = _signed(message, MESSAGE_TYP, root, "created_at")
        result.update({"message_id": msg["id"], "sender": msg["sender"], "recipient": msg["recipient"]})
        if msg_state != str(msg["sender"]).split("/")[0]:
            problems.append("the message is not signed by the sender's state node")
        if body_digest(msg["body"]) != msg["body_sha256"]:
            problems.append("the message body does not match body_sha256")
        rcpt, rcpt_state = _signed(receipt, RECEIPT_TYP, root, "received_at")
        result.update({"receipt_status": rcpt["status"], "receipt_code": rcpt["code"], "received_by": rcpt["node"]})
        if rcpt_state != rcpt["node"]:
            problems.append("the receipt is not signed by the node it names")
        if rcpt["node"] != str(msg["recipient"]).split("/")[0]:
            problems.append("the receipt is not from the recipient's state")
        if rcpt["receipt_for"] != msg["id"] or rcpt["message_sha256"] != sha256_hex(message):
            problems.append("the receipt is for another message")
        log = bundle["log"]
        entries = [ChainEntry.from_dict(e) for e in log["entries"]]
        if not entries:
            raise GccLinkError("the log proof is empty", code="malformed")
        first = entries[0]
        chain_problems = verify_chain([(e, None) for e in entries], start_hash=first.prev_hash,
                                      start_seq=first.seq - 1)
        problems += [f"log entry {p.seq}: {p.problem}" for p in chain_problems]
        digests = {e.item_sha256 for e in entries}
        if sha256_hex(message) not in digests:
            problems.append("the message is not in the log proof")
        if sha256_hex(receipt) not in digests:
            problems.append("the receipt is not in the log proof")
        cp, cp_state = _signed(str(log["checkpoint"]).encode("ascii"), CHECKPOINT_TYP, root, "at")
        if cp_state != bundle.get("node") or cp["node"] != bundle.get("node"):
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
