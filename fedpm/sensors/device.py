"""The device side: a key in the machine that numbers and signs every block it records (what `fedpm device run`,
`fedpm simulate` and the benchmark's publisher run at the source).

- `SeqCounter`: the device's next block sequence number, kept in a file across restarts and locked while a process
  signs with the device, so two publishers can never give two blocks one seq. The file is replaced atomically BEFORE
  the block goes out: a crash of the device's process can skip a seq (the gateway then reports it missing), never
  reuse one. It is not fsynced (one write per block; bench/sensor_anchoring.py measures it): after a power loss of
  the device's host the file may be older, and the gateway refuses the reused seqs as replays until it passes them.
- `Device`: encodes readings of one channel as a block of its machine, takes the next seq, signs (`BlockSigner`).
- `Blocker`: groups a stream of single readings (CSV rows, JSON lines, C-MAPSS cycles) into blocks per channel.
- `parse_csv_row` / `parse_json_line`: the edge agent's input rows (pure).
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from eth_account.signers.local import LocalAccount

from chain.eip712 import Domain
from fedpm.sensors.encoding import MAX_READINGS, encode_block
from fedpm.sensors.signing import BlockSigner
from ground.errors import FedpmError
from ground.files import atomic_write


class DeviceError(FedpmError):
    """The device cannot sign (its sequence file is corrupt or in use) or its input is not readings."""


class SeqCounter:
    """A device's next block seq, in `path` (one file per device) or in memory (`path` None: starts at 0)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.next = 0
        self._fd: int | None = None
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path.with_name(path.name + ".lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise DeviceError(f"another process signs with this device ({path.name})", hint="run one publisher per device key") from None
        if path.exists():
            try:
                loaded = json.loads(path.read_text())
            except (ValueError, UnicodeDecodeError):
                loaded = None
            if not isinstance(loaded, dict) or type(loaded.get("next")) is not int or loaded["next"] < 0:
                self.close()
                raise DeviceError(f"sequence file {path} is corrupt",
                                  hint="restore it from a backup; never restart a device's seqs at 0 (the gateway refuses seqs it saw as replays)")
            self.next = loaded["next"]

    def take(self) -> int:
        seq = self.next
        self.next = seq + 1
        if self.path is not None:
            atomic_write(self.path, json.dumps({"next": self.next}), sync=False)  # once per block: no fsync on this hot path
        return seq

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def seq_file(home: Path, device: str) -> Path:
    """Where a device's sequence number lives under a fedpm home."""
    return home / "sensors" / "devices" / f"{device}.seq.json"


@dataclass
class Device:
    """A device key of one machine: numbers and signs the blocks it records."""

    machine: str
    signer: BlockSigner
    seqs: SeqCounter = field(default_factory=SeqCounter)

    @classmethod
    def of(cls, machine: str, account: LocalAccount, dom: Domain, seq_path: Path | None = None) -> "Device":
        return cls(machine, BlockSigner.of(account, dom), SeqCounter(seq_path))

    @property
    def address(self) -> str:
        return self.signer.address

    def sign(self, channel: str, unit: str, ts: Sequence[int], values: Sequence[float]) -> tuple[int, bytes]:
        """(seq, block || signature) of the readings, under the device's next seq."""
        seq = self.seqs.next
        block = encode_block(self.address, self.machine, seq, channel, unit, ts, values)  # may raise before a seq is spent
        self.seqs.take()
        return seq, block + self.signer.sign(block)

    def close(self) -> None:
        self.seqs.close()


@dataclass
class Blocker:
    """Readings in, blocks out: one buffer per (channel, unit); a buffer becomes a block at `size` readings."""

    size: int = 100
    _buffers: dict[tuple[str, str], tuple[list[int], list[float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 1 <= self.size <= MAX_READINGS:
            raise DeviceError(f"block size {self.size} is outside 1..{MAX_READINGS}", hint="pass --block between 1 and 65535")

    def add(self, channel: str, unit: str, ts: int, value: float) -> list[tuple[str, str, list[int], list[float]]]:
        ts_list, values = self._buffers.setdefault((channel, unit), ([], []))
        ts_list.append(ts)
        values.append(value)
        if len(ts_list) < self.size:
            return []
        del self._buffers[(channel, unit)]
        return [(channel, unit, ts_list, values)]

    def flush(self) -> list[tuple[str, str, list[int], list[float]]]:
        out = [(c, u, t, v) for (c, u), (t, v) in self._buffers.items()]
        self._buffers.clear()
        return out


def _reading(channel: Any, ts: Any, value: Any, unit: Any, where: str) -> tuple[str, int, float, str]:
    if not isinstance(channel, str) or not channel or not isinstance(unit, str):
        raise DeviceError(f"{where}: channel and unit must be strings", hint="channel,ts_ms,value[,unit]")
    if type(ts) is not int or ts < 0 or type(value) not in (int, float):
        raise DeviceError(f"{where}: ts must be integer epoch milliseconds and value a number", hint="channel,ts_ms,value[,unit]")
    return channel, ts, float(value), unit


def parse_csv_row(row: Sequence[str], where: str = "CSV row") -> tuple[str, int, float, str]:
    """CSV columns: channel, ts_ms, value[, unit]."""
    if len(row) not in (3, 4):
        raise DeviceError(f"{where} has {len(row)} columns", hint="expected channel,ts_ms,value[,unit]")
    try:
        ts, value = int(row[1]), float(row[2])
    except ValueError:
        raise DeviceError(f"{where}: ts_ms must be an integer and value a number", hint="channel,ts_ms,value[,unit]") from None
    return _reading(row[0], ts, value, row[3] if len(row) == 4 else "", where)


def parse_json_line(line: str, where: str = "line") -> tuple[str, int, float, str]:
    """One JSON object per line: {"channel", "ts", "value"[, "unit"]}."""
    try:
        obj = json.loads(line)
    except ValueError:
        raise DeviceError(f"{where} is not JSON", hint='one {"channel", "ts", "value"[, "unit"]} object per line') from None
    if not isinstance(obj, dict):
        raise DeviceError(f"{where} is not a JSON object", hint='one {"channel", "ts", "value"[, "unit"]} object per line')
    return _reading(obj.get("channel"), obj.get("ts"), obj.get("value"), obj.get("unit", ""), where)
