// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumErrors} from "./IConsortiumErrors.sol";

/// @title Consortium membership, machines and devices of fedpm
/// @notice Organizations (manufacturers, operators, enablers) hold role bits; governors admit, remove and
/// re-role organizations by k-of-n approval. Operators register the machines they run; each machine's manufacturer
/// binds, rotates and revokes its device key (one key valid at any time, each for a window of reading times); while a
/// lease contract the governors trust holds the machine's lock, a change also needs the lessee's approval.
/// Every other fedpm contract asks this registry who may act and which key signs for a machine (see RegistryGated);
/// the errors its checks raise are in IConsortiumErrors.
interface IConsortiumRegistry is IConsortiumErrors {
    enum ProposalKind {
        AddOrg,
        RemoveOrg,
        SetRoles,
        SetThreshold,
        Mint,
        AddLeaseContract
    }

    /// @notice What a manufacturer asks of a machine's device key (applied at once, or approved by the lessee).
    enum DeviceChangeKind {
        Bind,
        Rotate,
        Revoke
    }

    struct Proposal {
        ProposalKind kind;
        bytes32 orgId;
        string name;
        uint256 roles;
        address account; // AddOrg: the first account; Mint: the receiver; AddLeaseContract: the lease contract
        uint256 threshold;
        address proposer;
        uint64 expiresAt;
        bool executed;
        address token; // Mint: the ConsortiumToken to mint (it accepts mints from its registry only)
        uint256 amount; // Mint: base units minted to `account`
    }

    struct Machine {
        bytes32 operatorOrg;
        bytes32 manufacturerOrg;
        bytes32 metadataHash;
        bool registered;
    }

    /// @notice A device key's binding, kept forever: it signs for `machineId` readings stamped in
    /// [validFrom, validUntil) (validUntil 0: until a rotation sets it), unless revoked (then for none).
    struct DeviceKey {
        bytes32 machineId; // zero: never bound
        uint64 validFrom;
        uint64 validUntil;
        bool revoked;
    }

    /// @notice A device key change waiting for the lessee's approval (the manufacturer asked for it while the
    /// machine was locked by a lease). Bind and Rotate name the new key in `device`; Rotate retires `oldDevice` at `at`;
    /// Revoke revokes `device`.
    struct DeviceChange {
        DeviceChangeKind kind;
        address device;
        address oldDevice;
        uint64 at;
        address requestedBy;
    }

    /// @notice The lease lock of a machine: `holder` (a trusted lease contract) holds an open lease to `lesseeOrg`.
    struct DeviceLock {
        address holder;
        bytes32 lesseeOrg;
    }

    // --- errors ---
    error InvalidRoles(uint256 roles);
    error OrgExists(bytes32 orgId);
    error UnknownOrg(bytes32 orgId);
    error AccountTaken(address account);
    error NotOrgAccount(bytes32 orgId, address account);
    error UnknownProposal(uint256 proposalId);
    error AlreadyApproved(uint256 proposalId, bytes32 governorOrg);
    error ProposalExpired(uint256 proposalId, uint64 expiredAt);
    error ProposalAlreadyExecuted(uint256 proposalId);
    error NotEnoughApprovals(uint256 proposalId, uint256 approvals, uint256 threshold);
    error InvalidThreshold(uint256 threshold, uint256 governors);
    error MachineExists(bytes32 machineId);
    /// @notice `device` was bound before (to any machine): a key is bound once, ever.
    error DeviceExists(address device);
    /// @notice `machineId` already has the device key `device` (valid now or from a rotation point): rotate or
    /// revoke it instead of binding a second one.
    error MachineHasDevice(bytes32 machineId, address device);
    /// @notice `machineId` has no unrevoked key to rotate: bind one.
    error NoCurrentDevice(bytes32 machineId);
    /// @notice A rotation point `at` must not lie in the past nor before the current key starts (`earliest`).
    error InvalidRotationTime(uint64 at, uint64 earliest);
    /// @notice `machineId` has no pending device change with hash `changeHash`.
    error NoPendingChange(bytes32 machineId, bytes32 changeHash);
    /// @notice `account`'s organization is not the lessee of the lease that locks `machineId`.
    error NotMachineLessee(bytes32 machineId, address account);
    error ZeroAddress();
    error InvalidOrgId();
    error ZeroAmount();
    /// @notice `account` is named by the open AddOrg proposal `proposalId`: nobody else may take it meanwhile.
    error AccountReserved(address account, uint256 proposalId);
    /// @notice `account` has no pending offer from `orgId` (an org's member offers, the new key accepts).
    error NoAccountOffer(bytes32 orgId, address account);
    /// @notice `orgId` already holds the maximum number of accounts (MAX_ACCOUNTS), so removal stays bounded.
    error TooManyAccounts(bytes32 orgId, uint256 max);
    /// @notice `orgId` already declares the maximum number of nodes (MAX_NODES).
    error TooManyNodes(bytes32 orgId, uint256 max);
    /// @notice A name or enode of `length` bytes is longer than `max`.
    error TextTooLong(uint256 length, uint256 max);

    // --- events ---
    event OrgAdded(bytes32 indexed orgId, string name, uint256 roles, address indexed account);
    event OrgRemoved(bytes32 indexed orgId);
    event RolesChanged(bytes32 indexed orgId, uint256 roles);
    event AccountOffered(bytes32 indexed orgId, address indexed account);
    event AccountAdded(bytes32 indexed orgId, address indexed account);
    event AccountRemoved(bytes32 indexed orgId, address indexed account);
    event NodeAdded(bytes32 indexed orgId, string enode);
    event NodeRemoved(bytes32 indexed orgId, string enode);
    event ThresholdChanged(uint256 threshold);
    event ProposalCreated(uint256 indexed proposalId, ProposalKind kind, bytes32 indexed orgId, address indexed proposer, uint64 expiresAt);
    event ProposalApproved(uint256 indexed proposalId, bytes32 indexed governorOrg, address approver, uint256 approvals);
    event ProposalExecuted(uint256 indexed proposalId, address executor);
    event MachineRegistered(bytes32 indexed machineId, bytes32 indexed operatorOrg, bytes32 indexed manufacturerOrg, bytes32 metadataHash);
    /// @param by The manufacturer's account that bound it; validFrom The first reading time it signs for.
    event DeviceBound(bytes32 indexed machineId, address indexed device, address indexed by, uint64 validFrom);
    /// @notice `oldDevice` signs readings stamped before `at`, `newDevice` from `at`.
    event DeviceRotated(bytes32 indexed machineId, address indexed oldDevice, address indexed newDevice, uint64 at, address by);
    event DeviceRevoked(bytes32 indexed machineId, address indexed device, address indexed by);
    /// @notice The manufacturer asked for a change of a locked machine's key; the lessee approves it by `changeHash`.
    event DeviceChangeRequested(bytes32 indexed machineId, bytes32 indexed changeHash, DeviceChange change);
    event DeviceChangeApproved(bytes32 indexed machineId, bytes32 indexed changeHash, address indexed by);
    event DevicesLocked(bytes32 indexed machineId, address indexed holder, bytes32 indexed lesseeOrg);
    event DevicesUnlocked(bytes32 indexed machineId, address indexed holder);
    event LeaseContractAdded(address indexed lease);

    // --- views other contracts use ---
    /// @notice Reverts with NotMember or MissingRole unless `account` belongs to an active org holding `role`;
    /// returns that org.
    function requireRole(address account, uint256 role) external view returns (bytes32 orgId);

    function hasRole(address account, uint256 role) external view returns (bool);

    function isMember(address account) external view returns (bool);

    function orgOf(address account) external view returns (bytes32);

    /// @notice Whether `orgId` is a current (active) member organization.
    function isActiveOrg(bytes32 orgId) external view returns (bool);

    /// @notice Proposal `proposalId` and the governor orgs that approved it (UnknownProposal if none).
    function proposal(uint256 proposalId) external view returns (Proposal memory p, bytes32[] memory approvers);

    function machine(bytes32 machineId) external view returns (Machine memory);

    /// @notice The machine a device key is bound to, and whether it signs for the machine now (bound, not revoked,
    /// now within its validity window).
    function deviceMachine(address device) external view returns (bytes32 machineId, bool active);

    /// @notice The binding of `device` (machineId zero: never bound): its machine, window of reading times, revocation.
    function deviceKey(address device) external view returns (DeviceKey memory);

    /// @notice Reverts unless `device` signs for `machineId` now: requireDeviceAt(machineId, device, block.timestamp).
    function requireActiveDevice(bytes32 machineId, address device) external view;

    /// @notice Reverts unless `device` is `machineId`'s key for a reading stamped `time`: UnknownDevice if it was
    /// never bound, DeviceOfAnotherMachine if it is bound to another machine, DeviceNotActive if it was revoked,
    /// DeviceNotValidAt if `time` is outside its validity window (rotated out before, or rotated in later).
    /// At most one key of a machine passes for any `time`.
    function requireDeviceAt(bytes32 machineId, address device, uint64 time) external view;

    /// @notice Lock `machineId`'s device keys for an open lease to `lesseeOrg`: from now on a key change also needs
    /// the lessee's approval. Requirements: caller is a trusted lease contract (NotLeaseContract); the machine is not
    /// locked (MachineLocked); its current key already signs (RotationScheduled). Emits DevicesLocked.
    function lockDevices(bytes32 machineId, bytes32 lesseeOrg) external;

    /// @notice Release the caller's lock of `machineId` (a waiting change is dropped). Requirements: the caller holds
    /// the lock (MachineLocked). Emits DevicesUnlocked.
    function unlockDevices(bytes32 machineId) external;
}
