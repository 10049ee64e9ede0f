// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IFederatedLearning} from "../interfaces/IFederatedLearning.sol";

/// @title Round state machine of a federated learning task, over one storage struct per task.
/// @dev Deadlines are applied lazily: `sync` moves a round past an expired window before any action on it.
library FederatedRounds {
    struct RoundData {
        IFederatedLearning.Round info;
        address[] committed; // in commit order; aggregators sort by address themselves
        mapping(address => IFederatedLearning.Update) updates;
        address[] voters;
        mapping(address => bytes32) voteKey; // keccak(aggregateHash, includedHash); 0 = not voted
        mapping(bytes32 => uint32) tally;
        mapping(bytes32 => address) committerOfOrg; // org -> its account that committed (orgs as they stood then)
        mapping(bytes32 => address) voterOfOrg; // org -> its account that voted
    }

    struct TaskData {
        IFederatedLearning.Task info;
        address[] trainers;
        address[] aggregators;
        mapping(address => bool) isTrainer;
        mapping(address => bool) isAggregator;
        mapping(uint256 => RoundData) rounds; // from 1
    }

    function open(TaskData storage t, uint256 taskId) internal returns (uint256 r) {
        IFederatedLearning.Task storage info = t.info;
        if (info.roundsFinalized >= info.rounds) revert IFederatedLearning.TaskCompleted(taskId);
        r = info.roundsStarted;
        if (r > 0) {
            sync(t, taskId, r);
            IFederatedLearning.RoundState s = t.rounds[r].info.state;
            if (s != IFederatedLearning.RoundState.Finalized && s != IFederatedLearning.RoundState.Failed) {
                revert IFederatedLearning.RoundInProgress(taskId, r);
            }
        }
        r += 1;
        info.roundsStarted = uint32(r);
        IFederatedLearning.Round storage round = t.rounds[r].info;
        round.state = IFederatedLearning.RoundState.Open;
        round.commitDeadline = uint64(block.timestamp) + info.commitWindow;
        round.baseModelHash = info.modelHash;
        round.baseModelCid = info.modelCid;
        emit IFederatedLearning.RoundOpened(taskId, r, info.modelHash, info.modelCid, round.commitDeadline);
    }

    /// @dev `org` is the caller's organization now: it commits once per round, whichever of its accounts commits.
    function commit(TaskData storage t, uint256 taskId, uint256 r, bytes32 org, IFederatedLearning.Update memory u) internal {
        RoundData storage rd = current(t, taskId, r);
        IFederatedLearning.Round storage round = rd.info;
        if (round.state != IFederatedLearning.RoundState.Open && round.state != IFederatedLearning.RoundState.Collecting) {
            revert IFederatedLearning.WrongRoundState(taskId, r, round.state);
        }
        if (block.timestamp > round.commitDeadline) revert IFederatedLearning.CommitWindowClosed(taskId, r, round.commitDeadline);
        if (rd.updates[msg.sender].committedAt != 0) revert IFederatedLearning.UpdateAlreadyCommitted(taskId, r, msg.sender);
        _oncePerOrg(rd.committerOfOrg, org);
        if (u.hash == bytes32(0) || u.numSamples == 0 || bytes(u.cid).length == 0) revert IFederatedLearning.EmptyUpdate();
        if (u.numSamples > t.info.maxSamples) revert IFederatedLearning.TooManySamples(taskId, u.numSamples, t.info.maxSamples);
        u.committedAt = uint64(block.timestamp);
        rd.updates[msg.sender] = u;
        rd.committed.push(msg.sender);
        round.commits += 1;
        round.state = IFederatedLearning.RoundState.Collecting;
        emit IFederatedLearning.UpdateCommitted(taskId, r, msg.sender, u.hash, u.cid, u.numSamples, u.lossMicro);
        // Everyone in: no reason to wait for the window to run out.
        if (round.commits == t.trainers.length) _closeCommits(t, taskId, r);
    }

    /// @dev `org` is the caller's organization now: it votes once per round, whichever of its accounts votes.
    /// @return finalized whether this vote reached the quorum
    function vote(TaskData storage t, uint256 taskId, uint256 r, bytes32 org, bytes32 aggregateHash, string calldata cid, address[] calldata included)
        internal
        returns (bool finalized)
    {
        RoundData storage rd = current(t, taskId, r);
        sync(t, taskId, r);
        IFederatedLearning.Round storage round = rd.info;
        if (round.state != IFederatedLearning.RoundState.Aggregating) revert IFederatedLearning.WrongRoundState(taskId, r, round.state);
        if (rd.voteKey[msg.sender] != bytes32(0)) revert IFederatedLearning.AlreadyVoted(taskId, r, msg.sender);
        _oncePerOrg(rd.voterOfOrg, org);
        bytes32 includedHash = _checkIncluded(rd, taskId, r, included);
        bytes32 key = keccak256(abi.encode(aggregateHash, includedHash));
        rd.voteKey[msg.sender] = key;
        rd.voters.push(msg.sender);
        uint32 count = ++rd.tally[key];
        round.votes += 1;
        emit IFederatedLearning.AggregateVoted(taskId, r, msg.sender, aggregateHash, cid, includedHash, count);
        if (count < t.info.quorum) return false;
        _finalize(t, taskId, r, aggregateHash, cid, includedHash);
        _emitExcluded(rd, taskId, r, included);
        _emitDissent(rd, taskId, r, key);
        return true;
    }

    /// @notice Apply expired windows: close commits (or fail for too few) and fail rounds without quorum.
    function sync(TaskData storage t, uint256 taskId, uint256 r) internal {
        IFederatedLearning.Round storage round = t.rounds[r].info;
        IFederatedLearning.RoundState s = round.state;
        if ((s == IFederatedLearning.RoundState.Open || s == IFederatedLearning.RoundState.Collecting) && block.timestamp > round.commitDeadline) {
            if (round.commits >= t.info.minParticipants) _closeCommits(t, taskId, r);
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

    function _closeCommits(TaskData storage t, uint256 taskId, uint256 r) private {
        IFederatedLearning.Round storage round = t.rounds[r].info;
        round.state = IFederatedLearning.RoundState.Aggregating;
        round.aggregationDeadline = uint64(block.timestamp) + t.info.aggregationWindow;
        emit IFederatedLearning.CommitsClosed(taskId, r, round.commits, round.aggregationDeadline);
    }

    /// @dev Records the caller as `org`'s one account acting in this round; SameOrganization if another did.
    function _oncePerOrg(mapping(bytes32 => address) storage actedFor, bytes32 org) private {
        address first = actedFor[org];
        if (first != address(0)) revert IFederatedLearning.SameOrganization(org, first, msg.sender);
        actedFor[org] = msg.sender;
    }

    function _fail(IFederatedLearning.Round storage round, uint256 taskId, uint256 r, string memory reason) private {
        round.state = IFederatedLearning.RoundState.Failed;
        emit IFederatedLearning.RoundFailed(taskId, r, reason);
    }

    /// @dev Included trainers must be committed and strictly ascending: one canonical list per set.
    function _checkIncluded(RoundData storage rd, uint256 taskId, uint256 r, address[] calldata included) private view returns (bytes32) {
        if (included.length == 0) revert IFederatedLearning.InvalidInclusion(taskId, r, address(0));
        address prev = address(0);
        for (uint256 i = 0; i < included.length; i++) {
            address a = included[i];
            if (a <= prev || rd.updates[a].committedAt == 0) revert IFederatedLearning.InvalidInclusion(taskId, r, a);
            prev = a;
        }
        return keccak256(abi.encodePacked(included));
    }

    function _finalize(TaskData storage t, uint256 taskId, uint256 r, bytes32 modelHash, string calldata cid, bytes32 includedHash) private {
        IFederatedLearning.Round storage round = t.rounds[r].info;
        round.state = IFederatedLearning.RoundState.Finalized;
        round.resultHash = modelHash;
        round.resultCid = cid;
        round.includedHash = includedHash;
        t.info.modelHash = modelHash;
        t.info.modelCid = cid;
        t.info.roundsFinalized += 1;
        emit IFederatedLearning.RoundFinalized(taskId, r, modelHash, cid, includedHash, t.info.quorum);
    }

    function _emitExcluded(RoundData storage rd, uint256 taskId, uint256 r, address[] calldata included) private {
        uint256 n = rd.committed.length - included.length;
        if (n == 0) return;
        address[] memory out = new address[](n);
        uint256 k = 0;
        for (uint256 i = 0; i < rd.committed.length; i++) {
            address a = rd.committed[i];
            if (!_contains(included, a)) out[k++] = a;
        }
        emit IFederatedLearning.UpdatesExcluded(taskId, r, out);
    }

    function _emitDissent(RoundData storage rd, uint256 taskId, uint256 r, bytes32 winning) private {
        uint256 n = 0;
        for (uint256 i = 0; i < rd.voters.length; i++) {
            if (rd.voteKey[rd.voters[i]] != winning) n++;
        }
        if (n == 0) return;
        address[] memory out = new address[](n);
        uint256 k = 0;
        for (uint256 i = 0; i < rd.voters.length; i++) {
            if (rd.voteKey[rd.voters[i]] != winning) out[k++] = rd.voters[i];
        }
        emit IFederatedLearning.AggregatorsDissented(taskId, r, out);
    }

    function _contains(address[] calldata sorted, address a) private pure returns (bool) {
        for (uint256 i = 0; i < sorted.length; i++) {
            if (sorted[i] == a) return true;
        }
        return false;
    }
}
