// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Role bits an organization can hold (an org may hold several).
library Roles {
    uint256 internal constant GOVERNOR = 1 << 0;
    uint256 internal constant OPERATOR = 1 << 1; // runs machines: factories
    uint256 internal constant MANUFACTURER = 1 << 2; // builds machines, may lease them out
    uint256 internal constant AGGREGATOR = 1 << 3; // computes and votes federated aggregates
    uint256 internal constant TRAINER = 1 << 4; // trains on local data in federated rounds
    uint256 internal constant ALL = (1 << 5) - 1;
}
