"""What a gateway admits: a signed block whose signature is its device's (pure: bytes and keys, no chain, no store).

MQTT topic: `<root>/<machine>/<channel>`; payload: one signed block (`fedpm.sensors.encoding`: the block's
canonical bytes followed by its device's signature). The gateway holds no device key: a block is admitted only if
it parses as one canonical signed block, names the topic's machine and channel, and its signature recovers to the
device the block names. What remains to check needs state and the chain (the gateway does it next): the device
is bound to the machine (ConsortiumRegistry), and its (device, seq) is new and above what was already batched.

Refusals, each counted by its reason (`store.REFUSALS`):
- unsigned: JSON readings or a block without the signed-block layout (the old unsigned payloads),
- malformed: neither JSON nor a canonical signed block, or a block published under another machine's topic,
- forged: a signature that is not the named device's over these exact bytes (an altered value, an injected block),
- unbound: a device key not bound to the block's machine, or revoked,
- replayed: a (device, seq) the gateway already received (an MQTT redelivery after a crash, or a replay),
- out_of_sequence: a seq at or below one already batched for its device (too late to batch in order).
"""

from __future__ import annotations

import json

from chain.eip712 import Domain
from fedpm.sensors.encoding import BLOCK_MAGIC, EncodingError, SignedBlock, parse_signed
from fedpm.sensors.merkle import block_leaf, keccak256
from fedpm.sensors.signing import recover_signer
from ground.errors import FedpmError


class Refused(FedpmError):
    """A payload the gateway does not accept; `reason` is the counter it goes to."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, hint="devices sign every block at the source (`fedpm device run`, `fedpm simulate --device`)")
        self.reason = reason


def admit(payload: bytes, dom: Domain, machine: str | None = None, channel: str | None = None) -> tuple[SignedBlock, bytes]:
    """The signed block in `payload` and its Merkle leaf, if its device signed it (for `machine`/`channel` when the
    topic names them); raises Refused otherwise."""
    if not payload.startswith(BLOCK_MAGIC):
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            raise Refused("malformed", "payload is neither a signed block nor JSON") from None
        raise Refused("unsigned", "unsigned readings (JSON) refused: the gateway takes only blocks signed by their device")
    try:
        block = parse_signed(payload)
    except EncodingError as exc:
        raise Refused("malformed", exc.message) from None
    if machine is not None and (block.machine != machine or block.channel != channel):
        raise Refused("malformed", f"block of {block.machine}/{block.channel} published under {machine}/{channel}")
    block_hash = keccak256(block.block)
    signer = recover_signer(block_hash, block.signature, dom)
    if signer != block.device:
        raise Refused("forged", f"block {block.machine} seq {block.seq}: signature is not device {block.device}'s over these bytes")
    return block, block_leaf(block_hash, block.signature)


def split_topic(topic: str, root: str) -> tuple[str, str]:
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != root or not parts[1] or not parts[2]:
        raise Refused("malformed", f"topic {topic!r} is not {root}/<machine>/<channel>")
    return parts[1], parts[2]
