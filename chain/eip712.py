"""EIP-712 typed data, once: domains, digests, signing and recovering the signer (pure: no chain access).

A message type is given as eth-account takes it: `{"Primary": [{"name": ..., "type": ...}, ...]}` (one struct,
no nesting: what fedpm's contracts verify with OpenZeppelin's EIP712). `digest` equals the contract's
`_hashTypedDataV4(structHash)`; `struct_digest` takes a struct hash computed by the caller (a hot path may hash
its fixed-width fields directly and must agree with `digest`, which a test checks).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_canonical_address, to_checksum_address

DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
DOMAIN_FIELDS = [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                 {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}]


@dataclass(frozen=True)
class Domain:
    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def to_dict(self) -> dict[str, Any]:
        """The domain as EIP-712 JSON (eth_signTypedData_v4) spells it."""
        return {"name": self.name, "version": self.version, "chainId": self.chain_id, "verifyingContract": to_checksum_address(self.verifying_contract)}


@functools.lru_cache(maxsize=64)
def domain_separator(domain: Domain) -> bytes:
    return keccak(DOMAIN_TYPEHASH + keccak(text=domain.name) + keccak(text=domain.version) + domain.chain_id.to_bytes(32, "big")
                  + bytes(12) + to_canonical_address(domain.verifying_contract))


def typed_data(domain: Domain, types: dict[str, list[dict[str, str]]], message: dict[str, Any]) -> dict[str, Any]:
    """The full typed data (eth_signTypedData_v4 shape) of `message`, whose type is the one struct in `types`."""
    (primary,) = types
    return {"types": {"EIP712Domain": DOMAIN_FIELDS, **types}, "primaryType": primary, "domain": domain.to_dict(), "message": message}


def _signable(domain: Domain, types: dict[str, list[dict[str, str]]], message: dict[str, Any]) -> SignableMessage:
    return encode_typed_data(full_message=typed_data(domain, types, message))


def digest(domain: Domain, types: dict[str, list[dict[str, str]]], message: dict[str, Any]) -> bytes:
    """The 32-byte digest a signer signs."""
    signable = _signable(domain, types, message)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def struct_digest(domain: Domain, struct_hash: bytes) -> bytes:
    """The digest of a message whose EIP-712 struct hash the caller computed."""
    return keccak(b"\x19\x01" + domain_separator(domain) + struct_hash)


def sign_digest(signer: LocalAccount, digest_: bytes) -> bytes:
    return bytes(signer.unsafe_sign_hash(digest_).signature)


def sign(signer: LocalAccount, domain: Domain, types: dict[str, list[dict[str, str]]], message: dict[str, Any]) -> bytes:
    return bytes(signer.sign_message(_signable(domain, types, message)).signature)


def recover_signer(domain: Domain, types: dict[str, list[dict[str, str]]], message: dict[str, Any], signature: bytes) -> str:
    """The address whose key made `signature` over `message` in `domain` (eth_keys errors pass through)."""
    return Account.recover_message(_signable(domain, types, message), signature=signature)
