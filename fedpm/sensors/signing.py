"""EIP-712 signatures of sensor batches by device keys (pure: no chain access).

The device signs `Batch(bytes32 machineId,uint64 deviceSeq,uint64 fromTime,uint64 toTime,uint32 count,
bytes32 merkleRoot)` under the domain {name "fedpm SensorBatchRegistry", version "1", chainId,
verifyingContract}; `SensorBatchRegistry` recovers the signer with OpenZeppelin's ECDSA/EIP712.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain import eip712
from chain.eip712 import Domain
from ground.ids import to_bytes32

DOMAIN_NAME = "fedpm SensorBatchRegistry"
DOMAIN_VERSION = "1"
BATCH_TYPES = {
    "Batch": [
        {"name": "machineId", "type": "bytes32"},
        {"name": "deviceSeq", "type": "uint64"},
        {"name": "fromTime", "type": "uint64"},
        {"name": "toTime", "type": "uint64"},
        {"name": "count", "type": "uint32"},
        {"name": "merkleRoot", "type": "bytes32"},
    ]
}


@dataclass(frozen=True)
class BatchHeader:
    machine: str
    device_seq: int
    from_time: int
    to_time: int
    count: int
    merkle_root: bytes

    def message(self) -> dict:
        return {"machineId": to_bytes32(self.machine), "deviceSeq": self.device_seq, "fromTime": self.from_time, "toTime": self.to_time, "count": self.count, "merkleRoot": self.merkle_root}

    def to_chain(self) -> tuple:
        """The `Batch` struct as web3 passes it to the contract."""
        m = self.message()
        return (m["machineId"], m["deviceSeq"], m["fromTime"], m["toTime"], m["count"], m["merkleRoot"])


def domain(chain_id: int, contract: str) -> Domain:
    return Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, contract)


_BATCH_TYPEHASH = keccak(text="Batch(bytes32 machineId,uint64 deviceSeq,uint64 fromTime,uint64 toTime,uint32 count,bytes32 merkleRoot)")


def batch_digest(header: BatchHeader, chain_id: int, contract: str) -> bytes:
    """The EIP-712 digest the device signs (the contract's `batchDigest`), its struct hash computed directly: the
    gateway signs one batch per 1,000 readings and the generic typed-data path costs several times more."""
    struct_hash = keccak(
        _BATCH_TYPEHASH + to_bytes32(header.machine) + header.device_seq.to_bytes(32, "big") + header.from_time.to_bytes(32, "big")
        + header.to_time.to_bytes(32, "big") + header.count.to_bytes(32, "big") + bytes(header.merkle_root)
    )
    return eip712.struct_digest(domain(chain_id, contract), struct_hash)


def sign_batch(device: LocalAccount, header: BatchHeader, chain_id: int, contract: str) -> bytes:
    return eip712.sign_digest(device, batch_digest(header, chain_id, contract))


def sign_batch_typed(device: LocalAccount, header: BatchHeader, chain_id: int, contract: str) -> bytes:
    """Reference path (the generic EIP-712 encoder); `sign_batch` must give the same signature."""
    return eip712.sign(device, domain(chain_id, contract), BATCH_TYPES, header.message())


def recover_signer(header: BatchHeader, signature: bytes, chain_id: int, contract: str) -> str:
    return eip712.recover_signer(domain(chain_id, contract), BATCH_TYPES, header.message(), signature)
