// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {ConsortiumToken} from "../../contracts/ConsortiumToken.sol";
import {MachineLease} from "../../contracts/MachineLease.sol";
import {IMachineLease} from "../../contracts/interfaces/IMachineLease.sol";
import {Base, Handler} from "./Base.sol";

/// @dev A manufacturer org, a factory org operating machine m1 whose device key the manufacturer bound, the
/// consortium token (funding the factory) and MachineLease over them, trusted by the governors to lock device keys.
abstract contract LeaseFixture is Base {
    uint256 internal constant DEVICE_KEY = 41;
    uint256 internal constant FUNDS = 1e30;
    bytes32 internal constant MACHINE = bytes32("m1");

    ConsortiumRegistry internal registry;
    ConsortiumToken internal token;
    MachineLease internal lease;
    address internal maker = vm.addr(31);
    address internal factory = vm.addr(32);

    function deployLease() internal {
        registry = deployFleet(maker, factory, MACHINE);
        vm.prank(maker);
        registry.registerDevice(vm.addr(DEVICE_KEY), MACHINE);
        token = new ConsortiumToken(registry);
        lease = new MachineLease(registry, token);
        trustLease(registry, 2, address(lease));
        _fund(factory, FUNDS);
        vm.prank(factory);
        token.approve(address(lease), type(uint256).max);
    }

    /// @dev Writes the balance (and total supply) straight into OpenZeppelin ERC20's storage (slot 0: balances,
    /// slot 2: total supply) rather than minting: who may mint is governance's business and changing.
    function _fund(address to, uint256 amount) private {
        vm.store(address(token), keccak256(abi.encode(to, uint256(0))), bytes32(amount));
        vm.store(address(token), bytes32(uint256(2)), bytes32(amount));
        require(token.balanceOf(to) == amount && token.totalSupply() == amount, "ERC20 storage layout changed: update _fund");
    }

    function tariff(uint128 price, uint128 minDeposit, uint128 cap, uint64 term) internal view returns (IMachineLease.Tariff memory) {
        return IMachineLease.Tariff(bytes32("t"), IMachineLease.Unit.OperatingHour, price, minDeposit, cap, 0, uint64(block.timestamp) + term);
    }

    function signed(uint256 id, uint256 counter, uint64 readAt) internal view returns (IMachineLease.UsageReport memory r, bytes memory sig) {
        r = IMachineLease.UsageReport(id, MACHINE, counter, readAt);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(keyAt(readAt), lease.usageDigest(r));
        sig = abi.encodePacked(rr, s, v);
    }

    /// @dev The private key of the device key that signs readings stamped `readAt` (one key unless rotated).
    function keyAt(uint64) internal view virtual returns (uint256) {
        return DEVICE_KEY;
    }

    function info(uint256 id) internal view returns (IMachineLease.LeaseInfo memory) {
        return lease.lease(id);
    }
}

/// @dev Random offers (with and without a total cap), cancels, accepts, signed readings (also stale, future and
/// rolled back), top-ups, withdrawals, closes (also with stale final readings), disputes, refunds, the
/// manufacturer's device key changes (approved by the lessee or not) and time warps on one machine.
/// Records the first broken rule in `violation`, and what went in and out of the lease contract.
contract LeaseHandler is LeaseFixture, Handler {
    uint256 public paidIn; // deposits and top-ups the lease contract received
    uint256 public paidOut; // withdrawals and refunds it sent
    mapping(uint256 => uint256) public openingCounter;
    uint256[] internal keyPks; // the machine's device keys in binding order ...
    uint64[] internal keyFroms; // ... and the first reading time each signs for

    constructor() {
        deployLease();
        keyPks.push(DEVICE_KEY);
        keyFroms.push(0);
    }

    function keyAt(uint64 readAt) internal view override returns (uint256 pk) {
        for (uint256 i = 0; i < keyPks.length && keyFroms[i] <= readAt; i++) pk = keyPks[i];
    }

    /// @dev The manufacturer rotates the key to a fresh one, revokes it or binds a second one; mid-lease the lessee
    /// approves a rotation when `approve` is odd. Outside a lease only rotations are tried (the lease needs a key).
    function keyChange(uint256 kind, uint256 approve) external {
        IMachineLease.Status s = lease.leaseCount() == 0 ? IMachineLease.Status.None : info(lease.leaseCount()).status;
        bool locked = registry.deviceLock(MACHINE).holder != address(0);
        if (locked != (s == IMachineLease.Status.Active || s == IMachineLease.Status.Paused)) _violate("the key lock does not follow the lease");
        uint256 k = locked ? kind % 3 : 0;
        uint256 fresh = DEVICE_KEY + 1000 + keyPks.length;
        address[] memory before = registry.deviceKeys(MACHINE);
        vm.prank(maker);
        if (k == 0) try registry.rotateDevice(MACHINE, vm.addr(fresh), 0) {} catch {}
        else if (k == 1) try registry.revokeDevice(before[before.length - 1]) {} catch {}
        else try registry.registerDevice(vm.addr(fresh), MACHINE) {} catch {}
        if (locked && registry.deviceKeys(MACHINE).length != before.length) _violate("a device key was bound mid-lease without the lessee");
        if (locked && registry.deviceKey(before[before.length - 1]).revoked) _violate("a device key was revoked mid-lease without the lessee");
        if (locked && k == 0 && approve % 2 == 1) {
            (, bytes32 hash) = registry.pendingDeviceChange(MACHINE);
            vm.prank(factory);
            try registry.approveDeviceChange(MACHINE, hash) {} catch {}
        }
        if (registry.deviceKeys(MACHINE).length > before.length) {
            keyPks.push(fresh);
            keyFroms.push(uint64(block.timestamp));
        }
    }

    function contracts() external view returns (MachineLease, ConsortiumToken) {
        return (lease, token);
    }

    function offer(uint256 price, uint256 minDeposit, uint256 cap, uint256 term) external {
        uint256 open = lease.activeLease(MACHINE);
        uint128 c = cap % 3 == 0 ? 0 : uint128(bound(cap, 1, 50_000));
        vm.prank(maker);
        try lease.offer(MACHINE, tariff(uint128(bound(price, 1, 5000)), uint128(bound(minDeposit, 0, 20_000)), c, uint64(bound(term, 1 hours, 10 days)))) {
            if (open != 0) _violate("a second open lease on one machine");
        } catch {}
    }

    function cancel() external {
        vm.prank(maker);
        try lease.cancelOffer(lease.leaseCount()) {} catch {}
    }

    function accept(uint256 deposit, uint256 counter, uint256 age) external {
        uint256 id = lease.leaseCount();
        if (id == 0) return;
        IMachineLease.LeaseInfo memory l = info(id);
        uint256 d = bound(deposit, 0, 50_000);
        uint256 c = bound(counter, 0, 1e9);
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, c, uint64(block.timestamp - bound(age, 0, 3600)));
        vm.prank(factory);
        try lease.accept(id, d, r, sig) {
            paidIn += d;
            openingCounter[id] = c;
            if (registry.deviceLock(MACHINE).holder != address(lease)) _violate("an accepted lease does not lock the device keys");
            if (d == 0 || d < l.tariff.minDeposit) _violate("accepted with a deposit below the minimum");
            if (block.timestamp > l.tariff.validUntil) _violate("accepted after the term");
        } catch {}
    }

    /// @param kind 0-6: a fresh reading; 7: stale (same readAt); 8: from the future; 9: rolled back
    function report(uint256 delta, uint256 kind, uint256 gap) external {
        uint256 id = lease.leaseCount();
        if (id == 0) return;
        IMachineLease.LeaseInfo memory l = info(id);
        kind = bound(kind, 0, 9);
        uint256 counter = kind == 9 ? (l.lastCounter == 0 ? 0 : l.lastCounter - 1) : l.lastCounter + bound(delta, 0, 20_000);
        uint64 readAt = kind == 7 ? l.lastReadAt : kind == 8 ? uint64(block.timestamp + 1) : uint64(_between(l.lastReadAt + 1, block.timestamp, gap));
        if (l.status == IMachineLease.Status.Closing && kind < 7) readAt = uint64(_between(l.lastReadAt + 1, l.closedAt, gap));
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, counter, readAt);
        try lease.reportUsage(r, sig) {
            if (readAt <= l.lastReadAt) _violate("a stale reading was charged");
            if (readAt > block.timestamp) _violate("a reading from the future was charged");
            if (counter < l.lastCounter) _violate("a rolled-back counter was charged");
            if (l.status == IMachineLease.Status.Closing) {
                if (block.timestamp >= l.closedAt + lease.DISPUTE_WINDOW()) _violate("a dispute after the dispute window");
                if (readAt > l.closedAt) _violate("a dispute with a reading taken after the close");
            }
        } catch {}
    }

    function topUp(uint256 amount) external {
        uint256 id = lease.leaseCount();
        if (id == 0) return;
        IMachineLease.LeaseInfo memory l = info(id);
        uint256 a = bound(amount, 0, 30_000);
        vm.prank(factory);
        try lease.topUp(id, a) {
            paidIn += a;
            if (block.timestamp > l.tariff.validUntil) _violate("a top-up after the term");
        } catch {}
    }

    function withdraw(uint256 which) external {
        uint256 n = lease.leaseCount();
        if (n == 0) return;
        vm.prank(maker);
        try lease.withdraw(bound(which, 1, n)) returns (uint256 amount) {
            paidOut += amount;
        } catch {}
    }

    function close(uint256 delta, uint256 gap) external {
        uint256 id = lease.leaseCount();
        if (id == 0) return;
        IMachineLease.LeaseInfo memory l = info(id);
        (IMachineLease.UsageReport memory r, bytes memory sig) = signed(id, l.lastCounter + bound(delta, 0, 20_000), uint64(_between(l.lastReadAt + 1, block.timestamp, gap)));
        vm.prank(factory);
        try lease.close(id, r, sig) {
            if (uint256(r.readAt) + lease.FINAL_READING_MAX_AGE() < block.timestamp) _violate("a stale final reading closed the lease");
            if (registry.deviceLock(MACHINE).holder != address(0)) _violate("a closing lease still locks the device keys");
        } catch {}
    }

    function claimRefund(uint256 which) external {
        uint256 n = lease.leaseCount();
        if (n == 0) return;
        uint256 id = bound(which, 1, n);
        IMachineLease.LeaseInfo memory l = info(id);
        vm.prank(factory);
        try lease.claimRefund(id) returns (uint256 amount) {
            paidOut += amount;
            if (block.timestamp < l.closedAt + lease.DISPUTE_WINDOW()) _violate("a refund inside the dispute window");
        } catch {}
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 2 days));
    }

    function _between(uint256 lo, uint256 hi, uint256 seed) private pure returns (uint256) {
        return lo > hi ? lo : bound(seed, lo, hi);
    }
}

contract MachineLeaseInvariantTest is Base {
    LeaseHandler internal handler;
    MachineLease internal lease;
    ConsortiumToken internal token;

    function setUp() public {
        handler = new LeaseHandler();
        (lease, token) = handler.contracts();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function invariant_rules() public view {
        require(bytes(handler.violation()).length == 0, handler.violation());
        uint256 deposited = 0;
        uint256 out = 0;
        uint256 heldSum = 0;
        uint256 n = lease.leaseCount();
        for (uint256 id = 1; id <= n; id++) {
            IMachineLease.LeaseInfo memory l = lease.lease(id);
            // conservation: every deposited token is charged, refunded or still available
            require(l.charged + l.refunded <= l.deposited, "charged and refunded more than deposited");
            require(l.withdrawn <= l.charged, "withdrew more than was charged");
            uint256 avail = l.deposited - l.charged - l.refunded;
            require(lease.available(id) == avail && lease.held(id) == l.deposited - l.withdrawn - l.refunded, "available/held views");
            deposited += l.deposited;
            out += l.withdrawn + l.refunded;
            heldSum += l.deposited - l.withdrawn - l.refunded;
            _checkStatus(id, l, avail);
            if (l.status != IMachineLease.Status.Offered && l.status != IMachineLease.Status.Cancelled) _checkBilling(id, l);
        }
        require(deposited == handler.paidIn(), "deposited differs from what the lessee paid in");
        require(out == handler.paidOut(), "withdrawn + refunded differs from what the contract paid out");
        require(token.balanceOf(address(lease)) == heldSum, "the contract's balance differs from what it holds");
    }

    function _checkStatus(uint256 id, IMachineLease.LeaseInfo memory l, uint256 avail) private view {
        IMachineLease.Status s = l.status;
        if (s == IMachineLease.Status.Active) require(l.unpaid == 0 && avail > 0, "active with debt or without deposit left");
        if (s == IMachineLease.Status.Paused) require(l.unpaid > 0 || avail == 0, "paused with deposit left and no debt");
        if (s == IMachineLease.Status.Closed) require(avail == 0, "closed without refunding the rest");
        if (s == IMachineLease.Status.Cancelled || s == IMachineLease.Status.Offered) require(l.deposited == 0, "a deposit on an offer");
        bool open = s == IMachineLease.Status.Offered || s == IMachineLease.Status.Active || s == IMachineLease.Status.Paused;
        require(open == (lease.activeLease(l.machineId) == id), "activeLease does not point at the open lease");
    }

    /// @dev charged + unpaid is the tariff applied to the counter's increase since the opening reading, up to
    /// the total cap (the handler offers no per-period caps).
    function _checkBilling(uint256 id, IMachineLease.LeaseInfo memory l) private view {
        uint256 price = l.tariff.unitPrice;
        uint256 gross = (l.lastCounter * price) / 1000 - (handler.openingCounter(id) * price) / 1000;
        uint256 billed = l.tariff.cap == 0 || gross < l.tariff.cap ? gross : l.tariff.cap;
        require(l.charged + l.unpaid == billed, "charged + unpaid differs from the tariff applied to the usage");
    }
}
