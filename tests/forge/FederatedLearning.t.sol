// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {FederatedLearning} from "../../contracts/FederatedLearning.sol";
import {IFederatedLearning} from "../../contracts/interfaces/IFederatedLearning.sol";
import {Base, Handler} from "./Base.sol";

/// @dev A consortium of 3 governors (2-of-3), 4 trainers, 6 aggregators and one outsider holding both roles
/// but named in no task; one FederatedLearning over it.
abstract contract FLFixture is Base {
    uint32 internal constant COMMIT_WINDOW = 100;
    uint32 internal constant AGG_WINDOW = 100;
    bytes32 internal constant INITIAL = keccak256("initial model");
    uint64 internal constant MAX_SAMPLES = 100_000;

    ConsortiumRegistry internal registry;
    FederatedLearning internal fl;
    address[] internal trainers;
    address[] internal aggregators;
    address internal outsider;

    function deployFL() internal {
        registry = deployRegistry(3, 2);
        for (uint256 i = 0; i < 4; i++) {
            trainers.push(vm.addr(101 + i));
            admit(registry, 2, bytes32(uint256(0x7400 + i)), TRAINER | OPERATOR, trainers[i]);
        }
        for (uint256 i = 0; i < 6; i++) {
            aggregators.push(vm.addr(201 + i));
            admit(registry, 2, bytes32(uint256(0xa900 + i)), AGGREGATOR, aggregators[i]);
        }
        outsider = vm.addr(300);
        admit(registry, 2, bytes32(uint256(0x0b5)), TRAINER | AGGREGATOR, outsider);
        fl = new FederatedLearning(registry);
    }

    function config(uint256 nTrainers, uint256 nAgg, uint32 minParticipants, uint32 quorum, uint32 rounds)
        internal
        view
        returns (IFederatedLearning.TaskConfig memory c)
    {
        address[] memory ts = new address[](nTrainers);
        for (uint256 i = 0; i < nTrainers; i++) ts[i] = trainers[i];
        address[] memory ag = new address[](nAgg);
        for (uint256 i = 0; i < nAgg; i++) ag[i] = aggregators[i];
        c = IFederatedLearning.TaskConfig(keccak256("spec"), "spec-cid", INITIAL, "model-cid", ts, ag, minParticipants, COMMIT_WINDOW, AGG_WINDOW, quorum, rounds, MAX_SAMPLES);
    }

    function createTask(IFederatedLearning.TaskConfig memory c) internal returns (uint256) {
        vm.prank(governor(0));
        return fl.createTask(c);
    }

    function roundInfo(uint256 taskId, uint256 r) internal view returns (IFederatedLearning.Round memory info, address[] memory committed) {
        return fl.round(taskId, r);
    }

    /// @dev The committed trainers of a round in ascending order: the canonical `included` list.
    function sortedCommitted(uint256 taskId, uint256 r) internal view returns (address[] memory a) {
        (, a) = fl.round(taskId, r);
        for (uint256 i = 1; i < a.length; i++) {
            for (uint256 j = i; j > 0 && a[j - 1] > a[j]; j--) (a[j - 1], a[j]) = (a[j], a[j - 1]);
        }
    }

    function voteKey(bytes32 aggregateHash, address[] memory included) internal pure returns (bytes32) {
        return keccak256(abi.encode(aggregateHash, keccak256(abi.encodePacked(included))));
    }
}

/// @dev Random opens, commits (also by an outsider), votes (two competing hashes, bad inclusion lists, stale
/// rounds), time warps and advances on one task. Records the first rule it sees broken in `violation`; a
/// reverted call is just a rejected action.
contract FLHandler is FLFixture, Handler {
    uint256 public taskId;
    mapping(uint256 => IFederatedLearning.RoundState) public lastState;

    constructor() {
        deployFL();
        taskId = createTask(config(4, 4, 2, 0, 2)); // quorum 3 of 4; 2 rounds, so runs complete the task
    }

    function task() external view returns (IFederatedLearning.Task memory info, address[] memory ts, address[] memory ag) {
        return fl.task(taskId);
    }

    function flAddress() external view returns (FederatedLearning) {
        return fl;
    }

    function open() external {
        vm.prank(governor(0));
        try fl.openRound(taskId) {} catch {}
        _checkTransitions();
    }

    function commit(uint256 who, uint256 seed) external {
        (IFederatedLearning.Task memory t,,) = fl.task(taskId);
        uint256 r = t.roundsStarted;
        address trainer = bound(who, 0, 4) == 4 ? outsider : trainers[bound(who, 0, 3)];
        bytes32 h = keccak256(abi.encode(seed, r, trainer));
        bool before = r > 0 && fl.update(taskId, r, trainer).committedAt != 0;
        vm.prank(trainer);
        try fl.commitUpdate(taskId, r, h, "cid", 1 + uint64(seed % 1000), 5) {
            (IFederatedLearning.Round memory info,) = fl.round(taskId, r);
            if (trainer == outsider) _violate("an outsider committed an update");
            if (before) _violate("a trainer committed twice in one round");
            if (block.timestamp > info.commitDeadline) _violate("a commit after the commit deadline");
        } catch {}
        _checkTransitions();
    }

    /// @param mode 0-9: the canonical list of all commits; 10: all but the first; 11: a duplicate; 12: an
    /// uncommitted trainer; 13: out of order; 14: the previous round
    function vote(uint256 who, uint256 choice, uint256 mode) external {
        (IFederatedLearning.Task memory t,,) = fl.task(taskId);
        uint256 r = t.roundsStarted;
        if (r == 0) return;
        mode = bound(mode, 0, 14);
        address agg = bound(who, 0, 4) == 4 ? outsider : aggregators[bound(who, 0, 3)];
        address[] memory inc = sortedCommitted(taskId, r);
        bool bad = mode >= 11 && mode <= 13;
        if (mode == 10 && inc.length > 1) {
            address[] memory rest = new address[](inc.length - 1);
            for (uint256 i = 1; i < inc.length; i++) rest[i - 1] = inc[i];
            inc = rest;
        } else if (mode == 11 && inc.length > 0) {
            address[] memory dup = new address[](inc.length + 1);
            for (uint256 i = 0; i < inc.length; i++) dup[i] = inc[i];
            dup[inc.length] = inc[inc.length - 1];
            inc = dup;
        } else if (mode == 12) {
            inc = _withUncommitted(r, inc);
        } else if (mode == 13 && inc.length > 1) {
            (inc[0], inc[inc.length - 1]) = (inc[inc.length - 1], inc[0]);
        }
        uint256 target = mode == 14 ? r - 1 : r;
        bytes32 h = choice % 3 == 2 ? keccak256("rival aggregate") : keccak256(abi.encode("aggregate", r));
        vm.prank(agg);
        try fl.voteAggregate(taskId, target, h, "agg-cid", inc) {
            (IFederatedLearning.Round memory info,) = fl.round(taskId, target);
            if (agg == outsider) _violate("an outsider voted");
            if (target != r) _violate("a vote on a round that is not the current one");
            if (bad) _violate("a vote with a malformed inclusion list was accepted");
            if (block.timestamp > info.aggregationDeadline) _violate("a vote after the aggregation deadline");
        } catch {}
        _checkTransitions();
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 60));
        _checkTransitions();
    }

    function advance() external {
        fl.advance(taskId);
        _checkTransitions();
    }

    /// @dev `inc` plus (in ascending place) one task trainer that did not commit, if any.
    function _withUncommitted(uint256 r, address[] memory inc) private view returns (address[] memory out) {
        for (uint256 i = 0; i < trainers.length; i++) {
            if (fl.update(taskId, r, trainers[i]).committedAt != 0) continue;
            out = new address[](inc.length + 1);
            uint256 k = 0;
            bool placed = false;
            for (uint256 j = 0; j < inc.length; j++) {
                if (!placed && trainers[i] < inc[j]) (out[k++], placed) = (trainers[i], true);
                out[k++] = inc[j];
            }
            if (!placed) out[k] = trainers[i];
            return out;
        }
        // everyone committed: an unsorted list instead, also malformed
        out = inc;
        if (out.length > 1) (out[0], out[1]) = (out[1], out[0]);
        else out = new address[](0);
    }

    /// @dev The round state machine only moves forward, and Finalized/Failed are final.
    function _checkTransitions() private {
        (IFederatedLearning.Task memory t,,) = fl.task(taskId);
        for (uint256 r = 1; r <= t.roundsStarted; r++) {
            (IFederatedLearning.Round memory info,) = fl.round(taskId, r);
            IFederatedLearning.RoundState was = lastState[r];
            bool terminal = was == IFederatedLearning.RoundState.Finalized || was == IFederatedLearning.RoundState.Failed;
            if (uint8(info.state) < uint8(was) || (terminal && info.state != was)) _violate("a round state moved backwards");
            lastState[r] = info.state;
        }
    }
}

contract FederatedLearningInvariantTest is Base {
    FLHandler internal handler;
    FederatedLearning internal fl;

    function setUp() public {
        handler = new FLHandler();
        fl = handler.flAddress();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function invariant_rules() public view {
        require(bytes(handler.violation()).length == 0, handler.violation());
        (IFederatedLearning.Task memory t, address[] memory ts, address[] memory ag) = handler.task();
        require(t.roundsFinalized <= t.rounds, "more rounds finalized than the task has");
        uint256 finalized = 0;
        bytes32 lastResult = keccak256("initial model");
        for (uint256 r = 1; r <= t.roundsStarted; r++) {
            IFederatedLearning.Round memory info = _checkRound(t, ts, r);
            _checkVotes(t, ag, r, info);
            if (info.state == IFederatedLearning.RoundState.Finalized) {
                finalized++;
                lastResult = info.resultHash;
            }
        }
        require(finalized == t.roundsFinalized, "roundsFinalized differs from the finalized rounds");
        require(t.modelHash == lastResult, "the global model is not the last finalized result");
    }

    function _checkRound(IFederatedLearning.Task memory t, address[] memory ts, uint256 r) private view returns (IFederatedLearning.Round memory info) {
        uint256 taskId = handler.taskId();
        address[] memory committed;
        (info, committed) = fl.round(taskId, r);
        IFederatedLearning.RoundState s = info.state;
        bool terminal = s == IFederatedLearning.RoundState.Finalized || s == IFederatedLearning.RoundState.Failed;
        require(r == t.roundsStarted || terminal, "an earlier round is still in progress");
        require(info.commits == committed.length && committed.length <= ts.length, "commit count");
        for (uint256 i = 0; i < committed.length; i++) {
            require(_contains(ts, committed[i]), "a committed address is no task trainer");
            require(fl.update(taskId, r, committed[i]).committedAt != 0, "a committed trainer has no update");
            for (uint256 j = 0; j < i; j++) require(committed[j] != committed[i], "a trainer committed twice");
        }
        bool closed = info.aggregationDeadline != 0;
        require(info.votes == 0 || closed, "votes before the commits closed");
        if (s == IFederatedLearning.RoundState.Aggregating || s == IFederatedLearning.RoundState.Finalized) {
            require(closed && info.commits >= t.minParticipants, "aggregating with fewer than minParticipants updates");
        }
        if (s == IFederatedLearning.RoundState.Failed && !closed) {
            require(info.commits < t.minParticipants, "failed although minParticipants updates were in");
        }
        if (closed && info.aggregationDeadline - t.aggregationWindow <= info.commitDeadline) {
            require(info.commits == ts.length, "commits closed early without every trainer");
        }
    }

    /// @dev One vote per aggregator; a finalized hash had >= quorum matching votes; no quorum without finalizing.
    function _checkVotes(IFederatedLearning.Task memory t, address[] memory ag, uint256 r, IFederatedLearning.Round memory info) private view {
        uint256 taskId = handler.taskId();
        bool fin = info.state == IFederatedLearning.RoundState.Finalized;
        uint256 voted = 0;
        for (uint256 i = 0; i < ag.length; i++) {
            bytes32 key = fl.voteOf(taskId, r, ag[i]);
            if (key == bytes32(0)) continue;
            voted++;
            if (!fin) require(_support(taskId, r, ag, key) < t.quorum, "a quorum agreed but the round did not finalize");
        }
        require(info.votes == voted, "vote count differs from the aggregators that voted");
        if (fin) {
            bytes32 winning = keccak256(abi.encode(info.resultHash, info.includedHash));
            require(_support(taskId, r, ag, winning) >= t.quorum, "finalized below quorum");
        }
    }

    function _support(uint256 taskId, uint256 r, address[] memory ag, bytes32 key) private view returns (uint256 n) {
        for (uint256 i = 0; i < ag.length; i++) if (fl.voteOf(taskId, r, ag[i]) == key) n++;
    }

    function _contains(address[] memory a, address x) private pure returns (bool) {
        for (uint256 i = 0; i < a.length; i++) if (a[i] == x) return true;
        return false;
    }
}
