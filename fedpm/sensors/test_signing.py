"""EIP-712 batch signatures: the direct digest equals eth-account's typed-data encoding (pure)."""

from __future__ import annotations

from eth_account import Account
from hypothesis import given, settings, strategies as st

from fedpm.sensors.signing import BatchHeader, recover_signer, sign_batch, sign_batch_typed

DEVICE = Account.from_key(b"\x07" * 32)
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.integers(1, 2**32 - 1), st.binary(min_size=32, max_size=32), st.integers(1, 2**40))
def test_direct_digest_signature_equals_typed_data_signature(seq, t0, t1, count, root, chain_id):
    header = BatchHeader("factory-1-m1", seq, t0, t1, count, root)

    sig = sign_batch(DEVICE, header, chain_id, CONTRACT.lower())

    assert sig == sign_batch_typed(DEVICE, header, chain_id, CONTRACT)
    assert recover_signer(header, sig, chain_id, CONTRACT) == DEVICE.address
