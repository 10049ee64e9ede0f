"""Device-signed usage reports: the EIP-712 typed data `MachineLease` verifies, signing, verifying, files.

Pure: no chain access. A device (or its gateway, holding the device key) signs a cumulative counter for a lease;
the resulting report file can be carried to anyone who submits it (`fedpm lease report-usage --report FILE`).
Domain: name "fedpm MachineLease", version "1", the chain id and the MachineLease address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from chain import eip712
from chain.eip712 import Domain
from ground.errors import FedpmError
from ground.ids import hex0x, to_bytes32

DOMAIN_NAME = "fedpm MachineLease"
DOMAIN_VERSION = "1"
USAGE_TYPES = {
    "UsageReport": [
        {"name": "leaseId", "type": "uint256"},
        {"name": "machineId", "type": "bytes32"},
        {"name": "counter", "type": "uint256"},
        {"name": "readAt", "type": "uint64"},
    ]
}


class UsageReportError(FedpmError):
    """A usage report is malformed or its signature does not verify."""


@dataclass(frozen=True)
class UsageReport:
    lease_id: int
    machine_id: str
    counter: int  # cumulative, milli-units of the tariff unit
    read_at: int  # device clock, unix seconds; must grow strictly from report to report

    def to_chain(self) -> tuple:
        return (self.lease_id, to_bytes32(self.machine_id), self.counter, self.read_at)

    def message(self) -> dict[str, Any]:
        return {"leaseId": self.lease_id, "machineId": to_bytes32(self.machine_id), "counter": self.counter, "readAt": self.read_at}


@dataclass(frozen=True)
class SignedReport:
    report: UsageReport
    signature: bytes
    device: str  # the address that signed (claimed; `verify` recomputes it)
    chain_id: int
    contract: str

    def to_json(self) -> str:
        r = self.report
        return json.dumps({
            "report": {"leaseId": r.lease_id, "machineId": r.machine_id, "counter": r.counter, "readAt": r.read_at},
            "signature": hex0x(self.signature), "device": self.device,
            "domain": domain(self.chain_id, self.contract).to_dict(),
        }, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SignedReport":
        try:
            data = json.loads(text)
            r, d = data["report"], data["domain"]
            report = UsageReport(int(r["leaseId"]), str(r["machineId"]), int(r["counter"]), int(r["readAt"]))
            sig = bytes.fromhex(data["signature"].removeprefix("0x"))
            return cls(report, sig, to_checksum_address(data["device"]), int(d["chainId"]), to_checksum_address(d["verifyingContract"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageReportError(f"usage report file is malformed: {exc!r}", hint="produce it with `fedpm lease sign-usage` or usage.sign_report") from None


def domain(chain_id: int, contract: str) -> Domain:
    return Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, contract)


def digest(report: UsageReport, chain_id: int, contract: str) -> bytes:
    """The 32-byte EIP-712 digest (equals MachineLease.usageDigest)."""
    return eip712.digest(domain(chain_id, contract), USAGE_TYPES, report.message())


def sign_report(device: Any, report: UsageReport, chain_id: int, contract: str) -> SignedReport:
    """Sign with the device key (a LocalAccount)."""
    signature = eip712.sign(device, domain(chain_id, contract), USAGE_TYPES, report.message())
    return SignedReport(report, signature, device.address, chain_id, to_checksum_address(contract))


def recover_signer(signed: SignedReport) -> str:
    """The address whose key made `signed.signature` over the report in its domain."""
    try:
        return eip712.recover_signer(domain(signed.chain_id, signed.contract), USAGE_TYPES, signed.report.message(), signed.signature)
    except Exception as exc:  # eth_keys raises several types for garbage signatures
        raise UsageReportError(f"usage report signature is invalid: {exc}", hint="re-sign the report with the device key") from None


def verify(signed: SignedReport, *, chain_id: int | None = None, contract: str | None = None) -> str:
    """Check the signature matches the claimed device (and the expected domain); returns the device address."""
    if chain_id is not None and signed.chain_id != chain_id:
        raise UsageReportError(f"report is for chain {signed.chain_id}, not {chain_id}", hint="sign it for this chain")
    if contract is not None and signed.contract.lower() != contract.lower():
        raise UsageReportError(f"report is for contract {signed.contract}, not {contract}", hint="sign it for this deployment's MachineLease")
    device = recover_signer(signed)
    if device.lower() != signed.device.lower():
        raise UsageReportError(f"report claims device {signed.device} but was signed by {device}", hint="sign with the device's own key")
    return device
