// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Signed sensor batches anchored on chain
/// @notice A device key bound to one machine (ConsortiumRegistry) signs an EIP-712 `Batch` over the Merkle root
/// of the readings it recorded; any member account relays it. Each device's batches carry a gap-free sequence
/// number (0, 1, 2, ...), so a batch can be neither replayed nor reordered. Only a hash of each anchor is stored;
/// the full anchor is in the `BatchAnchored` event (and the block it was mined in), and any reading of an
/// anchored batch can be proven against it with `verifyReading`.
interface ISensorBatchRegistry {
    /// @notice What the device signs (EIP-712 primary type `Batch`).
    struct Batch {
        bytes32 machineId;
        uint64 deviceSeq;
        uint64 fromTime; // ms since the Unix epoch, earliest reading
        uint64 toTime; // ms since the Unix epoch, latest reading
        uint32 count; // readings in the batch (Merkle leaves)
        bytes32 merkleRoot;
    }

    /// @notice An anchored batch. `keccak256(abi.encode(anchor))` is what the contract stores per (device, seq).
    struct Anchor {
        bytes32 machineId;
        address device;
        uint64 deviceSeq;
        uint64 fromTime;
        uint64 toTime;
        uint32 count;
        bytes32 merkleRoot;
        address submitter;
        uint64 blockNumber;
    }

    // --- errors (and from the registry, IConsortiumErrors: NotMember, UnknownDevice, DeviceOfAnotherMachine,
    // DeviceNotActive) ---
    /// @notice The signature is malformed or was not made by `device` over this batch.
    error BadDeviceSignature(address device, address recovered);
    /// @notice `seq` was already anchored for `device` (replay); the next one is `expected`.
    error ReplayedSeq(address device, uint64 seq, uint64 expected);
    /// @notice `seq` skips ahead of `expected` (a batch before it is missing).
    error SkippedSeq(address device, uint64 seq, uint64 expected);
    /// @notice A batch with no readings or a zero Merkle root.
    error EmptyBatch();
    /// @notice count and times disagree: fromTime > toTime, or a single reading spanning a time range.
    error InconsistentBatch(uint32 count, uint64 fromTime, uint64 toTime);
    /// @notice `anchorBatches` got arrays of different lengths.
    error LengthMismatch(uint256 batches, uint256 devices, uint256 signatures);

    // --- events ---
    /// @notice A batch was anchored; with the log's block number this is the full `Anchor`.
    event BatchAnchored(
        bytes32 indexed machineId,
        address indexed device,
        uint64 indexed deviceSeq,
        uint64 fromTime,
        uint64 toTime,
        uint32 count,
        bytes32 merkleRoot,
        address submitter
    );

    /// @notice Anchor a batch signed by `device`.
    /// Requirements: caller is a consortium member (NotMember); `batch.count > 0`, `merkleRoot != 0` (EmptyBatch),
    /// `fromTime <= toTime`, and a one-reading batch has `fromTime == toTime` (InconsistentBatch); `signature` is
    /// `device`'s EIP-712 signature of `batch` (BadDeviceSignature); `device` is bound to `batch.machineId` and
    /// active (UnknownDevice, DeviceOfAnotherMachine, DeviceNotActive: ConsortiumRegistry.requireActiveDevice);
    /// `batch.deviceSeq` is `nextSeq(device)` (ReplayedSeq, SkippedSeq).
    /// Emits BatchAnchored.
    function anchorBatch(Batch calldata batch, address device, bytes calldata signature) external;

    /// @notice Anchor several batches in one transaction (each as `anchorBatch`, in order; all or none).
    /// Requirements: as `anchorBatch` for each; the three arrays have one length (LengthMismatch).
    /// Emits BatchAnchored per batch.
    function anchorBatches(Batch[] calldata batches, address[] calldata devices, bytes[] calldata signatures) external;

    /// @notice The sequence number the next batch of `device` must carry.
    function nextSeq(address device) external view returns (uint64);

    /// @notice keccak256(abi.encode(anchor)) stored for (device, seq), or zero.
    function anchorHash(address device, uint64 seq) external view returns (bytes32);

    /// @notice Whether `anchor` is exactly what was anchored for (anchor.device, anchor.deviceSeq).
    function isAnchored(Anchor calldata anchor) external view returns (bool);

    /// @notice Whether `reading` (its canonical bytes) is leaf `index` of the anchored batch `anchor`.
    function verifyReading(Anchor calldata anchor, bytes calldata reading, uint256 index, bytes32[] calldata proof) external view returns (bool);

    /// @notice The EIP-712 digest a device signs for `batch`.
    function batchDigest(Batch calldata batch) external view returns (bytes32);
}
