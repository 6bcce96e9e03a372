"""Benchmark: ES256 through the GCC Link core against raw ``cryptography``.

Prints, measured in the same run: raw ES256 sign and verify rates (the
ceiling), and the message sign and verify rates through the core (canonical
JSON, JWS with x5c, field validation, directory trust checks), with the ratio
of core to raw. Medians over several rounds: the machines are shared and noisy.

    .venv/bin/python bench/crypto.py [--rounds 7] [--n 400]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from gcc_link.protocol import pki
from gcc_link.protocol.canonical import canonical_json
from gcc_link.protocol.directory import DirectoryContent, DirectoryKey, Member, load_directory
from gcc_link.protocol.message import Message

BODY = {"plate": "12345 KW", "owner_civil_id": "289010112345", "query": "vehicle-record", "lang": "ar"}


def rate(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Median operations per second of ``fn`` over ``rounds`` rounds of ``n`` calls."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=400)
    args = parser.parse_args()

    now = datetime.now(UTC)
    root_key, root_cert = pki.create_root(now)
    node_key = pki.generate_key()
    cert = pki.issue_node_certificate(root_key, root_cert, "KW", node_key.public_key(), now)
    identity = pki.NodeIdentity("KW", cert, node_key)
    dir_key = pki.generate_key()
    directory = load_directory(
        DirectoryContent(
            1,
            now,
            now + timedelta(days=30),
            1,
            (DirectoryKey.from_public_key(dir_key.public_key(), "secretariat"),),
            root_cert,
            frozenset(),
            (Member("KW", "الكويت", "Kuwait", "active", "http://127.0.0.1:8101", (identity.fingerprint,), ()),),
        ).sign([dir_key]),
        now,
    )

    sample = Message.create(identity, sender="KW/MOI", recipient="KW/PACI", body=BODY, now=now)
    signing_input = sample.jws.rsplit(b".", 1)[0]
    ecdsa = ec.ECDSA(hashes.SHA256())
    signature = node_key.sign(signing_input, ecdsa)
    public = node_key.public_key()

    raw_sign = rate(lambda: node_key.sign(signing_input, ecdsa), args.n, args.rounds)
    raw_verify = rate(lambda: public.verify(signature, signing_input, ecdsa), args.n, args.rounds)
    raw_both = rate(
        lambda: public.verify(node_key.sign(signing_input, ecdsa), signing_input, ecdsa), args.n, args.rounds
    )

    def core_create() -> Message:
        return Message.create(identity, sender="KW/MOI", recipient="KW/PACI", body=BODY, now=now)

    def core_verify() -> Message:
        return Message.from_jws(sample.jws, directory=directory, now=now, local_state="KW")

    def core_both() -> Message:
        return Message.from_jws(core_create().jws, directory=directory, now=now, local_state="KW")

    # second ceiling: the same compact JWS (same header with x5c) through joserfc alone
    from joserfc import jws as jose_jws
    from joserfc.jwk import ECKey

    from gcc_link.protocol.jose import _registry_for

    header = json.loads(base64.urlsafe_b64decode(sample.jws.split(b".")[0] + b"=="))
    payload = base64.urlsafe_b64decode(sample.jws.split(b".")[1] + b"==")
    registry = _registry_for(1 << 20)
    jwk = ECKey.import_key(node_key)
    jose_sign = rate(lambda: jose_jws.serialize_compact(header, payload, jwk, registry=registry), args.n, args.rounds)
    jose_verify = rate(lambda: jose_jws.deserialize_compact(sample.jws, jwk, registry=registry), args.n, args.rounds)

    msg_sign = rate(core_create, args.n, args.rounds)
    msg_verify = rate(core_verify, args.n, args.rounds)
    msg_both = rate(core_both, args.n, args.rounds)
    canon = rate(lambda: canonical_json(sample.payload()), args.n, args.rounds)

    print(f"message size: {len(sample.jws)} bytes (JWS with x5c); medians of {args.rounds} rounds x {args.n}")
    print(f"{'operation':34} {'core/s':>10} {'raw/s':>10} {'ratio':>7}")
    print(f"{'ES256 sign (message create)':34} {msg_sign:10.0f} {raw_sign:10.0f} {msg_sign / raw_sign:7.2f}")
    print(
        f"{'ES256 verify (message from_jws)':34} {msg_verify:10.0f} {raw_verify:10.0f} {msg_verify / raw_verify:7.2f}"
    )
    print(f"{'sign + verify':34} {msg_both:10.0f} {raw_both:10.0f} {msg_both / raw_both:7.2f}")
    print(f"{'canonical JSON of a payload':34} {canon:10.0f}")
    print()
    print("second ceiling: the same JWS through joserfc alone (no GCC Link checks)")
    print(f"{'operation':34} {'core/s':>10} {'joserfc/s':>10} {'ratio':>7}")
    print(f"{'sign':34} {msg_sign:10.0f} {jose_sign:10.0f} {msg_sign / jose_sign:7.2f}")
    print(f"{'verify':34} {msg_verify:10.0f} {jose_verify:10.0f} {msg_verify / jose_verify:7.2f}")
    print(f"{'joserfc vs raw (sign, verify)':34} {jose_sign / raw_sign:10.2f} {jose_verify / raw_verify:10.2f}")


if __name__ == "__main__":
    main()
