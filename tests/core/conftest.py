"""Fixtures for the protocol core: a small GCC PKI and directory built in memory at a fixed time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from gcc_link.protocol import pki
from gcc_link.protocol.directory import DirectoryContent, DirectoryKey, Member, load_directory
from gcc_link.protocol.message import Message
from tests.core.corekit import NOW, World, make_identity


@pytest.fixture(scope="session")
def world() -> World:
    root_key, root_cert = pki.create_root(NOW - timedelta(days=10))
    ids = {cc: make_identity(root_key, root_cert, cc) for cc in ("KW", "SA", "QA", "OM")}
    revoked = make_identity(root_key, root_cert, "KW")
    unlisted = make_identity(root_key, root_cert, "KW")
    other_root_key, other_root_cert = pki.create_root(NOW - timedelta(days=10))
    foreign = make_identity(other_root_key, other_root_cert, "KW")
    dir_keys = [pki.generate_key() for _ in range(5)]
    status = {"KW": "active", "SA": "active", "QA": "trial", "OM": "suspended"}
    members = []
    for cc, identity in ids.items():
        fps = [identity.fingerprint]
        if cc == "KW":
            fps += [revoked.fingerprint, foreign.fingerprint]
        members.append(
            Member(
                cc, cc, cc, status[cc], f"http://127.0.0.1:81{len(members)}", tuple(fps), (f"{cc}/MOI/vehicle-record",)
            )
        )
    content = DirectoryContent(
        version=1,
        issued_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=30),
        threshold=3,
        keys=tuple(DirectoryKey.from_public_key(k.public_key(), f"holder-{i}") for i, k in enumerate(dir_keys)),
        root_certificate=root_cert,
        revoked_serials=frozenset({revoked.certificate.serial_number}),
        members=tuple(members),
    )
    directory = load_directory(content.sign(dir_keys[:3]), NOW)
    return World(root_key, root_cert, ids, revoked, unlisted, foreign, dir_keys, content, directory)


@pytest.fixture
def make_message(world: World) -> Callable[..., Message]:
    def make(identity: pki.NodeIdentity | None = None, **kw: Any) -> Message:
        args: dict[str, Any] = dict(
            sender="KW/MOI", recipient="SA/MOI", body={"plate": "12345", "ar": "مرحبا"}, now=NOW
        )
        args.update(kw)
        return Message.create(identity or world.ids["KW"], **args)

    return make
