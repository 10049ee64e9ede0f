// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortiumErrors} from "../interfaces/IConsortiumErrors.sol";
import {IConsortiumRegistry} from "../interfaces/IConsortiumRegistry.sol";

/// @title RegistryGated: a fedpm feature contract that asks the ConsortiumRegistry who may act
/// @notice Holds the registry and the one way a feature contract gates a function on it: `onlyRole(role)`
/// for an organization role, `onlyMember` for any consortium member. Inherits the registry's check errors so
/// the feature contract's ABI decodes the reverts it relays.
abstract contract RegistryGated is IConsortiumErrors {
    IConsortiumRegistry private immutable _registry;

    /// @param registry_ The consortium registry (deploy.py fills each feature constructor's `registry` with it).
    constructor(IConsortiumRegistry registry_) {
        _registry = registry_;
    }

    /// @dev Reverts with NotMember or MissingRole unless the caller's organization holds `role`.
    modifier onlyRole(uint256 role) {
        _checkRole(role);
        _;
    }

    /// @dev Reverts with NotMember unless the caller belongs to an active organization.
    modifier onlyMember() {
        _registry.orgOf(msg.sender);
        _;
    }

    /// @dev The check behind `onlyRole`, for gates that check more than the role first (FederatedLearning's task
    /// trainers and aggregators), as OpenZeppelin's AccessControl._checkRole. Returns the caller's organization.
    function _checkRole(uint256 role) internal view returns (bytes32 orgId) {
        return _registry.requireRole(msg.sender, role);
    }

    /// @notice The consortium registry this contract asks.
    function registry() public view returns (IConsortiumRegistry) {
        return _registry;
    }
}
