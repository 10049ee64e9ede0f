// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Errors of the consortium registry's checks, declared once for every contract that relies on them
/// @notice The registry raises these when another contract asks it who may act or which device belongs to which
/// machine; the asking contract inherits them (through RegistryGated), so its ABI decodes what it relays.
interface IConsortiumErrors {
    /// @notice `account` belongs to no active consortium organization.
    error NotMember(address account);
    /// @notice `account`'s organization does not hold every bit of `role`.
    error MissingRole(address account, uint256 role);
    /// @notice No machine is registered under `machineId`.
    error UnknownMachine(bytes32 machineId);
    /// @notice `account`'s organization did not manufacture `machineId`: only the manufacturer binds, rotates and
    /// revokes the machine's device keys, and offers the machine for lease.
    error NotManufacturer(bytes32 machineId, address account);
    /// @notice `device` was never bound to a machine (or, when revoking, is no longer active).
    error UnknownDevice(address device);
    /// @notice `device` is bound to `boundMachine`, not to `machineId`, the machine it signed for.
    error DeviceOfAnotherMachine(address device, bytes32 boundMachine, bytes32 machineId);
    /// @notice `device` was bound to the machine but has been revoked: none of its signatures count any more.
    error DeviceNotActive(address device);
    /// @notice `device` is the machine's key only for times in [validFrom, validUntil) (validUntil 0: open-ended),
    /// and `time` is outside: it was rotated out before `time`, or its rotation makes it valid only later.
    error DeviceNotValidAt(address device, uint64 time, uint64 validFrom, uint64 validUntil);
    /// @notice `account` is not a lease contract the governors trust to lock device keys (proposeAddLeaseContract).
    error NotLeaseContract(address account);
    /// @notice `machineId`'s device keys are locked by the open lease of lease contract `holder`.
    error MachineLocked(bytes32 machineId, address holder);
    /// @notice `machineId`'s current key only starts signing at `validFrom` (a rotation the manufacturer announced):
    /// a lease starts after it, so that no key the lessee did not see sign takes over mid-lease.
    error RotationScheduled(bytes32 machineId, uint64 validFrom);
}
