"""QBFT / Clique extraData against vectors from Besu itself (not invented here):

- BESU_CODEC_VECTOR: `RAW_HEX_ENCODING_STRING` of Besu's QbftExtraDataCodecTest (consensus/qbft, test sources):
  vanity 0x01..0x20, validators 0x…01 and 0x…02, an add vote for 0x…01, round 0xFEDCBA, seals (r=1, s=10, v=0)
  and (r=10, s=1, v=0).
- BESU_DOCS_GENESIS: the block-header-validator QBFT genesis of Besu's documentation ("Configure QBFT consensus"),
  four validators; BESU_DOCS_CONTRACT_GENESIS: its contract-validator genesis (no validators in the header).
"""

from __future__ import annotations

import pytest
import rlp

from fedpm.network.extradata import ExtraDataError, QbftExtraData, Vote, clique_extra_data, clique_signers, qbft_genesis_extra_data

BESU_CODEC_VECTOR = (
    "0xf8f0a00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20ea940000000000000000"
    "000000000000000000000001940000000000000000000000000000000000000002d7940000000000000000"
    "00000000000000000000000181ff83fedcbaf886b841000000000000000000000000000000000000000000"
    "0000000000000000000001000000000000000000000000000000000000000000000000000000000000000a"
    "00b841000000000000000000000000000000000000000000000000000000000000000a0000000000000000"
    "00000000000000000000000000000000000000000000000100"
)
BESU_DOCS_GENESIS = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65e6541f4169"
    "943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b2126"
    "48e01c6c6b78c080c0"
)
BESU_DOCS_VALIDATORS = ["0x64a702e6263b7297a96638cac6ae65e6541f4169", "0x3923390ad55e90c237593b3b0e401f3b08a03185",
                        "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692", "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78"]
BESU_DOCS_CONTRACT_GENESIS = "0xe5a00000000000000000000000000000000000000000000000000000000000000000c0c080c0"

ONE, TWO = "0x" + "00" * 19 + "01", "0x" + "00" * 19 + "02"


def _seal(r: int, s: int, v: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])


def _codec_vector_data() -> QbftExtraData:
    return QbftExtraData((ONE, TWO), bytes(range(1, 33)), Vote(ONE, True), 0xFEDCBA, (_seal(1, 10, 0), _seal(10, 1, 0)))


def test_encoding_matches_besus_codec_vector() -> None:
    assert _codec_vector_data().hex() == BESU_CODEC_VECTOR


def test_decoding_besus_codec_vector_gives_every_field() -> None:
    decoded = QbftExtraData.decode(bytes.fromhex(BESU_CODEC_VECTOR[2:]))
    assert decoded == QbftExtraData(tuple(decoded.validators), bytes(range(1, 33)), Vote(ONE, True), 0xFEDCBA, (_seal(1, 10, 0), _seal(10, 1, 0)))
    assert [v.lower() for v in decoded.validators] == [ONE, TWO]


def test_genesis_extra_data_matches_besus_documented_genesis() -> None:
    assert qbft_genesis_extra_data(BESU_DOCS_VALIDATORS) == BESU_DOCS_GENESIS
    assert qbft_genesis_extra_data([]) == BESU_DOCS_CONTRACT_GENESIS
    decoded = QbftExtraData.decode(bytes.fromhex(BESU_DOCS_GENESIS[2:]))
    assert [v.lower() for v in decoded.validators] == BESU_DOCS_VALIDATORS and decoded.vote is None and decoded.round == 0 and not decoded.seals


def test_a_drop_vote_is_the_empty_string_and_round_trips() -> None:
    data = QbftExtraData((ONE,), vote=Vote(TWO, False), round=0xDCBA)
    raw = data.encode()
    assert rlp.decode(raw)[2] == [bytes.fromhex(TWO[2:]), b""]
    assert QbftExtraData.decode(raw) == data


@pytest.mark.parametrize("bad, why", [
    (rlp.encode([bytes(32), [], [bytes(20), b"\xff"], b"\x00\xdc\xba", []]), "minimal"),  # Besu's readIntScalar refuses a padded round
    (rlp.encode([bytes(32), [], [bytes(20), b"\xaa"], b"", []]), "vote"),  # a vote byte that is neither add nor drop
    (rlp.encode([bytes(32), [], [], b"", [], b"\x01"]), "5 items"),  # a trailing item
    (rlp.encode([bytes(32), [bytes(19)], [], b"", []]), "20-byte"),
    (rlp.encode([bytes(32), [], [], b"", [bytes(64)]]), "65 bytes"),
    (b"", "empty"),
    (b"\xf8", "not RLP"),
])
def test_malformed_extra_data_is_refused(bad: bytes, why: str) -> None:
    with pytest.raises(ExtraDataError, match=why):
        QbftExtraData.decode(bad)


def test_clique_extra_data_is_vanity_signers_and_an_empty_seal() -> None:
    signers = [ONE, TWO]
    raw = bytes.fromhex(clique_extra_data(signers)[2:])
    assert len(raw) == 32 + 2 * 20 + 65 and raw[32:52] == bytes.fromhex(ONE[2:]) and raw[-65:] == bytes(65)
    assert [s.lower() for s in clique_signers(raw)] == signers
    with pytest.raises(ExtraDataError):
        clique_signers(raw[:-1])
