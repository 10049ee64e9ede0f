"""The federated-learning wing's shared errors (all under `ground.errors.FedpmError`). Errors of one module sit
beside it: `fl_node.modelfile.ModelFileError`, `fl_node.aggregate.AggregationError`, `fl_node.storage.base.InvalidCid`, …"""

from __future__ import annotations

from ground.errors import FedpmError


class StorageError(FedpmError):
    """Content storage failed: object missing, hash mismatch, backend unreachable."""


class ObjectNotFound(StorageError):
    def __init__(self, cid: str) -> None:
        super().__init__(f"object {cid} is not in the content store", hint="check that the node that pinned it is reachable")
        self.cid = cid


class IntegrityError(FedpmError):
    """Data does not match the hash that was committed for it."""
