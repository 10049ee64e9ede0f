// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";
import {IFederatedLearning} from "../interfaces/IFederatedLearning.sol";
import {FederatedRounds} from "./FederatedRounds.sol";
import {Roles} from "./Roles.sol";

/// @title Federated learning tasks: configuration checks and storage, over the set of task structs.
/// @dev The rounds of a stored task run in FederatedRounds.
library FederatedTasks {
    /// @dev The widths of the round bitmaps (FederatedRounds.RoundData.committed, .voted).
    uint256 internal constant MAX_TRAINERS = 64;
    uint256 internal constant MAX_AGGREGATORS = 16;

    struct Tasks {
        uint256 count;
        mapping(uint256 => FederatedRounds.TaskData) byId; // a stored task has info.rounds > 0
    }

    /// @dev Checks `c` (see FederatedLearning.createTask) and stores it as a new task coordinated by the caller.
    /// Emits TaskCreated.
    function create(Tasks storage tasks, IFederatedLearning.TaskConfig calldata c, IConsortiumRegistry registry) internal returns (uint256 taskId) {
        uint32 quorum = _checkConfig(c);
        taskId = tasks.count++;
        FederatedRounds.TaskData storage t = tasks.byId[taskId];
        _enroll(t, c.trainers, Roles.TRAINER, registry);
        _enroll(t, c.aggregators, Roles.AGGREGATOR, registry);
        t.trainers = c.trainers;
        t.aggregators = c.aggregators;
        t.info = FederatedRounds.TaskInfo(c.rounds, 0, 0, c.maxSamples, 0, uint8(c.trainers.length), uint8(quorum), uint8(c.minParticipants));
        (t.coordinator, t.commitWindow, t.aggregationWindow) = (msg.sender, c.commitWindow, c.aggregationWindow);
        (t.specHash, t.specCid, t.initialModelHash, t.initialModelCid) = (c.specHash, c.specCid, c.initialModelHash, c.initialModelCid);
        emit IFederatedLearning.TaskCreated(taskId, msg.sender, c.specHash, c.initialModelHash, c.rounds, quorum);
    }

    /// @dev The stored task `taskId`, or revert UnknownTask.
    function get(Tasks storage tasks, uint256 taskId) internal view returns (FederatedRounds.TaskData storage t) {
        t = tasks.byId[taskId];
        if (t.info.rounds == 0) revert IFederatedLearning.UnknownTask(taskId);
    }

    /// @dev The task as IFederatedLearning.Task.
    function taskView(FederatedRounds.TaskData storage t) internal view returns (IFederatedLearning.Task memory v) {
        FederatedRounds.TaskInfo storage info = t.info;
        (v.coordinator, v.specHash, v.specCid) = (t.coordinator, t.specHash, t.specCid);
        (v.minParticipants, v.commitWindow, v.aggregationWindow, v.quorum) = (info.minParticipants, t.commitWindow, t.aggregationWindow, info.quorum);
        (v.rounds, v.roundsStarted, v.roundsFinalized) = (info.rounds, info.roundsStarted, info.roundsFinalized);
        (v.modelHash, v.modelCid) = FederatedRounds.model(t);
        (v.maxSamples, v.roundOpenedBlock) = (info.maxSamples, info.roundOpenedBlock);
    }

    /// @dev Reverts InvalidTaskConfig naming the broken rule; returns the quorum (0 in `c`: ceil(2n/3) of the
    /// n aggregators).
    function _checkConfig(IFederatedLearning.TaskConfig calldata c) private pure returns (uint32 quorum) {
        if (c.minParticipants == 0 || c.minParticipants > c.trainers.length) revert IFederatedLearning.InvalidTaskConfig("minParticipants");
        if (c.rounds == 0 || c.commitWindow == 0 || c.aggregationWindow == 0) revert IFederatedLearning.InvalidTaskConfig("rounds and windows must be positive");
        if (c.initialModelHash == bytes32(0) || c.specHash == bytes32(0)) revert IFederatedLearning.InvalidTaskConfig("spec and initial model hashes");
        if (c.initialModelCid == bytes32(0) || c.specCid == bytes32(0)) revert IFederatedLearning.InvalidTaskConfig("spec and initial model CIDs");
        if (c.maxSamples == 0) revert IFederatedLearning.InvalidTaskConfig("maxSamples");
        if (c.trainers.length > MAX_TRAINERS || c.aggregators.length > MAX_AGGREGATORS) revert IFederatedLearning.InvalidTaskConfig("too many participants");
        uint32 n = uint32(c.aggregators.length);
        quorum = c.quorum == 0 ? (2 * n + 2) / 3 : c.quorum;
        if (n == 0 || quorum > n || 2 * quorum <= n) revert IFederatedLearning.InvalidTaskConfig("quorum must be a majority of the aggregators");
    }

    /// @dev Seats each account as a trainer (aggregator) of `t`; each must hold `role` and appear once, and no two
    /// may belong to one organization (SameOrganization): commits and votes count once per organization.
    function _enroll(FederatedRounds.TaskData storage t, address[] calldata accounts, uint256 role, IConsortiumRegistry registry) private {
        bool trainer = role == Roles.TRAINER;
        bytes32[] memory orgs = new bytes32[](accounts.length);
        for (uint256 i = 0; i < accounts.length; i++) {
            orgs[i] = registry.requireRole(accounts[i], role);
            FederatedRounds.Seat storage seat = t.seats[accounts[i]];
            if ((trainer ? seat.trainer : seat.aggregator) != 0) revert IFederatedLearning.InvalidTaskConfig(trainer ? "duplicate trainer" : "duplicate aggregator");
            if (trainer) seat.trainer = uint8(i + 1);
            else seat.aggregator = uint8(i + 1);
            t.acts[orgs[i]].enrolled = true; // later commits and votes rewrite this slot (see OrgActs)
            for (uint256 j = 0; j < i; j++) {
                if (orgs[j] == orgs[i]) revert IFederatedLearning.SameOrganization(orgs[i], accounts[j], accounts[i]);
            }
        }
    }
}
