// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title ConsortiumToken: the settlement unit of fedpm machine leases
/// @notice An ERC-20 minted only by accounts of governor organizations.
/// @dev Why a token rather than the chain's native currency:
/// - a permissioned consortium chain (Besu/QBFT) runs at zero gas price and has no native-currency economy:
///   ether there is neither issued to members nor meaningful as money;
/// - every mint and transfer is an ERC-20 `Transfer` event, so amounts are auditable from logs alone
///   (the lease invoice is rebuilt from events and reconciles to `balanceOf`);
/// - the governors (k-of-n in the registry) control supply, e.g. against off-chain fiat settlement;
/// - ERC-20 approve/transferFrom gives pull-payment accounting without payable functions or `call{value:}`
///   (no ether re-entrancy surface in the lease contract).
contract ConsortiumToken is ERC20, RegistryGated {
    /// @param registry The consortium registry that says who is a governor.
    constructor(IConsortiumRegistry registry) ERC20("fedpm Consortium Token", "FCT") RegistryGated(registry) {}

    /// @notice Mint `amount` to `to`.
    /// Requirements: caller belongs to an active organization holding GOVERNOR (else NotMember / MissingRole).
    /// Emits Transfer(address(0), to, amount).
    function mint(address to, uint256 amount) external onlyRole(Roles.GOVERNOR) {
        _mint(to, amount);
    }
}
