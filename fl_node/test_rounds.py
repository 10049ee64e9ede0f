"""Unit tests of fl_node.rounds' pure helpers: the bitmaps over a task's accounts that votes and events carry."""

import pytest

from fl_node.rounds import bits_of, members_of
from ground.errors import FedpmError

ACCOUNTS = ["0xA1", "0xb2", "0xC3", "0xd4"]


def test_members_of_inverts_bits_of_in_list_order():
    assert bits_of(ACCOUNTS, ["0xd4", "0xa1"]) == 0b1001
    assert members_of(ACCOUNTS, 0b1001) == ["0xA1", "0xd4"]
    assert members_of(ACCOUNTS, 0) == []
    for bits in range(16):
        assert bits_of(ACCOUNTS, members_of(ACCOUNTS, bits)) == bits


def test_members_of_ignores_bits_beyond_the_list_and_bits_of_refuses_strangers():
    assert members_of(ACCOUNTS, 0b110000) == []
    with pytest.raises(FedpmError):
        bits_of(ACCOUNTS, ["0xe5"])
