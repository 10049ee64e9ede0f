// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {ISensorBatchRegistry} from "./interfaces/ISensorBatchRegistry.sol";
import {SensorBatches} from "./libraries/SensorBatches.sol";

/// @title SensorBatchRegistry
/// @notice Anchors device-signed Merkle roots of sensor batches. Storage per batch is one slot (the hash of the
/// full anchor) plus a per-device sequence counter; the anchor's fields are emitted in `BatchAnchored`.
contract SensorBatchRegistry is ISensorBatchRegistry, RegistryGated, EIP712 {
    using SensorBatches for SensorBatches.Anchors;

    bytes32 public constant BATCH_TYPEHASH =
        keccak256("Batch(bytes32 machineId,uint64 deviceSeq,uint64 fromTime,uint64 toTime,uint32 count,bytes32 merkleRoot)");

    SensorBatches.Anchors private _anchors;

    constructor(IConsortiumRegistry registry) RegistryGated(registry) EIP712("fedpm SensorBatchRegistry", "1") {}

    /// @inheritdoc ISensorBatchRegistry
    function anchorBatch(Batch calldata batch, address device, bytes calldata signature) external onlyMember {
        _anchors.anchor(batch, device, batchDigest(batch), signature, registry());
    }

    /// @inheritdoc ISensorBatchRegistry
    function anchorBatches(Batch[] calldata batches, address[] calldata devices, bytes[] calldata signatures) external onlyMember {
        if (batches.length != devices.length || batches.length != signatures.length) revert LengthMismatch(batches.length, devices.length, signatures.length);
        for (uint256 i = 0; i < batches.length; i++) {
            _anchors.anchor(batches[i], devices[i], batchDigest(batches[i]), signatures[i], registry());
        }
    }

    /// @inheritdoc ISensorBatchRegistry
    function nextSeq(address device) external view returns (uint64) {
        return _anchors.nextSeq[device];
    }

    /// @inheritdoc ISensorBatchRegistry
    function anchorHash(address device, uint64 seq) external view returns (bytes32) {
        return _anchors.hashes[device][seq];
    }

    /// @inheritdoc ISensorBatchRegistry
    function isAnchored(Anchor calldata anchor) public view returns (bool) {
        return _anchors.isAnchored(anchor);
    }

    /// @inheritdoc ISensorBatchRegistry
    function verifyReading(Anchor calldata anchor, bytes calldata reading, uint256 index, bytes32[] calldata proof) external view returns (bool) {
        if (!isAnchored(anchor)) return false;
        bytes32 root = SensorBatches.rootFrom(SensorBatches.leafHash(reading), index, anchor.count, proof);
        return root != bytes32(0) && root == anchor.merkleRoot;
    }

    /// @notice The Merkle leaf hash of a canonical reading (for cross-checking off-chain encoders).
    function leafHash(bytes calldata reading) external pure returns (bytes32) {
        return SensorBatches.leafHash(reading);
    }

    /// @inheritdoc ISensorBatchRegistry
    function batchDigest(Batch calldata batch) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BATCH_TYPEHASH, batch)));
    }
}
