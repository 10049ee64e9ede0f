"""EIP-712 signatures of sensor batches by device keys (pure: no chain access).

The device signs `Batch(bytes32 machineId,uint64 deviceSeq,uint64 fromTime,uint64 toTime,uint32 count,
bytes32 merkleRoot)` under the domain {name "fedpm SensorBatchRegistry", version "1", chainId,
verifyingContract}; `SensorBatchRegistry` recovers the signer with OpenZeppelin's ECDSA/EIP712.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_canonical_address, to_checksum_address

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

    def as_tuple(self) -> tuple:
        """The `Batch` struct as web3 passes it to the contract."""
        m = self.message()
        return (m["machineId"], m["deviceSeq"], m["fromTime"], m["toTime"], m["count"], m["merkleRoot"])


def domain(chain_id: int, contract: str) -> dict:
    return {"name": DOMAIN_NAME, "version": DOMAIN_VERSION, "chainId": chain_id, "verifyingContract": contract}


_BATCH_TYPEHASH = keccak(text="Batch(bytes32 machineId,uint64 deviceSeq,uint64 fromTime,uint64 toTime,uint32 count,bytes32 merkleRoot)")
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


@functools.lru_cache(maxsize=64)
def domain_separator(chain_id: int, contract: str) -> bytes:
    return keccak(_DOMAIN_TYPEHASH + keccak(text=DOMAIN_NAME) + keccak(text=DOMAIN_VERSION) + chain_id.to_bytes(32, "big") + bytes(12) + to_canonical_address(contract))


def batch_digest(header: BatchHeader, chain_id: int, contract: str) -> bytes:
    """The EIP-712 digest the device signs (the contract's `batchDigest`), computed directly: the gateway signs
    one batch per 1,000 readings and the generic `encode_typed_data` path costs several times more."""
    struct_hash = keccak(
        _BATCH_TYPEHASH + to_bytes32(header.machine) + header.device_seq.to_bytes(32, "big") + header.from_time.to_bytes(32, "big")
        + header.to_time.to_bytes(32, "big") + header.count.to_bytes(32, "big") + bytes(header.merkle_root)
    )
    return keccak(b"\x19\x01" + domain_separator(chain_id, to_checksum_address(contract)) + struct_hash)


def sign_batch(device: LocalAccount, header: BatchHeader, chain_id: int, contract: str) -> bytes:
    return bytes(device.unsafe_sign_hash(batch_digest(header, chain_id, contract)).signature)


def sign_batch_typed(device: LocalAccount, header: BatchHeader, chain_id: int, contract: str) -> bytes:
    """Reference path (eth-account's EIP-712 encoder); `sign_batch` must give the same signature."""
    signable = encode_typed_data(domain_data=domain(chain_id, contract), message_types=BATCH_TYPES, message_data=header.message())
    return bytes(device.sign_message(signable).signature)


def recover_signer(header: BatchHeader, signature: bytes, chain_id: int, contract: str) -> str:
    signable = encode_typed_data(domain_data=domain(chain_id, contract), message_types=BATCH_TYPES, message_data=header.message())
    return Account.recover_message(signable, signature=signature)
