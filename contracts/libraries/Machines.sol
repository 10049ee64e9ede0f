// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumErrors} from "../interfaces/IConsortiumErrors.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";

/// @title Machines of the consortium and the device keys bound to them, over one storage struct.
/// @dev A device key is bound to one machine, once, ever; revoking it keeps the binding and clears `active`.
/// Callers pass the caller's organization (already checked to be an active member).
library Machines {
    struct Fleet {
        mapping(bytes32 => IConsortiumRegistry.Machine) machines;
        bytes32[] ids; // in registration order
        mapping(address => bytes32) deviceMachine; // device key -> its machine (zero: never bound)
        mapping(address => bool) deviceActive;
    }

    /// @dev Emits MachineRegistered.
    function register(Fleet storage self, bytes32 machineId, bytes32 operatorOrg, bytes32 manufacturerOrg, bytes32 metadataHash) internal {
        if (self.machines[machineId].registered) revert IConsortiumRegistry.MachineExists(machineId);
        self.machines[machineId] = IConsortiumRegistry.Machine(operatorOrg, manufacturerOrg, metadataHash, true);
        self.ids.push(machineId);
        emit IConsortiumRegistry.MachineRegistered(machineId, operatorOrg, manufacturerOrg, metadataHash);
    }

    /// @dev Binds `device` to a machine `callerOrg` operates. Emits DeviceRegistered.
    function bindDevice(Fleet storage self, address device, bytes32 machineId, bytes32 callerOrg) internal {
        if (device == address(0)) revert IConsortiumRegistry.ZeroAddress();
        if (self.deviceMachine[device] != bytes32(0)) revert IConsortiumRegistry.DeviceExists(device);
        IConsortiumRegistry.Machine storage m = self.machines[machineId];
        if (!m.registered) revert IConsortiumErrors.UnknownMachine(machineId);
        if (callerOrg != m.operatorOrg) revert IConsortiumRegistry.NotMachineOperator(machineId, msg.sender);
        self.deviceMachine[device] = machineId;
        self.deviceActive[device] = true;
        emit IConsortiumRegistry.DeviceRegistered(device, machineId);
    }

    /// @dev Revokes an active `device` on behalf of its machine's operator or manufacturer org. Emits DeviceRevoked.
    function revokeDevice(Fleet storage self, address device, bytes32 callerOrg) internal {
        if (!self.deviceActive[device]) revert IConsortiumErrors.UnknownDevice(device);
        bytes32 machineId = self.deviceMachine[device];
        IConsortiumRegistry.Machine storage m = self.machines[machineId];
        if (callerOrg != m.operatorOrg && callerOrg != m.manufacturerOrg) revert IConsortiumRegistry.NotMachineOperator(machineId, msg.sender);
        self.deviceActive[device] = false;
        emit IConsortiumRegistry.DeviceRevoked(device, machineId);
    }

    /// @dev Reverts unless `device` is the active key of `machineId`: is it bound at all, to this machine, still.
    function requireActiveDevice(Fleet storage self, bytes32 machineId, address device) internal view {
        bytes32 bound = self.deviceMachine[device];
        if (bound == bytes32(0)) revert IConsortiumErrors.UnknownDevice(device);
        if (bound != machineId) revert IConsortiumErrors.DeviceOfAnotherMachine(device, bound, machineId);
        if (!self.deviceActive[device]) revert IConsortiumErrors.DeviceNotActive(device);
    }
}
