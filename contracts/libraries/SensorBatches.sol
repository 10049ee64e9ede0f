// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ISensorBatchRegistry} from "../interfaces/ISensorBatchRegistry.sol";

/// @title Anchored roots of roots over one storage struct, signed blocks and Merkle proofs (mirror of
/// fedpm/sensors/merkle.py, anchoring.py and encoding.py)
/// @notice Per root: keccak256 of the full `Anchor`. Block leaf = keccak256(0x00 || keccak256(block) || signature);
/// node = keccak256(0x01 || left || right); batch leaf = keccak256(0x02 || abi.encode(BatchSummary)). A level with an
/// odd number of nodes promotes its last node unchanged (no duplication). A proof lists the siblings bottom-up;
/// levels where the node was promoted contribute none. The leaf index and the tree's leaf count fix the path, so a
/// proof binds the leaf to its position.
library SensorBatches {
    struct Anchors {
        mapping(bytes32 root => bytes32) hashes;
    }

    /// @dev Block header offsets: magic(4) device(20) machineId(32) seq(8) count(2).
    bytes4 internal constant BLOCK_MAGIC = 0x46505301; // "FPS\x01"
    uint256 internal constant HEAD_LEN = 66;

    /// @dev Checks the root's shape and that it is new; stores the anchor's hash. Emits RootAnchored.
    function anchor(Anchors storage self, ISensorBatchRegistry.Root calldata r) internal {
        if (r.root == bytes32(0) || r.batches == 0 || r.readings < r.batches) revert ISensorBatchRegistry.EmptyAnchor();
        if (r.fromTime > r.toTime) revert ISensorBatchRegistry.InconsistentAnchor(r.fromTime, r.toTime);
        if (self.hashes[r.root] != bytes32(0)) revert ISensorBatchRegistry.AlreadyAnchored(r.root);
        self.hashes[r.root] = keccak256(
            abi.encode(ISensorBatchRegistry.Anchor(r.root, r.batches, r.readings, r.fromTime, r.toTime, msg.sender, uint64(block.number)))
        );
        emit ISensorBatchRegistry.RootAnchored(r.root, msg.sender, r.batches, r.readings, r.fromTime, r.toTime);
    }

    /// @dev Whether `a` is exactly what was anchored under `a.root`.
    function isAnchored(Anchors storage self, ISensorBatchRegistry.Anchor calldata a) internal view returns (bool) {
        bytes32 stored = self.hashes[a.root];
        return stored != bytes32(0) && stored == keccak256(abi.encode(a));
    }

    /// @dev Whether the batch of `p` is leaf `p.index` of a tree of `count` leaves with root `root`.
    function batchIn(ISensorBatchRegistry.BatchProof calldata p, bytes32 root, uint256 count) internal pure returns (bool) {
        bytes32 r = rootFrom(batchLeaf(p.batch), p.index, count, p.siblings);
        return r != bytes32(0) && r == root;
    }

    /// @dev Whether the block of `p` is leaf `p.index` of batch `b`'s tree and carries `b`'s device, machine and a
    /// seq in its range. The caller checks the signature against `b.device` with the returned block hash.
    function blockIn(ISensorBatchRegistry.BlockProof calldata p, ISensorBatchRegistry.BatchSummary calldata b) internal pure returns (bool ok, bytes32 blockHash) {
        bytes calldata data = p.data;
        if (data.length < HEAD_LEN || bytes4(data[0:4]) != BLOCK_MAGIC) return (false, bytes32(0));
        if (address(bytes20(data[4:24])) != b.device || bytes32(data[24:56]) != b.machineId) return (false, bytes32(0));
        uint64 seq = uint64(bytes8(data[56:64]));
        if (seq < b.firstSeq || seq > b.lastSeq) return (false, bytes32(0));
        blockHash = keccak256(data);
        bytes32 r = rootFrom(keccak256(abi.encodePacked(bytes1(0x00), blockHash, p.signature)), p.index, b.blocks, p.siblings);
        ok = r != bytes32(0) && r == b.blocksRoot;
    }

    /// @dev The earliest and latest reading time of a block, in seconds (its ms timestamps / 1000, as the registry's
    /// device windows count), and whether the block is long enough to hold its `count` timestamps and values.
    function blockSpan(bytes calldata data) internal pure returns (bool ok, uint64 from, uint64 to) {
        uint256 count = uint16(bytes2(data[64:66]));
        if (count == 0 || data.length < HEAD_LEN + 16 * count) return (false, 0, 0);
        uint256 p = data.length - 16 * count;
        from = type(uint64).max;
        for (uint256 i = 0; i < count; i++) {
            uint64 t = uint64(bytes8(data[p + 8 * i:p + 8 * i + 8]));
            if (t < from) from = t;
            if (t > to) to = t;
        }
        return (true, from / 1000, to / 1000);
    }

    function batchLeaf(ISensorBatchRegistry.BatchSummary calldata b) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x02), abi.encode(b)));
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
