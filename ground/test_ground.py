"""The ground floor: canonical JSON, atomic writes, the config-section loader, readable ids (pure or tmp files)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ground.canonical import canonical_json
from ground.config import load_section, read_config_file
from ground.errors import ConfigError, FedpmError
from ground.files import atomic_write
from ground.ids import from_bytes32, hex0x, readable_bytes32, to_bytes32


def test_canonical_json_is_one_byte_string_per_value():
    assert canonical_json({"b": [1, 2.5], "a": {"z": None, "y": True}}) == b'{"a":{"y":true,"z":null},"b":[1,2.5]}'
    assert canonical_json({"t": "µ"}) == b'{"t":"\\u00b5"}'
    assert canonical_json({"t": "µ"}, ensure_ascii=False) == '{"t":"µ"}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "sub" / "f.json"
    atomic_write(target, "old")
    atomic_write(target, b"new", mode=0o755)

    assert target.read_bytes() == b"new" and os.stat(target).st_mode & 0o777 == 0o755
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_atomic_write_fsyncs_unless_told_not_to(tmp_path: Path, monkeypatch):
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))
    target = tmp_path / "seq.json"

    atomic_write(target, "durable")
    atomic_write(target, "hot path", sync=False)

    assert len(synced) == 1 and target.read_text() == "hot path"
    assert [p.name for p in tmp_path.iterdir()] == ["seq.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path):
    target = tmp_path / "f"
    atomic_write(target, b"old")
    with pytest.raises(TypeError):
        atomic_write(target, 42)  # type: ignore[arg-type]

    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f"]


@dataclass(frozen=True)
class _Inner:
    port: int = 1
    path: Path | None = None
    rate: float = 0.5


@dataclass(frozen=True)
class _Root:
    name: str = "x"
    inner: _Inner = field(default_factory=_Inner)


def test_sections_load_code_over_env_over_file_over_defaults():
    file = {"name": "file", "inner": {"port": 3, "rate": "0.25"}}
    env = {"FEDPM_INNER_PORT": "2", "FEDPM_INNER_PATH": "/e"}

    s = load_section(_Root, "", {"inner.port": 9}, env, file)

    assert s == _Root(name="file", inner=_Inner(port=9, path=Path("/e"), rate=0.25))
    assert load_section(_Root, "", {}, {}, {}) == _Root()
    with pytest.raises(ConfigError, match="FEDPM_INNER_PORT"):
        load_section(_Root, "", {}, {"FEDPM_INNER_PORT": "many"}, {})


def test_config_file_must_exist_when_named_and_know_its_sections(tmp_path: Path):
    cfg = tmp_path / "fedpm.toml"
    assert read_config_file(cfg, required=False, known={"inner"}) == {}
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(cfg, required=True, known={"inner"})
    cfg.write_text("[other]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        read_config_file(cfg, required=False, known={"inner"})
    cfg.write_text("[inner\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(cfg, required=False, known={"inner"})


def test_errors_carry_a_hint():
    err = ConfigError("bad port", hint="set FEDPM_MQTT_PORT")

    assert isinstance(err, FedpmError) and str(err) == "bad port (set FEDPM_MQTT_PORT)" and err.hint == "set FEDPM_MQTT_PORT"


def test_bytes32_ids_round_trip_and_refuse_bad_names():
    assert to_bytes32("press-07") == b"press-07" + b"\0" * 24 and from_bytes32(to_bytes32("press-07")) == "press-07"
    assert hex0x(b"\x01\xab") == "0x01ab"
    for bad in ("", "x" * 32, "a\0b"):
        with pytest.raises(FedpmError):
            to_bytes32(bad)


def test_only_ids_made_by_to_bytes32_read_as_names():
    assert readable_bytes32(to_bytes32("factory-1-m1")) == "factory-1-m1"
    assert readable_bytes32(bytes.fromhex("ab" * 32)) is None  # a hash
    assert readable_bytes32(b"ab\0c".ljust(32, b"\0")) is None  # zero inside
    assert readable_bytes32(b"\x01\x02".ljust(32, b"\0")) is None  # not printable
    assert readable_bytes32(b"\0" * 32) is None and readable_bytes32(b"short") is None


def test_canonical_json_takes_its_encoding_switch_by_keyword_only():
    """A stray positional argument must not silently switch a hash's encoding to UTF-8."""
    with pytest.raises(TypeError):
        canonical_json({"b": "é"}, False)  # type: ignore[misc]
    assert canonical_json({"b": "é"}, ensure_ascii=False) == '{"b":"é"}'.encode()
