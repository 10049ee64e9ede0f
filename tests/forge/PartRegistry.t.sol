// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {PartRegistry} from "../../contracts/PartRegistry.sol";
import {IConsortiumErrors} from "../../contracts/interfaces/IConsortiumErrors.sol";
import {IPartRegistry} from "../../contracts/interfaces/IPartRegistry.sol";
import {Base} from "./Base.sol";

/// @dev Part records: the operator of m1 records its parts, once each; nobody else records them.
contract PartRegistryTest is Base {
    bytes32 internal constant MACHINE = bytes32("m1");

    ConsortiumRegistry internal registry;
    PartRegistry internal parts;
    address internal factory = vm.addr(61);
    address internal otherFactory = vm.addr(62);
    address internal maker = vm.addr(63);

    function setUp() public {
        vm.warp(1_000_000);
        registry = deployRegistry(3, 2);
        admit(registry, 2, bytes32("maker"), MANUFACTURER, maker);
        admit(registry, 2, bytes32("factory"), OPERATOR, factory);
        admit(registry, 2, bytes32("other"), OPERATOR, otherFactory);
        vm.prank(factory);
        registry.registerMachine(MACHINE, bytes32("maker"), bytes32(0));
        parts = new PartRegistry(registry);
    }

    function testFuzz_theOperatorRecordsAPartOnceAndItReadsBack(bytes32 partId, bytes32 recordHash, bytes32 other) public {
        vm.assume(partId != bytes32(0) && recordHash != bytes32(0) && other != bytes32(0));
        vm.prank(factory);
        parts.recordPart(partId, MACHINE, recordHash);
        IPartRegistry.Part memory p = parts.part(partId);
        require(p.machineId == MACHINE && p.recordHash == recordHash && p.recorder == factory && p.time == 1_000_000, "stored");
        vm.prank(factory);
        vm.expectRevert(abi.encodeWithSelector(IPartRegistry.PartExists.selector, partId));
        parts.recordPart(partId, MACHINE, other);
        require(parts.part(partId).recordHash == recordHash, "a record is never replaced");
    }

    function test_nobodyButTheMachinesOperatorRecordsItsParts() public {
        vm.prank(otherFactory); // an operator, of other machines
        vm.expectRevert(abi.encodeWithSelector(IPartRegistry.NotPartRecorder.selector, MACHINE, otherFactory));
        parts.recordPart(bytes32("p"), MACHINE, bytes32("h"));
        vm.prank(maker); // the machine's manufacturer does not operate it
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.MissingRole.selector, maker, OPERATOR));
        parts.recordPart(bytes32("p"), MACHINE, bytes32("h"));
        vm.prank(vm.addr(99));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.NotMember.selector, vm.addr(99)));
        parts.recordPart(bytes32("p"), MACHINE, bytes32("h"));
        require(parts.part(bytes32("p")).recorder == address(0), "nothing recorded");
    }

    function test_unknownMachinesAndEmptyIdsAreRefused() public {
        vm.startPrank(factory);
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.UnknownMachine.selector, bytes32("m9")));
        parts.recordPart(bytes32("p"), bytes32("m9"), bytes32("h"));
        vm.expectRevert(IPartRegistry.InvalidPart.selector);
        parts.recordPart(bytes32(0), MACHINE, bytes32("h"));
        vm.expectRevert(IPartRegistry.InvalidPart.selector);
        parts.recordPart(bytes32("p"), MACHINE, bytes32(0));
        vm.stopPrank();
    }
}
