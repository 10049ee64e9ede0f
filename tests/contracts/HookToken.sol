// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface ITokenReceiver {
    function onTokenReceived(address from, uint256 amount) external;
}

/// @notice TEST ONLY: an ERC-20 with an ERC-777-style receive hook (hands control to the recipient on every
/// transfer) and open minting. Used to attack MachineLease's pull payments with re-entrancy.
contract HookToken is ERC20 {
    constructor() ERC20("Hook", "HOOK") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (to.code.length > 0 && from != address(0)) {
            try ITokenReceiver(to).onTokenReceived(from, value) {} catch {} // recipients without the hook are fine
        }
    }
}
