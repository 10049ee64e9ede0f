"""Consensus `extraData` of a genesis block, encoded exactly as the engines expect it (pure, no I/O).

QBFT (Besu): the RLP list `[vanity (32 bytes), [validator addresses], vote, round, [committed seals]]`, as
Besu's `QbftExtraDataCodec` writes it. A genesis carries zero vanity, no vote (the empty list `0xc0`), round 0
(written as an integer scalar: the empty string `0x80`) and no seals; that is what
`besu operator generate-blockchain-config` puts in the genesis it generates. A vote is `[address, 0xff]` to add a
validator or `[address, ""]` to drop one. Decoding is as strict as Besu's: the round must be a minimal scalar,
a vote byte 0xff or empty, addresses 20 bytes, seals 65.

Clique (geth): 32 bytes of vanity, the signer addresses concatenated, 65 zero bytes for the seal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import rlp
from eth_utils import to_canonical_address, to_checksum_address

from ground.errors import FedpmError

VANITY_BYTES = 32
SEAL_BYTES = 65
ADD_VOTE = b"\xff"
DROP_VOTE = b""


class ExtraDataError(FedpmError):
    """extraData that the engine would refuse."""


@dataclass(frozen=True)
class Vote:
    recipient: str  # checksummed address
    add: bool


@dataclass(frozen=True)
class QbftExtraData:
    validators: tuple[str, ...]  # checksummed addresses, in the order given (Besu sorts none)
    vanity: bytes = bytes(VANITY_BYTES)
    vote: Vote | None = None
    round: int = 0
    seals: tuple[bytes, ...] = field(default=())

    def encode(self) -> bytes:
        if len(self.vanity) != VANITY_BYTES:
            raise ExtraDataError(f"vanity is {len(self.vanity)} bytes, not {VANITY_BYTES}", hint="pass 32 bytes of vanity data")
        if not 0 <= self.round < 2**32:
            raise ExtraDataError(f"round {self.round} is not a 32-bit unsigned integer", hint="rounds start at 0")
        if any(len(s) != SEAL_BYTES for s in self.seals):
            raise ExtraDataError("a committed seal is not 65 bytes (r, s, v)", hint="pass secp256k1 signatures as r||s||v")
        vote = [] if self.vote is None else [to_canonical_address(self.vote.recipient), ADD_VOTE if self.vote.add else DROP_VOTE]
        scalar = self.round.to_bytes((self.round.bit_length() + 7) // 8, "big")
        return rlp.encode([self.vanity, [to_canonical_address(v) for v in self.validators], vote, scalar, list(self.seals)])

    @classmethod
    def decode(cls, data: bytes) -> "QbftExtraData":
        if not data:
            raise ExtraDataError("empty extraData", hint="a QBFT genesis needs the RLP-encoded validator list")
        try:
            items = rlp.decode(bytes(data), strict=True)
        except rlp.exceptions.DecodingError as exc:
            raise ExtraDataError(f"extraData is not RLP: {exc}", hint="regenerate the genesis with `fedpm network init`") from None
        if not isinstance(items, list) or len(items) != 5:
            raise ExtraDataError("QBFT extraData is a list of 5 items (vanity, validators, vote, round, seals)", hint="regenerate the genesis")
        vanity, validators, vote, round_, seals = items
        if not isinstance(vanity, bytes) or not isinstance(validators, list) or not isinstance(vote, list) or not isinstance(round_, bytes) or not isinstance(seals, list):
            raise ExtraDataError("QBFT extraData has an item of the wrong kind", hint="regenerate the genesis")
        if round_[:1] == b"\0" or len(round_) > 4:
            raise ExtraDataError(f"round 0x{round_.hex()} is not a minimal 32-bit scalar", hint="encode the round without leading zeros")
        return cls(tuple(_address(v) for v in validators), vanity, _vote(vote), int.from_bytes(round_, "big"), tuple(_seal(s) for s in seals))

    def hex(self) -> str:
        return "0x" + self.encode().hex()


def _address(raw: object) -> str:
    if not isinstance(raw, bytes) or len(raw) != 20:
        raise ExtraDataError("a validator is not a 20-byte address", hint="regenerate the genesis")
    return to_checksum_address(raw)


def _vote(items: list) -> Vote | None:
    if not items:
        return None
    if len(items) != 2 or items[1] not in (ADD_VOTE, DROP_VOTE):
        raise ExtraDataError("the vote is not [address, 0xff | empty]", hint="votes add (0xff) or drop (empty) a validator")
    return Vote(_address(items[0]), items[1] == ADD_VOTE)


def _seal(raw: object) -> bytes:
    if not isinstance(raw, bytes) or len(raw) != SEAL_BYTES:
        raise ExtraDataError("a committed seal is not 65 bytes", hint="regenerate the genesis")
    return raw


def qbft_genesis_extra_data(validators: list[str]) -> str:
    """What Besu's `QbftExtraDataCodec.createGenesisExtraDataString` gives for these validators."""
    return QbftExtraData(tuple(to_checksum_address(v) for v in validators)).hex()


def clique_extra_data(signers: list[str], vanity: bytes = bytes(VANITY_BYTES)) -> str:
    """Clique's genesis extraData: vanity, the signers (geth expects them sorted ascending), an empty seal."""
    if len(vanity) != VANITY_BYTES:
        raise ExtraDataError(f"vanity is {len(vanity)} bytes, not {VANITY_BYTES}", hint="pass 32 bytes of vanity data")
    return "0x" + (vanity + b"".join(to_canonical_address(s) for s in signers) + bytes(SEAL_BYTES)).hex()


def clique_signers(extra_data: bytes) -> list[str]:
    body = extra_data[VANITY_BYTES:len(extra_data) - SEAL_BYTES]
    if len(extra_data) < VANITY_BYTES + SEAL_BYTES or len(body) % 20:
        raise ExtraDataError("Clique extraData is 32 bytes of vanity, 20 per signer and a 65-byte seal", hint="regenerate the genesis")
    return [to_checksum_address(body[i:i + 20]) for i in range(0, len(body), 20)]
