"""Node identities of a consortium network, derived from one seed (pure, no I/O).

- A chain node's key is a secp256k1 key: its public key is the node id in the enode URL, and its address is the
  validator (QBFT) or signer (Clique) address. So the enode a member declares in the registry names the validator.
- A kubo node's identity is a libp2p secp256k1 key: the config stores the protobuf `PrivateKey{Type: Secp256k1,
  Data: 32 bytes}` in base64, and the peer id is the identity multihash of the protobuf `PublicKey{Type: Secp256k1,
  Data: 33-byte compressed key}` in base58btc (keys this short are not hashed).
- The private swarm's pre-shared key is 32 random bytes in kubo's `swarm.key` text format.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import base58
from coincurve import PrivateKey
from eth_utils import keccak, to_checksum_address

from ground.errors import FedpmError

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
LIBP2P_SECP256K1 = 2  # libp2p's crypto.pb KeyType
_ENODE = re.compile(r"^enode://([0-9a-fA-F]{128})@([^:/?#\s]+):(\d{1,5})(\?[^\s]*)?$")


class IdentityError(FedpmError):
    """A seed, key or enode URL that cannot name a node."""


def derive_key(seed: bytes, label: str) -> bytes:
    """A secp256k1 private key for `label` (e.g. "member-1/chain"), the same for the same seed."""
    for counter in range(256):
        key = keccak(seed + label.encode() + bytes([counter]))
        if 0 < int.from_bytes(key, "big") < SECP256K1_ORDER:
            return key
    raise AssertionError("unreachable: 256 keccak outputs all outside the curve order")


def parse_seed(text: str) -> bytes:
    """`--seed`: 32 bytes as 64 hex digits (0x optional)."""
    raw = text[2:] if text.lower().startswith("0x") else text
    if not re.fullmatch(r"[0-9a-fA-F]{64}", raw):
        raise IdentityError(f"seed {text!r} is not 32 bytes of hex", hint="pass 64 hex digits, e.g. --seed $(openssl rand -hex 32), or omit --seed for a random network")
    return bytes.fromhex(raw)


@dataclass(frozen=True)
class ChainNode:
    private_key: bytes

    @property
    def public_key(self) -> bytes:
        """The 64-byte uncompressed public key without its 0x04 prefix: the enode's node id."""
        return PrivateKey(self.private_key).public_key.format(compressed=False)[1:]

    @property
    def address(self) -> str:
        return to_checksum_address(keccak(self.public_key)[-20:])

    def enode(self, host: str, port: int) -> str:
        return f"enode://{self.public_key.hex()}@{host}:{port}"


def enode_address(enode: str) -> str:
    """The validator / signer address an enode URL names (keccak of its node id)."""
    m = _ENODE.match(enode.strip())
    if not m:
        raise IdentityError(f"{enode!r} is not an enode URL", hint="enode://<128 hex digits>@<host>:<port>")
    return to_checksum_address(keccak(bytes.fromhex(m.group(1)))[-20:])


@dataclass(frozen=True)
class KuboIdentity:
    private_key: bytes

    @property
    def peer_id(self) -> str:
        public = PrivateKey(self.private_key).public_key.format(compressed=True)
        proto = _protobuf_key(public)
        return base58.b58encode(bytes([0x00, len(proto)]) + proto).decode()  # identity multihash

    @property
    def config_private_key(self) -> str:
        """kubo config `Identity.PrivKey`."""
        return base64.b64encode(_protobuf_key(self.private_key)).decode()


def _protobuf_key(data: bytes) -> bytes:
    # field 1 (Type, varint) = Secp256k1, field 2 (Data, bytes); both keys are short enough for one-byte lengths
    return bytes([0x08, LIBP2P_SECP256K1, 0x12, len(data)]) + data


def swarm_key(secret: bytes) -> str:
    """kubo's `swarm.key` for a private network (libp2p pnet, PSK v1, base16)."""
    if len(secret) != 32:
        raise IdentityError("a swarm key is 32 bytes", hint="derive it from the network seed")
    return f"/key/swarm/psk/1.0.0/\n/base16/\n{secret.hex()}\n"
