// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IMachineLease} from "../../contracts/interfaces/IMachineLease.sol";
import {LeaseFixture} from "./MachineLease.t.sol";

/// @dev The edges of deposits, terms, pausing, the dispute window and refunds.
contract MachineLeaseRulesTest is LeaseFixture {
    function setUp() public {
        deployLease();
    }

    function _offer(uint128 price, uint128 minDeposit, uint128 cap, uint64 term) private returns (uint256 id) {
        vm.prank(maker);
        id = lease.offer(MACHINE, tariff(price, minDeposit, cap, term));
    }

    function _accept(uint256 id, uint256 deposit) private {
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, 0, uint64(block.timestamp));
        vm.prank(factory);
        lease.accept(id, deposit, r, sig);
    }

    function _report(uint256 id, uint256 counter, uint64 readAt) private {
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, counter, readAt);
        lease.reportUsage(r, sig);
    }

    function test_depositOfExactlyTheMinimumAtTheEndOfTheTermIsAccepted() public {
        uint256 id = _offer(1000, 500, 0, 1 hours);
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, 0, uint64(block.timestamp));
        vm.prank(factory);
        vm.expectRevert(abi.encodeWithSelector(IMachineLease.DepositTooLow.selector, 499, 500));
        lease.accept(id, 499, r, sig);
        vm.warp(info(id).tariff.validUntil);
        _accept(id, 500);
        require(info(id).status == IMachineLease.Status.Active && lease.available(id) == 500, "accepted");
    }

    function test_aZeroDepositIsRefusedEvenWithoutAMinimum() public {
        uint256 id = _offer(1, 0, 0, 1 hours);
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, 0, uint64(block.timestamp));
        vm.prank(factory);
        vm.expectRevert(abi.encodeWithSelector(IMachineLease.DepositTooLow.selector, 0, 0));
        lease.accept(id, 0, r, sig);
    }

    function test_usingUpTheDepositExactlyPausesAndATopUpResumes() public {
        uint256 id = _offer(1, 0, 0, 1 days); // 1 token per 1000 ticks
        _accept(id, 100);
        vm.warp(block.timestamp + 10);
        _report(id, 99_000, uint64(block.timestamp));
        require(info(id).status == IMachineLease.Status.Active && lease.available(id) == 1, "1 left");
        vm.warp(block.timestamp + 10);
        _report(id, 100_000, uint64(block.timestamp));
        require(info(id).status == IMachineLease.Status.Paused && lease.available(id) == 0 && info(id).unpaid == 0, "used up exactly");
        vm.prank(factory);
        lease.topUp(id, 5);
        require(info(id).status == IMachineLease.Status.Active && lease.available(id) == 5, "resumed");
    }

    function test_totalCapWaivesUsageAboveIt() public {
        uint256 id = _offer(1, 0, 30, 1 days);
        _accept(id, 100);
        vm.warp(block.timestamp + 10);
        _report(id, 50_000, uint64(block.timestamp));
        require(info(id).charged == 30 && info(id).unpaid == 0, "capped at 30");
    }

    function test_aFinalReadingMayBeAtMostTheMaximumAgeOld() public {
        uint256 id = _offer(1, 0, 0, 30 days);
        _accept(id, 100);
        vm.warp(block.timestamp + 2 days);
        uint64 oldest = uint64(block.timestamp) - lease.FINAL_READING_MAX_AGE();
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, 1_000, oldest - 1);
        vm.prank(factory);
        vm.expectRevert(abi.encodeWithSelector(IMachineLease.StaleFinalReading.selector, oldest - 1, oldest));
        lease.close(id, r, sig);
        (r, sig) = signed(id, 1_000, oldest);
        vm.prank(factory);
        lease.close(id, r, sig);
        require(info(id).status == IMachineLease.Status.Closing && registry.deviceLock(MACHINE).holder == address(0), "closed, keys unlocked");
    }

    function test_disputeAndRefundEdgesOfTheWindow() public {
        uint256 id = _offer(1, 0, 0, 30 days);
        _accept(id, 100);
        uint64 t0 = uint64(block.timestamp);
        vm.warp(t0 + 100);
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, 10_000, t0 + 50); // withheld a fresher reading
        vm.prank(factory);
        lease.close(id, r, sig);
        uint64 closedAt = info(id).closedAt;
        uint64 endsAt = closedAt + lease.DISPUTE_WINDOW();
        (r, sig) = signed(id, 20_000, closedAt + 1);
        vm.expectRevert(abi.encodeWithSelector(IMachineLease.ReadingAfterClose.selector, closedAt + 1, closedAt));
        lease.reportUsage(r, sig);
        vm.warp(endsAt - 1);
        _report(id, 20_000, closedAt); // taken at the close: still disputable
        require(info(id).charged == 20, "dispute charged");
        vm.prank(factory);
        vm.expectRevert(abi.encodeWithSelector(IMachineLease.DisputeWindowOpen.selector, id, endsAt));
        lease.claimRefund(id);
        vm.warp(endsAt);
        (r, sig) = signed(id, 30_000, closedAt);
        vm.expectRevert(abi.encodeWithSelector(IMachineLease.DisputeWindowClosed.selector, id, endsAt));
        lease.reportUsage(r, sig);
        vm.prank(factory);
        require(lease.claimRefund(id) == 80, "the rest is refunded at the end of the window");
        require(token.balanceOf(address(lease)) == 20 && token.balanceOf(factory) == FUNDS - 20, "balances");
    }
}
