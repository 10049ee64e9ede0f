// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title The consortium's settlement token as its registry sees it
/// @notice Supply changes only when the registry executes a k-of-n Mint proposal: the registry is the token's only
/// minter, and no account (governor or not) can mint directly.
interface IConsortiumToken {
    /// @notice `caller` is not the consortium registry (mints come only from executed Mint proposals).
    error NotRegistry(address caller);

    /// @notice Mint `amount` to `to`. Requirements: caller is the registry. Emits Transfer(address(0), to, amount).
    function mint(address to, uint256 amount) external;
}
