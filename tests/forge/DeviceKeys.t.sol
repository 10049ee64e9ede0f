// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {IConsortiumErrors} from "../../contracts/interfaces/IConsortiumErrors.sol";
import {IConsortiumRegistry} from "../../contracts/interfaces/IConsortiumRegistry.sol";
import {Base} from "./Base.sol";

/// @dev Random binds, rotations and revocations of machine m1's device key by its manufacturer, by its operator and
/// by another manufacturer; lease locks and unlocks (the handler is the trusted lease contract), approvals by the
/// lessee and by others; time warps. Records the first broken rule in `violation`.
contract DeviceKeysHandler is Base {
    bytes32 internal constant MACHINE = bytes32("m1");
    bytes32 internal constant FACTORY = bytes32("factory");
    uint256 internal constant MAX_POINTS = 64;

    ConsortiumRegistry public registry;
    string public violation;
    uint64[] public points; // every window edge seen, where two keys could overlap
    address internal maker = vm.addr(31);
    address internal factory = vm.addr(32);
    address internal otherMaker = vm.addr(33);
    uint256 internal nextKey = 1000;
    mapping(address => bool) internal seen;
    mapping(address => uint64) internal seenFrom;
    mapping(address => uint64) internal seenUntil;
    mapping(address => bool) internal seenRevoked;

    constructor() {
        registry = deployFleet(maker, factory, MACHINE);
        admit(registry, 2, bytes32("other-maker"), MANUFACTURER | OPERATOR, otherMaker);
        trustLease(registry, 2, address(this));
    }

    function pointCount() external view returns (uint256) {
        return points.length;
    }

    function bind(uint256 who) external {
        address actor = _actor(who);
        address key = vm.addr(nextKey++);
        bytes32 before = _state();
        vm.prank(actor);
        try registry.registerDevice(key, MACHINE) {} catch {}
        _judge(actor, before);
    }

    function rotate(uint256 who, uint256 delay) external {
        address actor = _actor(who);
        address key = vm.addr(nextKey++);
        uint64 at = delay % 4 == 0 ? 0 : uint64(block.timestamp + bound(delay, 0, 3 days)) - uint64(delay % 3); // sometimes in the past
        bytes32 before = _state();
        vm.prank(actor);
        try registry.rotateDevice(MACHINE, key, at) {} catch {}
        _judge(actor, before);
    }

    function revoke(uint256 who, uint256 which) external {
        address[] memory keys = registry.deviceKeys(MACHINE);
        if (keys.length == 0) return;
        address actor = _actor(who);
        bytes32 before = _state();
        vm.prank(actor);
        try registry.revokeDevice(keys[bound(which, 0, keys.length - 1)]) {} catch {}
        _judge(actor, before);
    }

    function lock() external {
        try registry.lockDevices(MACHINE, FACTORY) {} catch {}
    }

    function unlock() external {
        try registry.unlockDevices(MACHINE) {} catch {}
    }

    /// @dev The lessee (or, `who` odd, another org) approves the waiting change.
    function approve(uint256 who) external {
        (, bytes32 hash) = registry.pendingDeviceChange(MACHINE);
        address actor = who % 2 == 0 ? factory : _actor(who);
        bytes32 before = _state();
        vm.prank(actor);
        try registry.approveDeviceChange(MACHINE, hash) {
            if (actor != factory) _violate("a non-lessee approved a device change");
        } catch {}
        if (actor != factory && _state() != before) _violate("a change applied without the lessee's approval");
        _record();
    }

    function warp(uint256 dt) external {
        vm.warp(block.timestamp + bound(dt, 1, 2 days));
    }

    /// @dev Who acts: the manufacturer, the operator (lessee) or another manufacturer org.
    function _actor(uint256 who) private view returns (address) {
        uint256 w = who % 3;
        return w == 0 ? maker : w == 1 ? factory : otherMaker;
    }

    /// @dev A change of the keys is the manufacturer's alone, and while locked it only waits for the lessee.
    function _judge(address actor, bytes32 before) private {
        bool changed = _state() != before;
        if (changed && actor != maker) _violate("a non-manufacturer changed a device key");
        if (changed && registry.deviceLock(MACHINE).holder != address(0)) _violate("a device key changed under a lease lock without the lessee");
        _record();
    }

    /// @dev Hash of every key binding of the machine (not the waiting change).
    function _state() private view returns (bytes32 h) {
        address[] memory keys = registry.deviceKeys(MACHINE);
        h = keccak256(abi.encode(keys.length));
        for (uint256 i = 0; i < keys.length; i++) h = keccak256(abi.encode(h, keys[i], registry.deviceKey(keys[i])));
    }

    /// @dev Windows never change after the fact: validFrom is fixed, validUntil is set once and not into the past,
    /// a revocation stays.
    function _record() private {
        address[] memory keys = registry.deviceKeys(MACHINE);
        for (uint256 i = 0; i < keys.length; i++) {
            IConsortiumRegistry.DeviceKey memory k = registry.deviceKey(keys[i]);
            address a = keys[i];
            if (!seen[a]) {
                (seen[a], seenFrom[a], seenUntil[a], seenRevoked[a]) = (true, k.validFrom, k.validUntil, k.revoked);
                if (k.validFrom < block.timestamp) _violate("a key bound with a window starting in the past");
                _point(k.validFrom);
                continue;
            }
            if (k.validFrom != seenFrom[a]) _violate("a key's validFrom changed");
            if (seenUntil[a] != 0 && k.validUntil != seenUntil[a]) _violate("a key's validUntil changed twice");
            if (seenUntil[a] == 0 && k.validUntil != 0) {
                if (k.validUntil < block.timestamp) _violate("a key was rotated out retroactively");
                seenUntil[a] = k.validUntil;
                _point(k.validUntil);
            }
            if (seenRevoked[a] && !k.revoked) _violate("a revocation was undone");
            seenRevoked[a] = k.revoked;
        }
    }

    function _point(uint64 t) private {
        if (points.length >= MAX_POINTS) return;
        points.push(t);
        if (t > 0) points.push(t - 1);
    }

    function _violate(string memory what) private {
        if (bytes(violation).length == 0) violation = what;
    }
}

contract DeviceKeysInvariantTest is Base {
    DeviceKeysHandler internal handler;
    ConsortiumRegistry internal registry;

    function setUp() public {
        handler = new DeviceKeysHandler();
        registry = handler.registry();
    }

    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    function invariant_rules() public view {
        require(bytes(handler.violation()).length == 0, handler.violation());
        address[] memory keys = registry.deviceKeys(bytes32("m1"));
        require(keys.length <= 200, "history grows only with the manufacturer's changes");
        uint256 n = handler.pointCount();
        for (uint256 p = 0; p <= n; p++) {
            uint64 t = p == n ? uint64(block.timestamp) : handler.points(p);
            uint256 valid = 0;
            for (uint256 i = 0; i < keys.length; i++) {
                try registry.requireDeviceAt(bytes32("m1"), keys[i], t) {
                    valid++;
                } catch {}
            }
            require(valid <= 1, "two device keys sign for one machine at the same time");
        }
        (IConsortiumRegistry.DeviceChange memory c, ) = registry.pendingDeviceChange(bytes32("m1"));
        require(c.requestedBy == address(0) || registry.deviceLock(bytes32("m1")).holder != address(0), "a change waits on an unlocked machine");
    }
}

/// @dev The named refusals and the approval path, one by one.
contract DeviceKeysRulesTest is Base {
    bytes32 internal constant MACHINE = bytes32("m1");
    ConsortiumRegistry internal registry;
    address internal maker = vm.addr(31);
    address internal factory = vm.addr(32);
    address internal lease = vm.addr(40);
    address internal k1 = vm.addr(41);
    address internal k2 = vm.addr(42);

    function setUp() public {
        registry = deployFleet(maker, factory, MACHINE);
        vm.prank(maker);
        registry.registerDevice(k1, MACHINE);
        trustLease(registry, 2, lease);
    }

    function test_theOperatorCannotBindRotateOrRevoke() public {
        vm.startPrank(factory);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.NotManufacturer.selector, MACHINE, factory));
        registry.registerDevice(k2, MACHINE);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.NotManufacturer.selector, MACHINE, factory));
        registry.rotateDevice(MACHINE, k2, 0);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.NotManufacturer.selector, MACHINE, factory));
        registry.revokeDevice(k1);
        vm.stopPrank();
    }

    function test_aRotationSplitsReadingTimesAtItsPoint() public {
        uint64 at = uint64(block.timestamp + 100);
        vm.prank(maker);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.MachineHasDevice.selector, MACHINE, k1));
        registry.registerDevice(k2, MACHINE);
        vm.prank(maker);
        registry.rotateDevice(MACHINE, k2, at);
        registry.requireDeviceAt(MACHINE, k1, at - 1);
        registry.requireDeviceAt(MACHINE, k2, at);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.DeviceNotValidAt.selector, k1, at, uint64(1_000_000), at));
        registry.requireDeviceAt(MACHINE, k1, at);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.DeviceNotValidAt.selector, k2, at - 1, at, uint64(0)));
        registry.requireDeviceAt(MACHINE, k2, at - 1);
    }

    function test_aRotationCannotReachIntoThePast() public {
        vm.warp(block.timestamp + 50);
        vm.prank(maker);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.InvalidRotationTime.selector, uint64(block.timestamp - 1), uint64(block.timestamp)));
        registry.rotateDevice(MACHINE, k2, uint64(block.timestamp - 1));
    }

    function test_underALockAChangeWaitsForTheLessee() public {
        vm.prank(lease);
        registry.lockDevices(MACHINE, bytes32("factory"));
        vm.warp(block.timestamp + 1); // a rotation point lies after the current key's start
        vm.prank(maker);
        registry.rotateDevice(MACHINE, k2, 0);
        (IConsortiumRegistry.DeviceChange memory c, bytes32 hash) = registry.pendingDeviceChange(MACHINE);
        require(c.device == k2 && c.oldDevice == k1 && registry.deviceKeys(MACHINE).length == 1, "waits");
        vm.prank(maker);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.NotMachineLessee.selector, MACHINE, maker));
        registry.approveDeviceChange(MACHINE, hash);
        vm.prank(factory);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumRegistry.NoPendingChange.selector, MACHINE, bytes32(uint256(1))));
        registry.approveDeviceChange(MACHINE, bytes32(uint256(1)));
        vm.warp(block.timestamp + 10);
        vm.prank(factory);
        registry.approveDeviceChange(MACHINE, hash);
        require(registry.deviceKeys(MACHINE).length == 2 && registry.deviceKey(k2).validFrom == block.timestamp, "rotated when approved");
    }

    function test_onlyATrustedLeaseContractLocksAndOnlyTheHolderUnlocks() public {
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.NotLeaseContract.selector, address(this)));
        registry.lockDevices(MACHINE, bytes32("factory"));
        vm.prank(lease);
        registry.lockDevices(MACHINE, bytes32("factory"));
        vm.prank(lease);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.MachineLocked.selector, MACHINE, lease));
        registry.lockDevices(MACHINE, bytes32("factory"));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.MachineLocked.selector, MACHINE, lease));
        registry.unlockDevices(MACHINE);
        vm.prank(lease);
        registry.unlockDevices(MACHINE);
        require(registry.deviceLock(MACHINE).holder == address(0), "unlocked");
    }

    function test_noLeaseLocksAMachineWhoseAnnouncedRotationIsStillAhead() public {
        uint64 at = uint64(block.timestamp + 1000);
        vm.prank(maker);
        registry.rotateDevice(MACHINE, k2, at);
        vm.prank(lease);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.RotationScheduled.selector, MACHINE, at));
        registry.lockDevices(MACHINE, bytes32("factory"));
        vm.warp(at);
        vm.prank(lease);
        registry.lockDevices(MACHINE, bytes32("factory"));
    }

    function test_aBindAfterARevokedScheduledKeyDoesNotOverlapTheOldKey() public {
        uint64 at = uint64(block.timestamp + 1000);
        vm.startPrank(maker);
        registry.rotateDevice(MACHINE, k2, at);
        registry.revokeDevice(k2); // the scheduled key is lost before it starts
        address k3 = vm.addr(43);
        registry.registerDevice(k3, MACHINE);
        vm.stopPrank();
        require(registry.deviceKey(k3).validFrom == at, "starts where the old key ends");
        registry.requireDeviceAt(MACHINE, k1, at - 1);
        registry.requireDeviceAt(MACHINE, k3, at);
    }
}
