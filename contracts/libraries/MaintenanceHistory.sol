// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMaintenanceLog} from "../interfaces/IMaintenanceLog.sol";

/// @title Storage and rules of per-machine, hash-chained maintenance histories
library MaintenanceHistory {
    struct Log {
        mapping(bytes32 => bytes32[]) hashes; // machine id -> record hashes in history order
        mapping(bytes32 => mapping(bytes32 => IMaintenanceLog.Entry)) entries; // machine id -> record hash -> entry
    }

    function head(Log storage log, bytes32 machineId) internal view returns (bytes32) {
        bytes32[] storage h = log.hashes[machineId];
        return h.length == 0 ? bytes32(0) : h[h.length - 1];
    }

    /// @dev Checks the record hash (unique per machine: no party can block another machine's history), the chain
    /// link and the correction target, then stores the entry.
    function append(Log storage log, bytes32 machineId, bytes32 recordHash, bytes32 prevHash, bytes32 corrects, IMaintenanceLog.Kind kind, uint64 time, address author) internal returns (uint256 index) {
        if (recordHash == bytes32(0)) revert IMaintenanceLog.InvalidRecordHash();
        mapping(bytes32 => IMaintenanceLog.Entry) storage entries = log.entries[machineId];
        if (entries[recordHash].author != address(0)) revert IMaintenanceLog.DuplicateRecord(recordHash);
        bytes32 current = head(log, machineId);
        if (prevHash != current) revert IMaintenanceLog.WrongPrevHash(machineId, current, prevHash);
        if (corrects != bytes32(0) && entries[corrects].author == address(0)) revert IMaintenanceLog.UnknownCorrection(machineId, corrects);
        bytes32[] storage h = log.hashes[machineId];
        index = h.length;
        entries[recordHash] = IMaintenanceLog.Entry(machineId, corrects, author, time, kind);
        h.push(recordHash);
    }

    function slice(Log storage log, bytes32 machineId, uint256 offset, uint256 limit) internal view returns (bytes32[] memory out) {
        bytes32[] storage h = log.hashes[machineId];
        if (offset >= h.length) return new bytes32[](0);
        uint256 end = offset + limit > h.length ? h.length : offset + limit;
        out = new bytes32[](end - offset);
        for (uint256 i = offset; i < end; i++) out[i - offset] = h[i];
    }
}
