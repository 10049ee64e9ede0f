// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Contract-orchestrated federated learning with multi-aggregator consensus
/// @notice A task names its trainers and aggregators. Each round, trainers commit the keccak256 of their
/// update's canonical bytes (and its CID); every aggregator computes the aggregate and votes its hash and CID
/// together with the set of updates it included. The round's global model is the first (hash, CID, included set)
/// a quorum of aggregators agrees on; no single party can change it alone.
/// @dev CIDs are CIDv0 (kubo's `ipfs add`), carried as the 32-byte sha2-256 digest of their multihash: the CID is
/// base58btc(0x1220 || digest). Sets of trainers (aggregators) are bitmaps over the task's list: bit i is
/// trainers[i] (aggregators[i]). What an update or a vote says beyond what the contract compares (update hash,
/// CID, sample count, loss) is in the events only; the storage keeps the round's state machine, who committed and
/// voted, the tally per (hash, CID, included set), and the models.
interface IFederatedLearning {
    enum RoundState {
        None,
        Open, // opened, no update yet
        Collecting, // at least one update committed, commit window running
        Aggregating, // commits closed, aggregators voting
        Finalized,
        Failed
    }

    struct TaskConfig {
        bytes32 specHash; // keccak256 of the canonical task spec (model, data, normalization, training)
        bytes32 specCid; // CIDv0 digest of the spec
        bytes32 initialModelHash; // keccak256 of the canonical model bytes
        bytes32 initialModelCid;
        address[] trainers;
        address[] aggregators;
        uint32 minParticipants;
        uint32 commitWindow; // seconds
        uint32 aggregationWindow; // seconds
        uint32 quorum; // 0: ceil(2n/3) of the aggregators
        uint32 rounds;
        uint64 maxSamples; // most samples one trainer's update may claim (its FedAvg weight); > 0
    }

    struct Task {
        address coordinator;
        bytes32 specHash;
        bytes32 specCid;
        uint32 minParticipants;
        uint32 commitWindow;
        uint32 aggregationWindow;
        uint32 quorum;
        uint32 rounds;
        uint32 roundsStarted;
        uint32 roundsFinalized;
        bytes32 modelHash; // current global model
        bytes32 modelCid;
        uint64 maxSamples;
        uint64 roundOpenedBlock; // block in which the current round opened: its events are from there on
    }

    struct Round {
        RoundState state;
        uint64 commitDeadline;
        uint64 aggregationDeadline;
        uint32 commits;
        uint32 votes;
        bytes32 baseModelHash;
        bytes32 baseModelCid;
        bytes32 resultHash; // zero unless Finalized
        bytes32 resultCid;
        uint64 committed; // bit i: trainers[i] committed an update
        uint64 included; // bit i: the finalized result includes trainers[i]'s update
        uint16 voted; // bit j: aggregators[j] voted
    }

    // --- errors ---
    error UnknownTask(uint256 taskId);
    error UnknownRound(uint256 taskId, uint256 round);
    error NotCoordinator(uint256 taskId, address account);
    error NotTaskTrainer(uint256 taskId, address account);
    error NotTaskAggregator(uint256 taskId, address account);
    error InvalidTaskConfig(string reason);
    error TaskCompleted(uint256 taskId);
    error RoundInProgress(uint256 taskId, uint256 round);
    error WrongRoundState(uint256 taskId, uint256 round, RoundState state);
    error NotCurrentRound(uint256 taskId, uint256 round, uint256 current);
    error CommitWindowClosed(uint256 taskId, uint256 round, uint64 deadline);
    error UpdateAlreadyCommitted(uint256 taskId, uint256 round, address trainer);
    error AlreadyVoted(uint256 taskId, uint256 round, address aggregator);
    /// @notice The included set is empty or names `trainer`, who committed no update this round (address(0): a bit
    /// beyond the task's trainers, or the empty set).
    error InvalidInclusion(uint256 taskId, uint256 round, address trainer);
    error EmptyUpdate();
    /// @notice An update claims `numSamples`, above the task's per-trainer bound `maxSamples`.
    error TooManySamples(uint256 taskId, uint64 numSamples, uint64 maxSamples);
    /// @notice `first` and `second` (both trainers, or both aggregators, of one task) belong to one organization,
    /// which would count twice.
    error SameOrganization(bytes32 orgId, address first, address second);

    // --- events ---
    event TaskCreated(uint256 indexed taskId, address indexed coordinator, bytes32 specHash, bytes32 initialModelHash, uint32 rounds, uint32 quorum);
    event RoundOpened(uint256 indexed taskId, uint256 indexed round, bytes32 baseModelHash, bytes32 baseModelCid, uint64 commitDeadline);
    event UpdateCommitted(uint256 indexed taskId, uint256 indexed round, address indexed trainer, bytes32 updateHash, bytes32 cid, uint64 numSamples, uint64 lossMicro);
    event CommitsClosed(uint256 indexed taskId, uint256 indexed round, uint32 commits, uint64 aggregationDeadline);
    event AggregateVoted(uint256 indexed taskId, uint256 indexed round, address indexed aggregator, bytes32 aggregateHash, bytes32 cid, uint64 included, uint32 votesForHash);
    event RoundFinalized(uint256 indexed taskId, uint256 indexed round, bytes32 modelHash, bytes32 cid, uint64 included, uint32 votes);
    /// @dev `trainers`: bit i = the task's trainers[i] (as `included`); `aggregators`: bit j = its aggregators[j].
    event UpdatesExcluded(uint256 indexed taskId, uint256 indexed round, uint64 trainers);
    event AggregatorsDissented(uint256 indexed taskId, uint256 indexed round, uint16 aggregators);
    event RoundFailed(uint256 indexed taskId, uint256 indexed round, string reason);
}
