"""Golden bytes: the encodings whose hashes go on chain must not change by a single byte (pure, no chain).

The constants were computed before the re-floor (issue 10) and must hold after every refactor: the demo's
on-chain model hashes, spec hashes, maintenance record hashes and sensor block digests depend on these exact bytes.
(Issue 12 moved signing from the gateway's batches to the device's blocks: the sensor constants are those of the
signed block, its EIP-712 digest and the batch summary leaf since then.)
"""

from __future__ import annotations

import numpy as np
import pytest
from eth_utils import keccak

from chain.compile import Artifact
from fedpm.maintenance.records import Kind, Record, canonical_bytes
from fedpm.sensors.anchoring import BatchSummary
from fedpm.sensors.encoding import encode_block
from fedpm.sensors.signing import block_digest, domain
from fl_node.modelfile import encode_weights
from fl_node.settings import default_cmapss_file
from fl_node.spec import TaskSpec
from ground.canonical import canonical_json
from tasks.bearing.classifier import FEATURES
from tasks.bearing.classifier import make_spec as bearing_spec
from tasks.registry import KINDS
from tasks.rul.cmapss import Normalization, load_file
from tasks.rul.experiment import make_spec, prepare
from tasks.stats import stats_of
from tests.parts import needs

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


def test_the_typed_spec_keeps_the_golden_bytes():  # fields it does not read (train.lr, model.note, None) included
    spec = TaskSpec.from_dict(SPEC)

    assert hexhash(spec.canonical_bytes()) == "0xd0abbd27bb7c90d1976266b961c117469062056c30f4325d8ee772432824395e"
    assert hexhash(encode_weights(ARRAYS, spec.to_json())) == "0xbe24f2884f8824ce7f63c378f5b677283830c6fb52002a43333434fa93dd3d65"


# Hashes of the specs the code made before the spec was typed (recorded at 4f2590f, when make_spec returned a dict).
NORM = Normalization(("s2", "s3", "s4"), "minmax", (641.21, 1571.04, 1382.25), (3.39, 45.25, 59.31))
MADE_BEFORE = [
    (lambda: make_spec(NORM), "0xf688c2d99e411d6de5aa8de1bbea058170e90089b2524cc575cdb20804c4101d"),  # the defaults
    (lambda: make_spec(NORM, window=10, model={"filters": [8], "dense": 8, "learning_rate": 0.003}, train={"epochs": 1, "batch_size": 64}),
     "0x73b4d9d5831ee95216ce0f64b2329252cd266801a14c155740bd34cd0a75fe27"),  # tests/test_fl_processes.py
    (lambda: make_spec(NORM, 50, train={"epochs": 3}, aggregation={"rule": "trimmed_mean", "params": {}}),
     "0x8feb4d5673ae844a5d34ded797f141e662fe74b79fba614760dfd887b83302e7"),  # `fedpm task spec --epochs 3 --rule trimmed_mean`
    (lambda: make_spec(Normalization(("s2", "s7"), "zscore", (642.5, 553.4), (0.5, 0.9)), 30, 130, model={"l2": 0.0, "filters": [16]},
                       train={"lr_decay": 0.5, "lr_min": 0.0001}), "0x5c6584fc7bdf22997ad2d26611a0092ad5e6757c4dc652b73f3eab8721cabddf"),
    (lambda: bearing_spec(stats_of(np.sin(np.arange(40 * 17.0).reshape(40, 17)), FEATURES)),
     "0x5f980de1984b692d48ced54a9e6ba8a23ce629d441fb90e9f4e0a813830a7795"),
    (lambda: bearing_spec(stats_of(np.sin(np.arange(40 * 17.0).reshape(40, 17)), FEATURES), hidden=(8,), learning_rate=0.005),
     "0x34592a1c3d1786a0a92eb2fbbca606c67742eeeb89e32669c17af81576d36804"),
]


@pytest.mark.parametrize("make,golden", MADE_BEFORE, ids=["rul-defaults", "rul-processes", "cli-task-spec", "rul-zscore", "bearing", "bearing-small"])
def test_specs_made_by_the_code_keep_their_bytes_through_every_loader(make, golden):
    spec = make()

    assert hexhash(spec.canonical_bytes()) == golden
    assert TaskSpec.from_json(spec.canonical_bytes(), kinds=KINDS) == TaskSpec.from_json(spec.canonical_bytes()) == spec  # typed and raw


@needs("cmapss")
def test_the_demo_spec_keeps_its_bytes():  # the spec of every on-chain model hash `make demo` records
    spec = prepare(load_file(default_cmapss_file()), n_factories=4, split="iid", seed=0, train={"epochs": 2}).spec

    assert hexhash(spec.canonical_bytes()) == "0xc5de0aacdae518141d698fcd09624a27c679802fdb99ff18a0aeac17ba30caf1"


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
