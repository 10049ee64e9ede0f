"""CIDv0 of bytes exactly as kubo's `ipfs add` computes it with its defaults. Pure: no I/O.

Defaults reproduced: fixed-size chunker of 262144 bytes, balanced DAG of at most 174 links per node,
raw leaves off (every node, leaf or not, is a dag-pb node carrying UnixFS data), CIDv0.

Construction (protobuf written by hand; a field tag is varint(field_number << 3 | wire_type),
wire type 0 = varint, 2 = length-delimited; all integers are unsigned LEB128 varints):

  UnixFS Data   1: Type (varint, File = 2)          -> 08 02
                2: Data (bytes, the chunk)          -> 12 len chunk      (absent when the file is empty)
                3: filesize (varint)                -> 18 size
                4: blocksizes (varint, repeated,    -> 20 size per child (internal nodes only; proto2, not packed)
                   file bytes under each child)
  dag-pb PBLink 1: Hash (bytes, child multihash)    -> 0a 22 12 20 <sha256>
                2: Name (string, always "")         -> 12 00
                3: Tsize (varint)                   -> 18 tsize          (child block size + its links' Tsize)
  dag-pb PBNode 2: Links (repeated PBLink), written first, then
                1: Data (bytes, the UnixFS message) -> 0a len unixfs

  CIDv0 = base58btc(0x12 0x20 sha256(block)): the bare sha2-256 multihash, which is why it starts with "Qm".

Layout (go-unixfs importer/balanced): no data -> a single empty File node; one chunk -> the leaf is the root;
otherwise a tree whose nodes at height h cover 174**h consecutive chunks, filled left to right, height the
least that covers every chunk. A partly filled subtree keeps its height even with one child (no collapsing),
so the shape depends only on the chunk count. `DagBuilder` builds it streaming: a node at height h is closed
only when an item for a 175th slot arrives, or at `close()`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Iterator

CHUNK_SIZE = 262144
MAX_LINKS = 174

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_SHA256_PREFIX = b"\x12\x20"  # multihash: code sha2-256, digest length 32

Block = tuple[str, bytes]  # (cid, block bytes as kubo stores them)


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + _varint(len(payload)) + payload


def b58encode(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    zeros = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    n = 0
    for c in text:
        n = n * 58 + _B58_INDEX[c]  # KeyError on a non-alphabet character
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + (n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b"")


def cid_digest(cid: str) -> bytes:
    """The sha256 digest inside a CIDv0; ValueError if `cid` is not one (callers build file names from it)."""
    if not isinstance(cid, str) or len(cid) != 46 or not cid.startswith("Qm"):
        raise ValueError(f"{cid!r} is not a CIDv0")
    try:
        raw = b58decode(cid)
    except KeyError:
        raise ValueError(f"{cid!r} is not base58btc") from None
    if len(raw) != 34 or raw[:2] != _SHA256_PREFIX:
        raise ValueError(f"{cid!r} is not a sha2-256 CIDv0")
    return raw[2:]


def cid_from_digest(digest: bytes) -> str:
    """The CIDv0 whose sha2-256 multihash digest is `digest` (the 32 bytes contracts carry); inverse of `cid_digest`."""
    if len(digest) != 32:
        raise ValueError(f"a sha2-256 digest has 32 bytes, not {len(digest)}")
    return b58encode(_SHA256_PREFIX + bytes(digest))


def is_cid(cid: str) -> bool:
    try:
        cid_digest(cid)
    except ValueError:
        return False
    return True


def _multihash(block: bytes) -> bytes:
    return _SHA256_PREFIX + hashlib.sha256(block).digest()


@dataclass(frozen=True)
class _Child:
    multihash: bytes
    tsize: int  # cumulative block bytes of the child's subtree (PBLink.Tsize)
    filesize: int  # file bytes under the child (UnixFS blocksizes entry)


def _leaf_block(chunk: bytes | memoryview) -> bytes:
    n = len(chunk)
    if n == 0:  # the empty file: UnixFS without a Data field
        return b"\x0a\x04\x08\x02\x18\x00"
    size = _varint(n)
    unixfs_len = 3 + len(size) + n + 1 + len(size)
    # join copies the chunk once; a 256 KiB chunk dominates the cost, not the few header bytes
    return b"".join((b"\x0a" + _varint(unixfs_len) + b"\x08\x02\x12" + size, chunk, b"\x18" + size))


def _internal_block(children: list[_Child]) -> bytes:
    links = b"".join(_len_field(0x12, _len_field(0x0A, c.multihash) + b"\x12\x00\x18" + _varint(c.tsize)) for c in children)
    total = sum(c.filesize for c in children)
    unixfs = b"\x08\x02\x18" + _varint(total) + b"".join(b"\x20" + _varint(c.filesize) for c in children)
    return links + _len_field(0x0A, unixfs)


class DagBuilder:
    """Streaming balanced-DAG builder. `write` and `close` return the blocks they finished as `(cid, block)`;
    the last block `close` returns is the root, also in `root`. Blocks come children first, as kubo writes them."""

    def __init__(self, chunk_size: int = CHUNK_SIZE, max_links: int = MAX_LINKS) -> None:
        self.chunk_size = chunk_size
        self.max_links = max_links
        self.root: str | None = None
        self.size = 0  # file bytes written so far
        self._buf = bytearray()  # the current, not yet cut chunk
        self._levels: list[list[_Child]] = []  # _levels[h]: finished nodes of height h awaiting their parent
        self._out: list[Block] = []

    def write(self, data: bytes | memoryview) -> list[Block]:
        if self.root is not None:
            raise ValueError("DagBuilder is closed")
        view = memoryview(data).cast("B")
        self.size += len(view)
        if self._buf:  # top up the partial chunk first
            take = self.chunk_size - len(self._buf)
            self._buf += view[:take]
            view = view[take:]
            if not view:  # a full chunk is cut only once a byte beyond it exists: no trailing empty chunk
                return self._drain()
            self._leaf(bytes(self._buf))
            self._buf.clear()
        while len(view) > self.chunk_size:
            self._leaf(view[: self.chunk_size])
            view = view[self.chunk_size :]
        self._buf += view
        return self._drain()

    def close(self) -> list[Block]:
        if self.root is not None:
            return []
        if self._buf or not self._levels:  # the last chunk, or the empty file's single node
            self._leaf(bytes(self._buf))
            self._buf.clear()
        h = 0
        while not (h == len(self._levels) - 1 and len(self._levels[h]) == 1):
            children, self._levels[h] = self._levels[h], []
            self._node(h + 1, children)
            h += 1
        self.root = b58encode(self._levels[-1][0].multihash)
        return self._drain()

    def _drain(self) -> list[Block]:
        out, self._out = self._out, []
        return out

    def _leaf(self, chunk: bytes | memoryview) -> None:
        block = _leaf_block(chunk)
        self._push(0, block, _Child(_multihash(block), len(block), len(chunk)))

    def _node(self, height: int, children: list[_Child]) -> None:
        block = _internal_block(children)
        tsize = len(block) + sum(c.tsize for c in children)
        self._push(height, block, _Child(_multihash(block), tsize, sum(c.filesize for c in children)))

    def _push(self, height: int, block: bytes, child: _Child) -> None:
        while len(self._levels) <= height:
            self._levels.append([])
        if len(self._levels[height]) == self.max_links:  # a 175th sibling: close the full parent of the 174 first
            full, self._levels[height] = self._levels[height], []
            self._node(height + 1, full)
        self._levels[height].append(child)
        self._out.append((b58encode(child.multihash), block))


def iter_blocks(chunks: Iterable[bytes]) -> Iterator[Block]:
    """Blocks of the file made of `chunks` (any sizes; re-chunked at 262144), children first, root last."""
    builder = DagBuilder()
    for piece in chunks:
        yield from builder.write(piece)
    yield from builder.close()


def cid_of(data: bytes | memoryview) -> str:
    """The CIDv0 kubo's `ipfs add` (default options) gives `data`."""
    builder = DagBuilder()
    view = memoryview(data).cast("B")
    for off in range(0, len(view), CHUNK_SIZE):  # chunk-sized writes: blocks are dropped as they are made
        builder.write(view[off : off + CHUNK_SIZE])
    builder.close()
    assert builder.root is not None
    return builder.root
