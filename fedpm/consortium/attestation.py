"""Device attestations: the manufacturer's EIP-712 signature over a device key and its machine, checkable by anyone
(pure: no chain access).

Typed data `DeviceAttestation(address device,bytes32 machineId)` in the domain "fedpm ConsortiumRegistry", version
"1", the chain id and the registry's address, so an attestation names one consortium. It travels with the device
(a JSON file, `fedpm device attest`); whoever holds it recovers the signer here and asks the registry whether that
account belongs to the machine's manufacturer org and whether the key is bound to the machine
(`ConsortiumRegistry.check_attestation`, `fedpm device verify-attestation`). `judge` is that verdict, pure.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from chain import eip712
from chain.eip712 import Domain
from ground.errors import FedpmError
from ground.ids import hex0x, to_bytes32

DOMAIN_NAME = "fedpm ConsortiumRegistry"
DOMAIN_VERSION = "1"
ATTESTATION_TYPES = {"DeviceAttestation": [{"name": "device", "type": "address"}, {"name": "machineId", "type": "bytes32"}]}


class AttestationError(FedpmError):
    """An attestation file is malformed, names another chain or registry, or its signature does not verify."""


@dataclass(frozen=True)
class DeviceAttestation:
    device: str
    machine_id: str
    signer: str  # the account that signed (claimed; `recover_signer` recomputes it)
    signature: bytes
    chain_id: int
    registry: str

    def message(self) -> dict[str, Any]:
        return {"device": to_checksum_address(self.device), "machineId": to_bytes32(self.machine_id)}

    def domain(self) -> Domain:
        return Domain(DOMAIN_NAME, DOMAIN_VERSION, self.chain_id, self.registry)

    def to_json(self) -> str:
        return json.dumps({"device": self.device, "machineId": self.machine_id, "signer": self.signer, "signature": hex0x(self.signature),
                           "domain": self.domain().to_dict()}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "DeviceAttestation":
        try:
            data = json.loads(text)
            d = data["domain"]
            if (d["name"], d["version"]) != (DOMAIN_NAME, DOMAIN_VERSION):
                raise ValueError(f"domain {d['name']!r} version {d['version']!r} is not a device attestation's")
            return cls(to_checksum_address(data["device"]), str(data["machineId"]), to_checksum_address(data["signer"]),
                       bytes.fromhex(data["signature"].removeprefix("0x")), int(d["chainId"]), to_checksum_address(d["verifyingContract"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AttestationError(f"attestation file is malformed: {exc}", hint="produce it with `fedpm device attest`") from None


def attest(signer: LocalAccount, device: str, machine_id: str, chain_id: int, registry: str) -> DeviceAttestation:
    """The manufacturer's account `signer` attests that `device` is `machine_id`'s key in this consortium."""
    unsigned = DeviceAttestation(to_checksum_address(device), machine_id, signer.address, b"", chain_id, to_checksum_address(registry))
    signature = eip712.sign(signer, unsigned.domain(), ATTESTATION_TYPES, unsigned.message())
    return DeviceAttestation(unsigned.device, machine_id, signer.address, signature, chain_id, unsigned.registry)


def recover_signer(att: DeviceAttestation, *, chain_id: int, registry: str) -> str:
    """The account that signed `att`, after checking it names this chain and registry and its claimed signer."""
    if att.chain_id != chain_id or att.registry.lower() != registry.lower():
        raise AttestationError(f"attestation is for chain {att.chain_id} registry {att.registry}, not chain {chain_id} registry {registry}",
                               hint="check it against the consortium it was made for (--rpc-url, the deployment file)")
    try:
        signer = eip712.recover_signer(att.domain(), ATTESTATION_TYPES, att.message(), att.signature)
    except Exception as exc:  # eth_keys raises several types for garbage signatures
        raise AttestationError(f"attestation signature is invalid: {exc}", hint="ask the manufacturer for a new one (fedpm device attest)") from None
    if signer.lower() != att.signer.lower():
        raise AttestationError(f"attestation claims signer {att.signer} but was signed by {signer} (altered?)",
                               hint="ask the manufacturer for a new one (fedpm device attest)")
    return signer


@dataclass(frozen=True)
class AttestationCheck:
    """What the chain says about an attestation: who signed it, whether that is the machine's manufacturer, and
    whether the key is bound to the machine. `problem` names the first thing wrong (None: the attestation holds)."""

    attestation: DeviceAttestation
    signer_org: str | None  # None: the signer belongs to no member org (any more)
    manufacturer_org: str | None  # None: the machine is not registered
    bound_machine: str | None  # the machine the key is bound to on chain (None: not bound)
    key_status: str | None  # the key's status now (active, scheduled, retired, revoked)
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def judge(att: DeviceAttestation, signer_org: str | None, manufacturer_org: str | None, bound_machine: str | None, key_status: str | None) -> AttestationCheck:
    """The verdict on a signature-checked attestation, given what the registry holds (pure)."""
    if manufacturer_org is None:
        problem = f"machine {att.machine_id} is not registered"
    elif signer_org != manufacturer_org:
        problem = f"signed by {att.signer} of {signer_org or 'no member org'}, not of {manufacturer_org}, the manufacturer of {att.machine_id}"
    elif bound_machine is not None and bound_machine != att.machine_id:
        problem = f"device {att.device} is bound to {bound_machine}, not to {att.machine_id}"
    elif key_status == "revoked":
        problem = f"device {att.device} was revoked"
    else:
        problem = None
    return AttestationCheck(att, signer_org, manufacturer_org, bound_machine, key_status, problem)
