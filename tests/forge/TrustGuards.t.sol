// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {FederatedLearning} from "../../contracts/FederatedLearning.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {IFederatedLearning} from "../../contracts/interfaces/IFederatedLearning.sol";
import {Base} from "./Base.sol";

/// @dev The edges of the issue 11 guards on accounts: two-step joins (an offer, then the key accepts), the account an
/// open AddOrg proposal reserves, and which offers are refused. A registry of 3 governors (2-of-3) and two member orgs.
contract AccountGuardsTest is Base {
    ConsortiumRegistry internal registry;
    address internal alpha = vm.addr(40); // the first account of org "alpha"
    address internal beta = vm.addr(41); // the first account of org "beta"
    address internal key = vm.addr(42); // a key of nobody's yet

    function setUp() public {
        registry = deployRegistry(3, 2);
        admit(registry, 2, bytes32("alpha"), OPERATOR, alpha);
        admit(registry, 2, bytes32("beta"), OPERATOR, beta);
    }

    function _proposeAdd(bytes32 orgId, address account) private returns (uint256 id) {
        vm.prank(governor(0));
        id = registry.proposeAddOrg(orgId, "new", OPERATOR, account);
    }

    function _join(address by, address account, bytes32 orgId) private {
        vm.prank(by);
        registry.addAccount(account);
        vm.prank(account);
        registry.acceptAccount(orgId);
    }

    function test_aReservationHoldsUntilTheProposalExpiresThenFrees() public {
        uint256 id = _proposeAdd(bytes32("newco"), key);
        (IConsortiumRegistry.Proposal memory p,) = registry.proposal(id);
        vm.warp(p.expiresAt);
        vm.prank(alpha);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.AccountReserved.selector, key, id));
        registry.addAccount(key);
        vm.warp(uint256(p.expiresAt) + 1);
        _join(alpha, key, bytes32("alpha"));
        require(registry.orgOf(key) == bytes32("alpha"), "free once the proposal expired");
    }

    function test_aReservedKeyCannotAcceptAnOfferMadeBeforeTheProposal() public {
        vm.prank(alpha);
        registry.addAccount(key); // offered first
        uint256 id = _proposeAdd(bytes32("newco"), key);
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.AccountReserved.selector, key, id));
        registry.acceptAccount(bytes32("alpha"));
    }

    function test_aSecondAddOrgCannotNameAReservedAccount() public {
        uint256 first = _proposeAdd(bytes32("newco"), key);
        vm.prank(governor(1));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.AccountReserved.selector, key, first));
        registry.proposeAddOrg(bytes32("other"), "other", OPERATOR, key);
    }

    /// Executed, the proposal no longer reserves its account: once the new org lets it go, another org may take it.
    function test_anExecutedAddOrgReleasesItsAccount() public {
        uint256 id = _proposeAdd(bytes32("newco"), key);
        vm.prank(governor(1));
        registry.approve(id);
        vm.prank(governor(1));
        registry.execute(id);
        vm.prank(key);
        registry.removeAccount(key);
        _join(alpha, key, bytes32("alpha"));
        require(registry.orgOf(key) == bytes32("alpha"), "taken over after the execution");
    }

    function test_anAcceptedOfferIsUsedUp() public {
        _join(alpha, key, bytes32("alpha"));
        vm.prank(alpha);
        registry.removeAccount(key);
        require(!registry.accountOffered(key, bytes32("alpha")), "no offer left");
        vm.prank(key);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.NoAccountOffer.selector, bytes32("alpha"), key));
        registry.acceptAccount(bytes32("alpha"));
    }

    function test_anOfferToATakenAccountIsRefused() public {
        vm.prank(alpha);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.AccountTaken.selector, beta));
        registry.addAccount(beta);
        require(!registry.accountOffered(beta, bytes32("alpha")), "no offer recorded");
    }
}

/// @dev createTask's per-organization rule anywhere in the lists, and its participant caps at their exact values.
contract TaskGuardsTest is Base {
    ConsortiumRegistry internal registry;
    FederatedLearning internal fl;

    function setUp() public {
        registry = deployRegistry(3, 2);
        fl = new FederatedLearning(registry);
    }

    function _members(uint256 n, uint256 role, uint256 salt) private returns (address[] memory a) {
        a = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            a[i] = vm.addr(salt + i);
            admit(registry, 2, bytes32(salt + i), role, a[i]);
        }
    }

    function _config(address[] memory ts, address[] memory ag) private pure returns (IFederatedLearning.TaskConfig memory) {
        return IFederatedLearning.TaskConfig(keccak256("spec"), "spec", keccak256("model"), "model", ts, ag, 1, 100, 100, 0, 1, 1000);
    }

    function _create(address[] memory ts, address[] memory ag) private returns (uint256) {
        vm.prank(governor(0));
        return fl.createTask(_config(ts, ag));
    }

    /// The second and third trainers share an org (the first does not): still refused.
    function test_twoParticipantsOfOneOrgAreRefusedAnywhereInTheList() public {
        address[] memory ts = _members(2, TRAINER, 1000);
        address second = vm.addr(1500);
        vm.prank(ts[1]);
        registry.addAccount(second);
        vm.prank(second);
        registry.acceptAccount(bytes32(uint256(1001)));
        address[] memory three = new address[](3);
        (three[0], three[1], three[2]) = (ts[0], ts[1], second);
        address[] memory ag = _members(1, AGGREGATOR, 2000);
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.SameOrganization.selector, bytes32(uint256(1001)), ts[1], second));
        fl.createTask(_config(three, ag));
    }

    function test_participantCapsAreExact() public {
        uint256 maxT = fl.MAX_TRAINERS();
        uint256 maxA = fl.MAX_AGGREGATORS();
        address[] memory ts = _members(maxT + 1, TRAINER, 10_000);
        address[] memory ag = _members(maxA + 1, AGGREGATOR, 20_000);
        address[] memory tsMax = new address[](maxT);
        address[] memory agMax = new address[](maxA);
        for (uint256 i = 0; i < maxT; i++) tsMax[i] = ts[i];
        for (uint256 i = 0; i < maxA; i++) agMax[i] = ag[i];
        _create(tsMax, agMax); // exactly the caps
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.InvalidTaskConfig.selector, "too many participants"));
        fl.createTask(_config(ts, agMax));
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.InvalidTaskConfig.selector, "too many participants"));
        fl.createTask(_config(tsMax, ag));
    }
}
