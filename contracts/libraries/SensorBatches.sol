// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Merkle proofs over a sensor batch (mirror of fedpm/sensors/merkle.py)
/// @notice leaf = keccak256(0x00 || readingBytes); node = keccak256(0x01 || left || right). A level with an odd
/// number of nodes promotes its last node unchanged to the next level (no duplication). A proof lists the
/// siblings bottom-up; levels where the node was promoted contribute no sibling. The leaf index and the batch's
/// leaf count fix the path, so a proof binds the reading to its position.
library SensorBatches {
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
