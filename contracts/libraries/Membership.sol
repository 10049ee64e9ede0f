// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumErrors} from "../interfaces/IConsortiumErrors.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {Roles} from "./Roles.sol";

/// @title Organizations, their accounts and node identities, over one storage struct.
/// @dev Every list an org grows by itself is capped, so removing the org (which walks them) stays within a block.
library Membership {
    uint256 internal constant MAX_ACCOUNTS = 16;
    uint256 internal constant MAX_NODES = 8;
    uint256 internal constant MAX_NAME_BYTES = 64;
    uint256 internal constant MAX_ENODE_BYTES = 256;

    struct Org {
        string name;
        uint256 roles;
        bool active;
        bool listed; // in orgIds already (an org removed and re-added is listed once)
        address[] accounts;
        string[] enodes;
    }

    struct Members {
        mapping(bytes32 => Org) orgs;
        bytes32[] orgIds; // every org ever added, in order; `active` tells who is in
        mapping(address => bytes32) orgOfAccount;
        uint256 governors; // active orgs holding GOVERNOR
        mapping(address => mapping(bytes32 => bool)) offered; // account -> orgs offering to add it (no org can overwrite another's offer)
    }

    function add(Members storage self, bytes32 orgId, string memory name, uint256 roles, address account) internal {
        if (orgId == bytes32(0)) revert IConsortiumRegistry.InvalidOrgId();
        Org storage org = self.orgs[orgId];
        if (org.active) revert IConsortiumRegistry.OrgExists(orgId);
        checkLength(bytes(name).length, MAX_NAME_BYTES);
        if (roles == 0 || roles & ~Roles.ALL != 0) revert IConsortiumRegistry.InvalidRoles(roles);
        if (!org.listed) {
            org.listed = true;
            self.orgIds.push(orgId);
        }
        org.name = name;
        org.roles = roles;
        org.active = true;
        if (roles & Roles.GOVERNOR != 0) self.governors += 1;
        emit IConsortiumRegistry.OrgAdded(orgId, name, roles, account);
        addAccount(self, orgId, account);
    }

    function remove(Members storage self, bytes32 orgId) internal {
        Org storage org = _active(self, orgId);
        if (org.roles & Roles.GOVERNOR != 0) self.governors -= 1;
        org.active = false;
        for (uint256 i = org.accounts.length; i > 0; i--) {
            address account = org.accounts[i - 1];
            delete self.orgOfAccount[account];
            org.accounts.pop();
            emit IConsortiumRegistry.AccountRemoved(orgId, account);
        }
        delete org.enodes;
        emit IConsortiumRegistry.OrgRemoved(orgId);
    }

    function setRoles(Members storage self, bytes32 orgId, uint256 roles) internal {
        Org storage org = _active(self, orgId);
        if (roles == 0 || roles & ~Roles.ALL != 0) revert IConsortiumRegistry.InvalidRoles(roles);
        bool was = org.roles & Roles.GOVERNOR != 0;
        bool now_ = roles & Roles.GOVERNOR != 0;
        if (was && !now_) self.governors -= 1;
        if (!was && now_) self.governors += 1;
        org.roles = roles;
        emit IConsortiumRegistry.RolesChanged(orgId, roles);
    }

    function addAccount(Members storage self, bytes32 orgId, address account) internal {
        requireFree(self, account);
        Org storage org = _withRoom(self, orgId);
        self.orgOfAccount[account] = orgId;
        org.accounts.push(account);
        emit IConsortiumRegistry.AccountAdded(orgId, account);
    }

    /// @dev First step of adding `account` to `orgId`: the offer, which the account's own key accepts.
    /// Emits AccountOffered.
    function offerAccount(Members storage self, bytes32 orgId, address account) internal {
        requireFree(self, account);
        _withRoom(self, orgId);
        self.offered[account][orgId] = true;
        emit IConsortiumRegistry.AccountOffered(orgId, account);
    }

    /// @dev Second step: `account` (the caller) takes up the offer of `orgId`. Emits AccountAdded.
    function acceptAccount(Members storage self, bytes32 orgId, address account) internal {
        if (!self.offered[account][orgId]) revert IConsortiumRegistry.NoAccountOffer(orgId, account);
        delete self.offered[account][orgId];
        addAccount(self, orgId, account);
    }

    function removeAccount(Members storage self, bytes32 orgId, address account) internal {
        Org storage org = _active(self, orgId);
        if (self.orgOfAccount[account] != orgId) revert IConsortiumRegistry.NotOrgAccount(orgId, account);
        uint256 n = org.accounts.length;
        for (uint256 i = 0; i < n; i++) {
            if (org.accounts[i] == account) {
                org.accounts[i] = org.accounts[n - 1];
                org.accounts.pop();
                break;
            }
        }
        delete self.orgOfAccount[account];
        emit IConsortiumRegistry.AccountRemoved(orgId, account);
    }

    function addNode(Members storage self, bytes32 orgId, string calldata enode) internal {
        string[] storage enodes = _active(self, orgId).enodes;
        if (enodes.length >= MAX_NODES) revert IConsortiumRegistry.TooManyNodes(orgId, MAX_NODES);
        checkLength(bytes(enode).length, MAX_ENODE_BYTES);
        enodes.push(enode);
        emit IConsortiumRegistry.NodeAdded(orgId, enode);
    }

    function removeNode(Members storage self, bytes32 orgId, string calldata enode) internal {
        string[] storage enodes = _active(self, orgId).enodes;
        bytes32 h = keccak256(bytes(enode));
        for (uint256 i = 0; i < enodes.length; i++) {
            if (keccak256(bytes(enodes[i])) == h) {
                enodes[i] = enodes[enodes.length - 1];
                enodes.pop();
                emit IConsortiumRegistry.NodeRemoved(orgId, enode);
                return;
            }
        }
    }

    /// @dev Reverts ZeroAddress or AccountTaken unless `account` could join an org.
    function requireFree(Members storage self, address account) internal view {
        if (account == address(0)) revert IConsortiumRegistry.ZeroAddress();
        if (self.orgOfAccount[account] != bytes32(0)) revert IConsortiumRegistry.AccountTaken(account);
    }

    function checkLength(uint256 length, uint256 max) internal pure {
        if (length > max) revert IConsortiumRegistry.TextTooLong(length, max);
    }

    /// @dev The active org of `account`, or revert NotMember.
    function orgOf(Members storage self, address account) internal view returns (bytes32 orgId) {
        orgId = self.orgOfAccount[account];
        if (orgId == bytes32(0) || !self.orgs[orgId].active) revert IConsortiumErrors.NotMember(account);
    }

    function requireRole(Members storage self, address account, uint256 role) internal view returns (bytes32 orgId) {
        orgId = orgOf(self, account);
        if (self.orgs[orgId].roles & role != role) revert IConsortiumErrors.MissingRole(account, role);
    }

    function isMember(Members storage self, address account) internal view returns (bool) {
        bytes32 orgId = self.orgOfAccount[account];
        return orgId != bytes32(0) && self.orgs[orgId].active;
    }

    function hasRole(Members storage self, address account, uint256 role) internal view returns (bool) {
        return isMember(self, account) && self.orgs[self.orgOfAccount[account]].roles & role == role;
    }

    /// @dev Reverts with UnknownOrg unless `orgId` is active, with InvalidRoles unless it holds `role`.
    function requireOrgRole(Members storage self, bytes32 orgId, uint256 role) internal view {
        Org storage org = _active(self, orgId);
        if (org.roles & role != role) revert IConsortiumRegistry.InvalidRoles(org.roles);
    }

    /// @dev The active org `orgId`, if it holds fewer than MAX_ACCOUNTS accounts (else TooManyAccounts).
    function _withRoom(Members storage self, bytes32 orgId) private view returns (Org storage org) {
        org = _active(self, orgId);
        if (org.accounts.length >= MAX_ACCOUNTS) revert IConsortiumRegistry.TooManyAccounts(orgId, MAX_ACCOUNTS);
    }

    function _active(Members storage self, bytes32 orgId) private view returns (Org storage org) {
        org = self.orgs[orgId];
        if (!org.active) revert IConsortiumRegistry.UnknownOrg(orgId);
    }
}
