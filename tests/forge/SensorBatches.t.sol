// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ConsortiumRegistry} from "../../contracts/ConsortiumRegistry.sol";
import {SensorBatchRegistry} from "../../contracts/SensorBatchRegistry.sol";
import {IConsortiumErrors} from "../../contracts/interfaces/IConsortiumErrors.sol";
import {ISensorBatchRegistry} from "../../contracts/interfaces/ISensorBatchRegistry.sol";
import {Base} from "./Base.sol";

/// @dev Roots of roots and single signed blocks: a factory org operating machine m1 with one device key; blocks built
/// here byte for byte as fedpm/sensors/encoding.py builds them and signed by the device; batches of 1..8 blocks under
/// one anchor of up to 3 batches. Every block proves; any changed byte, position, count, seq range or signer does not.
contract SensorBatchesTest is Base {
    uint256 internal constant DEVICE_KEY = 51;
    uint256 internal constant STRANGER_KEY = 52;
    bytes32 internal constant MACHINE = bytes32("m1");
    uint64 internal constant T5 = 1_700_000_000_005; // ms: a reading time after the device was bound

    ConsortiumRegistry internal registry;
    SensorBatchRegistry internal sensors;
    address internal factory = vm.addr(33);
    address internal maker = vm.addr(34);

    function setUp() public {
        registry = deployFleet(maker, factory, MACHINE); // at time 1,000,000: the device signs readings from then on
        vm.prank(maker);
        registry.registerDevice(vm.addr(DEVICE_KEY), MACHINE);
        sensors = new SensorBatchRegistry(registry);
    }

    // ------------------------------------------------------------ building blocks, batches, anchors

    /// @dev A block of 2 readings of channel "v", unit "g" (encoding.py's layout).
    function blockOf(address device, uint64 seq, uint64 value) internal pure returns (bytes memory) {
        return abi.encodePacked(bytes4(0x46505301), device, MACHINE, seq, uint16(2), uint8(1), "v", uint8(1), "g",
            uint64(1_700_000_000_000 + seq), uint64(1_700_000_000_001 + seq), value, value + 1);
    }

    function sign(uint256 key, bytes memory data) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, sensors.blockDigest(keccak256(data)));
        return abi.encodePacked(r, s, v);
    }

    function leaf(bytes memory data, bytes memory sig) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x00), keccak256(data), sig));
    }

    function node(bytes32 l, bytes32 r) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x01), l, r));
    }

    /// @dev Root and the proof of leaf `index` over `leaves` (odd nodes promoted, as merkle.py).
    function tree(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32 root, bytes32[] memory proof) {
        bytes32[] memory buf = new bytes32[](16);
        uint256 used = 0;
        bytes32[] memory level = leaves;
        uint256 i = index;
        while (level.length > 1) {
            if (i & 1 == 1) buf[used++] = level[i - 1];
            else if (i + 1 < level.length) buf[used++] = level[i + 1];
            bytes32[] memory up = new bytes32[]((level.length + 1) / 2);
            for (uint256 k = 0; k + 1 < level.length; k += 2) up[k / 2] = node(level[k], level[k + 1]);
            if (level.length % 2 == 1) up[up.length - 1] = level[level.length - 1];
            level = up;
            i >>= 1;
        }
        root = level[0];
        proof = new bytes32[](used);
        for (uint256 k = 0; k < used; k++) proof[k] = buf[k];
    }

    function summaryLeaf(ISensorBatchRegistry.BatchSummary memory b) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(bytes1(0x02), abi.encode(b)));
    }

    struct Fixture {
        ISensorBatchRegistry.Anchor anchor;
        ISensorBatchRegistry.BatchProof batchProof;
        ISensorBatchRegistry.BlockProof blockProof;
    }

    /// @dev `n` blocks of the device (seqs 10..10+n-1) in one batch placed at `batchIndex` of `batches` batches
    /// (the others made-up summaries), anchored by the factory; the proof of block `pick`.
    function anchored(uint256 n, uint256 pick, uint256 batches, uint256 batchIndex) internal returns (Fixture memory f) {
        bytes32 blocksRoot;
        (blocksRoot, f.blockProof) = blocks(n, pick);
        f.batchProof.batch = ISensorBatchRegistry.BatchSummary(
            MACHINE, vm.addr(DEVICE_KEY), 10, uint64(10 + n - 1), uint32(n), uint64(2 * n), 1_700_000_000_010, uint64(1_700_000_000_010 + n), blocksRoot);
        f.batchProof.index = batchIndex;
        bytes32[] memory batchLeaves = new bytes32[](batches);
        for (uint256 k = 0; k < batches; k++) batchLeaves[k] = k == batchIndex ? summaryLeaf(f.batchProof.batch) : keccak256(abi.encode("other", k));
        bytes32 root;
        (root, f.batchProof.siblings) = tree(batchLeaves, batchIndex);
        f.anchor = ISensorBatchRegistry.Anchor(root, uint32(batches), uint64(2 * n * batches), 1_700_000_000_000, 1_700_000_009_999, factory, uint64(block.number));
        vm.prank(factory);
        sensors.anchorRoot(ISensorBatchRegistry.Root(root, f.anchor.batches, f.anchor.readings, f.anchor.fromTime, f.anchor.toTime));
    }

    function blocks(uint256 n, uint256 pick) internal view returns (bytes32 root, ISensorBatchRegistry.BlockProof memory p) {
        bytes32[] memory leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            bytes memory data = blockOf(vm.addr(DEVICE_KEY), uint64(10 + i), uint64(i * 7));
            bytes memory sig = sign(DEVICE_KEY, data);
            leaves[i] = leaf(data, sig);
            if (i == pick) (p.data, p.signature, p.index) = (data, sig, i);
        }
        (root, p.siblings) = tree(leaves, pick);
    }

    // ------------------------------------------------------------ anchoring rules

    function test_aMemberAnchorsOnceAndTheAnchorIsExactlyWhatItSent() public {
        Fixture memory f = anchored(3, 1, 2, 0);
        require(sensors.isAnchored(f.anchor), "anchored");
        f.anchor.submitter = address(1);
        require(!sensors.isAnchored(f.anchor), "another submitter is another anchor");
        vm.prank(factory);
        vm.expectRevert(abi.encodeWithSelector(ISensorBatchRegistry.AlreadyAnchored.selector, f.anchor.root));
        sensors.anchorRoot(ISensorBatchRegistry.Root(f.anchor.root, 1, 1, 0, 0));
    }

    function test_malformedRootsAndOutsidersAreRefused() public {
        vm.startPrank(factory);
        vm.expectRevert(ISensorBatchRegistry.EmptyAnchor.selector);
        sensors.anchorRoot(ISensorBatchRegistry.Root(bytes32(0), 1, 1, 0, 0));
        vm.expectRevert(ISensorBatchRegistry.EmptyAnchor.selector);
        sensors.anchorRoot(ISensorBatchRegistry.Root(bytes32("r"), 0, 0, 0, 0));
        vm.expectRevert(ISensorBatchRegistry.EmptyAnchor.selector);
        sensors.anchorRoot(ISensorBatchRegistry.Root(bytes32("r"), 2, 1, 0, 0));
        vm.expectRevert(abi.encodeWithSelector(ISensorBatchRegistry.InconsistentAnchor.selector, 5, 4));
        sensors.anchorRoot(ISensorBatchRegistry.Root(bytes32("r"), 1, 1, 5, 4));
        sensors.anchorRoot(ISensorBatchRegistry.Root(bytes32("r"), 1, 1, 5, 5)); // one reading at one time: fine
        vm.stopPrank();
        vm.prank(vm.addr(99));
        vm.expectRevert(abi.encodeWithSelector(IConsortiumErrors.NotMember.selector, vm.addr(99)));
        sensors.anchorRoot(ISensorBatchRegistry.Root(bytes32("s"), 1, 1, 0, 0));
    }

    // ------------------------------------------------------------ proofs of single blocks

    function testFuzz_everySignedBlockProvesInItsAnchor(uint256 n, uint256 pick, uint256 batches, uint256 at) public {
        n = bound(n, 1, 8);
        batches = bound(batches, 1, 3);
        Fixture memory f = anchored(n, bound(pick, 0, n - 1), batches, bound(at, 0, batches - 1));
        require(sensors.verifyBatch(f.anchor, f.batchProof), "batch proves");
        require(sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "block proves");
    }

    function testFuzz_anyChangedByteOfTheBlockFails(uint256 n, uint256 pick, uint256 at, uint8 flip) public {
        n = bound(n, 1, 8);
        Fixture memory f = anchored(n, bound(pick, 0, n - 1), 1, 0);
        bytes memory data = f.blockProof.data;
        data[bound(at, 0, data.length - 1)] ^= bytes1(uint8(bound(flip, 1, 255)));
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a changed byte proves");
    }

    function testFuzz_anotherPositionOrCountFails(uint256 n, uint256 pick, uint256 other) public {
        n = bound(n, 2, 8);
        pick = bound(pick, 0, n - 1);
        Fixture memory f = anchored(n, pick, 2, 1);
        f.blockProof.index = (pick + bound(other, 1, n - 1)) % n;
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "another position proves");
        f.blockProof.index = pick;
        f.batchProof.index = 0;
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "another batch position proves");
        f.batchProof.index = 1;
        f.batchProof.batch.blocks += 1;
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "another block count proves");
    }

    function test_aBlockOutsideTheBatchRangeOrOfAnotherMachineFails() public {
        Fixture memory f = anchored(4, 2, 1, 0); // block seq 12
        f.batchProof.batch.firstSeq = 13;
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "seq below the range proves");
        f = anchored(4, 2, 2, 0); // another anchor, same block
        f.batchProof.batch.lastSeq = 11;
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "seq above the range proves");
        f = anchored(4, 2, 3, 1);
        f.batchProof.batch.machineId = bytes32("m2");
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "another machine proves");
    }

    function test_aSignatureOfAnotherKeyOrOfAnUnboundDeviceFails() public {
        Fixture memory f = anchored(3, 1, 1, 0);
        f.blockProof.signature = sign(STRANGER_KEY, f.blockProof.data);
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a stranger's signature proves");
        // a batch entirely of the stranger's own blocks, correctly signed and anchored: not bound to m1
        bytes memory data = blockOf(vm.addr(STRANGER_KEY), 0, 1);
        bytes memory sig = sign(STRANGER_KEY, data);
        ISensorBatchRegistry.BatchSummary memory b = ISensorBatchRegistry.BatchSummary(MACHINE, vm.addr(STRANGER_KEY), 0, 0, 1, 2, 0, 1, leaf(data, sig));
        vm.prank(factory);
        sensors.anchorRoot(ISensorBatchRegistry.Root(summaryLeaf(b), 1, 2, 0, 1));
        ISensorBatchRegistry.Anchor memory a = ISensorBatchRegistry.Anchor(summaryLeaf(b), 1, 2, 0, 1, factory, uint64(block.number));
        require(sensors.isAnchored(a), "anchored");
        require(
            !sensors.verifyBlock(a, ISensorBatchRegistry.BatchProof(b, 0, new bytes32[](0)), ISensorBatchRegistry.BlockProof(data, sig, 0, new bytes32[](0))),
            "an unbound device proves"
        );
    }

    /// @dev One block (seq 7) in its own batch and anchor, signed by the device key; the block's header may name another
    /// device or machine than the batch does, and the batch's summary may claim a range without its seq.
    function single(address named, bytes32 machine, uint64 first, uint64 last) internal returns (Fixture memory f) {
        bytes memory data = abi.encodePacked(bytes4(0x46505301), named, machine, uint64(7), uint16(1), uint8(1), "v", uint8(1), "g", uint64(T5), uint64(7));
        bytes memory sig = sign(DEVICE_KEY, data);
        f.batchProof.batch = ISensorBatchRegistry.BatchSummary(MACHINE, vm.addr(DEVICE_KEY), first, last, 1, 1, T5, T5, leaf(data, sig));
        bytes32 root = summaryLeaf(f.batchProof.batch);
        vm.prank(factory);
        sensors.anchorRoot(ISensorBatchRegistry.Root(root, 1, 1, T5, T5));
        f.anchor = ISensorBatchRegistry.Anchor(root, 1, 1, T5, T5, factory, uint64(block.number));
        f.blockProof = ISensorBatchRegistry.BlockProof(data, sig, 0, new bytes32[](0));
    }

    function test_aBlockNamingAnotherDeviceMachineOrSeqFailsThoughTheBatchDeviceSignedIt() public {
        Fixture memory f = single(vm.addr(DEVICE_KEY), MACHINE, 7, 7);
        require(sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "the block as signed proves");
        f.blockProof.index = 1; // a position past a one-leaf tree
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a block at index 1 of one proves");
        f.blockProof.index = 0;
        f.batchProof.index = 1;
        require(!sensors.verifyBatch(f.anchor, f.batchProof), "a batch at index 1 of one proves");
        f = single(vm.addr(STRANGER_KEY), MACHINE, 7, 7);
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a block naming another device proves");
        f = single(vm.addr(DEVICE_KEY), bytes32("m2"), 7, 7);
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a block naming another machine proves");
        f = single(vm.addr(DEVICE_KEY), MACHINE, 8, 9);
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a block below its batch's range proves");
        f = single(vm.addr(DEVICE_KEY), MACHINE, 5, 6);
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a block above its batch's range proves");
    }

    function test_aBlockSignedByAnotherDeviceOfTheSameMachineFails() public {
        uint256 secondKey = 53;
        vm.prank(maker);
        registry.rotateDevice(MACHINE, vm.addr(secondKey), 1_600_000_000); // m1's key from then: readings at 1.7e9 s are its
        bytes memory data = blockOf(vm.addr(DEVICE_KEY), 0, 1); // names the first device
        bytes memory sig = sign(secondKey, data);
        ISensorBatchRegistry.BatchSummary memory b = ISensorBatchRegistry.BatchSummary(MACHINE, vm.addr(DEVICE_KEY), 0, 0, 1, 2, 0, 1, leaf(data, sig));
        vm.prank(factory);
        sensors.anchorRoot(ISensorBatchRegistry.Root(summaryLeaf(b), 1, 2, 0, 1));
        ISensorBatchRegistry.Anchor memory a = ISensorBatchRegistry.Anchor(summaryLeaf(b), 1, 2, 0, 1, factory, uint64(block.number));
        require(
            !sensors.verifyBlock(a, ISensorBatchRegistry.BatchProof(b, 0, new bytes32[](0)), ISensorBatchRegistry.BlockProof(data, sig, 0, new bytes32[](0))),
            "a block in the first device's name, signed by the second, proves"
        );
    }

    /// @dev A block of `key`'s device (named in it), `count` readings 1 s apart from `t0Ms`, alone in its batch and anchor.
    function own(uint256 key, uint64 seq, uint64 t0Ms, uint16 count) internal returns (Fixture memory f) {
        bytes memory ts;
        bytes memory values;
        for (uint64 i = 0; i < count; i++) (ts, values) = (abi.encodePacked(ts, t0Ms + 1000 * (count - 1 - i)), abi.encodePacked(values, uint64(i)));
        bytes memory data = abi.encodePacked(bytes4(0x46505301), vm.addr(key), MACHINE, seq, count, uint8(1), "v", uint8(1), "g", ts, values);
        bytes memory sig = sign(key, data);
        f.batchProof.batch = ISensorBatchRegistry.BatchSummary(MACHINE, vm.addr(key), seq, seq, 1, count, t0Ms, t0Ms + 1000 * (count - 1), leaf(data, sig));
        bytes32 root = summaryLeaf(f.batchProof.batch);
        vm.prank(factory);
        sensors.anchorRoot(ISensorBatchRegistry.Root(root, 1, count, t0Ms, t0Ms + 1000 * (count - 1)));
        f.anchor = ISensorBatchRegistry.Anchor(root, 1, count, t0Ms, t0Ms + 1000 * (count - 1), factory, uint64(block.number));
        f.blockProof = ISensorBatchRegistry.BlockProof(data, sig, 0, new bytes32[](0));
    }

    function test_eachKeyProvesOnlyReadingsInsideItsWindow() public {
        uint256 newKey = 54;
        uint64 at = 1_700_000_100; // s: the rotation point
        vm.prank(maker);
        registry.rotateDevice(MACHINE, vm.addr(newKey), at);
        uint64 atMs = uint64(at) * 1000;
        Fixture memory f = own(DEVICE_KEY, 1, atMs - 3000, 3); // the old key's last readings, up to one second before the point
        require(sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "the old key's readings before the rotation do not prove");
        f = own(DEVICE_KEY, 2, atMs - 2000, 3); // its last reading stamped at the rotation point
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "the rotated-out key proves a reading at the rotation point");
        f = own(DEVICE_KEY, 3, atMs + 5000, 1);
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "the rotated-out key proves a reading after the rotation");
        f = own(newKey, 0, atMs, 2);
        require(sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "the new key's readings from the rotation point do not prove");
        f = own(newKey, 1, atMs - 1000, 2); // its first reading one second before the point
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "the new key proves a reading before its window");
        f = own(DEVICE_KEY, 4, 999_000_000, 1); // before the device was bound (time 1,000,000 s)
        require(!sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "a reading before the binding proves");
    }

    function test_anUnanchoredRootProvesNothing() public {
        Fixture memory f = anchored(2, 0, 1, 0);
        f.anchor.readings += 1;
        require(!sensors.verifyBatch(f.anchor, f.batchProof) && !sensors.verifyBlock(f.anchor, f.batchProof, f.blockProof), "unanchored proves");
    }
}
