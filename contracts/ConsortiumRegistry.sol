// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IConsortiumToken} from "./interfaces/IConsortiumToken.sol";
import {Membership} from "./libraries/Membership.sol";
import {Governance} from "./libraries/Governance.sol";
import {Machines} from "./libraries/Machines.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title ConsortiumRegistry
/// @notice Permissioned membership of the fedpm consortium (k-of-n governed), machines and their device keys
/// (bound, rotated and revoked by each machine's manufacturer; with the lessee's approval while a lease locks them).
contract ConsortiumRegistry is IConsortiumRegistry {
    using Membership for Membership.Members;
    using Governance for Governance.Proposals;
    using Machines for Machines.Fleet;

    uint256 public constant GOVERNOR = Roles.GOVERNOR;
    uint256 public constant OPERATOR = Roles.OPERATOR;
    uint256 public constant MANUFACTURER = Roles.MANUFACTURER;
    uint256 public constant AGGREGATOR = Roles.AGGREGATOR;
    uint256 public constant TRAINER = Roles.TRAINER;
    uint256 public constant MAX_ACCOUNTS = Membership.MAX_ACCOUNTS;
    uint256 public constant MAX_NODES = Membership.MAX_NODES;
    uint256 public constant MAX_NAME_BYTES = Membership.MAX_NAME_BYTES;
    uint256 public constant MAX_ENODE_BYTES = Membership.MAX_ENODE_BYTES;

    Membership.Members private _members;
    Governance.Proposals private _proposals;
    Machines.Fleet private _fleet;

    modifier onlyRole(uint256 role) {
        _members.requireRole(msg.sender, role);
        _;
    }

    /// @param orgIds Founding governor organizations; each also gets the roles in `roles`.
    /// @param threshold Approvals (k) a proposal needs; 1 <= k <= number of governors.
    /// @param ttl Seconds a proposal stays open.
    constructor(bytes32[] memory orgIds, string[] memory names, uint256[] memory roles, address[] memory accounts, uint256 threshold, uint64 ttl) {
        for (uint256 i = 0; i < orgIds.length; i++) {
            _members.add(orgIds[i], names[i], roles[i] | Roles.GOVERNOR, accounts[i]);
        }
        _proposals.ttl = ttl;
        _setThreshold(threshold);
    }

    // ------------------------------------------------------------------ governance

    /// @notice Propose admitting an organization with `roles` and its first `account`.
    /// Requirements: caller's org is a governor; `account` is non-zero, not taken and not named by another open
    /// AddOrg proposal (AccountReserved); while this proposal is open nobody else can take `account`.
    /// The proposer's org approves implicitly. Emits ProposalCreated, ProposalApproved.
    function proposeAddOrg(bytes32 orgId, string calldata name, uint256 roles, address account) external onlyRole(GOVERNOR) returns (uint256) {
        _members.requireFree(account);
        return _propose(Proposal(ProposalKind.AddOrg, orgId, name, roles, account, 0, msg.sender, 0, false, address(0), 0));
    }

    /// @notice Propose trusting `lease` (a MachineLease of this registry) to lock machines' device keys while it holds
    /// an open lease on them. Requirements: caller's org is a governor; `lease` non-zero. The proposer's org approves
    /// implicitly. Emits ProposalCreated, ProposalApproved.
    function proposeAddLeaseContract(address lease) external onlyRole(GOVERNOR) returns (uint256) {
        if (lease == address(0)) revert ZeroAddress();
        return _propose(Proposal(ProposalKind.AddLeaseContract, bytes32(0), "", 0, lease, 0, msg.sender, 0, false, address(0), 0));
    }

    function proposeRemoveOrg(bytes32 orgId) external onlyRole(GOVERNOR) returns (uint256) {
        return _propose(Proposal(ProposalKind.RemoveOrg, orgId, "", 0, address(0), 0, msg.sender, 0, false, address(0), 0));
    }

    function proposeSetRoles(bytes32 orgId, uint256 roles) external onlyRole(GOVERNOR) returns (uint256) {
        return _propose(Proposal(ProposalKind.SetRoles, orgId, "", roles, address(0), 0, msg.sender, 0, false, address(0), 0));
    }

    function proposeSetThreshold(uint256 threshold) external onlyRole(GOVERNOR) returns (uint256) {
        return _propose(Proposal(ProposalKind.SetThreshold, bytes32(0), "", 0, address(0), threshold, msg.sender, 0, false, address(0), 0));
    }

    /// @notice Propose minting `amount` of `token` (a ConsortiumToken of this registry) to `to`: the only way
    /// supply changes. Requirements: caller's org is a governor; `token` and `to` non-zero; `amount` > 0.
    /// The proposer's org approves implicitly. Emits ProposalCreated, ProposalApproved.
    function proposeMint(IConsortiumToken token, address to, uint256 amount) external onlyRole(GOVERNOR) returns (uint256) {
        if (address(token) == address(0) || to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        return _propose(Proposal(ProposalKind.Mint, bytes32(0), "", 0, to, 0, msg.sender, 0, false, address(token), amount));
    }

    /// @notice Approve an open proposal on behalf of the caller's governor organization.
    /// Requirements: not expired, not executed, not approved by this org before. Emits ProposalApproved.
    function approve(uint256 proposalId) external {
        bytes32 orgId = _members.requireRole(msg.sender, Roles.GOVERNOR);
        _proposals.approve(proposalId, orgId);
    }

    /// @notice Apply a proposal that at least `threshold` current governor orgs approved.
    /// Requirements: caller is a member; not expired or executed. Emits ProposalExecuted and the change's event.
    function execute(uint256 proposalId) external {
        _members.orgOf(msg.sender);
        Proposal memory p = _proposals.markExecuted(proposalId, _isGovernor);
        if (p.kind == ProposalKind.AddOrg) _members.add(p.orgId, p.name, p.roles, p.account);
        else if (p.kind == ProposalKind.RemoveOrg) _members.remove(p.orgId);
        else if (p.kind == ProposalKind.SetRoles) _members.setRoles(p.orgId, p.roles);
        else if (p.kind == ProposalKind.SetThreshold) _setThreshold(p.threshold);
        else if (p.kind == ProposalKind.AddLeaseContract) _fleet.addLeaseContract(p.account);
        else IConsortiumToken(p.token).mint(p.account, p.amount); // marked executed above: cannot mint twice
        _checkThreshold(_proposals.threshold);
        emit ProposalExecuted(proposalId, msg.sender);
    }

    // ------------------------------------------------------------------ self-service of an org

    /// @notice Offer to add another account (a node key, a relayer) to the caller's organization; it joins when
    /// its own key calls acceptAccount. Requirements: caller is a member; `account` non-zero, not taken, not
    /// reserved by an open AddOrg proposal; the org holds fewer than MAX_ACCOUNTS. Emits AccountOffered.
    function addAccount(address account) external {
        _proposals.requireUnreserved(account);
        _members.offerAccount(_members.orgOf(msg.sender), account);
    }

    /// @notice Join `orgId` as an account, taking up its pending offer (the caller signs for its own key).
    /// Requirements: `orgId` offered the caller and is active; the caller is not taken nor reserved; the org holds
    /// fewer than MAX_ACCOUNTS. Emits AccountAdded.
    function acceptAccount(bytes32 orgId) external {
        _proposals.requireUnreserved(msg.sender);
        _members.acceptAccount(orgId, msg.sender);
    }

    function removeAccount(address account) external {
        _members.removeAccount(_members.orgOf(msg.sender), account);
    }

    /// @notice Declare a node (Besu enode URL) run by the caller's organization.
    /// Requirements: caller is a member; fewer than MAX_NODES declared; at most MAX_ENODE_BYTES. Emits NodeAdded.
    function addNode(string calldata enode) external {
        _members.addNode(_members.orgOf(msg.sender), enode);
    }

    function removeNode(string calldata enode) external {
        _members.removeNode(_members.orgOf(msg.sender), enode);
    }

    // ------------------------------------------------------------------ machines and devices

    /// @notice Register a machine the caller's org operates, built by `manufacturerOrg`.
    /// Requirements: caller's org holds OPERATOR; the manufacturer org is active and holds MANUFACTURER;
    /// `machineId` is not registered yet. Emits MachineRegistered.
    function registerMachine(bytes32 machineId, bytes32 manufacturerOrg, bytes32 metadataHash) external onlyRole(OPERATOR) {
        _members.requireOrgRole(manufacturerOrg, Roles.MANUFACTURER);
        _fleet.register(machineId, _members.orgOf(msg.sender), manufacturerOrg, metadataHash);
    }

    /// @notice Bind the first (or, after a revocation, the next) device key of a machine the caller's org
    /// manufactured; it signs for readings stamped from now on. A key is bound once, ever.
    /// Requirements: caller is a member of the machine's manufacturer org (NotManufacturer); the machine is registered;
    /// `device` is non-zero and was never bound (DeviceExists); the machine has no unrevoked key (MachineHasDevice:
    /// rotate instead). While a lease locks the machine the bind waits for the lessee (approveDeviceChange).
    /// Emits DeviceBound, or DeviceChangeRequested while locked.
    function registerDevice(address device, bytes32 machineId) external {
        _fleet.request(machineId, DeviceChange(DeviceChangeKind.Bind, device, address(0), 0, msg.sender), _members.orgOf(msg.sender));
    }

    /// @notice Replace the machine's current key by `newDevice` at reading time `at` (0: when applied): the old key
    /// keeps signing for readings stamped before `at`, the new one for readings from `at`.
    /// Requirements: as registerDevice, and the machine has an unrevoked key (NoCurrentDevice); `at` is not in the
    /// past nor at or before the current key's start (InvalidRotationTime). While a lease locks the machine the
    /// rotation waits for the lessee. Emits DeviceRotated, or DeviceChangeRequested while locked.
    function rotateDevice(bytes32 machineId, address newDevice, uint64 at) external {
        address current = _fleet.currentKey(machineId);
        _fleet.request(machineId, DeviceChange(DeviceChangeKind.Rotate, newDevice, current, at, msg.sender), _members.orgOf(msg.sender));
    }

    /// @notice Revoke a device key (lost, compromised): none of its signatures count any more, for any time.
    /// Requirements: caller is a member of its machine's manufacturer org (NotManufacturer); the key is bound and
    /// not revoked (UnknownDevice). While a lease locks the machine the revocation waits for the lessee.
    /// Emits DeviceRevoked, or DeviceChangeRequested while locked.
    function revokeDevice(address device) external {
        bytes32 machineId = _fleet.keys[device].machineId;
        if (machineId == bytes32(0)) revert UnknownDevice(device);
        _fleet.request(machineId, DeviceChange(DeviceChangeKind.Revoke, device, address(0), 0, msg.sender), _members.orgOf(msg.sender));
    }

    /// @notice Approve, as the lessee of the lease that locks `machineId`, the waiting key change `changeHash`
    /// (pendingDeviceChange), which is then checked again and applied.
    /// Requirements: caller is a member of the lock's lessee org (NotMachineLessee); `changeHash` is the waiting
    /// change's hash (NoPendingChange). Emits DeviceChangeApproved and the change's event.
    function approveDeviceChange(bytes32 machineId, bytes32 changeHash) external {
        _fleet.approve(machineId, changeHash, _members.orgOf(msg.sender));
    }

    /// @inheritdoc IConsortiumRegistry
    function lockDevices(bytes32 machineId, bytes32 lesseeOrg) external {
        _fleet.lock(machineId, lesseeOrg);
    }

    /// @inheritdoc IConsortiumRegistry
    function unlockDevices(bytes32 machineId) external {
        _fleet.unlock(machineId);
    }

    // ------------------------------------------------------------------ views

    function requireRole(address account, uint256 role) external view returns (bytes32 orgId) {
        return _members.requireRole(account, role);
    }

    function hasRole(address account, uint256 role) external view returns (bool) {
        return _members.hasRole(account, role);
    }

    function isMember(address account) external view returns (bool) {
        return _members.isMember(account);
    }

    function orgOf(address account) external view returns (bytes32) {
        return _members.orgOf(account);
    }

    function isActiveOrg(bytes32 orgId) external view returns (bool) {
        return _members.orgs[orgId].active;
    }

    /// @notice Whether `orgId` offered to add `account` and the account has not accepted yet.
    function accountOffered(address account, bytes32 orgId) external view returns (bool) {
        return _members.offered[account][orgId];
    }

    function org(bytes32 orgId) external view returns (string memory name, uint256 roles, bool active, address[] memory accounts, string[] memory enodes) {
        Membership.Org storage o = _members.orgs[orgId];
        return (o.name, o.roles, o.active, o.accounts, o.enodes);
    }

    function orgIds() external view returns (bytes32[] memory) {
        return _members.orgIds;
    }

    function governorCount() external view returns (uint256) {
        return _members.governors;
    }

    function threshold() external view returns (uint256) {
        return _proposals.threshold;
    }

    function proposal(uint256 proposalId) external view returns (Proposal memory p, bytes32[] memory approvers) {
        if (proposalId >= _proposals.items.length) revert UnknownProposal(proposalId);
        return (_proposals.items[proposalId], _proposals.approvers[proposalId]);
    }

    function proposalCount() external view returns (uint256) {
        return _proposals.items.length;
    }

    function machine(bytes32 machineId) external view returns (Machine memory) {
        return _fleet.machines[machineId];
    }

    function machineIds() external view returns (bytes32[] memory) {
        return _fleet.ids;
    }

    function deviceMachine(address device) external view returns (bytes32 machineId, bool active) {
        return (_fleet.keys[device].machineId, _fleet.isActive(device));
    }

    /// @inheritdoc IConsortiumRegistry
    function deviceKey(address device) external view returns (DeviceKey memory) {
        return _fleet.keys[device];
    }

    /// @notice Every key ever bound to `machineId`, in binding order (the last one is the current key).
    function deviceKeys(bytes32 machineId) external view returns (address[] memory) {
        return _fleet.history[machineId];
    }

    /// @notice The change of `machineId`'s keys waiting for the lessee's approval (requestedBy zero: none), and its hash.
    function pendingDeviceChange(bytes32 machineId) external view returns (DeviceChange memory change, bytes32 changeHash) {
        change = _fleet.pending[machineId];
        if (change.requestedBy != address(0)) changeHash = Machines.changeHash(machineId, change);
    }

    /// @notice The lease lock of `machineId` (holder zero: not locked).
    function deviceLock(bytes32 machineId) external view returns (DeviceLock memory) {
        return _fleet.locks[machineId];
    }

    function isLeaseContract(address account) external view returns (bool) {
        return _fleet.leaseContracts[account];
    }

    function requireActiveDevice(bytes32 machineId, address device) external view {
        _fleet.requireDeviceAt(machineId, device, uint64(block.timestamp));
    }

    function requireDeviceAt(bytes32 machineId, address device, uint64 time) external view {
        _fleet.requireDeviceAt(machineId, device, time);
    }

    // ------------------------------------------------------------------ internals

    function _propose(Proposal memory p) private returns (uint256 id) {
        bytes32 proposerOrg = _members.orgOf(msg.sender);
        id = _proposals.create(p);
        _proposals.approve(id, proposerOrg);
    }

    function _isGovernor(bytes32 orgId) private view returns (bool) {
        Membership.Org storage o = _members.orgs[orgId];
        return o.active && o.roles & Roles.GOVERNOR != 0;
    }

    function _setThreshold(uint256 k) private {
        _checkThreshold(k);
        _proposals.threshold = k;
        emit ThresholdChanged(k);
    }

    /// @dev Governance must stay possible: 1 <= k <= active governors.
    function _checkThreshold(uint256 k) private view {
        if (k == 0 || k > _members.governors) revert InvalidThreshold(k, _members.governors);
    }
}
