// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFederatedLearning} from "../interfaces/IFederatedLearning.sol";

/// @title Round state machine of a federated learning task, over one storage struct per task.
/// @dev Deadlines are applied lazily: `sync` moves a round past an expired window before any action on it.
/// Storage holds only what the contract compares: a round's state, deadlines and who committed, voted and was
/// included fit one slot; votes are tallied per (hash, CID, included set) as a bitmap of their voters; update
/// hashes, CIDs and sample counts are in the events. A round's two model slots hold its base model from the
/// open on and its result once finalized, so the finalizing vote overwrites them instead of creating slots.
library FederatedRounds {
    struct RoundData {
        IFederatedLearning.RoundState state;
        uint40 commitDeadline;
        uint40 aggregationDeadline;
        uint64 committed; // bit i: trainers[i] committed (FederatedTasks.MAX_TRAINERS = 64 bits)
        uint64 included; // the finalized result's included set
        uint16 voted; // bit j: aggregators[j] voted (FederatedTasks.MAX_AGGREGATORS = 16 bits)
        bytes32 modelHash; // the base model until Finalized, then the result
        bytes32 modelCid;
        mapping(bytes32 => uint16) votersOf; // keccak256(abi.encode(aggregateHash, cid, included)) -> its voters
    }

    /// @dev The slot every open, commit and vote reads.
    struct TaskInfo {
        uint32 rounds;
        uint32 roundsStarted;
        uint32 roundsFinalized;
        uint64 maxSamples;
        uint64 roundOpenedBlock;
        uint8 trainerCount;
        uint8 quorum;
        uint8 minParticipants;
    }

    /// @dev 1 + the account's index in the task's trainers (aggregators); 0: not one.
    struct Seat {
        uint8 trainer;
        uint8 aggregator;
    }

    /// @dev Who acts: the caller's seat (1 + its index in the task's trainers or aggregators) and its org now.
    struct Actor {
        uint8 seat;
        bytes32 org;
    }

    /// @dev What an organization did in the task's latest rounds (one slot): the last round one of its accounts
    /// committed (voted) in, and that account's seat. Marked when the task is created, so that a round's first
    /// commit or vote per org rewrites a slot instead of creating one.
    struct OrgActs {
        uint32 commitRound;
        uint8 committer;
        uint32 voteRound;
        uint8 voter;
        bool enrolled;
    }

    struct TaskData {
        TaskInfo info;
        address coordinator;
        uint32 commitWindow;
        uint32 aggregationWindow;
        bytes32 specHash;
        bytes32 specCid;
        bytes32 initialModelHash;
        bytes32 initialModelCid;
        address[] trainers;
        address[] aggregators;
        mapping(address => Seat) seats;
        mapping(bytes32 => OrgActs) acts; // org -> what it did (commits and votes count once per org)
        mapping(uint256 => RoundData) rounds; // from 1
    }

    function open(TaskData storage t, uint256 taskId) internal returns (uint256 r) {
        TaskInfo storage info = t.info;
        if (info.roundsFinalized >= info.rounds) revert IFederatedLearning.TaskCompleted(taskId);
        r = info.roundsStarted;
        if (r > 0) {
            sync(t, taskId, r);
            IFederatedLearning.RoundState s = t.rounds[r].state;
            if (s != IFederatedLearning.RoundState.Finalized && s != IFederatedLearning.RoundState.Failed) {
                revert IFederatedLearning.RoundInProgress(taskId, r);
            }
        }
        (bytes32 baseHash, bytes32 baseCid) = model(t);
        r += 1;
        info.roundsStarted = uint32(r);
        info.roundOpenedBlock = uint64(block.number);
        RoundData storage round = t.rounds[r];
        round.state = IFederatedLearning.RoundState.Open;
        round.commitDeadline = uint40(block.timestamp + t.commitWindow);
        round.modelHash = baseHash;
        round.modelCid = baseCid;
        emit IFederatedLearning.RoundOpened(taskId, r, baseHash, baseCid, round.commitDeadline);
    }

    /// @param who the caller's trainer seat and its organization now: it commits once per round, whichever of its
    /// accounts commits
    function commit(TaskData storage t, uint256 taskId, uint256 r, Actor memory who, bytes32 updateHash, bytes32 cid, uint64 numSamples, uint64 lossMicro) internal {
        RoundData storage round = current(t, taskId, r);
        uint64 bit = uint64(1) << (who.seat - 1);
        if (round.state != IFederatedLearning.RoundState.Open && round.state != IFederatedLearning.RoundState.Collecting) {
            revert IFederatedLearning.WrongRoundState(taskId, r, round.state);
        }
        if (block.timestamp > round.commitDeadline) revert IFederatedLearning.CommitWindowClosed(taskId, r, round.commitDeadline);
        if (round.committed & bit != 0) revert IFederatedLearning.UpdateAlreadyCommitted(taskId, r, msg.sender);
        OrgActs storage acts = t.acts[who.org];
        if (acts.commitRound == r) revert IFederatedLearning.SameOrganization(who.org, t.trainers[acts.committer - 1], msg.sender);
        (acts.commitRound, acts.committer) = (uint32(r), who.seat);
        if (updateHash == bytes32(0) || numSamples == 0 || cid == bytes32(0)) revert IFederatedLearning.EmptyUpdate();
        if (numSamples > t.info.maxSamples) revert IFederatedLearning.TooManySamples(taskId, numSamples, t.info.maxSamples);
        uint64 committed = round.committed | bit;
        round.committed = committed;
        round.state = IFederatedLearning.RoundState.Collecting;
        emit IFederatedLearning.UpdateCommitted(taskId, r, msg.sender, updateHash, cid, numSamples, lossMicro);
        // Everyone in: no reason to wait for the window to run out.
        if (committed == _all(t.info.trainerCount)) _closeCommits(t, taskId, r);
    }

    /// @param who the caller's aggregator seat and its organization now: it votes once per round, whichever of its
    /// accounts votes
    /// @return finalized whether this vote reached the quorum
    function vote(TaskData storage t, uint256 taskId, uint256 r, Actor memory who, bytes32 aggregateHash, bytes32 cid, uint64 included)
        internal
        returns (bool finalized)
    {
        RoundData storage round = current(t, taskId, r);
        sync(t, taskId, r);
        if (round.state != IFederatedLearning.RoundState.Aggregating) revert IFederatedLearning.WrongRoundState(taskId, r, round.state);
        uint16 bit = uint16(1) << (who.seat - 1);
        if (round.voted & bit != 0) revert IFederatedLearning.AlreadyVoted(taskId, r, msg.sender);
        OrgActs storage acts = t.acts[who.org];
        if (acts.voteRound == r) revert IFederatedLearning.SameOrganization(who.org, t.aggregators[acts.voter - 1], msg.sender);
        (acts.voteRound, acts.voter) = (uint32(r), who.seat);
        _checkIncluded(t, round, taskId, r, included);
        bytes32 key = keccak256(abi.encode(aggregateHash, cid, included));
        uint16 voters = round.votersOf[key] | bit;
        round.votersOf[key] = voters;
        round.voted |= bit;
        uint32 count = popcount(voters);
        emit IFederatedLearning.AggregateVoted(taskId, r, msg.sender, aggregateHash, cid, included, count);
        if (count < t.info.quorum) return false;
        _finalize(t, taskId, r, aggregateHash, cid, included, count);
        _emitExcluded(round, taskId, r);
        _emitDissent(round, taskId, r, voters);
        return true;
    }

    /// @notice Apply expired windows: close commits (or fail for too few) and fail rounds without quorum.
    function sync(TaskData storage t, uint256 taskId, uint256 r) internal {
        RoundData storage round = t.rounds[r];
        IFederatedLearning.RoundState s = round.state;
        if ((s == IFederatedLearning.RoundState.Open || s == IFederatedLearning.RoundState.Collecting) && block.timestamp > round.commitDeadline) {
            if (popcount(round.committed) >= t.info.minParticipants) _closeCommits(t, taskId, r);
            else _fail(round, taskId, r, "too few updates before the commit deadline");
        }
        if (round.state == IFederatedLearning.RoundState.Aggregating && block.timestamp > round.aggregationDeadline) {
            _fail(round, taskId, r, "no aggregator quorum before the aggregation deadline");
        }
    }

    function current(TaskData storage t, uint256 taskId, uint256 r) internal view returns (RoundData storage) {
        uint256 cur = t.info.roundsStarted;
        if (r != cur || r == 0) revert IFederatedLearning.NotCurrentRound(taskId, r, cur);
        return t.rounds[r];
    }

    /// @dev The task's global model: the initial one, then what the latest round holds (its base while it runs or
    /// once it failed, its result once finalized).
    function model(TaskData storage t) internal view returns (bytes32 modelHash, bytes32 modelCid) {
        uint256 r = t.info.roundsStarted;
        if (r == 0) return (t.initialModelHash, t.initialModelCid);
        return (t.rounds[r].modelHash, t.rounds[r].modelCid);
    }

    /// @dev The round as IFederatedLearning.Round, with the addresses of its committed trainers (task order).
    function roundView(TaskData storage t, uint256 r) internal view returns (IFederatedLearning.Round memory v, address[] memory committed) {
        RoundData storage round = t.rounds[r];
        v.state = round.state;
        v.commitDeadline = round.commitDeadline;
        v.aggregationDeadline = round.aggregationDeadline;
        v.commits = popcount(round.committed);
        v.votes = popcount(round.voted);
        (v.baseModelHash, v.baseModelCid) = r == 1 ? (t.initialModelHash, t.initialModelCid) : (t.rounds[r - 1].modelHash, t.rounds[r - 1].modelCid);
        if (round.state == IFederatedLearning.RoundState.Finalized) (v.resultHash, v.resultCid) = (round.modelHash, round.modelCid);
        v.committed = round.committed;
        v.included = round.included;
        v.voted = round.voted;
        committed = members(t.trainers, round.committed);
    }

    /// @dev The entries of `list` whose bits are set in `bits`, in list order.
    function members(address[] storage list, uint256 bits) internal view returns (address[] memory out) {
        out = new address[](popcount(bits));
        uint256 k = 0;
        for (uint256 i = 0; bits != 0; i++) {
            if (bits & 1 != 0) out[k++] = list[i];
            bits >>= 1;
        }
    }

    function popcount(uint256 x) internal pure returns (uint32 n) {
        for (; x != 0; n++) x &= x - 1;
    }

    /// @dev The bits of the first `n` entries.
    function _all(uint256 n) private pure returns (uint64) {
        return uint64((1 << n) - 1);
    }

    function _closeCommits(TaskData storage t, uint256 taskId, uint256 r) private {
        RoundData storage round = t.rounds[r];
        round.state = IFederatedLearning.RoundState.Aggregating;
        round.aggregationDeadline = uint40(block.timestamp + t.aggregationWindow);
        emit IFederatedLearning.CommitsClosed(taskId, r, popcount(round.committed), round.aggregationDeadline);
    }

    function _fail(RoundData storage round, uint256 taskId, uint256 r, string memory reason) private {
        round.state = IFederatedLearning.RoundState.Failed;
        emit IFederatedLearning.RoundFailed(taskId, r, reason);
    }

    /// @dev The included set must be non-empty and committed: a bit of an uncommitted trainer (or beyond the
    /// trainers) names that trainer (or address(0)) in InvalidInclusion.
    function _checkIncluded(TaskData storage t, RoundData storage round, uint256 taskId, uint256 r, uint64 included) private view {
        uint64 stray = included & ~round.committed;
        if (included == 0 || stray != 0) {
            uint256 i = 0;
            while (stray != 0 && stray & (uint64(1) << i) == 0) i++;
            revert IFederatedLearning.InvalidInclusion(taskId, r, stray != 0 && i < t.trainers.length ? t.trainers[i] : address(0));
        }
    }

    function _finalize(TaskData storage t, uint256 taskId, uint256 r, bytes32 modelHash, bytes32 cid, uint64 included, uint32 votes) private {
        RoundData storage round = t.rounds[r];
        round.state = IFederatedLearning.RoundState.Finalized;
        round.included = included;
        round.modelHash = modelHash;
        round.modelCid = cid;
        t.info.roundsFinalized += 1;
        emit IFederatedLearning.RoundFinalized(taskId, r, modelHash, cid, included, votes);
    }

    function _emitExcluded(RoundData storage round, uint256 taskId, uint256 r) private {
        uint64 excluded = round.committed & ~round.included;
        if (excluded != 0) emit IFederatedLearning.UpdatesExcluded(taskId, r, excluded);
    }

    function _emitDissent(RoundData storage round, uint256 taskId, uint256 r, uint16 winners) private {
        uint16 dissenters = round.voted & ~winners;
        if (dissenters != 0) emit IFederatedLearning.AggregatorsDissented(taskId, r, dissenters);
    }
}
