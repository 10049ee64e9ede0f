// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {IFederatedLearning} from "../interfaces/IFederatedLearning.sol";
import {FederatedRounds} from "./FederatedRounds.sol";
import {Roles} from "./Roles.sol";

/// @title Federated learning tasks: configuration checks and storage, over the array of task structs.
/// @dev The rounds of a stored task run in FederatedRounds.
library FederatedTasks {
    uint256 internal constant MAX_TRAINERS = 64;
    uint256 internal constant MAX_AGGREGATORS = 16;

    /// @dev Checks `c` (see FederatedLearning.createTask) and stores it as a new task coordinated by the caller.
    /// Emits TaskCreated.
    function create(FederatedRounds.TaskData[] storage tasks, IFederatedLearning.TaskConfig calldata c, IConsortiumRegistry registry)
        internal
        returns (uint256 taskId)
    {
        uint32 quorum = _checkConfig(c);
        taskId = tasks.length;
        FederatedRounds.TaskData storage t = tasks.push();
        _enroll(t.isTrainer, c.trainers, Roles.TRAINER, registry, "duplicate trainer");
        _enroll(t.isAggregator, c.aggregators, Roles.AGGREGATOR, registry, "duplicate aggregator");
        t.trainers = c.trainers;
        t.aggregators = c.aggregators;
        t.info = IFederatedLearning.Task(
            msg.sender, c.specHash, c.specCid, c.minParticipants, c.commitWindow, c.aggregationWindow, quorum, c.rounds, 0, 0, c.initialModelHash, c.initialModelCid, c.maxSamples
        );
        emit IFederatedLearning.TaskCreated(taskId, msg.sender, c.specHash, c.initialModelHash, c.rounds, quorum);
    }

    /// @dev The stored task `taskId`, or revert UnknownTask.
    function get(FederatedRounds.TaskData[] storage tasks, uint256 taskId) internal view returns (FederatedRounds.TaskData storage) {
        if (taskId >= tasks.length) revert IFederatedLearning.UnknownTask(taskId);
        return tasks[taskId];
    }

    /// @dev Reverts InvalidTaskConfig naming the broken rule; returns the quorum (0 in `c`: ceil(2n/3) of the
    /// n aggregators).
    function _checkConfig(IFederatedLearning.TaskConfig calldata c) private pure returns (uint32 quorum) {
        if (c.minParticipants == 0 || c.minParticipants > c.trainers.length) revert IFederatedLearning.InvalidTaskConfig("minParticipants");
        if (c.rounds == 0 || c.commitWindow == 0 || c.aggregationWindow == 0) revert IFederatedLearning.InvalidTaskConfig("rounds and windows must be positive");
        if (c.initialModelHash == bytes32(0) || c.specHash == bytes32(0)) revert IFederatedLearning.InvalidTaskConfig("spec and initial model hashes");
        if (c.maxSamples == 0) revert IFederatedLearning.InvalidTaskConfig("maxSamples");
        if (c.trainers.length > MAX_TRAINERS || c.aggregators.length > MAX_AGGREGATORS) revert IFederatedLearning.InvalidTaskConfig("too many participants");
        uint32 n = uint32(c.aggregators.length);
        quorum = c.quorum == 0 ? (2 * n + 2) / 3 : c.quorum;
        if (n == 0 || quorum > n || 2 * quorum <= n) revert IFederatedLearning.InvalidTaskConfig("quorum must be a majority of the aggregators");
    }

    /// @dev Marks each account a participant; each must hold `role` and appear once, and no two may belong to one
    /// organization (SameOrganization): commits and votes count once per organization.
    function _enroll(mapping(address => bool) storage isIn, address[] calldata accounts, uint256 role, IConsortiumRegistry registry, string memory duplicate) private {
        bytes32[] memory orgs = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            orgs[i] = registry.requireRole(accounts[i], role);
            if (isIn[accounts[i]]) revert IFederatedLearning.InvalidTaskConfig(duplicate);
            isIn[accounts[i]] = true;
            for (uint256 j = 0; j < i; j++) {
                if (orgs[j] == orgs[i]) revert IFederatedLearning.SameOrganization(orgs[i], accounts[j], accounts[i]);
            }
        }
    }
}
