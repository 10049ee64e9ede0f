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

    bytes32 internal constant CID = keccak256("update-cid");
    bytes32 internal constant AGG_CID = keccak256("aggregate-cid");

    function config(uint256 nTrainers, uint256 nAgg, uint32 minParticipants, uint32 quorum, uint32 rounds)
        internal
        view
        returns (IFederatedLearning.TaskConfig memory c)
    {
        address[] memory ts = new address[](nTrainers);
        for (uint256 i = 0; i < nTrainers; i++) ts[i] = trainers[i];
        address[] memory ag = new address[](nAgg);
        for (uint256 i = 0; i < nAgg; i++) ag[i] = aggregators[i];
        c = IFederatedLearning.TaskConfig(
            keccak256("spec"), keccak256("spec-cid"), INITIAL, keccak256("model-cid"), ts, ag, minParticipants, COMMIT_WINDOW, AGG_WINDOW, quorum, rounds, MAX_SAMPLES
        );
    }

    function createTask(IFederatedLearning.TaskConfig memory c) internal returns (uint256) {
        vm.prank(governor(0));
        return fl.createTask(c);
    }

    /// @dev The set of trainers that committed in round `r`: the canonical `included` set of an honest vote.
    function committedBits(uint256 taskId, uint256 r) internal view returns (uint64) {
        (IFederatedLearning.Round memory info,) = fl.round(taskId, r);
        return info.committed;
    }

    function hasCommitted(uint256 taskId, uint256 r, address trainer) internal view returns (bool) {
        (, address[] memory committed) = fl.round(taskId, r);
        for (uint256 i = 0; i < committed.length; i++) if (committed[i] == trainer) return true;
        return false;
    }

    function popcount(uint256 x) internal pure returns (uint256 n) {
        for (; x != 0; n++) x &= x - 1;
    }
}

/// @dev Random opens, commits (also by an outsider), votes (competing hashes and CIDs, bad inclusion sets, stale
/// rounds), time warps and advances on one task. Records the first rule it sees broken in `violation`; a
/// reverted call is just a rejected action. Keeps ghost copies of what each accepted vote said and of each
/// finalized result, which the invariant compares with the contract's storage.
contract FLHandler is FLFixture, Handler {
    uint256 public taskId;
    mapping(uint256 => IFederatedLearning.RoundState) public lastState;
    mapping(uint256 => mapping(address => bytes32)) public ghostVote; // round -> aggregator -> (hash, cid, included) key
    mapping(uint256 => uint256) public ghostVotes; // round -> accepted votes
    mapping(uint256 => bytes32[3]) internal _ghostResult; // round -> (hash, cid, included) of the finalizing vote

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

    function ghostResult(uint256 r) external view returns (bytes32 hash, bytes32 cid, uint64 included) {
        bytes32[3] memory g = _ghostResult[r];
        return (g[0], g[1], uint64(uint256(g[2])));
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
        bool before = r > 0 && hasCommitted(taskId, r, trainer);
        vm.prank(trainer);
        try fl.commitUpdate(taskId, r, h, CID, 1 + uint64(seed % 1000), 5) {
            (IFederatedLearning.Round memory info,) = fl.round(taskId, r);
            if (trainer == outsider) _violate("an outsider committed an update");
            if (before) _violate("a trainer committed twice in one round");
            if (block.timestamp > info.commitDeadline) _violate("a commit after the commit deadline");
        } catch {}
        _checkTransitions();
    }

    /// @param mode 0-9: the set of all commits; 10: all but the first; 11: plus a trainer that did not commit;
    /// 12: plus a bit beyond the task's trainers; 13: the empty set; 14: the previous round
    function vote(uint256 who, uint256 choice, uint256 mode) external {
        (IFederatedLearning.Task memory t,,) = fl.task(taskId);
        uint256 r = t.roundsStarted;
        if (r == 0) return;
        mode = bound(mode, 0, 14);
        address agg = bound(who, 0, 4) == 4 ? outsider : aggregators[bound(who, 0, 3)];
        uint64 inc = committedBits(taskId, r);
        bool bad = mode >= 11 && mode <= 13;
        if (mode == 10 && popcount(inc) > 1) inc &= inc - 1;
        else if (mode == 11) inc = _withUncommitted(inc);
        else if (mode == 12) inc |= uint64(1) << bound(choice, 4, 63);
        else if (mode == 13) inc = 0;
        uint256 target = mode == 14 ? r - 1 : r;
        bytes32 h = choice % 3 == 2 ? keccak256("rival aggregate") : keccak256(abi.encode("aggregate", r));
        bytes32 cid = choice % 5 == 4 ? keccak256("rival cid") : AGG_CID;
        vm.prank(agg);
        try fl.voteAggregate(taskId, target, h, cid, inc) {
            (IFederatedLearning.Round memory info,) = fl.round(taskId, target);
            if (agg == outsider) _violate("an outsider voted");
            if (target != r) _violate("a vote on a round that is not the current one");
            if (bad) _violate("a vote with a malformed inclusion set was accepted");
            if (block.timestamp > info.aggregationDeadline) _violate("a vote after the aggregation deadline");
            if (ghostVote[r][agg] != bytes32(0)) _violate("an aggregator voted twice in one round");
            ghostVote[r][agg] = keccak256(abi.encode(h, cid, inc));
            ghostVotes[r]++;
            if (info.state == IFederatedLearning.RoundState.Finalized) _ghostResult[r] = [h, cid, bytes32(uint256(inc))];
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

    /// @dev `inc` plus the first task trainer that did not commit; with everyone in, a bit beyond the trainers.
    function _withUncommitted(uint64 inc) private pure returns (uint64) {
        for (uint256 i = 0; i < 4; i++) {
            if (inc & (uint64(1) << i) == 0) return inc | (uint64(1) << i);
        }
        return inc | (uint64(1) << 4);
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
        bytes32 lastCid = keccak256("model-cid");
        for (uint256 r = 1; r <= t.roundsStarted; r++) {
            IFederatedLearning.Round memory info = _checkRound(t, ts, r);
            require(info.baseModelHash == lastResult && info.baseModelCid == lastCid, "a round does not start from the last finalized model");
            _checkVotes(t, ag, r, info);
            if (info.state == IFederatedLearning.RoundState.Finalized) {
                finalized++;
                (lastResult, lastCid) = (info.resultHash, info.resultCid);
            }
        }
        require(finalized == t.roundsFinalized, "roundsFinalized differs from the finalized rounds");
        require(t.modelHash == lastResult && t.modelCid == lastCid, "the global model is not the last finalized result");
    }

    function _checkRound(IFederatedLearning.Task memory t, address[] memory ts, uint256 r) private view returns (IFederatedLearning.Round memory info) {
        uint256 taskId = handler.taskId();
        address[] memory committed;
        (info, committed) = fl.round(taskId, r);
        IFederatedLearning.RoundState s = info.state;
        bool terminal = s == IFederatedLearning.RoundState.Finalized || s == IFederatedLearning.RoundState.Failed;
        require(r == t.roundsStarted || terminal, "an earlier round is still in progress");
        require(info.commits == committed.length && committed.length <= ts.length, "commit count");
        require(info.committed >> ts.length == 0, "a committed bit beyond the task's trainers");
        for (uint256 i = 0; i < ts.length; i++) {
            bool isIn = info.committed & (uint64(1) << i) != 0;
            require(isIn == _contains(committed, ts[i]), "the committed list differs from the committed set");
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

    /// @dev One vote per aggregator, each counted for exactly what it said; a finalized result is what the
    /// finalizing vote said, over a non-empty committed set, with >= quorum matching votes; no quorum without
    /// finalizing.
    function _checkVotes(IFederatedLearning.Task memory t, address[] memory ag, uint256 r, IFederatedLearning.Round memory info) private view {
        bool fin = info.state == IFederatedLearning.RoundState.Finalized;
        uint256 voted = 0;
        for (uint256 i = 0; i < ag.length; i++) {
            bytes32 key = handler.ghostVote(r, ag[i]);
            bool bit = info.voted & (uint16(1) << i) != 0;
            require(bit == (key != bytes32(0)), "the voted set differs from the accepted votes");
            if (key == bytes32(0)) continue;
            voted++;
            uint256 support = _support(r, ag, key);
            require(support >= 1, "an accepted vote is not counted for what it said");
            if (!fin) require(support < t.quorum, "a quorum agreed but the round did not finalize");
        }
        require(info.votes == voted && voted == handler.ghostVotes(r), "vote count differs from the aggregators that voted");
        if (fin) {
            (bytes32 h, bytes32 cid, uint64 inc) = handler.ghostResult(r);
            require(info.resultHash == h && info.resultCid == cid && info.included == inc, "the result is not what the finalizing vote said");
            require(inc != 0 && inc & ~info.committed == 0, "finalized over an empty or uncommitted set");
            require(_support(r, ag, keccak256(abi.encode(h, cid, inc))) >= t.quorum, "finalized below quorum");
        } else {
            require(info.resultHash == bytes32(0) && info.included == 0, "a result before finalizing");
        }
    }

    /// @dev How many aggregators' accepted votes said `key` (ghost), checked against the contract's tally.
    function _support(uint256 r, address[] memory ag, bytes32 key) private view returns (uint256 n) {
        uint256 bits = 0;
        for (uint256 i = 0; i < ag.length; i++) {
            if (handler.ghostVote(r, ag[i]) == key) (n, bits) = (n + 1, bits | (1 << i));
        }
        require(_tally(r, key) == bits, "the contract's tally differs from the accepted votes");
    }

    function _tally(uint256 r, bytes32 key) private view returns (uint256) {
        // the handler's keys are keccak256(abi.encode(hash, cid, included)); votersOf takes the three parts, so
        // look the key up among the parts the handler can vote
        uint256 taskId = handler.taskId();
        bytes32[2] memory hashes = [keccak256(abi.encode("aggregate", r)), keccak256("rival aggregate")];
        bytes32[2] memory cids = [keccak256("aggregate-cid"), keccak256("rival cid")];
        (IFederatedLearning.Round memory info,) = fl.round(taskId, r);
        uint64 all = info.committed;
        uint64[2] memory sets = [all, all & (all - 1)];
        for (uint256 a = 0; a < 2; a++) {
            for (uint256 b = 0; b < 2; b++) {
                for (uint256 c = 0; c < 2; c++) {
                    if (keccak256(abi.encode(hashes[a], cids[b], sets[c])) == key) return fl.votersOf(taskId, r, hashes[a], cids[b], sets[c]);
                }
            }
        }
        revert("a vote for a key the handler never sends");
    }

    function _contains(address[] memory a, address x) private pure returns (bool) {
        for (uint256 i = 0; i < a.length; i++) if (a[i] == x) return true;
        return false;
    }
}
