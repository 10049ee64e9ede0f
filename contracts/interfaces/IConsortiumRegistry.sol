// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumErrors} from "./IConsortiumErrors.sol";

/// @title Consortium membership, machines and devices of fedpm
/// @notice Organizations (manufacturers, operators, enablers) hold role bits; governors admit, remove and
/// re-role organizations by k-of-n approval. Operators register machines and bind device keys to them.
/// Every other fedpm contract asks this registry who may act (see RegistryGated); the errors its checks raise are
/// in IConsortiumErrors.
interface IConsortiumRegistry is IConsortiumErrors {
    enum ProposalKind {
        AddOrg,
        RemoveOrg,
        SetRoles,
        SetThreshold,
        Mint
    }

    struct Proposal {
        ProposalKind kind;
        bytes32 orgId;
        string name;
        uint256 roles;
        address account;
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
    error NotMachineOperator(bytes32 machineId, address account);
    error DeviceExists(address device);
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
    event DeviceRegistered(address indexed device, bytes32 indexed machineId);
    event DeviceRevoked(address indexed device, bytes32 indexed machineId);

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

    /// @notice The machine a device key is bound to, and whether the binding is still active.
    function deviceMachine(address device) external view returns (bytes32 machineId, bool active);

    /// @notice Reverts unless `device` is the active device key of `machineId`: UnknownDevice if it was never
    /// bound, DeviceOfAnotherMachine if it is bound to another machine, DeviceNotActive if it was revoked.
    function requireActiveDevice(bytes32 machineId, address device) external view;
}
