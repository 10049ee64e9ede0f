// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Quality passports: the hash of each produced part's record, anchored by the machine's operator
/// @notice A part record (fedpm/parts/records.py) names the part, its machine, process step and time span, the
/// device-signed sensor batches that cover its production (their Merkle roots, sequence ranges and anchored roots)
/// and the machine's maintenance state at the time (the latest audited maintenance record hash). Only keccak256 of
/// its canonical JSON goes on chain, once per part id; the record and its passport stay with the operator and the
/// part's customer, who verifies the passport against this contract, SensorBatchRegistry and MaintenanceLog.
interface IPartRegistry {
    struct Part {
        bytes32 machineId;
        bytes32 recordHash;
        address recorder; // zero when no part is recorded under the id
        uint64 time; // block time of the recording
    }

    // --- errors (and IConsortiumErrors: NotMember, MissingRole, UnknownMachine) ---
    /// @notice A part id or record hash of zero.
    error InvalidPart();
    /// @notice A part is already recorded under `partId` (a record is never replaced).
    error PartExists(bytes32 partId);
    /// @notice `account`'s organization does not operate `machineId`: only the operator records its parts.
    error NotPartRecorder(bytes32 machineId, address account);

    // --- events ---
    event PartRecorded(bytes32 indexed partId, bytes32 indexed machineId, bytes32 recordHash, address recorder, bytes32 operatorOrg);

    /// @notice Anchor the hash of `partId`'s record, produced on `machineId`.
    /// Requirements: the caller's org holds OPERATOR (NotMember, MissingRole) and operates the registered machine
    /// (UnknownMachine, NotPartRecorder); `partId` and `recordHash` are non-zero (InvalidPart); no part is recorded
    /// under `partId` (PartExists).
    /// Emits PartRecorded.
    function recordPart(bytes32 partId, bytes32 machineId, bytes32 recordHash) external;

    /// @notice The part recorded under `partId` (recorder zero when none).
    function part(bytes32 partId) external view returns (Part memory);
}
