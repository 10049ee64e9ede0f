// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";

/// @title k-of-n proposals: one approval per governor organization, expiring after a time-to-live.
library Governance {
    struct Proposals {
        IConsortiumRegistry.Proposal[] items;
        mapping(uint256 => bytes32[]) approvers; // governor orgs that approved, in order
        mapping(uint256 => mapping(bytes32 => bool)) approved;
        uint256 threshold;
        uint64 ttl;
        mapping(address => uint256) reservedBy; // account -> 1 + id of the latest AddOrg proposal naming it
    }

    /// @dev Stores `p`; an AddOrg proposal reserves its account while it is open. Emits ProposalCreated.
    function create(Proposals storage self, IConsortiumRegistry.Proposal memory p) internal returns (uint256 id) {
        p.expiresAt = uint64(block.timestamp) + self.ttl;
        id = self.items.length;
        if (p.kind == IConsortiumRegistry.ProposalKind.AddOrg) {
            requireUnreserved(self, p.account);
            self.reservedBy[p.account] = id + 1;
        }
        self.items.push(p);
        emit IConsortiumRegistry.ProposalCreated(id, p.kind, p.orgId, p.proposer, p.expiresAt);
    }

    function approve(Proposals storage self, uint256 id, bytes32 governorOrg) internal {
        open(self, id); // reverts if unknown, executed or expired
        if (self.approved[id][governorOrg]) revert IConsortiumRegistry.AlreadyApproved(id, governorOrg);
        self.approved[id][governorOrg] = true;
        self.approvers[id].push(governorOrg);
        emit IConsortiumRegistry.ProposalApproved(id, governorOrg, msg.sender, self.approvers[id].length);
    }

    /// @dev Marks the proposal executed once enough *current* governors approved it.
    /// `isGovernor` filters out approvals of orgs that lost the role since.
    function markExecuted(Proposals storage self, uint256 id, function(bytes32) view returns (bool) isGovernor)
        internal
        returns (IConsortiumRegistry.Proposal memory p)
    {
        IConsortiumRegistry.Proposal storage stored = open(self, id);
        uint256 valid = 0;
        bytes32[] storage orgs = self.approvers[id];
        for (uint256 i = 0; i < orgs.length; i++) {
            if (isGovernor(orgs[i])) valid++;
        }
        if (valid < self.threshold) revert IConsortiumRegistry.NotEnoughApprovals(id, valid, self.threshold);
        stored.executed = true;
        p = stored;
    }

    /// @dev Reverts AccountReserved while an open (unexecuted, unexpired) AddOrg proposal names `account`.
    function requireUnreserved(Proposals storage self, address account) internal view {
        uint256 r = self.reservedBy[account];
        if (r == 0) return;
        IConsortiumRegistry.Proposal storage p = self.items[r - 1];
        if (!p.executed && block.timestamp <= p.expiresAt) revert IConsortiumRegistry.AccountReserved(account, r - 1);
    }

    function open(Proposals storage self, uint256 id) internal view returns (IConsortiumRegistry.Proposal storage p) {
        if (id >= self.items.length) revert IConsortiumRegistry.UnknownProposal(id);
        p = self.items[id];
        if (p.executed) revert IConsortiumRegistry.ProposalAlreadyExecuted(id);
        if (block.timestamp > p.expiresAt) revert IConsortiumRegistry.ProposalExpired(id, p.expiresAt);
    }
}
