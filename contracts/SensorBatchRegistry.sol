// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {RegistryGated} from "./base/RegistryGated.sol";
import {IConsortiumRegistry} from "./interfaces/IConsortiumRegistry.sol";
import {ISensorBatchRegistry} from "./interfaces/ISensorBatchRegistry.sol";
import {SensorBatches} from "./libraries/SensorBatches.sol";

/// @title SensorBatchRegistry
/// @notice Anchors gateways' roots of roots over device-signed sensor blocks. Storage per anchor is one slot (the
/// hash of the full anchor), so the chain's load grows with gateways and their interval, not with readings; the
/// anchor's fields are emitted in `RootAnchored`. Proofs of single blocks are checked by views.
contract SensorBatchRegistry is ISensorBatchRegistry, RegistryGated, EIP712 {
    using SensorBatches for SensorBatches.Anchors;

    bytes32 public constant BLOCK_TYPEHASH = keccak256("SensorBlock(bytes32 blockHash)");

    SensorBatches.Anchors private _anchors;

    constructor(IConsortiumRegistry registry) RegistryGated(registry) EIP712("fedpm SensorBatchRegistry", "2") {}

    /// @inheritdoc ISensorBatchRegistry
    function anchorRoot(Root calldata root) external onlyMember {
        _anchors.anchor(root);
    }

    /// @inheritdoc ISensorBatchRegistry
    function anchorHash(bytes32 root) external view returns (bytes32) {
        return _anchors.hashes[root];
    }

    /// @inheritdoc ISensorBatchRegistry
    function isAnchored(Anchor calldata anchor) public view returns (bool) {
        return _anchors.isAnchored(anchor);
    }

    /// @inheritdoc ISensorBatchRegistry
    function verifyBatch(Anchor calldata anchor, BatchProof calldata proof) public view returns (bool) {
        return isAnchored(anchor) && SensorBatches.batchIn(proof, anchor.root, anchor.batches);
    }

    /// @inheritdoc ISensorBatchRegistry
    function verifyBlock(Anchor calldata anchor, BatchProof calldata batchProof, BlockProof calldata blockProof) external view returns (bool) {
        if (!verifyBatch(anchor, batchProof)) return false;
        (bool ok, bytes32 blockHash) = SensorBatches.blockIn(blockProof, batchProof.batch);
        if (!ok) return false;
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(blockDigest(blockHash), blockProof.signature);
        if (err != ECDSA.RecoverError.NoError || signer != batchProof.batch.device) return false;
        IConsortiumRegistry.DeviceKey memory key = registry().deviceKey(signer);
        if (key.machineId != batchProof.batch.machineId) return false;
        (bool spanOk, uint64 from, uint64 to) = SensorBatches.blockSpan(blockProof.data);
        return spanOk && from >= key.validFrom && (key.validUntil == 0 || to < key.validUntil);
    }

    /// @inheritdoc ISensorBatchRegistry
    function blockDigest(bytes32 blockHash) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(BLOCK_TYPEHASH, blockHash)));
    }
}
