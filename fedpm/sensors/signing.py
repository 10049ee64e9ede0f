"""Device signatures over sensor blocks, made at the source (pure: no chain access).

The device signs the EIP-712 message `SensorBlock(bytes32 blockHash)`, blockHash = keccak256(block bytes), under the
domain {name "fedpm SensorBatchRegistry", version "2", chainId, verifyingContract = the SensorBatchRegistry}: the
signature binds the block (device, machine, seq, channel, unit, timestamps, values) to one deployment, and the
contract's `blockDigest` / `verifyBlock` check it with OpenZeppelin's ECDSA. Only low-s signatures count (as OZ).

The hot paths (a device signing, a gateway verifying a block every ~100 readings) call libsecp256k1 through
coincurve directly; `sign_block_typed` / `recover_block_signer` are the reference paths through eth-account.
"""

from __future__ import annotations

from dataclasses import dataclass

import coincurve
from eth_account.signers.local import LocalAccount

from chain import eip712
from chain.deploy import Deployment
from chain.eip712 import Domain
from fedpm.sensors.encoding import SIGNATURE_LEN, address_of
from fedpm.sensors.merkle import keccak256

DOMAIN_NAME = "fedpm SensorBatchRegistry"
DOMAIN_VERSION = "2"
CONTRACT = "SensorBatchRegistry"
BLOCK_TYPES = {"SensorBlock": [{"name": "blockHash", "type": "bytes32"}]}
_BLOCK_TYPEHASH = keccak256(b"SensorBlock(bytes32 blockHash)")
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def domain(chain_id: int, contract: str) -> Domain:
    return Domain(DOMAIN_NAME, DOMAIN_VERSION, chain_id, contract)


def deployment_domain(deployment: Deployment) -> Domain:
    """The signing domain of a deployment file: a device needs no chain connection to sign."""
    return domain(deployment.chain_id, deployment.address(CONTRACT))


def block_digest(block_hash: bytes, dom: Domain) -> bytes:
    """The digest the device signs for the block whose keccak256 is `block_hash` (the contract's `blockDigest`)."""
    return keccak256(b"\x19\x01" + eip712.domain_separator(dom) + keccak256(_BLOCK_TYPEHASH + block_hash))


@dataclass(frozen=True)
class BlockSigner:
    """A device key signing blocks for one deployment."""

    address: str
    domain: Domain
    _key: coincurve.PrivateKey

    @classmethod
    def of(cls, account: LocalAccount, dom: Domain) -> "BlockSigner":
        return cls(account.address, dom, coincurve.PrivateKey(bytes(account.key)))

    def sign(self, block: bytes) -> bytes:
        """The 65-byte signature r || s || v of `block` (canonical block bytes)."""
        sig = self._key.sign_recoverable(block_digest(keccak256(block), self.domain), hasher=None)
        return sig[:64] + bytes((27 + sig[64],))


def recover_signer(block_hash: bytes, signature: bytes, dom: Domain) -> str | None:
    """The address that signed the block with hash `block_hash`, or None for a malformed or high-s signature."""
    if len(signature) != SIGNATURE_LEN or signature[64] not in (27, 28) or int.from_bytes(signature[32:64], "big") > _HALF_N:
        return None
    try:
        pub = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes((signature[64] - 27,)), block_digest(block_hash, dom), hasher=None)
    except ValueError:
        return None
    return address_of(keccak256(pub.format(compressed=False)[1:])[12:])


def sign_block_typed(device: LocalAccount, block: bytes, dom: Domain) -> bytes:
    """Reference path (eth-account's EIP-712 encoder); `BlockSigner.sign` must give the same signature."""
    return eip712.sign(device, dom, BLOCK_TYPES, {"blockHash": keccak256(block)})


def recover_block_signer(block: bytes, signature: bytes, dom: Domain) -> str:
    """Reference path: eth-account's recovery of the signer of `block`."""
    return eip712.recover_signer(dom, BLOCK_TYPES, {"blockHash": keccak256(block)}, signature)
