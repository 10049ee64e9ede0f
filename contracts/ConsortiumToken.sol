// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IConsortiumToken} from "./interfaces/IConsortiumToken.sol";

/// @title ConsortiumToken: the settlement unit of fedpm machine leases
/// @notice An ERC-20 whose supply changes only through the registry's k-of-n governance: the registry mints when it
/// executes a Mint proposal; no single account can mint.
/// @dev Why a token rather than the chain's native currency:
/// - a permissioned consortium chain (Besu/QBFT) runs at zero gas price and has no native-currency economy:
///   ether there is neither issued to members nor meaningful as money;
/// - every mint and transfer is an ERC-20 `Transfer` event, so amounts are auditable from logs alone
///   (the lease invoice is rebuilt from events and reconciles to `balanceOf`);
/// - the governors (k-of-n in the registry) control supply, e.g. against off-chain fiat settlement;
/// - ERC-20 approve/transferFrom gives pull-payment accounting without payable functions or `call{value:}`
///   (no ether re-entrancy surface in the lease contract).
contract ConsortiumToken is IConsortiumToken, ERC20, RegistryGated {
    /// @param registry The consortium registry: the only minter, on executed Mint proposals.
    constructor(IConsortiumRegistry registry) ERC20("fedpm Consortium Token", "FCT") RegistryGated(registry) {}

    /// @notice Mint `amount` to `to` for an executed Mint proposal.
    /// Requirements: caller is the registry (else NotRegistry). Emits Transfer(address(0), to, amount).
    function mint(address to, uint256 amount) external {
        if (msg.sender != address(registry())) revert NotRegistry(msg.sender);
        _mint(to, amount);
    }
}
