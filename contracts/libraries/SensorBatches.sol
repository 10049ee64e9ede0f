// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {ISensorBatchRegistry} from "../interfaces/ISensorBatchRegistry.sol";

/// @title Anchors of device-signed sensor batches over one storage struct, and Merkle proofs over a batch
/// (mirror of fedpm/sensors/merkle.py)
/// @notice Per device: the next sequence number and, per sequence number, keccak256 of the full `Anchor`.
/// leaf = keccak256(0x00 || readingBytes); node = keccak256(0x01 || left || right). A level with an odd
/// number of nodes promotes its last node unchanged to the next level (no duplication). A proof lists the
/// siblings bottom-up; levels where the node was promoted contribute no sibling. The leaf index and the batch's
/// leaf count fix the path, so a proof binds the reading to its position.
library SensorBatches {
    struct Anchors {
        mapping(address device => uint64) nextSeq;
        mapping(address device => mapping(uint64 seq => bytes32)) hashes;
    }

    /// @dev Checks the batch's shape, that `device` signed `digest` (the batch's EIP-712 digest) and is the
    /// active key of the batch's machine, and that the batch is the device's next; stores the anchor's hash.
    /// Emits BatchAnchored.
    function anchor(
        Anchors storage self,
        ISensorBatchRegistry.Batch calldata batch,
        address device,
        bytes32 digest,
        bytes calldata signature,
        IConsortiumRegistry registry
    ) internal {
        if (batch.count == 0 || batch.merkleRoot == bytes32(0)) revert ISensorBatchRegistry.EmptyBatch();
        if (batch.fromTime > batch.toTime || (batch.count == 1 && batch.fromTime != batch.toTime)) {
            revert ISensorBatchRegistry.InconsistentBatch(batch.count, batch.fromTime, batch.toTime);
        }
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != device) revert ISensorBatchRegistry.BadDeviceSignature(device, recovered);
        registry.requireActiveDevice(batch.machineId, device);
        uint64 expected = self.nextSeq[device];
        if (batch.deviceSeq < expected) revert ISensorBatchRegistry.ReplayedSeq(device, batch.deviceSeq, expected);
        if (batch.deviceSeq > expected) revert ISensorBatchRegistry.SkippedSeq(device, batch.deviceSeq, expected);

        self.nextSeq[device] = expected + 1;
        self.hashes[device][expected] = keccak256(
            abi.encode(
                ISensorBatchRegistry.Anchor(
                    batch.machineId, device, expected, batch.fromTime, batch.toTime, batch.count, batch.merkleRoot, msg.sender, uint64(block.number)
                )
            )
        );
        emit ISensorBatchRegistry.BatchAnchored(batch.machineId, device, expected, batch.fromTime, batch.toTime, batch.count, batch.merkleRoot, msg.sender);
    }

    /// @dev Whether `a` is exactly what was anchored for (a.device, a.deviceSeq).
    function isAnchored(Anchors storage self, ISensorBatchRegistry.Anchor calldata a) internal view returns (bool) {
        bytes32 stored = self.hashes[a.device][a.deviceSeq];
        return stored != bytes32(0) && stored == keccak256(abi.encode(a));
    }

    function leafHash(bytes calldata reading) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), reading));
    }

    function nodeHash(bytes32 left, bytes32 right) internal pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            h := keccak256(p, 65)
        }
    }

    /// @notice Root recomputed from `leaf` at `index` of `count` leaves, or zero if the proof has the wrong shape.
    function rootFrom(bytes32 leaf, uint256 index, uint256 count, bytes32[] calldata proof) internal pure returns (bytes32) {
        if (index >= count) return bytes32(0);
        bytes32 h = leaf;
        uint256 used = 0;
        while (count > 1) {
            if (index & 1 == 1) {
                if (used == proof.length) return bytes32(0);
                h = nodeHash(proof[used++], h);
            } else if (index + 1 < count) {
                if (used == proof.length) return bytes32(0);
                h = nodeHash(h, proof[used++]);
            } // else: last node of an odd level, promoted unchanged
            index >>= 1;
            count = (count + 1) >> 1;
        }
        return used == proof.length ? h : bytes32(0);
    }
}
