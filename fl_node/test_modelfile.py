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


# --- every rejection names its cause; exact bytes (kill modelfile.py's mutants: `make mutate-py`) ---

def _raw(header, body=b""):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


def _f32(name="00.a", values=(1.0, 2.0)):
    return {name: {"dtype": "F32", "shape": [len(values)], "data_offsets": [0, 4 * len(values)]}}, np.array(values, "<f4").tobytes()


def test_exact_bytes_of_a_small_model():
    data = mf.encode_weights([("00.a", np.array([1, 2], np.int16)), ("01.b", np.zeros((0, 3), np.float32))], {"k": [1]})
    header = (b'{"00.a":{"data_offsets":[0,4],"dtype":"I16","shape":[2]},"01.b":{"data_offsets":[4,4],"dtype":"F32","shape":[0,3]},'
              b'"__metadata__":{"fedpm":"{\\"k\\":[1]}","format":"fedpm-v1"}}')
    padded = header.ljust((len(header) + 7) // 8 * 8)  # spaces up to a multiple of 8
    assert data == struct.pack("<Q", len(padded)) + padded + b"\x01\x00\x02\x00"
    bare = b'{"00.a":{"data_offsets":[0,4],"dtype":"I16","shape":[2]},"__metadata__":{"format":"fedpm-v1"}}'
    assert len(bare) % 8 and mf.encode_weights([("00.a", np.array([1, 2], np.int16))]) == (
        struct.pack("<Q", (len(bare) + 7) // 8 * 8) + bare.ljust((len(bare) + 7) // 8 * 8) + b"\x01\x00\x02\x00")
    assert mf.decode_spec(mf.encode_weights([("00.a", np.array([1, 2], np.int16))])) is None


def test_big_endian_and_bool_arrays_encode_as_little_endian_safetensors():
    big = np.array([1.5, -2.0], ">f8")
    assert mf.encode_weights([("x", big)]) == mf.encode_weights([("x", big.astype("<f8"))])
    (name, back), = mf.decode_weights(mf.encode_weights([("x", big)]))
    assert back.dtype == np.dtype("float64") and back.tolist() == [1.5, -2.0]
    assert mf.decode_weights(mf.encode_weights([("m", np.array([True, False]))]))[0][1].tolist() == [True, False]


@pytest.mark.parametrize(("named", "message"), [
    ([("x", np.array([1], np.uint16))], "array 'x' has unsupported dtype uint16"),
    ([("", np.zeros(1))], "array name '' is empty, reserved or repeated"),
    ([("__metadata__", np.zeros(1))], "array name '__metadata__' is empty, reserved or repeated"),
    ([("x", np.zeros(1)), ("x", np.zeros(1))], "array name 'x' is empty, reserved or repeated"),
])
def test_unencodable_arrays_are_refused(named, message):
    with pytest.raises(mf.ModelFileError) as err:
        mf.encode_weights(named)
    assert str(err.value).startswith(message) and err.value.hint


@pytest.mark.parametrize(("data", "message"), [
    ("not bytes at all", "shorter than a safetensors header"),
    (b"\x00" * 7, "shorter than a safetensors header"),
    (b"\x00" * 8, "header is not JSON"),  # an empty header: 8 bytes are enough to read its length
    (struct.pack("<Q", 3) + b"{}", "points past the end"),
    (struct.pack("<Q", 2) + b"\xff\xfe", "header is not JSON"),
    (_raw([1]), "header is not a JSON object"),
    (_raw({"x": {"dtype": "F32", "shape": [1]}}), "malformed tensor entry"),
    (_raw({"x": {"dtype": "Q9", "shape": [1], "data_offsets": [0, 4]}}), "malformed tensor entry"),
    (_raw({"x": {"dtype": "F32", "shape": None, "data_offsets": [0, 4]}}), "malformed tensor entry"),
    (_raw({"x": {"dtype": "F32", "shape": ["a"], "data_offsets": [0, 4]}}), "malformed tensor entry"),
    (_raw({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8), "does not fit its data offsets"),
    (_raw({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8), "does not fit its data offsets"),
    (_raw({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4), "does not fit its data offsets"),
    (_raw({"x": {"dtype": "F32", "shape": [-1, -1], "data_offsets": [0, 4]}}, b"\0" * 4), "does not fit its data offsets"),
    (_raw(_f32()[0], _f32()[1] + b"\0"), "trailing data after the last tensor"),
    (_raw(_f32()[0] | {"__metadata__": {"fedpm": 1}}, _f32()[1]), "metadata is not a map of strings"),
    (_raw(_f32()[0] | {"__metadata__": ["x"]}, _f32()[1]), "metadata is not a map of strings"),
])
def test_each_corruption_is_named(data, message):
    with pytest.raises(mf.ModelFileError, match=message) as err:
        mf.decode_weights(data)
    assert err.value.hint


def test_a_header_exactly_filling_the_bytes_and_no_metadata_parse():
    header, body = _f32()
    meta, named = mf._parse(_raw(header, body))
    assert meta == {} and [(n, a.tolist()) for n, a in named] == [("00.a", [1.0, 2.0])]
    assert mf._parse(_raw(header | {"__metadata__": None}, body))[0] == {}
    with pytest.raises(mf.ModelFileError, match="not in canonical form"):
        mf.decode_weights(_raw(header, body))  # readable, but not the bytes encode_weights writes


def test_decode_spec_of_a_corrupt_embedded_spec():
    header, body = _f32()
    assert mf.decode_spec(_raw(header | {"__metadata__": {"fedpm": '{"a":1}'}}, body)) == {"a": 1}
    with pytest.raises(mf.ModelFileError, match="embedded task spec is not JSON"):
        mf.decode_spec(_raw(header | {"__metadata__": {"fedpm": "{"}}, body))


def test_model_hash_is_keccak256_of_the_bytes():
    assert mf.model_hash(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert mf.model_hash(bytearray(b"fedpm")) == mf.model_hash(b"fedpm")


def test_canonical_json_refuses_nan_and_escapes_non_ascii():
    assert mf.canonical_json({"b": "é", "a": [1, 2]}) == b'{"a":[1,2],"b":"\\u00e9"}'
    with pytest.raises(ValueError):
        mf.canonical_json({"x": float("nan")})


def test_a_scalar_tensor_round_trips():
    data = mf.encode_weights([("00.step", np.array(3.5, np.float64)), ("01.w", np.ones((2, 0), np.float32))])
    (name, scalar), (_, empty) = mf.decode_weights(data)
    assert name == "00.step" and scalar.shape == () and scalar.item() == 3.5 and empty.shape == (2, 0)


def test_decode_without_copy_gives_read_only_views_of_the_bytes_and_stays_strict():
    # Prepare
    data = mf.encode_weights(_named(), {"a": 1})
    n = struct.unpack("<Q", data[:8])[0]
    text = json.dumps(json.loads(data[8 : 8 + n]), indent=1).encode()
    text += b" " * (-len(text) % 8)
    non_canonical = struct.pack("<Q", len(text)) + text + data[8 + n :]
    # Execute
    views = mf.decode_weights(data, copy=False)
    copies = mf.decode_weights(data)
    # Assert: same arrays; the views share the bytes' memory and cannot be written
    assert [(name, a.dtype, a.shape, a.tobytes()) for name, a in views] == [(name, a.dtype, a.shape, a.tobytes()) for name, a in copies]
    assert all(not a.flags.writeable for _, a in views) and all(a.flags.writeable for _, a in copies)
    assert all(np.shares_memory(a, np.frombuffer(data, np.uint8)) for _, a in views)
    assert mf.encode_weights(views, {"a": 1}) == data
    with pytest.raises(mf.ModelFileError, match="canonical"):
        mf.decode_weights(non_canonical, copy=False)
