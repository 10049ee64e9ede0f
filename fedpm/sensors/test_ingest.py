"""What the gateway admits without the chain: only a canonical block its named device signed, under its own topic."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from fedpm.sensors.device import Device
from fedpm.sensors.encoding import encode_block
from fedpm.sensors.ingest import Refused, admit, split_topic
from fedpm.sensors.merkle import block_leaf, keccak256
from fedpm.sensors.signing import BlockSigner, domain

DOM = domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
KEY = Account.from_key(b"\x05" * 32)
OTHER = Account.from_key(b"\x06" * 32)


def signed(values=(0.5, 0.25), seq: int = 0, signer=KEY, device=KEY.address) -> bytes:
    block = encode_block(device, "m1", seq, "vibration", "g", list(range(len(values))), list(values))
    return block + BlockSigner.of(signer, DOM).sign(block)


def reason(payload: bytes, *topic: str) -> str:
    with pytest.raises(Refused) as err:
        admit(payload, DOM, *topic)
    return err.value.reason


def test_a_device_signed_block_is_admitted_with_its_leaf():
    data = signed()

    block, leaf = admit(data, DOM, "m1", "vibration")

    assert (block.device, block.machine, block.seq, block.n) == (KEY.address, "m1", 0, 2)
    assert leaf == block_leaf(keccak256(block.block), block.signature)
    assert admit(data, DOM)[0] == block  # a block file has no topic: the block names machine and channel


def test_unsigned_readings_and_garbage_are_refused_by_reason():
    assert reason(json.dumps({"ts": [1], "values": [1.0], "unit": "g"}).encode()) == "unsigned"
    assert reason(b'{"ts": "x", "value": 1}') == "unsigned"
    assert reason(b"{not json") == "malformed"
    assert reason(signed()[:-65]) == "malformed"  # a block without its signature
    assert reason(signed(), "m2", "vibration") == "malformed"  # published under another machine's topic
    assert reason(signed(), "m1", "temperature") == "malformed"


def test_altered_injected_and_impersonating_blocks_are_forged():
    data = signed((0.5, 0.25))
    altered = signed((0.5, 0.26))[:-65] + data[-65:]  # the gateway changes a value, keeps the signature

    assert reason(altered) == "forged"
    assert reason(signed(signer=OTHER)) == "forged"  # someone else's key signs a block naming the device
    assert reason(data[:-65] + bytes(65)) == "forged"
    assert admit(signed(signer=OTHER, device=OTHER.address), DOM)[0].device == OTHER.address  # valid, but binding is checked next


def test_topics_name_machine_and_channel():
    assert split_topic("fedpm/m1/vib", "fedpm") == ("m1", "vib")
    for bad in ("fedpm/m1", "other/m1/vib", "fedpm//vib", "fedpm/m1/vib/x"):
        with pytest.raises(Refused):
            split_topic(bad, "fedpm")


def test_a_device_signs_with_its_next_seq():
    dev = Device.of("m1", KEY, DOM)
    seqs = [dev.sign("vibration", "g", [1], [1.0])[0] for _ in range(3)]

    assert seqs == [0, 1, 2]
    assert admit(dev.sign("vibration", "g", [2], [2.0])[1], DOM)[0].seq == 3
