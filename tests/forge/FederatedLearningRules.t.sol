// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFederatedLearning} from "../../contracts/interfaces/IFederatedLearning.sol";
import {FLFixture} from "./FederatedLearning.t.sol";

/// @dev Fuzzed createTask bounds, and the edges of the round windows and of the quorum.
contract FederatedLearningRulesTest is FLFixture {
    function setUp() public {
        deployFL();
    }

    /// createTask accepts exactly: 1 <= minParticipants <= trainers, and an effective quorum (0 means
    /// ceil(2n/3)) that is a strict majority of the n >= 1 aggregators and at most n.
    function testFuzz_createTaskBounds(uint8 nAgg, uint8 q, uint8 nTrainers, uint8 minP) public {
        uint256 n = bound(nAgg, 0, 6);
        uint256 tr = bound(nTrainers, 1, 4);
        uint32 quorum = uint32(bound(q, 0, 7));
        uint32 minParticipants = uint32(bound(minP, 0, 5));
        uint256 effective = quorum == 0 ? n - n / 3 : quorum;
        bool valid = minParticipants >= 1 && minParticipants <= tr && n >= 1 && effective <= n && 2 * effective > n;
        vm.prank(governor(0));
        try fl.createTask(config(tr, n, minParticipants, quorum, 1)) returns (uint256 id) {
            require(valid, "createTask accepted an invalid quorum or minParticipants");
            (IFederatedLearning.Task memory t,,) = fl.task(id);
            require(t.quorum == effective, "stored quorum");
        } catch {
            require(!valid, "createTask rejected a valid configuration");
        }
    }

    function test_defaultQuorumIsTwoThirdsRoundedUp() public {
        uint32[6] memory expected = [uint32(1), 2, 2, 3, 4, 4]; // ceil(2n/3) for n = 1..6
        for (uint256 n = 1; n <= 6; n++) {
            uint256 id = createTask(config(2, n, 1, 0, 1));
            (IFederatedLearning.Task memory t,,) = fl.task(id);
            require(t.quorum == expected[n - 1], "default quorum");
        }
    }

    function _open(uint256 nTrainers, uint32 minParticipants) private returns (uint256 id, IFederatedLearning.Round memory info) {
        id = createTask(config(nTrainers, 4, minParticipants, 0, 2));
        vm.prank(governor(0));
        fl.openRound(id);
        (info,) = fl.round(id, 1);
    }

    function _commit(uint256 id, uint256 i) private {
        vm.prank(trainers[i]);
        fl.commitUpdate(id, 1, keccak256(abi.encode(i)), "cid", 10, 1);
    }

    function _state(uint256 id, uint256 r) private view returns (IFederatedLearning.RoundState) {
        (IFederatedLearning.Round memory info,) = fl.round(id, r);
        return info.state;
    }

    function test_aCommitClaimsAtMostTheTasksMaxSamples() public {
        (uint256 id,) = _open(4, 2);
        vm.prank(trainers[0]);
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.TooManySamples.selector, id, MAX_SAMPLES + 1, MAX_SAMPLES));
        fl.commitUpdate(id, 1, keccak256("u"), "cid", MAX_SAMPLES + 1, 1);
        vm.prank(trainers[0]);
        fl.commitUpdate(id, 1, keccak256("u"), "cid", MAX_SAMPLES, 1);
        require(fl.update(id, 1, trainers[0]).numSamples == MAX_SAMPLES, "the bound itself is allowed");
    }

    function test_commitAtTheDeadlineCountsOneSecondLaterNot() public {
        (uint256 id, IFederatedLearning.Round memory info) = _open(4, 2);
        vm.warp(info.commitDeadline);
        _commit(id, 0);
        vm.warp(uint256(info.commitDeadline) + 1);
        vm.prank(trainers[1]);
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.CommitWindowClosed.selector, id, 1, info.commitDeadline));
        fl.commitUpdate(id, 1, keccak256("late"), "cid", 10, 1);
    }

    function test_commitWindowClosesOnlyAfterItsDeadlineWithExactlyMinParticipants() public {
        (uint256 id, IFederatedLearning.Round memory info) = _open(4, 2);
        _commit(id, 0);
        _commit(id, 1);
        vm.warp(info.commitDeadline);
        fl.advance(id);
        require(_state(id, 1) == IFederatedLearning.RoundState.Collecting, "closed at the deadline itself");
        vm.warp(uint256(info.commitDeadline) + 1);
        fl.advance(id);
        require(_state(id, 1) == IFederatedLearning.RoundState.Aggregating, "minParticipants updates must aggregate");
    }

    function test_tooFewUpdatesFailTheRound() public {
        (uint256 id, IFederatedLearning.Round memory info) = _open(4, 2);
        _commit(id, 0);
        vm.warp(uint256(info.commitDeadline) + 1);
        fl.advance(id);
        require(_state(id, 1) == IFederatedLearning.RoundState.Failed, "one update of two needed");
    }

    function test_voteAtTheAggregationDeadlineCountsOneSecondLaterFails() public {
        (uint256 id,) = _open(2, 1);
        _commit(id, 0);
        _commit(id, 1); // everyone in: aggregating now
        (IFederatedLearning.Round memory info,) = fl.round(id, 1);
        address[] memory inc = sortedCommitted(id, 1);
        vm.warp(info.aggregationDeadline);
        fl.advance(id);
        require(_state(id, 1) == IFederatedLearning.RoundState.Aggregating, "failed at the deadline itself");
        vm.prank(aggregators[0]);
        fl.voteAggregate(id, 1, keccak256("agg"), "agg-cid", inc);
        vm.warp(uint256(info.aggregationDeadline) + 1);
        fl.advance(id);
        require(_state(id, 1) == IFederatedLearning.RoundState.Failed, "no quorum before the deadline must fail");
    }

    /// quorum 3 of 4: two matching votes and a rival do not finalize; the third matching vote does.
    function test_finalizesAtExactlyQuorumMatchingVotes() public {
        (uint256 id,) = _open(2, 1);
        _commit(id, 0);
        _commit(id, 1);
        address[] memory inc = sortedCommitted(id, 1);
        bytes32 h = keccak256("agg");
        vm.prank(aggregators[0]);
        fl.voteAggregate(id, 1, h, "agg-cid", inc);
        vm.prank(aggregators[1]);
        fl.voteAggregate(id, 1, keccak256("rival"), "agg-cid", inc);
        vm.prank(aggregators[2]);
        fl.voteAggregate(id, 1, h, "agg-cid", inc);
        require(_state(id, 1) == IFederatedLearning.RoundState.Aggregating, "finalized with 2 of 3 matching votes");
        vm.prank(aggregators[2]);
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.AlreadyVoted.selector, id, 1, aggregators[2]));
        fl.voteAggregate(id, 1, h, "agg-cid", inc);
        vm.prank(aggregators[3]);
        fl.voteAggregate(id, 1, h, "agg-cid", inc);
        (IFederatedLearning.Round memory info,) = fl.round(id, 1);
        require(info.state == IFederatedLearning.RoundState.Finalized && info.resultHash == h, "3 matching votes finalize");
        (IFederatedLearning.Task memory t,,) = fl.task(id);
        require(t.modelHash == h && t.roundsFinalized == 1, "the task's global model");
    }

    function test_emptyUpdatesAreRefused() public {
        (uint256 id,) = _open(4, 2);
        vm.startPrank(trainers[0]);
        vm.expectRevert(IFederatedLearning.EmptyUpdate.selector);
        fl.commitUpdate(id, 1, bytes32(0), "cid", 10, 1);
        vm.expectRevert(IFederatedLearning.EmptyUpdate.selector);
        fl.commitUpdate(id, 1, keccak256("u"), "cid", 0, 1);
        vm.expectRevert(IFederatedLearning.EmptyUpdate.selector);
        fl.commitUpdate(id, 1, keccak256("u"), "", 10, 1);
        vm.stopPrank();
    }

    /// @dev Both trainers commit to round `r`, then 3 of the 4 aggregators vote the same aggregate.
    function _finalize(uint256 id, uint256 r) private {
        for (uint256 i = 0; i < 2; i++) {
            vm.prank(trainers[i]);
            fl.commitUpdate(id, r, keccak256(abi.encode(r, i)), "cid", 10, 1);
        }
        address[] memory inc = sortedCommitted(id, r);
        for (uint256 i = 0; i < 3; i++) {
            vm.prank(aggregators[i]);
            fl.voteAggregate(id, r, keccak256(abi.encode("agg", r)), "agg-cid", inc);
        }
        require(_state(id, r) == IFederatedLearning.RoundState.Finalized, "finalized");
    }

    function test_aCompletedTaskOpensNoMoreRounds() public {
        uint256 id = createTask(config(2, 4, 1, 0, 1));
        vm.prank(governor(0));
        fl.openRound(id);
        _finalize(id, 1);
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.TaskCompleted.selector, id));
        fl.openRound(id);
    }

    function test_anEarlierRoundIsNotCurrent() public {
        uint256 id = createTask(config(2, 4, 1, 0, 2));
        vm.prank(governor(0));
        fl.openRound(id);
        _finalize(id, 1);
        vm.prank(governor(0));
        fl.openRound(id);
        address[] memory inc = sortedCommitted(id, 1);
        vm.prank(trainers[0]);
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.NotCurrentRound.selector, id, 1, 2));
        fl.commitUpdate(id, 1, keccak256("late"), "cid", 10, 1);
        vm.prank(aggregators[3]);
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.NotCurrentRound.selector, id, 1, 2));
        fl.voteAggregate(id, 1, keccak256(abi.encode("agg", uint256(1))), "agg-cid", inc);
    }

    function test_openRefusesWhileARoundRuns() public {
        (uint256 id,) = _open(2, 1);
        vm.prank(governor(0));
        vm.expectRevert(abi.encodeWithSelector(IFederatedLearning.RoundInProgress.selector, id, 1));
        fl.openRound(id);
    }
}
