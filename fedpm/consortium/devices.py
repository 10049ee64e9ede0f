"""Device keys as Python sees them (pure: no chain access): typed views of the registry's key bindings, waiting
changes and lease locks, the key history folded from the registry's events, and the table `fedpm device list` prints.

A machine's manufacturer binds, rotates and revokes its device key; each key signs for the reading times in
[valid_from, valid_until) (valid_until 0: open-ended) unless revoked. While a lease locks the machine, a change
waits for the lessee's approval (`DeviceChangeView`). `fedpm.consortium.client.ConsortiumRegistry` builds these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from ground.ids import from_bytes32, hex0x

ZERO_ADDRESS = "0x" + "00" * 20

# The registry events that make up a machine's key history, in the order a page lists their kinds.
DEVICE_EVENTS = ("DeviceBound", "DeviceRotated", "DeviceRevoked", "DeviceChangeRequested", "DeviceChangeApproved", "DevicesLocked", "DevicesUnlocked")


class DeviceChangeKind(enum.IntEnum):
    """Mirrors IConsortiumRegistry.DeviceChangeKind (tests/test_enum_mirrors.py checks they agree)."""

    BIND = 0
    ROTATE = 1
    REVOKE = 2


@dataclass(frozen=True)
class DeviceView:
    """One device key's binding (the registry's `deviceKey`), and whether it signs for its machine now."""

    device: str
    machine_id: str
    active: bool  # bound, not revoked, and the chain's time is inside its window
    valid_from: int
    valid_until: int  # 0: until a rotation sets it
    revoked: bool

    def valid_at(self, time: int) -> bool:
        """Whether a reading stamped `time` counts when this key signed it (the contract's `requireDeviceAt`)."""
        return _valid(self.revoked, self.valid_from, self.valid_until, time)

    def status(self, now: int) -> str:
        """active, scheduled (a rotation makes it valid later), retired (rotated out) or revoked."""
        if self.revoked:
            return "revoked"
        if now < self.valid_from:
            return "scheduled"
        return "retired" if self.valid_until and now >= self.valid_until else "active"


def device_view(device: str, key: tuple, now: int) -> DeviceView | None:
    """The view of the registry's `DeviceKey` tuple of `device` at chain time `now`, or None if it was never bound."""
    machine_id, valid_from, valid_until, revoked = key
    if machine_id == b"\0" * 32:
        return None
    return DeviceView(device, from_bytes32(machine_id), _valid(revoked, valid_from, valid_until, now), int(valid_from), int(valid_until), bool(revoked))


def _valid(revoked: bool, valid_from: int, valid_until: int, time: int) -> bool:
    return not revoked and time >= valid_from and (valid_until == 0 or time < valid_until)


@dataclass(frozen=True)
class DeviceChangeView:
    """A change of a locked machine's key waiting for the lessee's approval (by `change_hash`)."""

    machine_id: str
    kind: DeviceChangeKind
    device: str  # Bind, Rotate: the new key; Revoke: the key revoked
    old_device: str  # Rotate: the key retired at `at`
    at: int  # Rotate: the rotation point (0: when approved)
    requested_by: str  # the manufacturer's account
    change_hash: bytes

    def describe(self) -> str:
        if self.kind == DeviceChangeKind.BIND:
            return f"bind {self.device}"
        if self.kind == DeviceChangeKind.REVOKE:
            return f"revoke {self.device}"
        return f"rotate {self.old_device} -> {self.device} at {self.at or 'approval'}"


def change_view(machine_id: str, change: tuple, change_hash: bytes) -> DeviceChangeView | None:
    kind, device, old_device, at, requested_by = change
    if requested_by == ZERO_ADDRESS:
        return None
    return DeviceChangeView(machine_id, DeviceChangeKind(kind), device, old_device, int(at), requested_by, bytes(change_hash))


@dataclass(frozen=True)
class DeviceLockView:
    """The lease that locks a machine's keys: `holder` (a trusted lease contract) leases it to `lessee_org`."""

    machine_id: str
    holder: str
    lessee_org: str


@dataclass(frozen=True)
class DeviceEvent:
    """One step of a machine's key history, from the registry's events."""

    event: str  # one of DEVICE_EVENTS
    machine_id: str
    device: str | None  # the key concerned (the new key of a rotation)
    old_device: str | None  # DeviceRotated: the retired key
    at: int | None  # DeviceBound: valid from; DeviceRotated: the rotation point
    by: str | None  # the account that asked (the manufacturer's), approved (the lessee's) or locked (the lease contract)
    lessee_org: str | None  # DevicesLocked
    change_hash: str | None  # DeviceChangeRequested, DeviceChangeApproved
    change: str | None  # DeviceChangeRequested: what is asked, in words
    tx: str
    block: int
    time: int  # the block's timestamp

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def device_event(log: Any, time: int) -> DeviceEvent:
    """Decode one registry log of DEVICE_EVENTS (`time`: its block's timestamp)."""
    name, a = log["event"], log["args"]
    machine_id = from_bytes32(a["machineId"])
    device = a.get("device") or a.get("newDevice")
    change_hash = hex0x(a["changeHash"]) if "changeHash" in a else None
    change = None
    if name == "DeviceChangeRequested":
        c = a["change"]
        view = change_view(machine_id, (c["kind"], c["device"], c["oldDevice"], c["at"], c["requestedBy"]), a["changeHash"])
        device, change = view.device, view.describe()
    by = a.get("by") or a.get("holder") or (a["change"]["requestedBy"] if "change" in a else None)
    at = a.get("validFrom", a.get("at"))
    lessee = from_bytes32(a["lesseeOrg"]) if "lesseeOrg" in a else None
    return DeviceEvent(name, machine_id, device, a.get("oldDevice"), None if at is None else int(at), by, lessee, change_hash, change,
                       log["transactionHash"].to_0x_hex(), int(log["blockNumber"]), time)


@dataclass(frozen=True)
class Step:
    """Who did one thing to a key, when and where, and the lessee that approved it (a change under a lease lock)."""

    by: str | None
    tx: str
    block: int
    time: int
    approved_by: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class KeyRecord:
    """One key of a machine with its story: bound (directly or by a rotation), revoked."""

    key: DeviceView
    bound: Step | None  # None only if the events were not found (a node that pruned its logs)
    rotated_in: bool  # bound by a rotation (the key before it signs for times before key.valid_from)
    revoked: Step | None

    def to_json(self, now: int) -> dict[str, Any]:
        k = self.key
        return {"device": k.device, "machineId": k.machine_id, "status": k.status(now), "validFrom": k.valid_from, "validUntil": k.valid_until,
                "rotatedIn": self.rotated_in, "bound": self.bound.to_json() if self.bound else None,
                "revoked": self.revoked.to_json() if self.revoked else None}


def key_records(keys: Iterable[DeviceView], history: Iterable[DeviceEvent]) -> list[KeyRecord]:
    """Each key of `keys` with the events of `history` that bound and revoked it (pure)."""
    history = list(history)
    approvals = {e.tx: e.by for e in history if e.event == "DeviceChangeApproved"}

    def step(event: DeviceEvent | None) -> Step | None:
        return None if event is None else Step(event.by, event.tx, event.block, event.time, approvals.get(event.tx))

    def find(name: str, device: str) -> DeviceEvent | None:
        return next((e for e in history if e.event == name and e.device == device), None)

    out = []
    for key in keys:
        rotated = find("DeviceRotated", key.device)
        out.append(KeyRecord(key, step(rotated or find("DeviceBound", key.device)), rotated is not None, step(find("DeviceRevoked", key.device))))
    return out


def format_devices(records: Iterable[KeyRecord], now: int, org_of: Any = lambda account: account) -> str:
    """The `fedpm device list` table: each key, its status and window, and the org that bound it (`org_of` names an
    account's org)."""
    lines = [("MACHINE", "DEVICE", "STATUS", "VALID FROM", "VALID UNTIL", "BOUND BY")]
    for r in records:
        k = r.key
        by = "-" if r.bound is None else org_of(r.bound.by) + (f" (approved by {org_of(r.bound.approved_by)})" if r.bound.approved_by else "")
        lines.append((k.machine_id, k.device, k.status(now), _utc(k.valid_from), _utc(k.valid_until) if k.valid_until else "-", by))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    return "\n".join("  ".join(f"{cell:<{widths[i]}}" for i, cell in enumerate(line[:5])) + "  " + line[5] for line in lines)


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
