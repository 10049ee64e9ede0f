// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Append-only, hash-chained maintenance history per machine
/// @notice Only the keccak256 of each record's canonical encoding goes on chain (see fedpm/maintenance/records.py);
/// the records themselves stay with the organization that wrote them. Each entry names the previous entry of the
/// same machine (`prevHash`), so a deleted, reordered or concurrently forked history is detected.
interface IMaintenanceLog {
    /// @dev Mirrors fedpm.maintenance.records.Kind (a test checks they agree).
    enum Kind {
        Fault,
        Maintenance,
        Inspection,
        PartReplacement
    }

    struct Entry {
        bytes32 machineId;
        bytes32 corrects; // record hash of the entry this one corrects, or zero
        address author; // zero when no entry is stored (author, time and kind share one storage slot)
        uint64 time; // when the work happened (unix seconds, as in the record)
        Kind kind;
    }

    // --- errors (and IConsortiumErrors.UnknownMachine) ---
    error NotMachineParty(bytes32 machineId, address account);
    error DuplicateRecord(bytes32 recordHash);
    error WrongPrevHash(bytes32 machineId, bytes32 head, bytes32 given);
    error UnknownCorrection(bytes32 machineId, bytes32 corrects);
    error InvalidRecordHash();

    // --- events ---
    event EntryAppended(
        bytes32 indexed machineId,
        uint256 indexed index,
        bytes32 indexed recordHash,
        bytes32 prevHash,
        bytes32 corrects,
        Kind kind,
        uint64 time,
        address author,
        bytes32 authorOrg
    );

    /// @notice Append the hash of one record to `machineId`'s history.
    /// Requirements: the machine is registered; the caller's org is its operator or its manufacturer;
    /// `recordHash` is non-zero and was never appended to this machine; `prevHash` equals the current head (zero for the first
    /// entry); a non-zero `corrects` is an earlier entry of the same machine.
    /// Emits EntryAppended.
    function append(bytes32 machineId, bytes32 recordHash, bytes32 prevHash, bytes32 corrects, Kind kind, uint64 time) external returns (uint256 index);

    /// @notice Record hash of the machine's latest entry (zero when it has none).
    function head(bytes32 machineId) external view returns (bytes32);

    function entryCount(bytes32 machineId) external view returns (uint256);

    /// @notice Record hashes of the machine's entries `[offset, offset + limit)` in history order.
    function recordHashes(bytes32 machineId, uint256 offset, uint256 limit) external view returns (bytes32[] memory);

    /// @notice The entry of `machineId` stored under `recordHash` (author is zero when there is none).
    function entry(bytes32 machineId, bytes32 recordHash) external view returns (Entry memory);
}
