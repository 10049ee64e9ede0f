// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {IMachineLease} from "./interfaces/IMachineLease.sol";
import {Leases} from "./libraries/Leases.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title MachineLease: pay-per-use leases of registered machines, settled in the consortium token
/// @notice The contract replaces the trusted third party of a machine lease: it holds the lessee's deposit,
/// charges device-signed cumulative usage at the offered tariff, pays the manufacturer by pull payment and
/// refunds the remainder after closing. Both sides see every step as events. See IMachineLease.
contract MachineLease is IMachineLease, RegistryGated, EIP712, ReentrancyGuard {
    using Leases for Leases.Book;
    using Leases for IMachineLease.LeaseInfo;
    using SafeERC20 for IERC20;

    bytes32 public constant USAGE_TYPEHASH = keccak256("UsageReport(uint256 leaseId,bytes32 machineId,uint256 counter,uint64 readAt)");
    uint256 public constant UNIT_SCALE = Leases.UNIT_SCALE;
    uint64 public constant DISPUTE_WINDOW = Leases.DISPUTE_WINDOW;
    uint64 public constant FINAL_READING_MAX_AGE = Leases.FINAL_READING_MAX_AGE;

    IERC20 private immutable _token;
    Leases.Book private _book;

    /// @param registry Who may act (manufacturers offer, operators accept) and which device belongs to which machine.
    /// @param token The settlement token (ConsortiumToken).
    constructor(IConsortiumRegistry registry, IERC20 token) RegistryGated(registry) EIP712("fedpm MachineLease", "1") {
        _token = token;
    }

    /// @notice Offer `machineId` for lease at `tariff`.
    /// Requirements: caller's org holds MANUFACTURER (onlyRole) and is the machine's manufacturer; no open lease
    /// on the machine; unit price > 0; term not over. Emits LeaseOffered.
    function offer(bytes32 machineId, Tariff calldata tariff) external onlyRole(Roles.MANUFACTURER) returns (uint256 leaseId) {
        bytes32 org = _requireManufacturer(machineId);
        return _book.create(machineId, org, msg.sender, tariff);
    }

    /// @notice Withdraw an offer nobody accepted. Requirements: owner org; status Offered. Emits OfferCancelled.
    function cancelOffer(uint256 leaseId) external {
        _requireOwner(_book.get(leaseId), leaseId);
        _book.cancel(leaseId);
    }

    /// @notice Accept an offer, pay `deposit` (approve it first) and set the opening counter; locks the machine's
    /// device keys in the registry until the close, so that a key change needs the lessee's approval.
    /// Requirements: caller's org holds OPERATOR (onlyRole) and operates the machine; status Offered; term not
    /// over; deposit >= minDeposit and > 0; `opening` signed by the machine's device key (as in reportUsage); this
    /// contract is a lease contract the governors trust (NotLeaseContract), no other lease locks the machine
    /// (MachineLocked) and no announced key rotation is still to take effect (RotationScheduled).
    /// Emits LeaseAccepted (and the registry's DevicesLocked).
    function accept(uint256 leaseId, uint256 deposit, UsageReport calldata opening, bytes calldata signature) external nonReentrant onlyRole(Roles.OPERATOR) {
        LeaseInfo storage l = _book.get(leaseId);
        bytes32 org = _requireOperator(l, leaseId);
        _verify(l, leaseId, opening, signature);
        l.start(leaseId, org, deposit, opening.counter, opening.readAt);
        registry().lockDevices(l.machineId, org);
        _token.safeTransferFrom(msg.sender, address(this), deposit);
    }

    /// @notice Charge a device-signed cumulative reading; anyone may submit it.
    /// Requirements: report names this lease and machine (WrongLease); signer is the leased machine's device key
    /// for the reading's time (ConsortiumRegistry.requireDeviceAt: UnknownDevice, DeviceOfAnotherMachine,
    /// DeviceNotActive, DeviceNotValidAt; across a rotation the old key signs readings stamped before it);
    /// readAt newer than the last reading (replays are stale) and not in the future; counter not below the last;
    /// status Active or Paused, or Closing with a reading taken before the close and the dispute window open.
    /// Emits UsageCharged; LeasePaused when the deposit runs out.
    function reportUsage(UsageReport calldata report, bytes calldata signature) external {
        LeaseInfo storage l = _book.get(report.leaseId);
        address device = _verify(l, report.leaseId, report, signature);
        l.charge(report.leaseId, device, report.counter, report.readAt);
    }

    /// @notice Add `amount` to the deposit (approve it first); settles unpaid usage first.
    /// Requirements: caller's org is the lessee; status Active or Paused; term not over; amount > 0.
    /// Emits ToppedUp; LeaseResumed when nothing is owed any more.
    function topUp(uint256 leaseId, uint256 amount) external nonReentrant {
        LeaseInfo storage l = _book.get(leaseId);
        _requireLessee(l, leaseId);
        l.topUp(leaseId, amount);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Pull the owner's earnings (charged - withdrawn) to the caller.
    /// Requirements: caller's org is the owner, or the owner org left the consortium and the caller is the account
    /// that offered the lease; something to withdraw. Emits EarningsWithdrawn.
    function withdraw(uint256 leaseId) external nonReentrant returns (uint256 amount) {
        LeaseInfo storage l = _book.get(leaseId);
        if (!_isLeftAccount(l.ownerOrg, l.owner)) _requireOwner(l, leaseId);
        amount = l.takeEarnings(leaseId, msg.sender);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @notice Close with a final device-signed reading (charged like any reading) taken at most
    /// FINAL_READING_MAX_AGE before the close, so no closer can pass an old reading off as the last one; during the
    /// following DISPUTE_WINDOW anyone may still submit a fresher reading taken before the close, then the refund
    /// follows. Releases the machine's device-key lock. Requirements: lessee org, or owner org once the term is
    /// over; status Active or Paused; the final reading is fresh (StaleFinalReading) and valid as in reportUsage.
    /// Emits UsageCharged, LeaseClosing (and the registry's DevicesUnlocked).
    function close(uint256 leaseId, UsageReport calldata finalReading, bytes calldata signature) external {
        LeaseInfo storage l = _book.get(leaseId);
        _requireCloser(l, leaseId);
        Leases.requireFreshFinal(finalReading.readAt);
        address device = _verify(l, leaseId, finalReading, signature);
        l.charge(leaseId, device, finalReading.counter, finalReading.readAt);
        _book.beginClose(l, leaseId);
        registry().unlockDevices(l.machineId);
    }

    /// @notice Pull the uncharged deposit to the caller after the dispute window; closes the lease.
    /// Requirements: caller's org is the lessee, or the lessee org left the consortium and the caller is the
    /// account that paid the deposit; status Closing; window over. Emits Refunded.
    function claimRefund(uint256 leaseId) external nonReentrant returns (uint256 amount) {
        LeaseInfo storage l = _book.get(leaseId);
        if (!_isLeftAccount(l.lesseeOrg, l.lessee)) _requireLessee(l, leaseId);
        amount = l.takeRefund(leaseId, msg.sender);
        if (amount > 0) _token.safeTransfer(msg.sender, amount);
    }

    // ------------------------------------------------------------------ views

    function lease(uint256 leaseId) external view returns (LeaseInfo memory) {
        return _book.get(leaseId);
    }

    function leaseCount() external view returns (uint256) {
        return _book.count;
    }

    function activeLease(bytes32 machineId) external view returns (uint256) {
        return _book.active[machineId];
    }

    function held(uint256 leaseId) external view returns (uint256) {
        return _book.get(leaseId).held();
    }

    function available(uint256 leaseId) external view returns (uint256) {
        return _book.get(leaseId).available();
    }

    function usageDigest(UsageReport calldata report) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(USAGE_TYPEHASH, report.leaseId, report.machineId, report.counter, report.readAt)));
    }

    function token() external view returns (IERC20) {
        return _token;
    }

    // ------------------------------------------------------------------ internals

    /// @dev The signer must be the leased machine's device key for the reading's time; returns it.
    function _verify(LeaseInfo storage l, uint256 leaseId, UsageReport calldata r, bytes calldata signature) private view returns (address device) {
        if (r.leaseId != leaseId || r.machineId != l.machineId) revert WrongLease(leaseId, r.leaseId, r.machineId);
        device = ECDSA.recover(usageDigest(r), signature);
        registry().requireDeviceAt(l.machineId, device, r.readAt);
    }

    /// @dev The caller's org, if it built the machine (the caller's MANUFACTURER role is checked by onlyRole).
    function _requireManufacturer(bytes32 machineId) private view returns (bytes32 org) {
        IConsortiumRegistry.Machine memory m = registry().machine(machineId);
        if (!m.registered) revert UnknownMachine(machineId);
        org = registry().orgOf(msg.sender);
        if (org != m.manufacturerOrg) revert NotManufacturer(machineId, msg.sender);
    }

    /// @dev The caller's org, if it operates the leased machine (the OPERATOR role is checked by onlyRole).
    function _requireOperator(LeaseInfo storage l, uint256 leaseId) private view returns (bytes32 org) {
        org = registry().orgOf(msg.sender);
        if (org != registry().machine(l.machineId).operatorOrg) revert NotLessee(leaseId, msg.sender);
    }

    /// @dev Whether the caller is `account`, the lease's account of `org`, and `org` is no longer a member: what
    /// is owed to it stays claimable by the account after its org leaves (while the org is in, the org decides).
    function _isLeftAccount(bytes32 org, address account) private view returns (bool) {
        return msg.sender == account && !registry().isActiveOrg(org);
    }

    function _requireOwner(LeaseInfo storage l, uint256 leaseId) private view {
        if (registry().orgOf(msg.sender) != l.ownerOrg) revert NotLeaseOwner(leaseId, msg.sender);
    }

    function _requireLessee(LeaseInfo storage l, uint256 leaseId) private view {
        if (registry().orgOf(msg.sender) != l.lesseeOrg) revert NotLessee(leaseId, msg.sender);
    }

    function _requireCloser(LeaseInfo storage l, uint256 leaseId) private view {
        bytes32 org = registry().orgOf(msg.sender);
        if (org == l.lesseeOrg) return;
        if (org != l.ownerOrg) revert NotLessee(leaseId, msg.sender);
        if (block.timestamp <= l.tariff.validUntil) revert TermNotEnded(leaseId, l.tariff.validUntil);
    }
}
