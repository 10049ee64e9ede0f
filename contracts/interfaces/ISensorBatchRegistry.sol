// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Sensor data signed at the source, anchored by gateways as roots of roots
/// @notice A device key bound to one machine (ConsortiumRegistry) signs every block of readings it records: the
/// EIP-712 message `SensorBlock(bytes32 blockHash)`, blockHash = keccak256 of the block's canonical bytes (device,
/// machine, per-device sequence number, channel, unit, timestamps, values; fedpm/sensors/encoding.py). A gateway
/// holds no device key: it checks every block's signature and binding, batches one device's blocks under a Merkle
/// root (leaf = keccak256(0x00 || blockHash || signature)), and anchors one root over all its batches of an
/// interval (batch leaf = keccak256(0x02 || abi.encode(BatchSummary))). Only a hash of each anchor is stored; any
/// block, and so any reading, is proven later by its signature and two Merkle proofs (`verifyBlock`).
interface ISensorBatchRegistry {
    /// @notice What a gateway anchors: the root over its batches' leaves and their totals.
    struct Root {
        bytes32 root;
        uint32 batches; // leaves of the anchor tree
        uint64 readings; // readings in all its batches
        uint64 fromTime; // ms since the Unix epoch, earliest reading
        uint64 toTime; // ms since the Unix epoch, latest reading
    }

    /// @notice An anchored root. `keccak256(abi.encode(anchor))` is what the contract stores under `anchor.root`.
    struct Anchor {
        bytes32 root;
        uint32 batches;
        uint64 readings;
        uint64 fromTime;
        uint64 toTime;
        address submitter;
        uint64 blockNumber;
    }

    /// @notice One device's blocks `firstSeq..lastSeq` of one machine under the Merkle root `blocksRoot`.
    struct BatchSummary {
        bytes32 machineId;
        address device;
        uint64 firstSeq;
        uint64 lastSeq;
        uint32 blocks;
        uint64 readings;
        uint64 fromTime;
        uint64 toTime;
        bytes32 blocksRoot;
    }

    /// @notice A batch and its inclusion proof in an anchor's tree.
    struct BatchProof {
        BatchSummary batch;
        uint256 index;
        bytes32[] siblings;
    }

    /// @notice A signed block and its inclusion proof in its batch's tree.
    struct BlockProof {
        bytes data; // the block's canonical bytes
        bytes signature; // the device's 65-byte signature of its EIP-712 digest
        uint256 index;
        bytes32[] siblings;
    }

    // --- errors (and from the registry, IConsortiumErrors: NotMember) ---
    /// @notice A root of zero, no batches, or fewer readings than batches.
    error EmptyAnchor();
    /// @notice fromTime > toTime.
    error InconsistentAnchor(uint64 fromTime, uint64 toTime);
    /// @notice This root is already anchored (a gateway resending after a crash reconciles with RootAnchored).
    error AlreadyAnchored(bytes32 root);

    // --- events ---
    /// @notice A gateway anchored a root; with the log's block number this is the full `Anchor`.
    event RootAnchored(bytes32 indexed root, address indexed submitter, uint32 batches, uint64 readings, uint64 fromTime, uint64 toTime);

    /// @notice Anchor a root over signed batches.
    /// Requirements: caller is a consortium member (NotMember); `root != 0`, `batches > 0`, `readings >= batches`
    /// (EmptyAnchor); `fromTime <= toTime` (InconsistentAnchor); the root was never anchored (AlreadyAnchored).
    /// Emits RootAnchored.
    function anchorRoot(Root calldata root) external;

    /// @notice keccak256(abi.encode(anchor)) stored for `root`, or zero.
    function anchorHash(bytes32 root) external view returns (bytes32);

    /// @notice Whether `anchor` is exactly what was anchored under `anchor.root`.
    function isAnchored(Anchor calldata anchor) external view returns (bool);

    /// @notice Whether `proof.batch` is leaf `proof.index` of the anchored `anchor`'s tree.
    function verifyBatch(Anchor calldata anchor, BatchProof calldata proof) external view returns (bool);

    /// @notice Whether `blockProof.data` is a block its device signed, of the batch's device, machine and sequence
    /// range, leaf `blockProof.index` of the batch, the batch leaf of the anchored `anchor`, and whether the device is
    /// the block's machine's key for every reading time of the block (ConsortiumRegistry.deviceKey: bound to the
    /// machine, each reading's second within the key's window, so a key rotated out proves only readings stamped
    /// before its rotation point; a revoked binding still counts for data anchored before the revocation, which the
    /// verifier checks against the anchor's block).
    function verifyBlock(Anchor calldata anchor, BatchProof calldata batchProof, BlockProof calldata blockProof) external view returns (bool);

    /// @notice The EIP-712 digest a device signs for a block whose keccak256 is `blockHash`.
    function blockDigest(bytes32 blockHash) external view returns (bytes32);
}
