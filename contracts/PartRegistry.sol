// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IPartRegistry} from "./interfaces/IPartRegistry.sol";
import {PartRecords} from "./libraries/PartRecords.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title PartRegistry
/// @notice Anchors the record hash of every produced part, once, by the operator of the machine that made it.
contract PartRegistry is IPartRegistry, RegistryGated {
    using PartRecords for PartRecords.Book;

    PartRecords.Book private _book;

    constructor(IConsortiumRegistry registry) RegistryGated(registry) {}

    /// @inheritdoc IPartRegistry
    function recordPart(bytes32 partId, bytes32 machineId, bytes32 recordHash) external onlyRole(Roles.OPERATOR) {
        IConsortiumRegistry reg = registry();
        IConsortiumRegistry.Machine memory m = reg.machine(machineId);
        if (!m.registered) revert UnknownMachine(machineId);
        bytes32 org = reg.orgOf(msg.sender);
        if (org != m.operatorOrg) revert NotPartRecorder(machineId, msg.sender);
        _book.record(partId, machineId, recordHash, org);
    }

    /// @inheritdoc IPartRegistry
    function part(bytes32 partId) external view returns (Part memory) {
        return _book.parts[partId];
    }
}
