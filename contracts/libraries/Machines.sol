// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumErrors} from "../interfaces/IConsortiumErrors.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";

/// @title Machines of the consortium and their device keys, over one storage struct
/// @dev A device key is bound to one machine, once, ever, and kept: revoking sets `revoked`, rotating sets the old
/// key's `validUntil` to the rotation point, which is the new key's `validFrom`. The unrevoked keys of a machine have
/// disjoint validity windows (a bind starts no earlier than the window of the key before it), so at most one key
/// signs for a machine at any reading time. Key changes come from the machine's manufacturer; while a trusted
/// lease contract holds the machine's lock, a change waits (one per machine) until the lessee org approves it.
/// Callers pass the caller's organization (already checked to be an active member).
library Machines {
    struct Fleet {
        mapping(bytes32 => IConsortiumRegistry.Machine) machines;
        bytes32[] ids; // in registration order
        mapping(address => IConsortiumRegistry.DeviceKey) keys; // device key -> its binding (machineId zero: never bound)
        mapping(bytes32 => address[]) history; // machine -> its keys in binding order; the last one is the current key
        mapping(bytes32 => IConsortiumRegistry.DeviceLock) locks; // machine -> the lease lock (holder zero: none)
        mapping(bytes32 => IConsortiumRegistry.DeviceChange) pending; // machine -> the change awaiting the lessee
        mapping(address => bool) leaseContracts; // lease contracts the governors trust to lock machines
    }

    /// @dev Emits MachineRegistered.
    function register(Fleet storage self, bytes32 machineId, bytes32 operatorOrg, bytes32 manufacturerOrg, bytes32 metadataHash) internal {
        if (self.machines[machineId].registered) revert IConsortiumRegistry.MachineExists(machineId);
        self.machines[machineId] = IConsortiumRegistry.Machine(operatorOrg, manufacturerOrg, metadataHash, true);
        self.ids.push(machineId);
        emit IConsortiumRegistry.MachineRegistered(machineId, operatorOrg, manufacturerOrg, metadataHash);
    }

    /// @dev The manufacturer `callerOrg` asks for `c` on `machineId`'s keys: checked, then applied at once or, while a
    /// lease locks the machine, kept for the lessee's approval (replacing an earlier request).
    /// Emits DeviceBound, DeviceRotated or DeviceRevoked; or DeviceChangeRequested.
    function request(Fleet storage self, bytes32 machineId, IConsortiumRegistry.DeviceChange memory c, bytes32 callerOrg) internal {
        IConsortiumRegistry.Machine storage m = self.machines[machineId];
        if (!m.registered) revert IConsortiumErrors.UnknownMachine(machineId);
        if (callerOrg != m.manufacturerOrg) revert IConsortiumErrors.NotManufacturer(machineId, msg.sender);
        check(self, machineId, c);
        if (self.locks[machineId].holder == address(0)) {
            _apply(self, machineId, c);
        } else {
            self.pending[machineId] = c;
            emit IConsortiumRegistry.DeviceChangeRequested(machineId, changeHash(machineId, c), c);
        }
    }

    /// @dev The lessee org of the machine's lock approves the waiting change `hash`: checked again, then applied.
    /// Emits DeviceChangeApproved and the change's event.
    function approve(Fleet storage self, bytes32 machineId, bytes32 hash, bytes32 callerOrg) internal {
        IConsortiumRegistry.DeviceLock storage lock = self.locks[machineId];
        if (lock.holder == address(0) || callerOrg != lock.lesseeOrg) revert IConsortiumRegistry.NotMachineLessee(machineId, msg.sender);
        IConsortiumRegistry.DeviceChange memory c = self.pending[machineId];
        if (c.requestedBy == address(0) || changeHash(machineId, c) != hash) revert IConsortiumRegistry.NoPendingChange(machineId, hash);
        delete self.pending[machineId];
        check(self, machineId, c);
        emit IConsortiumRegistry.DeviceChangeApproved(machineId, hash, msg.sender);
        _apply(self, machineId, c);
    }

    /// @dev Reverts unless `c` can be applied to `machineId` now (the caller checked who asks).
    function check(Fleet storage self, bytes32 machineId, IConsortiumRegistry.DeviceChange memory c) internal view {
        address current = currentKey(self, machineId);
        if (c.kind == IConsortiumRegistry.DeviceChangeKind.Revoke) {
            IConsortiumRegistry.DeviceKey storage k = self.keys[c.device];
            if (k.machineId != machineId || k.revoked) revert IConsortiumErrors.UnknownDevice(c.device);
            return;
        }
        if (c.device == address(0)) revert IConsortiumRegistry.ZeroAddress();
        if (self.keys[c.device].machineId != bytes32(0)) revert IConsortiumRegistry.DeviceExists(c.device);
        bool usable = current != address(0) && !self.keys[current].revoked;
        if (c.kind == IConsortiumRegistry.DeviceChangeKind.Bind) {
            if (usable) revert IConsortiumRegistry.MachineHasDevice(machineId, current);
            return;
        }
        if (!usable) revert IConsortiumRegistry.NoCurrentDevice(machineId);
        uint64 earliest = self.keys[current].validFrom + 1;
        if (earliest < block.timestamp) earliest = uint64(block.timestamp);
        uint64 at = rotationPoint(c);
        if (at < earliest) revert IConsortiumRegistry.InvalidRotationTime(at, earliest);
    }

    /// @dev A rotation's point: its `at`, or the time it is applied when `at` is 0.
    function rotationPoint(IConsortiumRegistry.DeviceChange memory c) internal view returns (uint64) {
        return c.at == 0 ? uint64(block.timestamp) : c.at;
    }

    function changeHash(bytes32 machineId, IConsortiumRegistry.DeviceChange memory c) internal pure returns (bytes32) {
        return keccak256(abi.encode(machineId, c));
    }

    /// @dev The key bound last to `machineId` (revoked or not), or zero.
    function currentKey(Fleet storage self, bytes32 machineId) internal view returns (address) {
        address[] storage keys = self.history[machineId];
        return keys.length == 0 ? address(0) : keys[keys.length - 1];
    }

    /// @dev Lock `machineId` for a lease to `lesseeOrg` on behalf of the calling lease contract; not while an announced
    /// rotation is still to take effect (it would hand the machine to a key the lessee never approved). Emits DevicesLocked.
    function lock(Fleet storage self, bytes32 machineId, bytes32 lesseeOrg) internal {
        if (!self.leaseContracts[msg.sender]) revert IConsortiumErrors.NotLeaseContract(msg.sender);
        address holder = self.locks[machineId].holder;
        if (holder != address(0)) revert IConsortiumErrors.MachineLocked(machineId, holder);
        uint64 from = self.keys[currentKey(self, machineId)].validFrom;
        if (from > block.timestamp) revert IConsortiumErrors.RotationScheduled(machineId, from);
        self.locks[machineId] = IConsortiumRegistry.DeviceLock(msg.sender, lesseeOrg);
        emit IConsortiumRegistry.DevicesLocked(machineId, msg.sender, lesseeOrg);
    }

    /// @dev Release the caller's lock of `machineId`, dropping a waiting change. Emits DevicesUnlocked.
    function unlock(Fleet storage self, bytes32 machineId) internal {
        address holder = self.locks[machineId].holder;
        if (holder != msg.sender) revert IConsortiumErrors.MachineLocked(machineId, holder);
        delete self.locks[machineId];
        delete self.pending[machineId];
        emit IConsortiumRegistry.DevicesUnlocked(machineId, msg.sender);
    }

    /// @dev Emits LeaseContractAdded.
    function addLeaseContract(Fleet storage self, address lease) internal {
        self.leaseContracts[lease] = true;
        emit IConsortiumRegistry.LeaseContractAdded(lease);
    }

    /// @dev Reverts unless `device` signs for `machineId` at reading time `time`: bound at all, to this machine, not
    /// revoked, and `time` within its window.
    function requireDeviceAt(Fleet storage self, bytes32 machineId, address device, uint64 time) internal view {
        IConsortiumRegistry.DeviceKey storage k = self.keys[device];
        bytes32 bound = k.machineId;
        if (bound == bytes32(0)) revert IConsortiumErrors.UnknownDevice(device);
        if (bound != machineId) revert IConsortiumErrors.DeviceOfAnotherMachine(device, bound, machineId);
        if (k.revoked) revert IConsortiumErrors.DeviceNotActive(device);
        if (time < k.validFrom || (k.validUntil != 0 && time >= k.validUntil)) {
            revert IConsortiumErrors.DeviceNotValidAt(device, time, k.validFrom, k.validUntil);
        }
    }

    /// @dev Whether `device` signs for its machine now.
    function isActive(Fleet storage self, address device) internal view returns (bool) {
        IConsortiumRegistry.DeviceKey storage k = self.keys[device];
        uint256 t = block.timestamp;
        return k.machineId != bytes32(0) && !k.revoked && t >= k.validFrom && (k.validUntil == 0 || t < k.validUntil);
    }

    function _apply(Fleet storage self, bytes32 machineId, IConsortiumRegistry.DeviceChange memory c) private {
        if (c.kind == IConsortiumRegistry.DeviceChangeKind.Revoke) {
            self.keys[c.device].revoked = true;
            emit IConsortiumRegistry.DeviceRevoked(machineId, c.device, c.requestedBy);
            return;
        }
        uint64 from = uint64(block.timestamp);
        if (c.kind == IConsortiumRegistry.DeviceChangeKind.Rotate) {
            from = rotationPoint(c);
            address old = currentKey(self, machineId); // c.oldDevice when requested: no other change applies meanwhile
            self.keys[old].validUntil = from;
            emit IConsortiumRegistry.DeviceRotated(machineId, old, c.device, from, c.requestedBy);
        } else {
            address last = currentKey(self, machineId); // revoked (check): start no earlier than its window did
            if (last != address(0) && self.keys[last].validFrom > from) from = self.keys[last].validFrom;
            emit IConsortiumRegistry.DeviceBound(machineId, c.device, c.requestedBy, from);
        }
        self.keys[c.device] = IConsortiumRegistry.DeviceKey(machineId, from, 0, false);
        self.history[machineId].push(c.device);
    }
}
