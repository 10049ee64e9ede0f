// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IPartRegistry} from "../interfaces/IPartRegistry.sol";

/// @title Part records over one storage struct: one record hash per part id, written once
library PartRecords {
    struct Book {
        mapping(bytes32 partId => IPartRegistry.Part) parts;
    }

    /// @dev Checks the ids and that the part is new; stores it. The caller checked who may record. Emits PartRecorded.
    function record(Book storage self, bytes32 partId, bytes32 machineId, bytes32 recordHash, bytes32 operatorOrg) internal {
        if (partId == bytes32(0) || recordHash == bytes32(0)) revert IPartRegistry.InvalidPart();
        if (self.parts[partId].recorder != address(0)) revert IPartRegistry.PartExists(partId);
        self.parts[partId] = IPartRegistry.Part(machineId, recordHash, msg.sender, uint64(block.timestamp));
        emit IPartRegistry.PartRecorded(partId, machineId, recordHash, msg.sender, operatorOrg);
    }
}
