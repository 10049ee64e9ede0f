// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {FederatedLearning} from "../../contracts/FederatedLearning.sol";
import {IFederatedLearning} from "../../contracts/interfaces/IFederatedLearning.sol";
import {Handler} from "./Base.sol";
import {FLFixture} from "./FederatedLearning.t.sol";

/// @dev One task (4 trainers, 4 aggregators, each of its own org; quorum 3) while accounts change organizations:
/// a task account leaves its org (it may remove itself) and joins another on that org's offer, or governance
/// expels an org and another adopts its accounts. Random opens, commits, votes, moves, expulsions, warps and
/// advances. Records the first broken rule in `violation`: an organization, as it stands when it acts, commits
/// at most once and votes at most once per round.
contract OrgHandler is FLFixture, Handler {
    uint256 public taskId;
    bytes32[] public orgPool; // the 4 trainer orgs, then the 6 aggregator orgs
    mapping(uint256 => mapping(bytes32 => address)) public committerOf; // round -> org -> its account that committed
    mapping(uint256 => mapping(bytes32 => address)) public voterOf; // round -> org -> its account that voted
    mapping(uint256 => uint256) public votes; // round -> accepted votes

    constructor() {
        deployFL();
        taskId = createTask(config(4, 4, 2, 3, 3));
        for (uint256 i = 0; i < 4; i++) orgPool.push(bytes32(uint256(0x7400 + i)));
        for (uint256 i = 0; i < 6; i++) orgPool.push(bytes32(uint256(0xa900 + i)));
    }

    function flAddress() external view returns (FederatedLearning) {
        return fl;
    }

    function open() external {
        vm.prank(governor(0));
        try fl.openRound(taskId) {} catch {}
    }

    function commit(uint256 who, uint256 seed) external {
        (IFederatedLearning.Task memory t,,) = fl.task(taskId);
        uint256 r = t.roundsStarted;
        address trainer = trainers[bound(who, 0, 3)];
        vm.prank(trainer);
        try fl.commitUpdate(taskId, r, keccak256(abi.encode(seed, r, trainer)), "cid", 10, 5) {
            bytes32 o = registry.orgOf(trainer);
            if (committerOf[r][o] != address(0)) _violate("an organization committed twice in one round");
            committerOf[r][o] = trainer;
        } catch {}
    }

    function vote(uint256 who, uint256 choice) external {
        (IFederatedLearning.Task memory t,,) = fl.task(taskId);
        uint256 r = t.roundsStarted;
        if (r == 0) return;
        address agg = aggregators[bound(who, 0, 3)];
        bytes32 h = choice % 4 == 3 ? keccak256("rival aggregate") : keccak256(abi.encode("aggregate", r));
        address[] memory inc = sortedCommitted(taskId, r);
        vm.prank(agg);
        try fl.voteAggregate(taskId, r, h, "agg-cid", inc) {
            bytes32 o = registry.orgOf(agg);
            if (voterOf[r][o] != address(0)) _violate("an organization voted twice in one round");
            voterOf[r][o] = agg;
            votes[r]++;
        } catch {}
    }

    /// @dev A task account leaves its org (if it is in one) and joins org `to` on its offer.
    function move(uint256 who, uint256 to) external {
        uint256 i = bound(who, 0, 7);
        address account = i < 4 ? trainers[i] : aggregators[i - 4];
        bytes32 target = orgPool[bound(to, 0, orgPool.length - 1)];
        if (registry.isMember(account)) {
            vm.prank(account);
            try registry.removeAccount(account) {} catch {}
        }
        (,, bool active, address[] memory accounts,) = registry.org(target);
        if (!active || accounts.length == 0) return;
        vm.prank(accounts[0]);
        try registry.addAccount(account) {} catch {}
        vm.prank(account);
        try registry.acceptAccount(target) {} catch {}
    }

    /// @dev Governance removes org `which` (2-of-3): its accounts are free for another org to adopt.
    function expel(uint256 which) external {
        bytes32 o = orgPool[bound(which, 0, orgPool.length - 1)];
        vm.prank(governor(0));
        try registry.proposeRemoveOrg(o) returns (uint256 pid) {
            vm.prank(governor(1));
            registry.approve(pid);
            vm.prank(governor(1));
            try registry.execute(pid) {} catch {}
        } catch {}
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 60));
    }

    function advance() external {
        fl.advance(taskId);
    }
}

contract OrganizationsInvariantTest is FLFixture {
    OrgHandler internal handler;

    function setUp() public {
        handler = new OrgHandler();
        fl = handler.flAddress();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// One commit and one vote per organization per round (as organizations stood when they acted), and the
    /// round counts exactly the votes accepted.
    function invariant_oneCommitAndOneVotePerOrganizationPerRound() public view {
        require(bytes(handler.violation()).length == 0, handler.violation());
        uint256 taskId = handler.taskId();
        (IFederatedLearning.Task memory t,,) = fl.task(taskId);
        for (uint256 r = 1; r <= t.roundsStarted; r++) {
            (IFederatedLearning.Round memory info,) = fl.round(taskId, r);
            require(info.votes == handler.votes(r), "the round counts other votes than those accepted");
        }
    }
}
