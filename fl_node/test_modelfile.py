import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from fl_node import modelfile as mf

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import sys, numpy as np
from fl_node.modelfile import encode_weights, model_hash
rng = np.random.default_rng(7)
named = [("01.dense.kernel", rng.normal(size=(3, 4)).astype(np.float32)), ("00.conv1d.bias", np.arange(5, dtype=np.float64)), ("02.x.count", np.array([1, 2], dtype=np.int64))]
spec = {"window": 30, "b": [1.5, 2.25], "a": {"z": 1, "y": "q"}}
data = encode_weights(named, spec)
sys.stdout.write(data.hex() + " " + model_hash(data).hex())
"""


def _named():
    rng = np.random.default_rng(7)
    return [("01.dense.kernel", rng.normal(size=(3, 4)).astype(np.float32)), ("00.conv1d.bias", np.arange(5, dtype=np.float64)), ("02.x.count", np.array([1, 2], dtype=np.int64))]


def test_bytes_and_hash_are_identical_across_processes():
    # Execute: two fresh interpreters with different hash seeds
    outs = [subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2")]
    # Assert
    assert outs[0] == outs[1]
    local = mf.encode_weights(_named(), {"window": 30, "b": [1.5, 2.25], "a": {"z": 1, "y": "q"}})
    assert outs[0].split()[0] == local.hex()
    assert bytes.fromhex(outs[0].split()[1]) == mf.model_hash(local) and len(mf.model_hash(local)) == 32


def test_round_trip_keeps_order_dtype_shape_and_spec():
    # Prepare
    named = _named()
    # Execute
    data = mf.encode_weights(named, {"window": 30})
    back = mf.decode_weights(data)
    # Assert
    assert [n for n, _ in back] == [n for n, _ in named]  # caller's order, not name order
    for (_, a), (_, b) in zip(named, back):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    assert mf.decode_spec(data) == {"window": 30}


def test_spec_key_order_does_not_change_bytes():
    assert mf.encode_weights(_named(), {"a": 1, "b": 2}) == mf.encode_weights(_named(), {"b": 2, "a": 1})


def test_output_is_valid_safetensors_readable_by_the_library():
    from safetensors.numpy import load

    data = mf.encode_weights(_named(), {"window": 30})
    loaded = load(data)
    assert set(loaded) == {n for n, _ in _named()}
    assert np.array_equal(loaded["01.dense.kernel"], _named()[0][1])
    assert (8 + struct.unpack("<Q", data[:8])[0]) % 8 == 0


@pytest.mark.parametrize("mutate", [lambda d: d[:-1], lambda d: d[:5], lambda d: d + b"\0", lambda d: b"\xff" * 8 + d[8:], lambda d: d[:8] + b"[" + d[9:]])
def test_malformed_bytes_raise_modelfile_error(mutate):
    data = mf.encode_weights(_named())
    with pytest.raises(mf.ModelFileError):
        mf.decode_weights(mutate(data))


def test_non_canonical_header_is_rejected():
    # Prepare: same tensors, header with whitespace
    data = mf.encode_weights(_named())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    text = json.dumps(header, indent=1).encode()
    text += b" " * (-len(text) % 8)
    other = struct.pack("<Q", len(text)) + text + data[8 + n :]
    # Execute / Assert
    with pytest.raises(mf.ModelFileError, match="canonical"):
        mf.decode_weights(other)


def test_save_and_load_file(tmp_path):
    data = mf.save_model(tmp_path / "m.safetensors", _named(), {"k": 1})
    named, spec = mf.load_model(tmp_path / "m.safetensors")
    assert spec == {"k": 1} and mf.encode_weights(named, spec) == data
    with pytest.raises(mf.ModelFileError, match="does not exist"):
        mf.load_model(tmp_path / "missing.safetensors")


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), min_size=1, max_size=5), st.integers(0, 2**31))
def test_round_trip_property(shapes, seed):
    rng = np.random.default_rng(seed)
    named = [(f"{i:02d}.t", rng.normal(size=s).astype(np.float32)) for i, s in enumerate(shapes)]
    back = mf.decode_weights(mf.encode_weights(named))
    assert all(a.shape == b.shape and np.array_equal(a, b) for (_, a), (_, b) in zip(named, back))
