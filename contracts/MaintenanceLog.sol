// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IMaintenanceLog} from "./interfaces/IMaintenanceLog.sol";
import {MaintenanceHistory} from "./libraries/MaintenanceHistory.sol";

/// @title MaintenanceLog
/// @notice Hashes of maintenance records, append-only and hash-chained per machine. The machine's operator org
/// and its manufacturer org may append; the registry says who they are.
contract MaintenanceLog is IMaintenanceLog, RegistryGated {
    using MaintenanceHistory for MaintenanceHistory.Log;

    MaintenanceHistory.Log private _log;

    constructor(IConsortiumRegistry registry) RegistryGated(registry) {}

    /// @inheritdoc IMaintenanceLog
    function append(bytes32 machineId, bytes32 recordHash, bytes32 prevHash, bytes32 corrects, Kind kind, uint64 time) external returns (uint256 index) {
        bytes32 authorOrg = _requireParty(machineId, msg.sender);
        index = _log.append(machineId, recordHash, prevHash, corrects, kind, time, msg.sender);
        emit EntryAppended(machineId, index, recordHash, prevHash, corrects, kind, time, msg.sender, authorOrg);
    }

    function head(bytes32 machineId) external view returns (bytes32) {
        return _log.head(machineId);
    }

    function entryCount(bytes32 machineId) external view returns (uint256) {
        return _log.hashes[machineId].length;
    }

    function recordHashes(bytes32 machineId, uint256 offset, uint256 limit) external view returns (bytes32[] memory) {
        return _log.slice(machineId, offset, limit);
    }

    function entry(bytes32 machineId, bytes32 recordHash) external view returns (Entry memory) {
        return _log.entries[machineId][recordHash];
    }

    /// @dev The caller's org, if it operates or manufactured the machine; reverts otherwise.
    function _requireParty(bytes32 machineId, address account) private view returns (bytes32 org) {
        IConsortiumRegistry reg = registry();
        IConsortiumRegistry.Machine memory m = reg.machine(machineId);
        if (!m.registered) revert UnknownMachine(machineId);
        if (!reg.isMember(account)) revert NotMachineParty(machineId, account);
        org = reg.orgOf(account);
        if (org != m.operatorOrg && org != m.manufacturerOrg) revert NotMachineParty(machineId, account);
    }
}
