// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

interface ILeasePayouts {
    function withdraw(uint256 leaseId) external returns (uint256);

    function claimRefund(uint256 leaseId) external returns (uint256);
}

/// @notice TEST ONLY: a contract account of an organization that re-enters the lease from the token hook.
contract ReentrantOwner {
    ILeasePayouts public immutable lease;
    uint256 public leaseId;
    bool public refundMode;
    bool private _entered;
    bool public reentered;
    bytes public reentryError;
    uint256 public received;

    constructor(ILeasePayouts lease_) {
        lease = lease_;
    }

    function attackWithdraw(uint256 id) external {
        (leaseId, refundMode, _entered) = (id, false, false);
        lease.withdraw(id);
    }

    function attackRefund(uint256 id) external {
        (leaseId, refundMode, _entered) = (id, true, false);
        lease.claimRefund(id);
    }

    function onTokenReceived(address, uint256 amount) external {
        received += amount;
        if (_entered) return;
        _entered = true;
        if (refundMode) {
            try lease.claimRefund(leaseId) { reentered = true; } catch (bytes memory reason) { reentryError = reason; }
        } else {
            try lease.withdraw(leaseId) { reentered = true; } catch (bytes memory reason) { reentryError = reason; }
        }
    }

    /// @dev Lets the test approve the lease and call through this contract (when it plays the lessee).
    function exec(address target, bytes calldata data) external {
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) assembly { revert(add(ret, 32), mload(ret)) }
    }
}
