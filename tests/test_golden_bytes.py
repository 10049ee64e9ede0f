"""Golden bytes: the encodings whose hashes go on chain must not change by a single byte (pure, no chain).

The constants were computed before the re-floor (issue 10) and must hold after every refactor: the demo's
on-chain model hashes, spec hashes, maintenance record hashes and sensor block digests depend on these exact bytes.
(Issue 12 moved signing from the gateway's batches to the device's blocks: the sensor constants are those of the
signed block, its EIP-712 digest and the batch summary leaf since then.)
"""

from __future__ import annotations

import numpy as np
from eth_utils import keccak

from chain.compile import Artifact
from fedpm.maintenance.records import Kind, Record, canonical_bytes
from fedpm.sensors.anchoring import BatchSummary
from fedpm.sensors.encoding import encode_block
from fedpm.sensors.signing import block_digest, domain
from fl_node.modelfile import encode_weights
from ground.canonical import canonical_json

ARRAYS = [
    ("00.conv1d.kernel", np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7),
    ("01.conv1d.bias", np.array([-0.0, 1.5, -2.25, 3e-8], dtype=np.float32)),
    ("02.dense.kernel", np.linspace(-1, 1, 6, dtype=np.float64).reshape(3, 2)),
    ("03.steps", np.array([1, -2, 3], dtype=np.int64)),
    ("04.empty", np.zeros((0, 2), dtype=np.float32)),
]
SPEC = {
    "task": "cmapss_rul", "window": 50, "rul_cap": 125,
    "normalization": {"kind": "minmax", "lo": [0.1, 518.67, -0.0], "hi": [1e-7, 2388.0, 1 / 3]},
    "model": {"filters": [32, 64], "output_scale": 125.0, "note": "Größe ≤ 1 µm"},
    "train": {"epochs": 2, "batch_size": 256, "lr": 0.001, "shuffle": True, "none": None},
}


def hexhash(data: bytes) -> str:
    return "0x" + keccak(data).hex()


def test_model_bytes_are_golden():
    assert hexhash(encode_weights(ARRAYS, SPEC)) == "0xbe24f2884f8824ce7f63c378f5b677283830c6fb52002a43333434fa93dd3d65"
    assert hexhash(encode_weights(ARRAYS)) == "0xceada4b95201aa6a2e967fe1d9fe708c4ad57c7df24ecc7d87036b0c968870cd"


def test_spec_bytes_are_golden():  # what fl_node.coordinator.publish_task pins and hashes
    assert hexhash(canonical_json(SPEC)) == "0xd0abbd27bb7c90d1976266b961c117469062056c30f4325d8ee772432824395e"


def test_maintenance_record_bytes_are_golden():
    record = Record(machine="press-7", time=1_700_000_000, kind=Kind.PART_REPLACEMENT, component=" Lu\u0308fter ",
                    description="Wälzlager getauscht — ½ Tag", technician_org="factory-1", technician="tech-42",
                    attachments=("0x" + "AB" * 32, "cd" * 32), corrects="0x" + "01" * 32)

    assert canonical_bytes(record) == (
        '{"attachments":["0xabababababababababababababababababababababababababababababababab","0xcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"],"component":"Lüfter","corrects":"0x010101010101010101010'
        '1010101010101010101010101010101010101010101","description":"Wälzlager getauscht — ½ Tag","kind":"part_replacement","machine":"press-7","technician":"tech-42","technician_org":"factory-1","time":1700000000,"v":1}'
    ).encode()
    assert record.hash == "0x89f83661f464646c8d2c3e62bffac5d61ceb5fe03423142b3f3ad186132dbf61"


def test_signed_block_digest_and_batch_leaf_are_golden():
    block = encode_block("0x" + "5a" * 20, "factory-1-m1", 7, "vib", "mm/s", [1_700_000_000_000 + i for i in range(4)], [0.5, -0.0, 1e-300, 12345.678])
    summary = BatchSummary("factory-1-m1", "0x" + "5a" * 20, 7, 9, 3, 12, 1_700_000_000_000, 1_700_000_000_003, keccak(block))

    assert hexhash(block) == "0x66b67f14a9c3c18f9bd379545954b9473aa331956f097adc1a5f1f2b2c7f0af8"
    assert "0x" + block_digest(keccak(block), domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")).hex() == "0xda994f40a62a3002febf888a29bba97d7b79f5b0f6d0e4f1ef671eb1cf3ad99c"
    assert "0x" + summary.leaf().hex() == "0xd086caa75fee7033257ae6ad19604318f387a698daac194f33015f485c6562a9"


def test_abi_hash_is_golden():  # deployment files record it; a change would flag every deployment as stale
    abi = [{"type": "function", "name": "ping", "inputs": [{"name": "x", "type": "uint256"}], "outputs": [], "stateMutability": "view"},
           {"type": "error", "name": "NotMember", "inputs": []}]

    assert Artifact(name="X", source="contracts/X.sol", abi=abi, bytecode="0x").abi_hash == "0xe02fa96b128c78594fc9d665125e1e18cf55b4bc2c0c3c7c884b546948e76bfa"
