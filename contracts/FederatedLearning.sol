// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IFederatedLearning} from "./interfaces/IFederatedLearning.sol";
import {FederatedRounds} from "./libraries/FederatedRounds.sol";
import {FederatedTasks} from "./libraries/FederatedTasks.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title FederatedLearning
/// @notice Runs federated learning rounds among consortium members; see IFederatedLearning.
contract FederatedLearning is IFederatedLearning, RegistryGated {
    using FederatedRounds for FederatedRounds.TaskData;
    using FederatedTasks for FederatedRounds.TaskData[];

    FederatedRounds.TaskData[] private _tasks;

    constructor(IConsortiumRegistry registry) RegistryGated(registry) {}

    uint256 public constant MAX_TRAINERS = FederatedTasks.MAX_TRAINERS;
    uint256 public constant MAX_AGGREGATORS = FederatedTasks.MAX_AGGREGATORS;

    /// @notice Create a task; the caller becomes its coordinator.
    /// Requirements: caller's org is a GOVERNOR; every trainer holds TRAINER, every aggregator AGGREGATOR;
    /// no duplicates; no two trainers (or two aggregators) of one organization (SameOrganization);
    /// at most MAX_TRAINERS trainers and MAX_AGGREGATORS aggregators; 1 <= minParticipants <= trainers;
    /// rounds and windows > 0; non-zero spec and initial model hashes; maxSamples > 0; quorum a strict majority of
    /// the aggregators (InvalidTaskConfig names the broken rule). Emits TaskCreated.
    function createTask(TaskConfig calldata c) external onlyRole(Roles.GOVERNOR) returns (uint256 taskId) {
        return _tasks.create(c, registry());
    }

    /// @notice Open the next round from the current global model.
    /// Requirements: caller is the task's coordinator and its org still a GOVERNOR (a removed or demoted
    /// coordinator loses the task: NotMember / MissingRole); the previous round is finalized or failed; rounds
    /// remain. Emits RoundOpened (and RoundFailed/CommitsClosed if an expired window is applied first).
    function openRound(uint256 taskId) external returns (uint256 round) {
        FederatedRounds.TaskData storage t = _tasks.get(taskId);
        if (msg.sender != t.info.coordinator) revert NotCoordinator(taskId, msg.sender);
        _checkRole(Roles.GOVERNOR);
        return t.open(taskId);
    }

    /// @notice Commit this trainer's update for the current round: keccak256 of its canonical bytes and CID.
    /// Requirements: caller is a task trainer still holding TRAINER; round open; before the commit deadline;
    /// one commit per trainer, and per organization as it stands now (SameOrganization: an account that moved
    /// into an org whose trainer committed does not commit for it again); 0 < numSamples <= the task's maxSamples
    /// (TooManySamples). Emits UpdateCommitted (and CommitsClosed once every trainer committed).
    function commitUpdate(uint256 taskId, uint256 round, bytes32 updateHash, string calldata cid, uint64 numSamples, uint64 lossMicro) external {
        (FederatedRounds.TaskData storage t, bytes32 org) = _taskTrainer(taskId);
        t.commit(taskId, round, org, Update(updateHash, cid, numSamples, lossMicro, 0));
    }

    /// @notice Vote the aggregate this aggregator computed, with the ascending list of trainers it included.
    /// Requirements: caller is a task aggregator still holding AGGREGATOR; round aggregating; one vote each, and
    /// one per organization as it stands now (SameOrganization). Emits AggregateVoted; at quorum RoundFinalized,
    /// UpdatesExcluded and AggregatorsDissented as applicable.
    function voteAggregate(uint256 taskId, uint256 round, bytes32 aggregateHash, string calldata cid, address[] calldata included) external {
        (FederatedRounds.TaskData storage t, bytes32 org) = _taskAggregator(taskId);
        t.vote(taskId, round, org, aggregateHash, cid, included);
    }

    /// @notice Apply expired windows of the current round (anyone may call). Emits CommitsClosed or RoundFailed.
    function advance(uint256 taskId) external {
        FederatedRounds.TaskData storage t = _tasks.get(taskId);
        if (t.info.roundsStarted > 0) t.sync(taskId, t.info.roundsStarted);
    }

    // ------------------------------------------------------------------ views

    function taskCount() external view returns (uint256) {
        return _tasks.length;
    }

    function task(uint256 taskId) external view returns (Task memory info, address[] memory trainers, address[] memory aggregators) {
        FederatedRounds.TaskData storage t = _tasks.get(taskId);
        return (t.info, t.trainers, t.aggregators);
    }

    function round(uint256 taskId, uint256 r) external view returns (Round memory info, address[] memory committed) {
        FederatedRounds.TaskData storage t = _tasks.get(taskId);
        if (r == 0 || r > t.info.roundsStarted) revert UnknownRound(taskId, r);
        return (t.rounds[r].info, t.rounds[r].committed);
    }

    function update(uint256 taskId, uint256 r, address trainer) external view returns (Update memory) {
        return _tasks.get(taskId).rounds[r].updates[trainer];
    }

    function voteOf(uint256 taskId, uint256 r, address aggregator) external view returns (bytes32) {
        return _tasks.get(taskId).rounds[r].voteKey[aggregator];
    }

    // ------------------------------------------------------------------ internals

    /// @dev The task and the caller's org, if the caller is one of its trainers and its org still holds TRAINER
    /// (checked in this order).
    function _taskTrainer(uint256 taskId) private view returns (FederatedRounds.TaskData storage t, bytes32 org) {
        t = _tasks.get(taskId);
        if (!t.isTrainer[msg.sender]) revert NotTaskTrainer(taskId, msg.sender);
        org = _checkRole(Roles.TRAINER);
    }

    /// @dev The task and the caller's org, if the caller is one of its aggregators and its org still holds
    /// AGGREGATOR (in this order).
    function _taskAggregator(uint256 taskId) private view returns (FederatedRounds.TaskData storage t, bytes32 org) {
        t = _tasks.get(taskId);
        if (!t.isAggregator[msg.sender]) revert NotTaskAggregator(taskId, msg.sender);
        org = _checkRole(Roles.AGGREGATOR);
    }
}
