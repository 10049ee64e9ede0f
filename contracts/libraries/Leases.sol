// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IMachineLease} from "../interfaces/IMachineLease.sol";

/// @title Lease accounting over a storage book: offers, deposits, charges, caps, pauses, closing, refunds
/// @dev Invariant per lease: charged + refunded + available == deposited, with available = deposited - charged -
/// refunded >= 0; the contract holds deposited - withdrawn - refunded; earnings = charged - withdrawn.
/// Token transfers happen in the contract, after these effects (checks-effects-interactions).
library Leases {
    uint256 internal constant UNIT_SCALE = 1000;
    uint64 internal constant DISPUTE_WINDOW = 3 days;
    uint64 internal constant FINAL_READING_MAX_AGE = 1 hours;

    struct Book {
        mapping(uint256 => IMachineLease.LeaseInfo) items;
        mapping(bytes32 => uint256) active; // machine id -> its open lease (offered .. until close)
        uint256 count;
    }

    function get(Book storage book, uint256 id) internal view returns (IMachineLease.LeaseInfo storage l) {
        l = book.items[id];
        if (l.status == IMachineLease.Status.None) revert IMachineLease.UnknownLease(id);
    }

    function available(IMachineLease.LeaseInfo storage l) internal view returns (uint256) {
        return l.deposited - l.charged - l.refunded;
    }

    function held(IMachineLease.LeaseInfo storage l) internal view returns (uint256) {
        return l.deposited - l.withdrawn - l.refunded;
    }

    function requireStatus(IMachineLease.LeaseInfo storage l, uint256 id, IMachineLease.Status status) internal view {
        if (l.status != status) revert IMachineLease.WrongStatus(id, l.status);
    }

    function requireRunning(IMachineLease.LeaseInfo storage l, uint256 id) internal view {
        if (l.status != IMachineLease.Status.Active && l.status != IMachineLease.Status.Paused) revert IMachineLease.WrongStatus(id, l.status);
    }

    /// @dev Emits LeaseOffered.
    function create(Book storage book, bytes32 machineId, bytes32 ownerOrg, address owner, IMachineLease.Tariff calldata t) internal returns (uint256 id) {
        uint256 open = book.active[machineId];
        if (open != 0) revert IMachineLease.MachineLeased(machineId, open);
        if (t.unitPrice == 0) revert IMachineLease.InvalidTariff("unit price is zero");
        if (t.validUntil <= block.timestamp) revert IMachineLease.InvalidTariff("term already ended");
        id = ++book.count;
        IMachineLease.LeaseInfo storage l = book.items[id];
        l.machineId = machineId;
        l.ownerOrg = ownerOrg;
        l.owner = owner;
        l.status = IMachineLease.Status.Offered;
        l.tariff = t;
        book.active[machineId] = id;
        emit IMachineLease.LeaseOffered(id, machineId, ownerOrg, owner, t);
    }

    /// @dev Emits OfferCancelled.
    function cancel(Book storage book, uint256 id) internal {
        IMachineLease.LeaseInfo storage l = get(book, id);
        requireStatus(l, id, IMachineLease.Status.Offered);
        l.status = IMachineLease.Status.Cancelled;
        delete book.active[l.machineId];
        emit IMachineLease.OfferCancelled(id);
    }

    /// @dev Emits LeaseAccepted. The opening reading is the baseline: usage before it is not charged.
    function start(IMachineLease.LeaseInfo storage l, uint256 id, bytes32 lesseeOrg, uint256 deposit, uint256 counter, uint64 readAt) internal {
        requireStatus(l, id, IMachineLease.Status.Offered);
        if (block.timestamp > l.tariff.validUntil) revert IMachineLease.TermEnded(id, l.tariff.validUntil);
        if (deposit == 0 || deposit < l.tariff.minDeposit) revert IMachineLease.DepositTooLow(deposit, l.tariff.minDeposit);
        if (readAt > block.timestamp) revert IMachineLease.FutureReading(readAt, uint64(block.timestamp));
        l.lesseeOrg = lesseeOrg;
        l.lessee = msg.sender;
        l.status = IMachineLease.Status.Active;
        l.startedAt = uint64(block.timestamp);
        l.lastCounter = counter;
        l.lastReadAt = readAt;
        l.deposited = deposit;
        emit IMachineLease.LeaseAccepted(id, lesseeOrg, msg.sender, deposit, counter, readAt);
    }

    /// @notice Charge the increase of a verified cumulative counter.
    /// @dev Emits UsageCharged, and LeasePaused when the deposit is used up.
    function charge(IMachineLease.LeaseInfo storage l, uint256 id, address device, uint256 counter, uint64 readAt) internal {
        _checkReading(l, id, counter, readAt);
        uint256 price = l.tariff.unitPrice;
        uint256 gross = Math.mulDiv(counter, price, UNIT_SCALE) - Math.mulDiv(l.lastCounter, price, UNIT_SCALE);
        uint256 billable = _applyCap(l, gross, readAt);
        uint256 left = available(l);
        uint256 paid = Math.min(billable, left);
        l.charged += paid;
        l.unpaid += billable - paid;
        emit IMachineLease.UsageCharged(id, device, counter, counter - l.lastCounter, l.lastReadAt, readAt, paid, gross - billable, billable - paid);
        l.lastCounter = counter;
        l.lastReadAt = readAt;
        if (l.status == IMachineLease.Status.Active && paid == left) {
            l.status = IMachineLease.Status.Paused;
            emit IMachineLease.LeasePaused(id, l.unpaid);
        }
    }

    /// @dev Emits ToppedUp, and LeaseResumed when nothing is owed any more and deposit is left.
    function topUp(IMachineLease.LeaseInfo storage l, uint256 id, uint256 amount) internal {
        requireRunning(l, id);
        if (amount == 0) revert IMachineLease.ZeroAmount();
        if (block.timestamp > l.tariff.validUntil) revert IMachineLease.TermEnded(id, l.tariff.validUntil);
        uint256 settled = Math.min(l.unpaid, amount);
        l.deposited += amount;
        l.unpaid -= settled;
        l.charged += settled;
        emit IMachineLease.ToppedUp(id, msg.sender, amount, settled);
        if (l.status == IMachineLease.Status.Paused && l.unpaid == 0 && available(l) > 0) {
            l.status = IMachineLease.Status.Active;
            emit IMachineLease.LeaseResumed(id);
        }
    }

    /// @dev Emits EarningsWithdrawn. Returns what the contract must transfer.
    function takeEarnings(IMachineLease.LeaseInfo storage l, uint256 id, address to) internal returns (uint256 amount) {
        amount = l.charged - l.withdrawn;
        if (amount == 0) revert IMachineLease.NothingToWithdraw(id);
        l.withdrawn += amount;
        emit IMachineLease.EarningsWithdrawn(id, to, amount);
    }

    /// @dev A final reading must have been taken at most FINAL_READING_MAX_AGE before the close: a closer holding
    /// back the device's later readings cannot pass an old one off as the last (the counterparty could not answer it
    /// with a fresher one if the closer kept those to itself).
    function requireFreshFinal(uint64 readAt) internal view {
        if (uint256(readAt) + FINAL_READING_MAX_AGE < block.timestamp) {
            revert IMachineLease.StaleFinalReading(readAt, uint64(block.timestamp - FINAL_READING_MAX_AGE));
        }
    }

    /// @dev Emits LeaseClosing; frees the machine for a new offer.
    function beginClose(Book storage book, IMachineLease.LeaseInfo storage l, uint256 id) internal {
        requireRunning(l, id);
        l.status = IMachineLease.Status.Closing;
        l.closedAt = uint64(block.timestamp);
        delete book.active[l.machineId];
        emit IMachineLease.LeaseClosing(id, msg.sender, l.closedAt, l.closedAt + DISPUTE_WINDOW);
    }

    /// @dev Emits Refunded. Returns what the contract must transfer (may be 0: the lease still closes).
    function takeRefund(IMachineLease.LeaseInfo storage l, uint256 id, address to) internal returns (uint256 amount) {
        requireStatus(l, id, IMachineLease.Status.Closing);
        uint64 endsAt = l.closedAt + DISPUTE_WINDOW;
        if (block.timestamp < endsAt) revert IMachineLease.DisputeWindowOpen(id, endsAt);
        amount = available(l);
        l.refunded += amount;
        l.status = IMachineLease.Status.Closed;
        emit IMachineLease.Refunded(id, to, amount);
    }

    function _checkReading(IMachineLease.LeaseInfo storage l, uint256 id, uint256 counter, uint64 readAt) private view {
        IMachineLease.Status s = l.status;
        if (s == IMachineLease.Status.Closing) _checkDispute(l, id, readAt);
        else requireRunning(l, id);
        if (readAt <= l.lastReadAt) revert IMachineLease.StaleReading(readAt, l.lastReadAt);
        if (counter < l.lastCounter) revert IMachineLease.CounterRollback(counter, l.lastCounter);
        if (readAt > block.timestamp) revert IMachineLease.FutureReading(readAt, uint64(block.timestamp));
    }

    /// @dev While closing, anyone may still submit a reading taken before the close (a fresher one than the
    /// lessee's final reading), until the dispute window ends.
    function _checkDispute(IMachineLease.LeaseInfo storage l, uint256 id, uint64 readAt) private view {
        uint64 endsAt = l.closedAt + DISPUTE_WINDOW;
        if (block.timestamp >= endsAt) revert IMachineLease.DisputeWindowClosed(id, endsAt);
        if (readAt > l.closedAt) revert IMachineLease.ReadingAfterClose(readAt, l.closedAt);
    }

    /// @dev The cap limits the billable amount per cap period (index from lease start, by reading time) or in
    /// total when capPeriod is 0. A reading's whole increase counts in the period its `readAt` falls in.
    function _applyCap(IMachineLease.LeaseInfo storage l, uint256 gross, uint64 readAt) private returns (uint256 billable) {
        uint256 cap = l.tariff.cap;
        if (cap == 0) return gross;
        uint64 p = l.tariff.capPeriod;
        if (p != 0) {
            uint256 index = readAt > l.startedAt ? (readAt - l.startedAt) / p : 0;
            if (index != l.period) (l.period, l.periodCharged) = (index, 0);
        }
        billable = Math.min(gross, cap - l.periodCharged);
        l.periodCharged += billable;
    }
}
