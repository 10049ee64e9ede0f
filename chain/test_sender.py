"""The fee fields a transaction carries, per kind of chain (pure: no node)."""

from chain.sender import fee_fields


def no_tip() -> int:
    raise AssertionError("a zero-gas chain must not be asked for a tip")


def test_legacy_chain_gets_gas_price_whatever_it_is():
    assert fee_fields(0, None, no_tip) == {"gasPrice": 0}  # Ganache on Berlin, Besu free gas without London
    assert fee_fields(7, None, no_tip) == {"gasPrice": 7}


def test_zero_gas_chain_with_base_fee_pays_the_base_fee_and_no_tip():
    assert fee_fields(0, 0, no_tip) == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}  # anvil/Besu zeroBaseFee
    # Ganache on London with a zero gas price still has a base fee: a max fee of 0 would be rejected
    assert fee_fields(0, 875_000_000, no_tip) == {"maxFeePerGas": 1_750_000_000, "maxPriorityFeePerGas": 0}


def test_charging_chain_pays_twice_the_base_fee_plus_the_tip():
    assert fee_fields(2_000_000_000, 1_000_000_000, lambda: 1_500_000_000) == {"maxFeePerGas": 3_500_000_000, "maxPriorityFeePerGas": 1_500_000_000}
