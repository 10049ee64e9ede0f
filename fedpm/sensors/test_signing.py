"""Block signatures made at the source: the fast path equals eth-account's EIP-712 path; only the device's own
low-s signature over the exact bytes recovers to it (pure)."""

from __future__ import annotations

from eth_account import Account
from hypothesis import given, settings, strategies as st

from fedpm.sensors.encoding import encode_block
from fedpm.sensors.merkle import keccak256
from fedpm.sensors.signing import BlockSigner, block_digest, domain, recover_block_signer, recover_signer, sign_block_typed

DEVICE = Account.from_key(b"\x07" * 32)
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**64 - 1), st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20), st.integers(1, 2**40))
def test_fast_signature_equals_typed_data_signature(seq, values, chain_id):
    dom = domain(chain_id, CONTRACT)
    block = encode_block(DEVICE.address, "factory-1-m1", seq, "vibration", "g", list(range(len(values))), values)

    sig = BlockSigner.of(DEVICE, dom).sign(block)

    assert sig == sign_block_typed(DEVICE, block, dom)
    assert recover_signer(keccak256(block), sig, dom) == recover_block_signer(block, sig, dom) == DEVICE.address


def test_a_signature_binds_the_bytes_the_deployment_and_the_key():
    dom = domain(31337, CONTRACT)
    block = encode_block(DEVICE.address, "m1", 0, "c", "", [1, 2], [0.5, 0.25])
    sig = BlockSigner.of(DEVICE, dom).sign(block)
    altered = encode_block(DEVICE.address, "m1", 0, "c", "", [1, 2], [0.5, 0.26])

    assert recover_signer(keccak256(block), sig, dom) == DEVICE.address
    assert recover_signer(keccak256(altered), sig, dom) != DEVICE.address  # a changed value
    assert recover_signer(keccak256(block), sig, domain(31338, CONTRACT)) != DEVICE.address  # another chain
    assert recover_signer(keccak256(block), BlockSigner.of(Account.from_key(b"\x08" * 32), dom).sign(block), dom) != DEVICE.address


def test_malformed_and_high_s_signatures_recover_nobody():
    dom = domain(31337, CONTRACT)
    block = encode_block(DEVICE.address, "m1", 0, "c", "", [1], [1.0])
    h, sig = keccak256(block), BlockSigner.of(DEVICE, dom).sign(block)
    r, s, v = sig[:32], int.from_bytes(sig[32:64], "big"), sig[64]
    high_s = r + (N - s).to_bytes(32, "big") + bytes((55 - v,))  # the same signature, malleated: OpenZeppelin refuses it

    assert recover_signer(h, high_s, dom) is None
    assert recover_signer(h, sig[:64], dom) is None and recover_signer(h, sig[:64] + b"\x01", dom) is None
    assert recover_signer(h, bytes(65)[:64] + b"\x1b", dom) is None
    assert len(block_digest(h, dom)) == 32
