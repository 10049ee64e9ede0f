// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {IConsortiumErrors} from "../../contracts/interfaces/IConsortiumErrors.sol";
import {Base, Handler} from "./Base.sol";

/// @dev Random proposals (add, remove, set roles, set threshold; valid and invalid), approvals, executions,
/// account moves and time warps on a registry of 3 founding governors (2-of-3) and 3 candidate orgs.
/// Records the first broken rule in `violation`.
contract GovernanceHandler is Handler {
    ConsortiumRegistry public registry;
    bytes32[] public orgPool; // 0..2 founding governors, 3..5 candidates
    address[] public actors; // first account of each org in orgPool, then 4 spare accounts

    constructor() {
        registry = deployRegistry(3, 2);
        for (uint256 i = 0; i < 3; i++) {
            (orgPool.push(), actors.push()) = (org(string(abi.encodePacked("gov-", bytes1(uint8(48 + i))))), governor(i));
        }
        for (uint256 i = 0; i < 3; i++) {
            (orgPool.push(), actors.push()) = (bytes32(uint256(0xc0 + i)), vm.addr(11 + i));
        }
        for (uint256 i = 0; i < 4; i++) actors.push(vm.addr(21 + i));
    }

    function orgCount() external view returns (uint256) {
        return orgPool.length;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function proposeAdd(uint256 who, uint256 o, uint256 roles) external {
        uint256 i = bound(o, 0, 5);
        _propose(who, abi.encodeCall(ConsortiumRegistry.proposeAddOrg, (orgPool[i], "org", bound(roles, 0, 32), actors[i])));
    }

    function proposeRemove(uint256 who, uint256 o) external {
        _propose(who, abi.encodeCall(ConsortiumRegistry.proposeRemoveOrg, (orgPool[bound(o, 0, 5)])));
    }

    function proposeSetRoles(uint256 who, uint256 o, uint256 roles) external {
        _propose(who, abi.encodeCall(ConsortiumRegistry.proposeSetRoles, (orgPool[bound(o, 0, 5)], bound(roles, 0, 32))));
    }

    function proposeThreshold(uint256 who, uint256 k) external {
        _propose(who, abi.encodeCall(ConsortiumRegistry.proposeSetThreshold, (bound(k, 0, 6))));
    }

    function approve(uint256 who, uint256 pid) external {
        (bool any, uint256 id) = recentProposal(registry, pid);
        if (!any) return;
        address a = _actor(who);
        bytes32 caller = _orgOrZero(a);
        (IConsortiumRegistry.Proposal memory p, bytes32[] memory approvers) = registry.proposal(id);
        vm.prank(a);
        try registry.approve(id) {
            if (!_isGovernor(caller)) _violate("a non-governor approved");
            if (_contains(approvers, caller)) _violate("an org approved twice");
            if (p.executed) _violate("an executed proposal was approved");
            if (block.timestamp > p.expiresAt) _violate("an expired proposal was approved");
        } catch {}
    }

    function execute(uint256 who, uint256 pid) external {
        (bool any, uint256 id) = recentProposal(registry, pid);
        if (!any) return;
        (IConsortiumRegistry.Proposal memory p, bytes32[] memory approvers) = registry.proposal(id);
        uint256 valid = 0;
        for (uint256 i = 0; i < approvers.length; i++) if (_isGovernor(approvers[i])) valid++;
        uint256 k = registry.threshold();
        vm.prank(_actor(who));
        try registry.execute(id) {
            if (valid < k) _violate("executed with fewer approvals of current governors than the threshold");
            if (p.executed) _violate("a proposal executed twice");
            if (block.timestamp > p.expiresAt) _violate("an expired proposal was executed");
        } catch {}
    }

    function addAccount(uint256 who, uint256 acct) external {
        vm.prank(_actor(who));
        try registry.addAccount(actors[bound(acct, 0, actors.length - 1)]) {} catch {}
    }

    function removeAccount(uint256 who, uint256 acct) external {
        vm.prank(_actor(who));
        try registry.removeAccount(actors[bound(acct, 0, actors.length - 1)]) {} catch {}
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 4 days));
    }

    function _propose(uint256 who, bytes memory call) private {
        vm.prank(_actor(who));
        (bool ok,) = address(registry).call(call);
        ok; // a rejected proposal is fine
    }

    /// @dev Mostly the first account of an org, sometimes a spare one.
    function _actor(uint256 who) private view returns (address) {
        return actors[bound(who, 0, who % 4 == 0 ? actors.length - 1 : 5)];
    }

    function _orgOrZero(address a) private view returns (bytes32) {
        try registry.orgOf(a) returns (bytes32 id) {
            return id;
        } catch {
            return bytes32(0);
        }
    }

    function _isGovernor(bytes32 id) private view returns (bool) {
        (, uint256 roles, bool active,,) = registry.org(id);
        return active && roles & GOVERNOR != 0;
    }

    function _contains(bytes32[] memory a, bytes32 x) private pure returns (bool) {
        for (uint256 i = 0; i < a.length; i++) if (a[i] == x) return true;
        return false;
    }
}

contract GovernanceInvariantTest is Base {
    GovernanceHandler internal handler;
    ConsortiumRegistry internal registry;

    function setUp() public {
        handler = new GovernanceHandler();
        registry = handler.registry();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function invariant_rules() public view {
        require(bytes(handler.violation()).length == 0, handler.violation());
        uint256 governors = 0;
        bytes32[] memory ids = registry.orgIds();
        for (uint256 i = 0; i < ids.length; i++) {
            for (uint256 j = 0; j < i; j++) require(ids[i] != ids[j], "an org listed twice");
            (, uint256 roles, bool active, address[] memory accounts,) = registry.org(ids[i]);
            if (!active) {
                require(accounts.length == 0, "a removed org kept accounts");
                continue;
            }
            require(roles != 0 && roles & ~uint256(31) == 0, "an active org with invalid roles");
            if (roles & GOVERNOR != 0) governors++;
            for (uint256 a = 0; a < accounts.length; a++) require(registry.orgOf(accounts[a]) == ids[i], "an account listed by an org it does not belong to");
        }
        require(registry.governorCount() == governors, "governorCount differs from the active governor orgs");
        uint256 k = registry.threshold();
        require(k >= 1 && k <= governors, "threshold outside 1..governors");
        for (uint256 i = 0; i < handler.actorCount(); i++) {
            address a = handler.actors(i);
            if (!registry.isMember(a)) continue;
            (,,, address[] memory accounts,) = registry.org(registry.orgOf(a));
            bool listed = false;
            for (uint256 j = 0; j < accounts.length; j++) if (accounts[j] == a) listed = true;
            require(listed, "a member account missing from its org's list");
        }
        for (uint256 id = 0; id < registry.proposalCount(); id++) {
            (, bytes32[] memory approvers) = registry.proposal(id);
            for (uint256 i = 0; i < approvers.length; i++) {
                for (uint256 j = 0; j < i; j++) require(approvers[i] != approvers[j], "an org approved a proposal twice");
            }
        }
    }
}

/// @dev The edges: proposal expiry, approvals of orgs that lost the governor role, re-execution.
contract GovernanceRulesTest is Base {
    ConsortiumRegistry internal registry;

    function setUp() public {
        registry = deployRegistry(3, 2);
    }

    function _proposeThreshold(uint256 by, uint256 k) private returns (uint256 id) {
        vm.prank(governor(by));
        id = registry.proposeSetThreshold(k);
    }

    function test_approvalAtExpiryCountsOneSecondLaterNot() public {
        uint256 id = _proposeThreshold(0, 3);
        (IConsortiumRegistry.Proposal memory p,) = registry.proposal(id);
        require(p.expiresAt == block.timestamp + TTL, "a proposal lives for the TTL");
        vm.warp(p.expiresAt);
        vm.prank(governor(1));
        registry.approve(id);
        vm.warp(uint256(p.expiresAt) + 1);
        vm.prank(governor(2));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.ProposalExpired.selector, id, p.expiresAt));
        registry.approve(id);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.ProposalExpired.selector, id, p.expiresAt));
        registry.execute(id);
    }

    function test_executesAtExactlyThresholdApprovals() public {
        uint256 id = _proposeThreshold(0, 3);
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.NotEnoughApprovals.selector, id, 1, 2));
        registry.execute(id);
        vm.prank(governor(1));
        registry.approve(id);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.AlreadyApproved.selector, id, org("gov-1")));
        registry.approve(id);
        vm.prank(governor(2));
        registry.execute(id);
        require(registry.threshold() == 3, "threshold applied");
        vm.prank(governor(2));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.ProposalAlreadyExecuted.selector, id));
        registry.execute(id);
    }

    /// gov-2 approves, then loses GOVERNOR: its approval no longer counts towards the threshold.
    function test_approvalsOfFormerGovernorsDoNotCount() public {
        uint256 pending = _proposeThreshold(2, 1); // approved by gov-2 only
        vm.prank(governor(0));
        uint256 demote = registry.proposeSetRoles(org("gov-2"), OPERATOR);
        vm.prank(governor(1));
        registry.approve(demote);
        vm.prank(governor(0));
        registry.execute(demote);
        require(registry.governorCount() == 2, "gov-2 is no governor any more");
        vm.prank(governor(0));
        registry.approve(pending); // gov-0 + former gov-2: one current governor
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.NotEnoughApprovals.selector, pending, 1, 2));
        registry.execute(pending);
    }

    function _approveAndExecute(uint256 id) private {
        vm.prank(governor(1));
        registry.approve(id);
        vm.prank(governor(1));
        registry.execute(id);
    }

    function test_anActiveOrgCannotBeAddedAgain() public {
        vm.prank(governor(0));
        uint256 id = registry.proposeAddOrg(org("gov-1"), "again", GOVERNOR, vm.addr(60)); // a fresh account
        vm.prank(governor(1));
        registry.approve(id);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.OrgExists.selector, org("gov-1")));
        registry.execute(id);
        require(registry.governorCount() == 3, "counted once");
    }

    function test_anOrgNeedsValidRoles() public {
        // each proposal names its own account: an open AddOrg proposal reserves the account it names
        vm.prank(governor(0));
        uint256 none = registry.proposeAddOrg(bytes32("new"), "new", 0, vm.addr(61));
        vm.prank(governor(1));
        registry.approve(none);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.InvalidRoles.selector, 0));
        registry.execute(none);
        vm.prank(governor(0));
        uint256 unknown = registry.proposeAddOrg(bytes32("new"), "new", 1 << 5, vm.addr(62));
        vm.prank(governor(1));
        registry.approve(unknown);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.InvalidRoles.selector, 1 << 5));
        registry.execute(unknown);
        vm.prank(governor(0));
        uint256 ok = registry.proposeAddOrg(bytes32("new"), "new", TRAINER, vm.addr(63));
        _approveAndExecute(ok);
        require(registry.hasRole(vm.addr(63), TRAINER), "admitted with a valid role");
    }

    function test_requireRoleNeedsEveryRequestedBit() public {
        admit(registry, 2, bytes32("factory"), OPERATOR, vm.addr(50));
        registry.requireRole(vm.addr(50), OPERATOR);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.MissingRole.selector, vm.addr(50), OPERATOR | TRAINER));
        registry.requireRole(vm.addr(50), OPERATOR | TRAINER);
        require(!registry.hasRole(vm.addr(50), OPERATOR | TRAINER), "hasRole needs every bit too");
    }

    function test_thresholdCannotExceedTheGovernorsOrBeZero() public {
        uint256 tooHigh = _proposeThreshold(0, 4);
        vm.prank(governor(1));
        registry.approve(tooHigh);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.InvalidThreshold.selector, 4, 3));
        registry.execute(tooHigh);
        uint256 zero = _proposeThreshold(0, 0);
        vm.prank(governor(1));
        registry.approve(zero);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.InvalidThreshold.selector, 0, 3));
        registry.execute(zero);
        uint256 all = _proposeThreshold(0, 3);
        vm.prank(governor(1));
        registry.approve(all);
        vm.prank(governor(1));
        registry.execute(all);
        require(registry.threshold() == 3, "k == governors is allowed");
    }
}
