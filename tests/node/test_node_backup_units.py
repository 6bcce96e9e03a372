"""The backup envelope (scrypt + AES-256-GCM) and the backup reader, without a node."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from gcc_link.node.backup import MAGIC, BackupError, read_backup, seal, unseal


def test_seal_round_trip_and_tampering():
    sealed = seal(b"the store", "pass phrase")
    assert sealed.startswith(MAGIC) and b"the store" not in sealed
    assert unseal(sealed, "pass phrase") == b"the store"
    with pytest.raises(BackupError, match="wrong passphrase"):
        unseal(sealed, "other")
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(BackupError):
        unseal(bytes(flipped), "pass phrase")
    # the header is authenticated too: weakening the KDF parameters is detected
    weaker = sealed.replace(b'"n": 32768', b'"n": 16384')
    assert weaker != sealed
    with pytest.raises(BackupError):
        unseal(weaker, "pass phrase")
    for bad in (b"", b"not a backup", MAGIC + b"{no json\n", MAGIC + b'{"format": 9}\n'):
        with pytest.raises(BackupError):
            unseal(bad, "pass phrase")
    with pytest.raises(BackupError):
        seal(b"x", "")


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_reader_refuses_unsafe_members(tmp_path):
    manifest = json.dumps({"gcc_link_backup": 1}).encode()
    path = tmp_path / "b"
    path.write_bytes(seal(_tar({"manifest.json": manifest, "../../etc/evil": b"x"}), "p"))
    with pytest.raises(BackupError, match="unexpected member"):
        read_backup(path, "p")
    path.write_bytes(seal(_tar({"db/node.sqlite": b"x"}), "p"))
    with pytest.raises(BackupError, match="damaged"):
        read_backup(path, "p")
    path.write_bytes(seal(b"not a tar at all", "p"))
    with pytest.raises(BackupError):
        read_backup(path, "p")
    path.write_bytes(seal(_tar({"manifest.json": manifest, "db/node.sqlite": b"x"}), "p"))
    got, files = read_backup(path, "p")
    assert got["gcc_link_backup"] == 1 and files == {"db/node.sqlite": b"x"}
